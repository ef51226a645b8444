package capture

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/bemi-go/bemi/core"
)

// writeTimeout bounds one destination write (a COPY batch or a commit).
// Writes run without the caller's cancellation, so a stop never interrupts
// one half-way.
const writeTimeout = time.Minute

// changeColumns are the changes table columns the worker writes; id and
// created_at take their defaults.
var changeColumns = []string{
	"database", "schema", "table", "primary_key", "operation",
	"before", "after", "context",
	"committed_at", "queued_at", "transaction_id", "position", "ordinal",
}

// destination writes change rows and checkpoints. Rows are buffered up to
// the batch limits, copied into one open destination transaction, and
// committed together with the checkpoint of the last complete source
// transaction they contain. It is used by one goroutine.
type destination struct {
	conn  *pgx.Conn
	table pgx.Identifier

	maxRows  int
	maxBytes int
	interval time.Duration

	tx pgx.Tx

	// buffered holds rows not yet copied, and bufferedBytes their JSON size.
	buffered      [][]any
	bufferedBytes int

	// txRows counts the rows copied or buffered since the last commit, and
	// txTransactions the complete source transactions among them.
	txRows         int
	txTransactions int

	// counts breaks txRows down for FlushEvent.
	counts rowCounts

	// pending is the checkpoint of the last complete source transaction
	// since the last commit, and pendingSince the time the first of them
	// completed. hasPending is false when there is none.
	pending      Checkpoint
	hasPending   bool
	pendingSince time.Time

	// discard drops rows and checkpoints instead of writing them, so a
	// benchmark can measure everything but the destination.
	discard bool
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

func newDestination(conn *pgx.Conn, schema string, cfg Config, discard bool) *destination {
	return &destination{
		conn:     conn,
		table:    pgx.Identifier{schema, "changes"},
		maxRows:  cfg.MaxBatchRows,
		maxBytes: cfg.MaxBatchBytes,
		interval: cfg.FlushInterval,
		discard:  discard,
	}
}

// add buffers one change row and copies the buffer into the open
// destination transaction when it reaches a batch limit.
func (d *destination) add(ctx context.Context, row []any, size int, op core.Operation, hasContext bool) error {
	d.buffered = append(d.buffered, row)
	d.bufferedBytes += size
	d.txRows++
	d.counts.add(op, hasContext)

	if len(d.buffered) >= d.maxRows || d.bufferedBytes >= d.maxBytes {
		return d.copyBuffered(ctx)
	}

	return nil
}

// copyBuffered copies the buffered rows into the destination transaction,
// beginning it when needed.
func (d *destination) copyBuffered(ctx context.Context) error {
	if len(d.buffered) == 0 {
		return nil
	}
	if d.discard {
		d.clearBuffer()

		return nil
	}

	ctx, cancel := context.WithTimeout(ctx, writeTimeout)
	defer cancel()

	if d.tx == nil {
		tx, err := d.conn.Begin(ctx)
		if err != nil {
			return fmt.Errorf("begin destination transaction: %w", err)
		}
		d.tx = tx
	}

	n, err := d.tx.CopyFrom(ctx, d.table, changeColumns, pgx.CopyFromRows(d.buffered))
	if err != nil {
		return fmt.Errorf("copy %d rows into %s: %w", len(d.buffered), d.table.Sanitize(), err)
	}
	if int(n) != len(d.buffered) {
		return fmt.Errorf("copy into %s: stored %d of %d rows", d.table.Sanitize(), n, len(d.buffered))
	}
	d.clearBuffer()

	return nil
}

func (d *destination) clearBuffer() {
	clear(d.buffered)
	d.buffered = d.buffered[:0]
	d.bufferedBytes = 0
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

// empty reports whether nothing is waiting to be committed: no rows and no
// completed source transaction.
func (d *destination) empty() bool {
	return !d.hasPending && d.txRows == 0
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

// commit copies the remaining rows, writes the checkpoint and commits the
// destination transaction. It must only be called between source
// transactions. It returns the stored checkpoint and the number of rows and
// source transactions committed.
func (d *destination) commit(ctx context.Context) (FlushEvent, error) {
	start := time.Now()
	if !d.hasPending {
		return FlushEvent{}, nil
	}

	ctx, cancel := context.WithTimeout(ctx, writeTimeout)
	defer cancel()

	if err := d.copyBuffered(ctx); err != nil {
		return FlushEvent{}, err
	}
	if d.discard {
		cp := d.pending
		cp.UpdatedAt = time.Now()
		ev := d.flushEvent(cp, start)
		d.reset()

		return ev, nil
	}
	if d.tx == nil {
		tx, err := d.conn.Begin(ctx)
		if err != nil {
			return FlushEvent{}, fmt.Errorf("begin destination transaction: %w", err)
		}
		d.tx = tx
	}

	cp := d.pending
	updatedAt, err := writeCheckpoint(ctx, d.tx, cp)
	if err != nil {
		return FlushEvent{}, err
	}
	if err := d.tx.Commit(ctx); err != nil {
		d.tx = nil

		return FlushEvent{}, fmt.Errorf("commit destination transaction at %s: %w", cp.CommitLSN, err)
	}
	cp.UpdatedAt = updatedAt

	ev := d.flushEvent(cp, start)
	d.reset()

	return ev, nil
}

func (d *destination) flushEvent(cp Checkpoint, start time.Time) FlushEvent {
	return FlushEvent{
		Rows:         d.txRows,
		Transactions: d.txTransactions,
		Created:      d.counts.created,
		Updated:      d.counts.updated,
		Deleted:      d.counts.deleted,
		Truncated:    d.counts.truncated,
		WithContext:  d.counts.withContext,
		Checkpoint:   cp,
		Duration:     time.Since(start),
	}
}

// rollback abandons the open destination transaction and everything
// buffered. The source will send those transactions again, because they
// were never confirmed.
func (d *destination) rollback(ctx context.Context) {
	if d.tx != nil {
		_ = d.tx.Rollback(ctx)
	}
	d.reset()
}

func (d *destination) reset() {
	d.tx = nil
	d.clearBuffer()
	d.txRows = 0
	d.txTransactions = 0
	d.counts = rowCounts{}
	d.hasPending = false
}
