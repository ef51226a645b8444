package service

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/bemi-go/bemi/capture"
	"github.com/bemi-go/bemi/capture/setup"
	"github.com/bemi-go/bemi/examples/todo/internal/api"
	"github.com/bemi-go/bemi/examples/todo/internal/store"
	"github.com/jackc/pgx/v5"
)

// DefaultAddr is the address the service listens on when Config.Addr is
// empty.
const DefaultAddr = "127.0.0.1:8080"

// Config configures the todo service. The zero value plus DatabaseURL works.
type Config struct {
	// DatabaseURL is the PostgreSQL database of the todo table, which is
	// also the database whose changes are captured and where the changes
	// table lives. Required.
	DatabaseURL string

	// Store names the store (store.Names). Empty means store.Default().
	Store string

	// Router names the router (api.Routers). Empty means chi.
	Router string

	// Addr is the TCP address to listen on. Empty means DefaultAddr; port 0
	// picks a free port (see Service.URL).
	Addr string

	// Slot is the replication slot that setup creates and the worker reads.
	// Slot names are unique per PostgreSQL server, so two databases on one
	// server need two names. Empty means "bemi".
	Slot string

	// NoSetup skips Bemi setup: run `bemi setup` yourself after the service
	// has created the todo table.
	NoSetup bool

	// NoWorker skips the in-process capture worker: run `bemi capture`
	// instead.
	NoWorker bool
}

// Service is a running todo service: the HTTP server and, unless
// Config.NoWorker is set, the capture worker.
type Service struct {
	// URL is the service's base URL, such as http://127.0.0.1:8080.
	URL string

	// Config is the configuration in use, with defaults applied.
	Config Config

	// Setup is the report of the Bemi setup run at start.
	Setup setup.Report

	log    *slog.Logger
	store  store.Store
	server *http.Server

	stopWorker context.CancelFunc
	workerDone chan struct{}
	drainErr   error // the worker's error after stopWorker, read after workerDone
	failed     chan error
}

// Start creates the todo table, runs Bemi setup, starts the capture worker
// in a goroutine and serves the API until Close. logger receives the
// service's and the worker's logs.
func Start(ctx context.Context, cfg Config, logger *slog.Logger) (*Service, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}

	s := &Service{Config: cfg, log: logger, failed: make(chan error, 2)}
	if s.Setup, err = prepare(ctx, cfg); err != nil {
		return nil, err
	}

	if s.store, err = store.Open(ctx, cfg.Store, cfg.DatabaseURL); err != nil {
		return nil, err
	}
	handler, err := api.New(cfg.Router, s.store, logger)
	if err != nil {
		s.store.Close()

		return nil, err
	}

	if !cfg.NoWorker {
		if err := s.startWorker(cfg); err != nil {
			s.store.Close()

			return nil, err
		}
	}

	if err := s.serve(cfg.Addr, handler); err != nil {
		s.Close(context.Background())

		return nil, err
	}

	return s, nil
}

func (cfg Config) withDefaults() (Config, error) {
	if cfg.DatabaseURL == "" {
		return cfg, errors.New("missing database URL: set DATABASE_URL or pass --database-url")
	}
	if cfg.Store == "" {
		cfg.Store = store.Default()
	}
	if cfg.Router == "" {
		cfg.Router = api.Chi
	}
	if cfg.Addr == "" {
		cfg.Addr = DefaultAddr
	}
	if cfg.Slot == "" {
		cfg.Slot = capture.DefaultSlot
	}

	return cfg, nil
}

// prepare creates the todo table and then runs Bemi setup, which tracks it.
func prepare(ctx context.Context, cfg Config) (setup.Report, error) {
	conn, err := pgx.Connect(ctx, cfg.DatabaseURL)
	if err != nil {
		return setup.Report{}, fmt.Errorf("connect to %s: %w", capture.RedactURL(cfg.DatabaseURL), err)
	}
	defer conn.Close(context.Background())

	if err := store.Migrate(ctx, conn); err != nil {
		return setup.Report{}, err
	}
	if cfg.NoSetup {
		return setup.Report{}, nil
	}

	report, err := setup.Run(ctx, conn, setup.Config{Slot: cfg.Slot})
	if err != nil {
		return report, fmt.Errorf("bemi setup: %w", err)
	}

	return report, nil
}

func (s *Service) startWorker(cfg Config) error {
	w, err := capture.New(capture.Config{
		SourceURL: cfg.DatabaseURL,
		Slot:      cfg.Slot,
	}, capture.WithLogger(s.log))
	if err != nil {
		return fmt.Errorf("configure capture worker: %w", err)
	}

	// The worker gets a context of its own, so Close can stop it after the
	// HTTP server, once no request can write anymore.
	ctx, cancel := context.WithCancel(context.Background())
	s.stopWorker = cancel
	s.workerDone = make(chan struct{})
	go func() {
		defer close(s.workerDone)

		err := w.Run(ctx)
		switch {
		case ctx.Err() != nil:
			s.drainErr = err
		case err != nil:
			s.failed <- fmt.Errorf("capture worker: %w", err)
		default:
			s.failed <- errors.New("capture worker stopped without an error")
		}
	}()

	return nil
}

func (s *Service) serve(addr string, handler http.Handler) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", addr, err)
	}

	s.URL = "http://" + ln.Addr().String()
	s.server = &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := s.server.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			s.failed <- fmt.Errorf("serve HTTP on %s: %w", addr, err)
		}
	}()

	return nil
}

// Failed returns a channel that receives an error when the HTTP server or
// the capture worker stops before Close.
func (s *Service) Failed() <-chan error { return s.failed }

// Close stops the HTTP server (waiting for requests in progress until ctx
// ends), then the capture worker, which stores what it has read and
// returns, and closes the store.
func (s *Service) Close(ctx context.Context) error {
	var errs []error
	if s.server != nil {
		if err := s.server.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("stop HTTP server: %w", err))
		}
	}

	if s.stopWorker != nil {
		s.stopWorker()
		<-s.workerDone
		if s.drainErr != nil {
			errs = append(errs, fmt.Errorf("stop capture worker: %w", s.drainErr))
		}
	}

	if err := s.store.Close(); err != nil {
		errs = append(errs, fmt.Errorf("close store: %w", err))
	}

	return errors.Join(errs...)
}
