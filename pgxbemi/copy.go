package pgxbemi

import (
	"context"

	"github.com/jackc/pgx/v5"
)

// copySQL stands for the COPY statement that pgx writes, to decide whether
// a CopyFrom gets the context: it always does when ctx carries one.
const copySQL = "COPY t FROM STDIN"

// copyFrom runs CopyFrom with the context of ctx:
//
//   - Outside a transaction, on a pool or a connection, copyCommented sends
//     the COPY statement with a Bemi comment and encodes the rows itself,
//     in the round trips that pgx takes without context.
//   - In a transaction, the set runs before the COPY when the value
//     changes, and, for a Tx that does not own its transaction, the clear
//     after it: one or two round trips more.
//   - Outside a transaction on any other target, a transaction of its own
//     holds the setting: BEGIN and the set share one round trip, and the
//     COMMIT takes another.
func (r *runner) copyFrom(ctx context.Context, table pgx.Identifier, columns []string, src pgx.CopyFromSource) (int64, error) {
	payload, annotate, err := r.opts.payload(ctx, copySQL)
	if err != nil {
		return 0, err
	}
	s := r.plan(ctx, payload, annotate)

	switch {
	case s.mode == modeImplicit && s.set:
		if n, handled, err := r.copyCommented(ctx, s.payload, table, columns, src); handled {
			return n, err
		}

		return r.copyInTx(ctx, s, table, columns, src)
	case s.mode == modeUnknown && s.set:
		return r.copyInBegin(ctx, s, table, columns, src)
	case s.mode != modeTx || !s.sends():
		n, err := r.target.CopyFrom(ctx, table, columns, src)
		r.finish(s, err)

		return n, err
	}

	if err := r.execSet(ctx, r.target, s); err != nil {
		r.finish(s, err)

		return 0, err
	}

	n, err := r.target.CopyFrom(ctx, table, columns, src)
	if err == nil && s.clear {
		_, err = r.target.Exec(ctx, clearSQL)
	}
	r.finish(s, err)

	return n, err
}

// copyInTx runs CopyFrom in a transaction that a batch begins together with
// the set.
func (r *runner) copyInTx(ctx context.Context, s step, table pgx.Identifier, columns []string, src pgx.CopyFromSource) (int64, error) {
	b := &pgx.Batch{}
	b.BeginTx(pgx.TxOptions{})
	r.queueSet(b, s)

	br := r.target.SendBatch(ctx, b)
	tx := br.Tx()
	if err := br.Close(); err != nil {
		if tx != nil {
			_ = tx.Rollback(ctx) // err is the error to return
		}

		return 0, err
	}
	if tx == nil {
		// The target ignored Batch.BeginTx.
		return r.copyInBegin(ctx, s, table, columns, src)
	}

	return copyAndCommit(ctx, tx, table, columns, src)
}

// copyInBegin runs CopyFrom in a transaction begun with Begin, for targets
// that may already be in a transaction: there Begin creates a savepoint,
// which keeps the setting after its release, so the setting is cleared
// before the commit.
func (r *runner) copyInBegin(ctx context.Context, s step, table pgx.Identifier, columns []string, src pgx.CopyFromSource) (int64, error) {
	tx, err := r.target.Begin(ctx)
	if err != nil {
		return 0, err
	}
	if err := r.execSet(ctx, tx, s); err != nil {
		_ = tx.Rollback(ctx) // err is the error to return

		return 0, err
	}

	n, err := tx.CopyFrom(ctx, table, columns, src)
	if err == nil {
		_, err = tx.Exec(ctx, clearSQL)
	}
	if err != nil {
		_ = tx.Rollback(ctx) // err is the error to return

		return n, err
	}
	if err := tx.Commit(ctx); err != nil {
		return 0, err
	}

	return n, nil
}

// copyAndCommit runs CopyFrom in tx and commits it, or rolls it back on an
// error.
func copyAndCommit(ctx context.Context, tx pgx.Tx, table pgx.Identifier, columns []string, src pgx.CopyFromSource) (int64, error) {
	n, err := tx.CopyFrom(ctx, table, columns, src)
	if err != nil {
		_ = tx.Rollback(ctx) // err is the error to return

		return n, err
	}
	if err := tx.Commit(ctx); err != nil {
		return 0, err
	}

	return n, nil
}

// execSet runs the set_config statement of s through t in a round trip of
// its own.
func (r *runner) execSet(ctx context.Context, t DBTX, s step) error {
	if !s.set {
		return nil
	}

	var err error
	if len(s.value) == 0 {
		_, err = t.Exec(ctx, clearSQL)
	} else {
		_, err = t.Exec(ctx, setSQL, string(s.value))
	}

	return err
}
