package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/spf13/cobra"

	"github.com/bemi-go/bemi/capture"
	"github.com/bemi-go/bemi/capture/monitor"
)

func newCaptureCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "capture",
		Short: "Run the capture worker",
		Long: `Run the capture worker: stream the source database's changes from the
replication slot that bemi setup created, stitch each to the context of its
statement, and store them in the changes table of the destination.

The worker runs until SIGTERM or SIGINT, then finishes the transaction in
progress, confirms what it stored and exits with status 0.

With --listen it serves Prometheus metrics on /metrics, and /healthz and
/readyz for health checks, over plain HTTP without authentication: listen on
a loopback or private address only.`,
		Args: cobra.NoArgs,
		RunE: runCapture,
	}

	addWorkerFlags(cmd)
	f := cmd.Flags()
	f.String("log-level", "info", "log level: debug, info, warn or error")
	f.String("listen", "", "address for /metrics, /healthz and /readyz, such as 127.0.0.1:9187 (default off)")

	return cmd
}

// addWorkerFlags adds the flags that name the worker's databases, slot and
// publication, which bemi capture and bemi status share.
func addWorkerFlags(cmd *cobra.Command) {
	f := cmd.Flags()
	f.String("destination-url", "", "destination database URL for the changes table (default $BEMI_DESTINATION_URL, else the source)")
	f.String("slot", capture.DefaultSlot, "logical replication slot name (default: the one bemi setup stored in the source database, else bemi)")
	f.String("publication", capture.DefaultPublication, "publication name (default: the one bemi setup stored in the source database, else bemi)")
	f.String("destination-schema", capture.DefaultDestinationSchema, "schema of the changes table in the destination")
}

// workerConfig reads the flags of addWorkerFlags and the source URL.
func workerConfig(cmd *cobra.Command) (capture.Config, error) {
	source, err := sourceURL(cmd)
	if err != nil {
		return capture.Config{}, err
	}

	f := cmd.Flags()
	cfg := capture.Config{SourceURL: source}
	cfg.DestinationURL, _ = f.GetString("destination-url")
	if cfg.DestinationURL == "" {
		cfg.DestinationURL = os.Getenv("BEMI_DESTINATION_URL")
	}
	cfg.Slot, _ = f.GetString("slot")
	cfg.Publication, _ = f.GetString("publication")
	cfg.DestinationSchema, _ = f.GetString("destination-schema")

	return cfg, nil
}

// useInstalledNames replaces the slot and publication of cfg that no flag
// set with the names that bemi setup stored in the source database.
func useInstalledNames(cmd *cobra.Command, cfg *capture.Config) {
	f := cmd.Flags()
	if f.Changed("slot") && f.Changed("publication") {
		return
	}

	slot, publication := installedNames(cmd.Context(), cfg.SourceURL)
	if !f.Changed("slot") && slot != "" {
		cfg.Slot = slot
	}
	if !f.Changed("publication") && publication != "" {
		cfg.Publication = publication
	}
}

// installedNames returns the slot and publication names that bemi setup
// stored in the source database. It returns empty strings when it cannot
// read them, because setup has not run or the database is not reachable
// yet. The worker then reports the problem itself when it connects.
func installedNames(ctx context.Context, source string) (slot, publication string) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()

	conn, err := pgx.Connect(ctx, source)
	if err != nil {
		return "", ""
	}
	defer conn.Close(context.Background())

	var installed bool
	if err := conn.QueryRow(ctx, "SELECT to_regclass('bemi.config') IS NOT NULL").Scan(&installed); err != nil || !installed {
		return "", ""
	}
	if err := conn.QueryRow(ctx, "SELECT slot, publication FROM bemi.config").Scan(&slot, &publication); err != nil {
		return "", ""
	}

	return slot, publication
}

func runCapture(cmd *cobra.Command, args []string) error {
	cfg, err := workerConfig(cmd)
	if err != nil {
		return err
	}
	useInstalledNames(cmd, &cfg)

	f := cmd.Flags()
	levelName, _ := f.GetString("log-level")
	var level slog.Level
	if err := level.UnmarshalText([]byte(strings.ToUpper(levelName))); err != nil {
		return fmt.Errorf("invalid --log-level %q: use debug, info, warn or error", levelName)
	}
	logger := slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: level}))
	opts := []capture.Option{capture.WithLogger(logger)}

	listen, _ := f.GetString("listen")
	var stopServer func()
	if listen != "" {
		mon, stop, err := serveMonitor(listen, logger)
		if err != nil {
			return err
		}
		opts = append(opts, capture.WithMetrics(mon))
		stopServer = stop
	}

	w, err := capture.New(cfg, opts...)
	if err == nil {
		err = w.Run(cmd.Context())
	}
	if stopServer != nil {
		stopServer()
	}

	return err
}

// serveMonitor starts the metrics and health server on addr with a
// registry of its own, and returns the Monitor for the worker and a
// function that stops the server.
func serveMonitor(addr string, logger *slog.Logger) (*monitor.Monitor, func(), error) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	mon, err := monitor.New(reg, monitor.Options{})
	if err != nil {
		return nil, nil, err
	}

	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, nil, fmt.Errorf("listen on --listen address %q: %w", addr, err)
	}
	srv := &http.Server{
		Handler:           mon.Handler(reg),
		ReadHeaderTimeout: 5 * time.Second,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			logger.Error("metrics server failed", "addr", ln.Addr().String(), "error", err)
		}
	}()
	logger.Info("serving metrics and health checks", "addr", ln.Addr().String(),
		"paths", "/metrics /healthz /readyz")

	stop := func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		<-done
	}

	return mon, stop, nil
}
