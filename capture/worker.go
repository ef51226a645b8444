package capture

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/bemi-go/bemi/capture/convert"
)

// stableSession is how long a session must stream before the reconnect
// backoff starts again from ReconnectMinDelay.
const stableSession = 30 * time.Second

// connectTimeout bounds each connection attempt.
const connectTimeout = 15 * time.Second

// Worker captures the changes of one source database through one
// replication slot and stores them in the destination's changes table.
// Create it with New and start it with Run. Run must not be called again
// while it runs.
type Worker struct {
	cfg      Config
	log      *slog.Logger
	metrics  Metrics
	registry *convert.Registry

	// The optional interfaces of metrics, nil when it does not implement
	// them.
	sessions    SessionMetrics
	positions   PositionMetrics
	invalid     InvalidContextMetrics
	valueErrors ValueErrorMetrics

	// warnings limits the warnings that may repeat for every change.
	warnings *logLimiter

	// discard drops change rows instead of writing them, for benchmarks of
	// the decoding path (see export_test.go).
	discard bool

	// carefulThrough is the position of the last batch the destination
	// rejected with a data error, or zero. Sessions copy the batches up to
	// it under savepoints and store rejected rows in degraded form. Only
	// Run's goroutine uses it.
	carefulThrough pglogrepl.LSN

	mu         sync.Mutex
	checkpoint Checkpoint
	hasCP      bool
}

// New returns a Worker for cfg. It checks the configuration but does not
// connect: Run does.
func New(cfg Config, opts ...Option) (*Worker, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}

	w := &Worker{
		cfg:      cfg,
		log:      slog.New(slog.DiscardHandler),
		metrics:  noMetrics{},
		registry: convert.NewRegistry(),
	}
	for _, opt := range opts {
		opt(w)
	}
	w.log = w.log.With("slot", cfg.Slot)
	w.sessions, _ = w.metrics.(SessionMetrics)
	w.positions, _ = w.metrics.(PositionMetrics)
	w.invalid, _ = w.metrics.(InvalidContextMetrics)
	w.valueErrors, _ = w.metrics.(ValueErrorMetrics)
	w.warnings = newLogLimiter()

	return w, nil
}

// Checkpoint returns the last checkpoint this worker stored or read at
// start, and false before there is one.
func (w *Worker) Checkpoint() (Checkpoint, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()

	return w.checkpoint, w.hasCP
}

func (w *Worker) setCheckpoint(cp Checkpoint) {
	w.mu.Lock()
	w.checkpoint = cp
	w.hasCP = true
	w.mu.Unlock()
}

// Run migrates the destination, then streams changes until ctx is canceled
// or a permanent error occurs. A lost connection to the source or the
// destination is retried with exponential backoff, resuming from the stored
// checkpoint. When ctx is canceled, Run finishes the source transaction in
// progress (within DrainTimeout), commits and confirms what it read, and
// returns nil. A missing or invalidated slot returns a *SlotError.
func (w *Worker) Run(ctx context.Context) error {
	w.log.Info("capture starting",
		"publication", w.cfg.Publication,
		"source", RedactURL(w.cfg.SourceURL),
		"destination", RedactURL(w.cfg.DestinationURL),
		"destination_schema", w.cfg.DestinationSchema)

	migrated := false
	attempt := 0
	for {
		started := time.Now()
		err := scrubError(w.runSession(ctx, &migrated), w.cfg.SourceURL, w.cfg.DestinationURL)
		if err == nil {
			w.log.Info("capture stopped")

			return nil
		}
		if ctx.Err() != nil && (errors.Is(err, context.Canceled) || retryable(err)) {
			// Stopping: what was not committed is read again after the next
			// start, because it was never confirmed.
			w.log.Info("capture stopped", "error", err)

			return nil
		}
		cp, _ := w.Checkpoint()
		if w.restreamCarefully(ctx, err, cp) {
			continue
		}
		if !retryable(err) {
			w.log.Error("capture failed", "error", err, "checkpoint", cp.CommitLSN, "xid", cp.TransactionID)

			return err
		}

		if time.Since(started) >= stableSession {
			attempt = 0
		}
		attempt++
		delay := backoff(attempt, w.cfg.ReconnectMinDelay, w.cfg.ReconnectMaxDelay)
		msg := "connection lost, reconnecting"
		if slotInUse(err) {
			// Another worker reads the slot: wait for it to stop, which is
			// how a standby worker takes over.
			msg = "replication slot is active in another process, retrying"
		}
		w.log.Warn(msg, "slot", w.cfg.Slot, "error", err, "attempt", attempt, "delay", delay,
			"checkpoint", cp.CommitLSN, "xid", cp.TransactionID)
		w.metrics.Reconnect(ReconnectEvent{Attempt: attempt, Delay: delay, Err: err})

		select {
		case <-ctx.Done():
			w.log.Info("capture stopped")

			return nil
		case <-time.After(delay):
		}
	}
}

// restreamCarefully reports whether err is a batch that the destination
// rejected beyond the positions already copied with care, and if so makes
// the next session copy up to that batch under savepoints. A rejection at or
// before carefulThrough means that even the degraded forms were rejected,
// which is left to the usual error handling. The next session starts at
// once: the rejected batch was never committed, so the session streams it
// again from the checkpoint.
func (w *Worker) restreamCarefully(ctx context.Context, err error, cp Checkpoint) bool {
	var rejected *rejectionError
	if !errors.As(err, &rejected) || rejected.through <= w.carefulThrough || ctx.Err() != nil {
		return false
	}

	sqlstate := ""
	if pgErr, ok := dataError(err); ok {
		sqlstate = pgErr.Code
	}
	w.carefulThrough = rejected.through
	// The message of a rejection may quote a value, so only the SQLSTATE
	// is logged and reported.
	w.log.Error("destination rejected a batch of changes: restreaming from the checkpoint to store each rejected change in degraded form",
		"sqlstate", sqlstate, "through", rejected.through, "checkpoint", cp.CommitLSN, "xid", cp.TransactionID)
	w.metrics.Reconnect(ReconnectEvent{Attempt: 1, Err: fmt.Errorf("destination rejected a batch of changes (SQLSTATE %s) up to %s", sqlstate, rejected.through)})

	return true
}

// runSession connects, streams until an error or cancellation, and closes
// its connections.
func (w *Worker) runSession(ctx context.Context, migrated *bool) error {
	dest, err := connect(ctx, w.cfg.DestinationURL)
	if err != nil {
		return fmt.Errorf("connect to destination: %w", err)
	}
	defer closeConn(dest)

	if !*migrated {
		if err := Migrate(ctx, dest, w.cfg.DestinationSchema); err != nil {
			return fmt.Errorf("migrate destination: %w", err)
		}
		*migrated = true
	}

	catalog, err := connect(ctx, w.cfg.SourceURL)
	if err != nil {
		return fmt.Errorf("connect to source: %w", err)
	}
	defer closeConn(catalog)

	slot, err := checkSlot(ctx, catalog, w.cfg.Slot, w.cfg.Publication)
	if err != nil {
		return err
	}

	cp, found, err := ReadCheckpoint(ctx, dest, w.cfg.Slot, slot.database)
	if err != nil {
		return err
	}
	if found {
		w.setCheckpoint(cp)
	}

	repl, err := connectReplication(ctx, w.cfg.SourceURL)
	if err != nil {
		return fmt.Errorf("connect to source for replication: %w", err)
	}
	defer func() {
		closeCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = repl.Close(closeCtx)
	}()

	s := newSession(w, repl, catalog, dest, slot, cp)

	return s.run(ctx)
}

func connect(ctx context.Context, url string) (*pgx.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, connectTimeout)
	defer cancel()

	return pgx.Connect(ctx, url)
}

func closeConn(conn *pgx.Conn) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = conn.Close(ctx)
}

// backoff returns the delay before reconnect attempt n (from 1): min doubled
// per attempt up to max, less up to 20% jitter so that workers restarted
// together do not reconnect in step.
func backoff(n int, minDelay, maxDelay time.Duration) time.Duration {
	d := minDelay
	for i := 1; i < n && d < maxDelay; i++ {
		d *= 2
	}
	d = min(d, maxDelay)

	return d - time.Duration(rand.Int64N(int64(d)/5+1))
}

// retryable reports whether err is a lost or refused connection, or a
// temporary server state, after which a new session may succeed. Errors in
// the configuration, authentication, the slot or the data are permanent.
func retryable(err error) bool {
	var slotErr *SlotError
	if errors.As(err, &slotErr) {
		return false
	}

	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch {
		case pgErr.Code == "55006": // object_in_use: the slot is still held by a previous connection
			return true
		case len(pgErr.Code) == 5 && (pgErr.Code[:2] == "08" || pgErr.Code[:2] == "53" || pgErr.Code[:2] == "40"):
			// connection exception, insufficient resources, transaction rollback
			return true
		case pgErr.Code == "57P01" || pgErr.Code == "57P02" || pgErr.Code == "57P03":
			// admin_shutdown, crash_shutdown, cannot_connect_now
			return true
		}

		return false
	}

	var netErr net.Error
	if errors.As(err, &netErr) {
		return true
	}

	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.EPIPE) || pgconn.SafeToRetry(err)
}

// slotInUse reports whether err is PostgreSQL's object_in_use error, which
// START_REPLICATION returns while another process holds the slot.
func slotInUse(err error) bool {
	var pgErr *pgconn.PgError

	return errors.As(err, &pgErr) && pgErr.Code == "55006"
}

// valueError reports a column value that did not parse as its type: a
// warning, at most one per column and minute, and the metric. The error
// names the type and the problem, never the value.
func (w *Worker) valueError(rel *relation, column string, err error) {
	table := rel.schema + "." + rel.table
	w.warnings.warn(w.log, "value error: "+table+"."+column,
		"value does not parse as its type: stored as a JSON string",
		"table", table, "column", column, "error", err)
	if w.valueErrors != nil {
		w.valueErrors.ValueError(ValueErrorEvent{Schema: rel.schema, Table: rel.table, Column: column})
	}
}
