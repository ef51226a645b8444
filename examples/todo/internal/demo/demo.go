package demo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/bemi-go/bemi/capture"
	"github.com/bemi-go/bemi/core/pgtest"
	"github.com/bemi-go/bemi/examples/todo/internal/service"
	"github.com/jackc/pgx/v5"
)

// Defaults for the Config fields left at their zero value.
const (
	DefaultPgbenchDuration = 5 * time.Second
	DefaultPgbenchClients  = 2
	DefaultTimeout         = 2 * time.Minute
)

// Config configures Run. The zero value starts a throwaway cluster and runs
// everything with the default store and router.
type Config struct {
	// DatabaseURL is the database to use. Empty means a new database on a
	// throwaway cluster that Run starts with pgtest and removes at the end.
	DatabaseURL string

	// Store, Router, Slot and NoWorker configure the service as in
	// service.Config. With NoWorker, run `bemi capture` on the same
	// database while the demo waits for changes.
	Store    string
	Router   string
	Slot     string
	NoWorker bool

	// SkipPgbench leaves out the pgbench part.
	SkipPgbench bool

	// Pgbench is the path of the pgbench program. Empty means the
	// cluster's, else pgbench on $PATH, else the newest
	// /usr/lib/postgresql/<version>/bin/pgbench.
	Pgbench string

	// PgbenchDuration and PgbenchClients set pgbench's -T and -c. Defaults
	// DefaultPgbenchDuration and DefaultPgbenchClients.
	PgbenchDuration time.Duration
	PgbenchClients  int

	// Timeout bounds each wait for the capture worker. Default
	// DefaultTimeout.
	Timeout time.Duration
}

// Run plays the demo and writes each step to out. It starts the todo service
// with its capture worker, plays the Bemi README's scenario over HTTP and
// prints the captured changes. Then it runs pgbench and checks that every
// row pgbench wrote was captured. logger receives the service's and the
// worker's logs. Run returns an error when a step fails or a check does not
// hold.
func Run(ctx context.Context, cfg Config, out io.Writer, logger *slog.Logger) (err error) {
	cfg = cfg.withDefaults()

	databaseURL, pgbenchPath := cfg.DatabaseURL, cfg.Pgbench
	if databaseURL == "" {
		step(out, "Starting a throwaway PostgreSQL cluster with wal_level=logical")
		// startErr, not err: the deferred calls below must add to the
		// named result err.
		cluster, startErr := pgtest.Start(pgtest.Options{})
		if startErr != nil {
			return fmt.Errorf("start PostgreSQL: %w", startErr)
		}
		defer func() {
			step(out, "Stopping the throwaway cluster")
			err = errors.Join(err, cluster.Stop())
		}()

		name := "todo"
		if cluster.External() {
			// pgtest.Start returns the server of BEMI_TEST_DATABASE_URL when
			// that is set, which may hold a database named todo already.
			name = fmt.Sprintf("todo_demo_%d", time.Now().UnixNano())
			defer func() { err = errors.Join(err, cluster.DropDatabase(name)) }()
		}
		if databaseURL, err = cluster.CreateDatabase(name); err != nil {
			return err
		}
		if pgbenchPath == "" {
			pgbenchPath = cluster.Bin("pgbench")
		}
	}
	fmt.Fprintf(out, "    database %s\n", capture.RedactURL(databaseURL))

	conn, err := pgx.Connect(ctx, databaseURL)
	if err != nil {
		return fmt.Errorf("connect to %s: %w", capture.RedactURL(databaseURL), err)
	}
	defer conn.Close(context.Background())

	if !cfg.SkipPgbench {
		if pgbenchPath, err = findPgbench(pgbenchPath); err != nil {
			return err
		}
		if err := initPgbench(ctx, conn, pgbenchPath, databaseURL, out); err != nil {
			return err
		}
	}

	svc, err := startService(ctx, cfg, databaseURL, out, logger)
	if err != nil {
		return err
	}
	defer func() {
		step(out, "Stopping the service and the capture worker")
		closeCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		err = errors.Join(err, svc.Close(closeCtx))
	}()

	// A failing worker or server ends the waits below at once.
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	go func() {
		select {
		case err := <-svc.Failed():
			cancel(err)
		case <-ctx.Done():
		}
	}()

	if err := playAndPrint(ctx, conn, svc.URL, cfg.Timeout, out); err != nil {
		return err
	}

	if cfg.SkipPgbench {
		return nil
	}

	return pgbenchPart(ctx, conn, cfg, pgbenchPath, databaseURL, out)
}

func (cfg Config) withDefaults() Config {
	if cfg.PgbenchDuration <= 0 {
		cfg.PgbenchDuration = DefaultPgbenchDuration
	}
	if cfg.PgbenchClients <= 0 {
		cfg.PgbenchClients = DefaultPgbenchClients
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}

	return cfg
}

// step writes the heading of a demo step.
func step(out io.Writer, format string, args ...any) {
	fmt.Fprintf(out, "\n==> "+format+"\n", args...)
}

// initPgbench creates and fills the pgbench tables, unless they exist
// already. It runs before Bemi setup on a new database, so the initial rows
// are not captured.
func initPgbench(ctx context.Context, conn *pgx.Conn, pgbench, databaseURL string, out io.Writer) error {
	exist, err := pgbenchTablesExist(ctx, conn)
	if err != nil {
		return err
	}
	if exist {
		step(out, "Using the existing pgbench tables")

		return nil
	}

	step(out, "Initialising the pgbench tables before tracking starts: pgbench -i")
	if _, err := runProgram(ctx, pgbench, "-i", "-q", databaseURL); err != nil {
		return err
	}
	accounts, err := countRows(ctx, conn, "pgbench_accounts")
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "    created pgbench_accounts (%d rows), pgbench_branches, pgbench_tellers, pgbench_history\n", accounts)

	return nil
}

func startService(ctx context.Context, cfg Config, databaseURL string, out io.Writer, logger *slog.Logger) (*service.Service, error) {
	worker := "the capture worker in a goroutine"
	if cfg.NoWorker {
		worker = "no capture worker (run bemi capture)"
	}
	step(out, "Starting the todo service: create table todo, run bemi setup, start %s", worker)

	svc, err := service.Start(ctx, service.Config{
		DatabaseURL: databaseURL,
		Store:       cfg.Store,
		Router:      cfg.Router,
		Addr:        "127.0.0.1:0",
		Slot:        cfg.Slot,
		NoWorker:    cfg.NoWorker,
	}, logger)
	if err != nil {
		return nil, err
	}

	if svc.Setup.NothingToDo() {
		fmt.Fprintln(out, "    setup: nothing to do, the database is set up already")
	}
	for _, action := range svc.Setup.Actions {
		fmt.Fprintf(out, "    setup: %s\n", action)
	}
	for _, warning := range svc.Setup.Warnings {
		fmt.Fprintf(out, "    setup warning: %s\n", warning)
	}
	fmt.Fprintf(out, "    listening on %s (store %s, router %s)\n", svc.URL, svc.Config.Store, svc.Config.Router)

	return svc, nil
}

// playAndPrint plays the README scenario, waits for its five changes and
// prints them.
func playAndPrint(ctx context.Context, conn *pgx.Conn, baseURL string, timeout time.Duration, out io.Writer) error {
	start, err := currentLSN(ctx, conn)
	if err != nil {
		return err
	}

	step(out, "Playing the Bemi README's scenario over HTTP as user %d (header X-User-ID)", ScenarioUserID)
	client := &http.Client{Timeout: 30 * time.Second}
	if _, err := PlayScenario(ctx, client, baseURL, out); err != nil {
		return err
	}

	const want = 5
	step(out, "Waiting for the capture worker to store the %d changes", want)
	changes, err := WaitForChanges(ctx, conn, "todo", start, want, timeout)
	if err != nil {
		return err
	}
	if len(changes) != want {
		return fmt.Errorf("captured %d changes of table todo, want %d", len(changes), want)
	}

	step(out, `SELECT "primary_key", "table", "operation", "before", "after", "context", "committed_at" FROM changes;`)

	return writeTable(out, Columns, Rows(changes))
}

// pgbenchPart runs pgbench, waits for the worker to catch up and compares
// the captured changes with the rows pgbench wrote.
func pgbenchPart(ctx context.Context, conn *pgx.Conn, cfg Config, pgbench, databaseURL string, out io.Writer) error {
	step(out, "Direct SQL: pgbench -T %d -c %d, TPC-B-like: 3 UPDATEs and 1 INSERT per transaction, after a TRUNCATE of pgbench_history",
		int(cfg.PgbenchDuration.Round(time.Second)/time.Second), cfg.PgbenchClients)
	run, err := runPgbench(ctx, conn, pgbench, databaseURL, cfg.PgbenchDuration, cfg.PgbenchClients)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "    pgbench reports %d transactions; pgbench_history holds %d rows\n", run.Reported, run.HistoryRows)

	step(out, "Waiting for the capture worker to store the run, up to the marker UPDATE with context %s", markerContext)
	waitStart := time.Now()
	if run.MarkerLSN, err = waitForMarker(ctx, conn, run.StartLSN, cfg.Timeout); err != nil {
		return err
	}
	fmt.Fprintf(out, "    the worker caught up %.1fs after the run ended\n", time.Since(waitStart).Seconds())

	counts, withContext, err := countPgbenchChanges(ctx, conn, run)
	if err != nil {
		return err
	}

	return writePgbenchReport(out, run, counts, withContext)
}
