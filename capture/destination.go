package capture

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"

	"github.com/bemi-go/bemi/core"
)

// writeTimeout bounds one destination write (a COPY batch or a commit).
// Writes run without the caller's cancellation, so a stop never interrupts
// one half-way.
const writeTimeout = time.Minute

// maxCommitsInFlight bounds the destination commits requested from the
// writer and not yet reported back. With the rows of the copies queued
// before them, it bounds the memory of rows waiting to be written.
const maxCommitsInFlight = 2

// changeColumns are the changes table columns the worker writes;
// created_at takes its default.
var changeColumns = []string{
	"id", "database", "schema", "table", "primary_key", "operation",
	"before", "after", "context",
	"committed_at", "queued_at", "transaction_id", "position", "ordinal",
}

// Indexes in changeColumns, and in each change row, of the columns that the
// writer reads.
const (
	columnSchema        = 2
	columnTable         = 3
	columnPrimaryKey    = 4
	columnBefore        = 6
	columnAfter         = 7
	columnContext       = 8
	columnTransactionID = 11
	columnPosition      = 12
	columnOrdinal       = 13
)

// destination batches change rows for the destination. It is used by the
// session's goroutine, and hands each batch to a writer goroutine, so the
// session decodes the next changes while the destination writes. Rows are
// buffered up to the batch limits, copied into one open destination
// transaction, and committed together with the checkpoint of the last
// complete source transaction they contain.
type destination struct {
	maxRows  int
	maxBytes int
	interval time.Duration

	w *writer

	// buffered holds rows not yet handed to the writer, and bufferedBytes
	// their JSON size.
	buffered      [][]any
	bufferedBytes int

	// txRows counts the rows handed over or buffered since the last commit
	// request, and txTransactions the complete source transactions among
	// them. counts breaks txRows down for FlushEvent.
	txRows         int
	txTransactions int
	counts         rowCounts

	// pending is the checkpoint of the last complete source transaction
	// since the last commit request, and pendingSince the time the first of
	// them completed. hasPending is false when there is none.
	pending      Checkpoint
	hasPending   bool
	pendingSince time.Time

	// inFlight counts the commit requests not yet reported back.
	inFlight int
}

// rowCounts counts change rows by operation and context.
type rowCounts struct {
	created, updated, deleted, truncated, withContext int
}

func (c *rowCounts) add(op core.Operation, hasContext bool) {
	switch op {
	case core.OperationCreate:
		c.created++
	case core.OperationUpdate:
		c.updated++
	case core.OperationDelete:
		c.deleted++
	case core.OperationTruncate:
		c.truncated++
	}
	if hasContext {
		c.withContext++
	}
}

// newDestination starts a writer on conn. With discard, the writer drops
// rows and checkpoints instead of writing them, so a benchmark can measure
// everything but the destination. wake is called from the writer's
// goroutine after each commit, so the session collects the result soon.
// Copies of rows at or before carefulThrough run under savepoints (see
// writer.carefulThrough).
func newDestination(conn *pgx.Conn, schema string, cfg Config, discard bool, wake func(), carefulThrough pglogrepl.LSN, log *slog.Logger) *destination {
	w := startWriter(conn, pgx.Identifier{schema, "changes"}, discard, wake, carefulThrough, log)

	return &destination{
		maxRows:  cfg.MaxBatchRows,
		maxBytes: cfg.MaxBatchBytes,
		interval: cfg.FlushInterval,
		w:        w,
	}
}

// add buffers one change row and hands the buffer to the writer when it
// reaches a batch limit.
func (d *destination) add(row []any, size int, op core.Operation, hasContext bool) error {
	d.buffered = append(d.buffered, row)
	d.bufferedBytes += size
	d.txRows++
	d.counts.add(op, hasContext)

	if len(d.buffered) >= d.maxRows || d.bufferedBytes >= d.maxBytes {
		return d.send(writeRequest{rows: d.takeBuffer()})
	}

	return nil
}

func (d *destination) takeBuffer() [][]any {
	rows := d.buffered
	d.buffered = make([][]any, 0, d.maxRows)
	d.bufferedBytes = 0

	return rows
}

// send queues a request for the writer, or returns the writer's error when
// it has stopped.
func (d *destination) send(req writeRequest) error {
	select {
	case d.w.requests <- req:
		return nil
	case <-d.w.done:
		return d.w.err
	}
}

// sourceCommitted records that every row of the source transaction cp has
// been added.
func (d *destination) sourceCommitted(cp Checkpoint, now time.Time) {
	if !d.hasPending {
		d.pendingSince = now
	}
	d.pending = cp
	d.hasPending = true
	d.txTransactions++
}

// empty reports whether nothing is waiting to be stored: no rows, no
// completed source transaction and no commit in flight.
func (d *destination) empty() bool {
	return !d.hasPending && d.txRows == 0 && d.inFlight == 0
}

// due reports whether the completed source transactions should be committed
// now: a batch limit is reached or the oldest waited FlushInterval.
func (d *destination) due(now time.Time) bool {
	if !d.hasPending {
		return false
	}

	return d.txRows >= d.maxRows || d.bufferedBytes >= d.maxBytes || now.Sub(d.pendingSince) >= d.interval
}

// deadline returns when the pending transactions become due, and false when
// there are none.
func (d *destination) deadline() (time.Time, bool) {
	if !d.hasPending {
		return time.Time{}, false
	}

	return d.pendingSince.Add(d.interval), true
}

// commit requests the writer to copy the remaining rows, write the checkpoint
// of the last complete source transaction and commit. It must only be
// called between source transactions. It waits while maxCommitsInFlight
// commits are in flight, and returns the results that arrived meanwhile.
func (d *destination) commit() ([]FlushEvent, error) {
	if !d.hasPending {
		return nil, nil
	}

	var events []FlushEvent
	for d.inFlight >= maxCommitsInFlight {
		ev, err := d.wait()
		if err != nil {
			return events, err
		}
		events = append(events, ev)
	}

	req := writeRequest{
		rows:       d.takeBuffer(),
		commit:     true,
		checkpoint: d.pending,
		event: FlushEvent{
			Rows:         d.txRows,
			Transactions: d.txTransactions,
			Created:      d.counts.created,
			Updated:      d.counts.updated,
			Deleted:      d.counts.deleted,
			Truncated:    d.counts.truncated,
			WithContext:  d.counts.withContext,
		},
	}
	if err := d.send(req); err != nil {
		return events, err
	}
	d.inFlight++
	d.resetBatch()

	return events, nil
}

// collect returns the commits the writer finished, without waiting.
func (d *destination) collect() ([]FlushEvent, error) {
	var events []FlushEvent
	for {
		select {
		case ev := <-d.w.results:
			d.inFlight--
			events = append(events, ev)
		default:
			select {
			case <-d.w.done:
				return events, d.w.err
			default:
				return events, nil
			}
		}
	}
}

// wait returns the next commit result, waiting for it.
func (d *destination) wait() (FlushEvent, error) {
	select {
	case ev := <-d.w.results:
		d.inFlight--

		return ev, nil
	case <-d.w.done:
		// Results sent before the writer stopped come first.
		select {
		case ev := <-d.w.results:
			d.inFlight--

			return ev, nil
		default:
			return FlushEvent{}, d.w.err
		}
	}
}

// drain waits for every commit in flight and returns their results.
func (d *destination) drain() ([]FlushEvent, error) {
	var events []FlushEvent
	for d.inFlight > 0 {
		ev, err := d.wait()
		if err != nil {
			return events, err
		}
		events = append(events, ev)
	}

	return events, nil
}

// rollback abandons everything not yet committed: the rows buffered here
// and those in the writer's open transaction. The source sends those
// transactions again, because they were never confirmed. Commits already
// requested are still made.
func (d *destination) rollback() error {
	d.resetBatch()

	return d.send(writeRequest{rollback: true})
}

// close stops the writer, which rolls back its open transaction, and waits
// for it.
func (d *destination) close() {
	d.w.stop()
}

func (d *destination) resetBatch() {
	clear(d.buffered)
	d.buffered = d.buffered[:0]
	d.bufferedBytes = 0
	d.txRows = 0
	d.txTransactions = 0
	d.counts = rowCounts{}
	d.hasPending = false
}

// writeRequest is one step for the writer: copy rows into the open
// destination transaction, then commit it with checkpoint when commit is
// set, or roll it back when rollback is set.
type writeRequest struct {
	rows       [][]any
	commit     bool
	checkpoint Checkpoint
	event      FlushEvent
	rollback   bool
}

// writer owns the destination connection and writes the requests in order
// on its own goroutine.
type writer struct {
	conn    *pgx.Conn
	table   pgx.Identifier
	discard bool
	wake    func()
	log     *slog.Logger
	tx      pgx.Tx

	// carefulThrough is the position of the last batch that the destination
	// rejected in an earlier session, or zero. Batches that start at or
	// before it are copied under a savepoint, and row by row when rejected
	// again (copyCarefully). Later batches are copied as usual.
	carefulThrough pglogrepl.LSN

	// rejected lists the rows of the open destination transaction that
	// were stored in degraded form.
	rejected []rejectedRow

	// copyTime is the time spent on copies since the last commit, which
	// the commit's FlushEvent.Duration includes.
	copyTime time.Duration

	requests chan writeRequest
	results  chan FlushEvent

	// done is closed when the writer stops; err is the error that stopped
	// it, or nil after stop.
	done chan struct{}
	err  error
}

func startWriter(conn *pgx.Conn, table pgx.Identifier, discard bool, wake func(), carefulThrough pglogrepl.LSN, log *slog.Logger) *writer {
	w := &writer{
		conn:           conn,
		table:          table,
		discard:        discard,
		wake:           wake,
		log:            log,
		carefulThrough: carefulThrough,
		// Copies take no result, commits at most maxCommitsInFlight.
		requests: make(chan writeRequest, maxCommitsInFlight),
		results:  make(chan FlushEvent, maxCommitsInFlight),
		done:     make(chan struct{}),
	}
	go w.run()

	return w
}

func (w *writer) run() {
	defer close(w.done)
	defer func() { _ = w.rollback() }()

	for req := range w.requests {
		if req.rollback {
			if err := w.rollback(); err != nil {
				w.err = err

				return
			}

			continue
		}

		start := time.Now()
		if err := w.copy(req.rows); err != nil {
			w.err = err

			return
		}
		if !req.commit {
			w.copyTime += time.Since(start)

			continue
		}

		ev, err := w.commit(req, start)
		if err != nil {
			w.err = fmt.Errorf("store transactions up to %s: %w", req.checkpoint.CommitLSN, err)

			return
		}
		w.results <- ev
		if w.wake != nil {
			w.wake()
		}
	}
}

// stop ends the writer after the queued requests and waits for it.
func (w *writer) stop() {
	close(w.requests)
	<-w.done
}

// copy copies rows into the destination transaction, beginning it when
// needed. When the destination rejects the rows with a data error, it
// returns a *rejectionError, after which the worker restreams from the
// checkpoint in careful mode.
func (w *writer) copy(rows [][]any) error {
	if len(rows) == 0 || w.discard {
		return nil
	}

	ctx, cancel := context.WithTimeout(context.Background(), writeTimeout)
	defer cancel()

	if err := w.begin(ctx); err != nil {
		return err
	}
	if w.careful(rows) {
		return w.copyCarefully(rows)
	}

	err := w.copyRows(ctx, rows)
	if _, ok := dataError(err); ok {
		return &rejectionError{through: rowPosition(rows[len(rows)-1]), err: err}
	}

	return err
}

func (w *writer) begin(ctx context.Context) error {
	if w.tx != nil {
		return nil
	}

	tx, err := w.conn.Begin(ctx)
	if err != nil {
		return fmt.Errorf("begin destination transaction: %w", err)
	}
	w.tx = tx

	return nil
}

// commit writes the checkpoint and commits the destination transaction.
// The event's duration counts from start, before the last copy, and adds
// the earlier copies of the same destination transaction.
func (w *writer) commit(req writeRequest, start time.Time) (FlushEvent, error) {
	ev := req.event
	cp := req.checkpoint
	if w.discard {
		cp.UpdatedAt = time.Now()
		ev.Checkpoint = cp
		ev.Duration = w.copyTime + time.Since(start)
		w.copyTime = 0

		return ev, nil
	}

	ctx, cancel := context.WithTimeout(context.Background(), writeTimeout)
	defer cancel()

	if err := w.begin(ctx); err != nil {
		return ev, err
	}
	updatedAt, err := writeCheckpoint(ctx, w.tx, cp)
	if err != nil {
		return ev, err
	}
	err = w.tx.Commit(ctx)
	w.tx = nil
	if err != nil {
		w.rejected = nil
		return ev, fmt.Errorf("commit destination transaction at %s: %w", cp.CommitLSN, err)
	}

	cp.UpdatedAt = updatedAt
	ev.Checkpoint = cp
	ev.Duration = w.copyTime + time.Since(start)
	ev.Rejected = len(w.rejected)
	w.copyTime = 0
	w.logRejected()
	w.rejected = nil
	if w.carefulThrough != 0 && cp.CommitLSN >= w.carefulThrough {
		w.log.Info("stored the transactions up to the rejected batch: copies run without savepoints again", "lsn", cp.CommitLSN)
		w.carefulThrough = 0
	}

	return ev, nil
}

// rollback abandons the open destination transaction.
func (w *writer) rollback() error {
	if w.tx == nil {
		return nil
	}

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := w.tx.Rollback(ctx)
	w.tx = nil
	w.copyTime = 0
	w.rejected = nil
	if err != nil && !errors.Is(err, pgx.ErrTxClosed) {
		return fmt.Errorf("roll back destination transaction: %w", err)
	}

	return nil
}
