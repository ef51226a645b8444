package pgxbemi

import (
	"context"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Tx is a pgx.Tx that sends the context of each call's context.Context
// with its writes, as DB does. DB.Begin returns one, so sqlc's generated
// Queries.WithTx(tx) keeps sending the context inside the transaction.
//
// A Tx from DB.Begin or DB.BeginTx owns its transaction: it sets the
// transaction-local setting only when the context changes and never clears
// it, because every commit, rollback and savepoint rollback of the
// transaction goes through it. A Tx from NewTx wraps a transaction that
// other code may also use, so it clears what it set in the same round trip
// instead.
//
// A Tx is not safe for concurrent use, as pgx.Tx is not, and must not be
// used after it is committed or rolled back.
type Tx struct {
	tx pgx.Tx
	r  *runner

	// nested is set for a savepoint begun by Begin; saved is the setting
	// when the savepoint was created, which ROLLBACK TO SAVEPOINT restores.
	nested bool
	saved  snapshot

	closed bool
}

// NewTx returns tx wrapped so that its statements carry the context of
// their context.Context. Use it for a transaction begun outside this
// package; DB.Begin returns a cheaper Tx. NewTx returns a *Tx unchanged.
func NewTx(tx pgx.Tx, cfg Config) *Tx {
	if t, ok := tx.(*Tx); ok {
		return t
	}

	return &Tx{tx: tx, r: newRunner(tx, newOptions(cfg))}
}

// newOwnedTx wraps a transaction that was begun through this package and
// has no value set, and makes it the owner of its connection's setting.
func newOwnedTx(tx pgx.Tx, parent *runner) *Tx {
	t := &Tx{tx: tx, r: newRunner(tx, parent.opts)}
	t.r.execMode, t.r.hasExecMode = parent.execMode, parent.hasExecMode
	if t.r.state != nil {
		t.r.owner = t
		t.r.state.reset()
		t.r.state.owner = t
	}

	return t
}

// Begin starts a pseudo nested transaction with a savepoint, as pgx.Tx's
// Begin does, and returns it as a *Tx.
func (t *Tx) Begin(ctx context.Context) (pgx.Tx, error) {
	if t.closed {
		return t.tx.Begin(ctx)
	}

	inner, err := t.tx.Begin(ctx)
	if err != nil {
		return nil, err
	}

	r := *t.r
	r.target = inner
	n := &Tx{tx: inner, r: &r, nested: true}
	if r.state != nil {
		n.saved = r.state.snapshot()
	}

	return n, nil
}

// Commit commits the transaction, or releases the savepoint of a nested
// transaction.
func (t *Tx) Commit(ctx context.Context) error {
	if !t.closed {
		t.closed = true
		t.releaseOwnership()
	}

	return t.tx.Commit(ctx)
}

// Rollback rolls back the transaction, or rolls back to the savepoint of a
// nested transaction. Like pgx.Tx's Rollback, it is safe to call after
// Commit.
func (t *Tx) Rollback(ctx context.Context) error {
	if t.closed {
		return t.tx.Rollback(ctx)
	}
	t.closed = true

	if !t.nested {
		t.releaseOwnership()

		return t.tx.Rollback(ctx)
	}

	err := t.tx.Rollback(ctx)
	if st := t.r.state; st != nil {
		if err == nil {
			st.restore(t.saved)
		} else {
			st.known = false
		}
	}

	return err
}

// releaseOwnership resets the setting record when an owner transaction
// ends. It runs before the transaction's COMMIT or ROLLBACK is sent,
// because pgxpool hands the connection to another goroutine right after.
func (t *Tx) releaseOwnership() {
	if !t.nested && t.r.owner == t && t.r.owns() {
		t.r.state.reset()
	}
}

// beginBatchDone records the outcome of the batch that began the
// transaction: after an error or a statement that may have changed the
// setting, its value is unknown.
func (t *Tx) beginBatchDone(err error, unknown bool) {
	if st := t.r.state; st != nil && (err != nil || unknown) {
		st.known = false
	}
}

// Exec runs sql with the context of ctx, as DB.Exec does.
func (t *Tx) Exec(ctx context.Context, sql string, arguments ...any) (pgconn.CommandTag, error) {
	if t.closed {
		return t.tx.Exec(ctx, sql, arguments...)
	}

	return t.r.exec(ctx, sql, arguments)
}

// Query runs sql with the context of ctx, as DB.Query does.
func (t *Tx) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	if t.closed {
		return t.tx.Query(ctx, sql, args...)
	}

	return t.r.query(ctx, sql, args)
}

// QueryRow runs sql with the context of ctx, as DB.QueryRow does.
func (t *Tx) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	if t.closed {
		return t.tx.QueryRow(ctx, sql, args...)
	}

	return t.r.queryRow(ctx, sql, args)
}

// SendBatch sends b with the context of ctx, as DB.SendBatch does.
func (t *Tx) SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults {
	if t.closed {
		return t.tx.SendBatch(ctx, b)
	}

	return t.r.sendBatch(ctx, b)
}

// CopyFrom copies rows with the context of ctx, as DB.CopyFrom does.
func (t *Tx) CopyFrom(ctx context.Context, tableName pgx.Identifier, columnNames []string, rowSrc pgx.CopyFromSource) (int64, error) {
	if t.closed {
		return t.tx.CopyFrom(ctx, tableName, columnNames, rowSrc)
	}

	return t.r.copyFrom(ctx, tableName, columnNames, rowSrc)
}

// LargeObjects returns the transaction's large objects. Writes to large
// objects are not tracked tables and carry no context.
func (t *Tx) LargeObjects() pgx.LargeObjects {
	return t.tx.LargeObjects()
}

// Prepare prepares a statement on the transaction's connection. A statement
// run by its name is examined by the name, not its SQL text, so it gets the
// context only with Config.AllStatements.
func (t *Tx) Prepare(ctx context.Context, name, sql string) (*pgconn.StatementDescription, error) {
	return t.tx.Prepare(ctx, name, sql)
}

// Conn returns the transaction's underlying *pgx.Conn. Statements sent
// through it directly carry no context.
func (t *Tx) Conn() *pgx.Conn {
	return t.tx.Conn()
}
