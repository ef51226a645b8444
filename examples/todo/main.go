package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/bemi-go/bemi/capture"
	"github.com/bemi-go/bemi/examples/todo/internal/api"
	"github.com/bemi-go/bemi/examples/todo/internal/demo"
	"github.com/bemi-go/bemi/examples/todo/internal/service"
	"github.com/bemi-go/bemi/examples/todo/internal/store"
	"github.com/gin-gonic/gin"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run runs the command line args and returns the exit status.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	// gin's debug mode prints every route on start.
	gin.SetMode(gin.ReleaseMode)

	command := "serve"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		command, args = args[0], args[1:]
	}

	var err error
	switch command {
	case "serve":
		err = serve(ctx, args, stderr)
	case "demo":
		err = runDemo(ctx, args, stdout, stderr)
	default:
		err = fmt.Errorf("unknown command %q: use serve or demo", command)
	}
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "todo:", err)

		return 1
	}

	return 0
}

// commonFlags are the flags of both commands.
type commonFlags struct {
	store, router, slot, logLevel string
	noWorker                      bool
}

func (c *commonFlags) register(f *flag.FlagSet, defaultLogLevel string) {
	f.StringVar(&c.store, "store", store.Default(), "data layer: "+strings.Join(store.Names(), ", "))
	f.StringVar(&c.router, "router", api.Chi, "HTTP router: "+strings.Join(api.Routers(), ", "))
	f.StringVar(&c.slot, "slot", capture.DefaultSlot, "replication slot that setup creates and the worker reads")
	f.BoolVar(&c.noWorker, "no-worker", false, "do not run the capture worker in this process; run bemi capture instead")
	f.StringVar(&c.logLevel, "log-level", defaultLogLevel, "log level of the service and the worker: debug, info, warn or error")
}

func (c *commonFlags) logger(w io.Writer) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.logLevel)); err != nil {
		return nil, fmt.Errorf("invalid --log-level %q: use debug, info, warn or error", c.logLevel)
	}

	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level})), nil
}

func serve(ctx context.Context, args []string, stderr io.Writer) error {
	f := flag.NewFlagSet("todo serve", flag.ContinueOnError)
	f.SetOutput(stderr)
	f.Usage = func() {
		fmt.Fprintln(stderr, "Usage: todo [serve] [flags] runs the service; todo demo --help shows the demo's flags.")
		fmt.Fprintln(stderr, "Flags of serve:")
		f.PrintDefaults()
	}
	var common commonFlags
	common.register(f, "info")
	databaseURL := f.String("database-url", "", "PostgreSQL URL of the database (default $DATABASE_URL)")
	port := f.Int("port", 8080, "TCP port to listen on, on 127.0.0.1")
	noSetup := f.Bool("no-setup", false, "do not run Bemi setup at start; run bemi setup after the service has created the todo table")
	if err := f.Parse(args); err != nil {
		return err
	}

	logger, err := common.logger(stderr)
	if err != nil {
		return err
	}
	if *databaseURL == "" {
		*databaseURL = os.Getenv("DATABASE_URL")
	}

	svc, err := service.Start(ctx, service.Config{
		DatabaseURL: *databaseURL,
		Store:       common.store,
		Router:      common.router,
		Addr:        "127.0.0.1:" + strconv.Itoa(*port),
		Slot:        common.slot,
		NoSetup:     *noSetup,
		NoWorker:    common.noWorker,
	}, logger)
	if err != nil {
		return err
	}
	for _, action := range svc.Setup.Actions {
		logger.Info("bemi setup", "action", action)
	}
	for _, warning := range svc.Setup.Warnings {
		logger.Warn("bemi setup", "warning", warning)
	}
	logger.Info("todo service started", "url", svc.URL, "store", svc.Config.Store,
		"router", svc.Config.Router, "worker", !common.noWorker)

	select {
	case <-ctx.Done():
		logger.Info("stopping")
	case err = <-svc.Failed():
		logger.Error("stopping after a failure", "error", err)
	}

	closeCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	return errors.Join(err, svc.Close(closeCtx))
}

func runDemo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	f := flag.NewFlagSet("todo demo", flag.ContinueOnError)
	f.SetOutput(stderr)
	var common commonFlags
	common.register(f, "warn")
	var cfg demo.Config
	f.BoolVar(&cfg.SkipPgbench, "skip-pgbench", false, "leave out the pgbench part")
	f.StringVar(&cfg.Pgbench, "pgbench", "", "path of the pgbench program (default: the throwaway cluster's, else pgbench on $PATH)")
	f.DurationVar(&cfg.PgbenchDuration, "pgbench-duration", demo.DefaultPgbenchDuration, "duration of the pgbench run (pgbench -T), in whole seconds")
	f.IntVar(&cfg.PgbenchClients, "pgbench-clients", demo.DefaultPgbenchClients, "number of pgbench clients (pgbench -c)")
	f.DurationVar(&cfg.Timeout, "timeout", demo.DefaultTimeout, "how long to wait for the capture worker at each step")
	if err := f.Parse(args); err != nil {
		return err
	}

	logger, err := common.logger(stderr)
	if err != nil {
		return err
	}
	cfg.DatabaseURL = os.Getenv("DATABASE_URL")
	cfg.Store, cfg.Router, cfg.Slot, cfg.NoWorker = common.store, common.router, common.slot, common.noWorker

	// Check the names before the demo starts a throwaway cluster.
	if !slices.Contains(store.Names(), cfg.Store) {
		return fmt.Errorf("unknown store %q: use one of %s", cfg.Store, strings.Join(store.Names(), ", "))
	}
	if !slices.Contains(api.Routers(), cfg.Router) {
		return fmt.Errorf("unknown router %q: use one of %s", cfg.Router, strings.Join(api.Routers(), ", "))
	}

	if err := demo.Run(ctx, cfg, stdout, logger); err != nil {
		return err
	}
	fmt.Fprintln(stdout, "\nDemo finished.")

	return nil
}
