package pgxbemi

import (
	"context"
	"errors"

	"github.com/bemi-go/bemi/core"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// sendBatch sends the caller's batch with the context of ctx. Every
// statement of a batch shares one ctx, so one set_config in front of the
// caller's statements gives every write the context. The caller's batch is
// not modified.
func (r *runner) sendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults {
	queued := b.QueuedQueries
	payload, annotate, err := r.batchPayload(ctx, queued)
	if err != nil {
		return pgx.FailedBatchResults(b, err)
	}
	unknown := false
	for _, q := range queued {
		unknown = unknown || changesSetting(q.SQL)
	}
	// A batch that begins a transaction (Batch.BeginTx, or a queued BEGIN)
	// keeps it open after the batch.
	opensTx := len(queued) > 0 && startsTransaction(queued[0].SQL)

	if r.simpleProtocol() && len(queued) > 0 {
		return r.sendBatchCommented(ctx, b, payload, annotate, unknown, opensTx)
	}

	s := r.plan(ctx, payload, annotate)
	s.unknownAfter = unknown
	opensTx = opensTx && s.mode != modeTx
	if opensTx && s.set && len(s.value) > 0 {
		// The set goes after the BEGIN and is cleared at the end, because
		// the transaction outlives the batch.
		s.clear = true
	}
	if !s.sends() && !opensTx {
		br := r.target.SendBatch(ctx, b)
		r.finish(s, nil)

		return br
	}

	// Copying the Batch keeps the options of Batch.BeginTx, an unexported
	// field, so pgx still returns the transaction from BatchResults.Tx.
	sent := *b
	sent.QueuedQueries = make([]*pgx.QueuedQuery, 0, len(queued)+2)
	rest := queued
	if opensTx {
		sent.QueuedQueries = append(sent.QueuedQueries, queued[0])
		rest = queued[1:]
	}
	setAt := -1
	if s.set {
		setAt = len(sent.QueuedQueries)
		r.queueSet(&sent, s)
	}
	sent.QueuedQueries = append(sent.QueuedQueries, rest...)
	if s.clear {
		sent.Queue(clearSQL)
	}

	return &batchResults{
		inner:   r.target.SendBatch(ctx, &sent),
		runner:  r,
		step:    s,
		setAt:   setAt,
		queued:  len(queued),
		opensTx: opensTx,
	}
}

// sendBatchCommented sends a batch over the simple protocol, where pgx
// joins the statements into one query string. The trigger reads the last
// Bemi comment of the whole string for every statement in it, so the
// comment goes at the end of the last statement. A value left set by an
// earlier statement is cleared first, in a round trip of its own.
func (r *runner) sendBatchCommented(ctx context.Context, b *pgx.Batch, payload []byte, annotate, unknown, opensTx bool) pgx.BatchResults {
	queued := b.QueuedQueries
	last := queued[len(queued)-1]
	s := r.planComment(ctx, last.SQL, payload, annotate, false)
	s.unknownAfter = unknown
	if err := r.clearFirst(ctx, s); err != nil {
		return pgx.FailedBatchResults(b, err)
	}

	sent := b
	if s.comment {
		commented := *last
		commented.SQL = core.AppendComment(last.SQL, s.payload)
		sent = &pgx.Batch{}
		*sent = *b
		sent.QueuedQueries = append(queued[:len(queued)-1:len(queued)-1], &commented)
	}

	return &batchResults{
		inner:   r.target.SendBatch(ctx, sent),
		runner:  r,
		step:    s,
		setAt:   -1,
		queued:  len(queued),
		opensTx: opensTx,
	}
}

// batchPayload returns the context to send with a batch: the context of
// ctx when at least one statement gets it.
func (r *runner) batchPayload(ctx context.Context, queued []*pgx.QueuedQuery) ([]byte, bool, error) {
	for _, q := range queued {
		if changesSetting(q.SQL) {
			continue
		}

		payload, ok, err := r.opts.payload(ctx, q.SQL)
		if err != nil || ok {
			return payload, ok, err
		}
	}

	return nil, false, nil
}

// batchResults hide the set_config statements of a batch: the caller reads
// the results of its own statements only.
type batchResults struct {
	inner   pgx.BatchResults
	runner  *runner
	step    step
	setAt   int  // index of the set_config statement in the sent batch, -1 when none
	queued  int  // number of the caller's statements
	opensTx bool // the batch begins a transaction

	next     int      // index in the sent batch of the next result to read
	read     int      // number of the caller's results read
	setErr   error    // error of the set_config statement
	lastErr  error    // last error that Exec or Query returned
	lastRows pgx.Rows // rows that Query returned last

	closed   bool
	closeErr error
	tx       *Tx
}

// Exec reads the result of the caller's next statement.
func (br *batchResults) Exec() (pgconn.CommandTag, error) {
	if br.delegates() {
		return br.inner.Exec()
	}
	if err := br.advance(); err != nil {
		return pgconn.CommandTag{}, err
	}

	tag, err := br.inner.Exec()
	if err != nil {
		br.lastErr = err
	}

	return tag, err
}

// Query reads the rows of the caller's next statement.
func (br *batchResults) Query() (pgx.Rows, error) {
	if br.delegates() {
		return br.inner.Query()
	}
	if err := br.advance(); err != nil {
		return errRows{err: err}, err
	}

	rows, err := br.inner.Query()
	br.lastRows = rows
	if err != nil {
		br.lastErr = err
	}

	return rows, err
}

// QueryRow reads the row of the caller's next statement.
func (br *batchResults) QueryRow() pgx.Row {
	rows, _ := br.Query() // the error is in rows

	return &row{rows: rows}
}

// Close reads the remaining results, runs the callbacks of the caller's
// queued statements, and closes the batch.
func (br *batchResults) Close() error {
	if br.closed {
		return br.closeErr
	}
	br.closed = true

	br.closeErr = br.inner.Close()
	br.runner.finish(br.step, br.closeErr)
	if br.opensTx && br.tx != nil {
		br.tx.beginBatchDone(br.closeErr, br.step.unknownAfter)
	}

	return br.closeErr
}

// Tx returns the transaction begun by Batch.BeginTx as a *Tx that sends the
// context, or nil when the batch began none.
func (br *batchResults) Tx() pgx.Tx {
	if br.tx != nil {
		return br.tx
	}

	inner := br.inner.Tx()
	if inner == nil {
		return nil
	}

	br.tx = newOwnedTx(inner, br.runner)
	if br.closed {
		br.tx.beginBatchDone(br.closeErr, br.step.unknownAfter)
	}

	return br.tx
}

// delegates reports whether the next read goes to the inner results as it
// is: after Close, and past the caller's last statement when no clear
// follows it, so that pgx reports its own error.
func (br *batchResults) delegates() bool {
	return br.closed || br.read >= br.queued && !br.step.clear
}

// advance reads the set_config result when it comes next and moves to the
// caller's next statement. Past the caller's last statement it returns the
// error that pgx returns there: the batch's earlier error, or none left.
func (br *batchResults) advance() error {
	if br.read >= br.queued {
		if br.lastErr != nil {
			return br.lastErr
		}
		if br.lastRows != nil && br.lastRows.Err() != nil {
			return br.lastRows.Err()
		}

		return errors.New("no more results in batch")
	}

	if br.next == br.setAt {
		_, br.setErr = br.inner.Exec()
		br.next++
	}
	if br.setErr != nil {
		return br.setErr
	}

	br.next++
	br.read++

	return nil
}
