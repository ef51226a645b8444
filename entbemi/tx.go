package entbemi

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"sync"

	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"

	"github.com/bemi-go/bemi/core"
	"github.com/bemi-go/bemi/internal/pgxsql"
)

// Tx is a dialect.Tx whose writes carry their context. Driver.Tx and
// Driver.BeginTx return it.
//
// With MechanismSetting, Tx runs a database/sql transaction on a connection
// that it holds (sql.Conn), and keeps track of the value of the setting
// core.SettingName in the transaction. A write whose context differs from
// that value goes out as one pgx batch with the set_config on the same
// connection. A write without context after one with context clears the
// setting in its batch, so the trigger never attributes a write to an
// earlier statement's context. Every other statement, and every write under
// an unchanged context, goes through the database/sql transaction. After a
// statement that starts with ROLLBACK (ROLLBACK TO SAVEPOINT undoes
// set_config), the value is unknown and the next write sets or clears the
// setting again.
//
// With MechanismComment, Tx embeds the wrapped driver's transaction and
// appends the comment to annotated statements.
type Tx struct {
	dialect.Tx

	driver *Driver

	// conn holds the transaction's connection with MechanismSetting; it
	// returns to the pool after Commit or Rollback, or when the context of
	// BeginTx is done.
	conn     *sql.Conn
	stopConn func() bool
	// sqlTx is the database/sql transaction on conn.
	sqlTx *sql.Tx

	// mu serializes the statements that depend on setting.
	mu sync.Mutex
	// setting is the value of core.SettingName in the transaction, valid
	// while known is true.
	setting string
	known   bool
}

// beginOnConn starts a transaction for MechanismSetting on a connection of
// d.db.
func (d *Driver) beginOnConn(ctx context.Context, opts *sql.TxOptions) (*Tx, error) {
	conn, err := d.db.Conn(ctx)
	if err != nil {
		return nil, err
	}
	sqlTx, err := conn.BeginTx(ctx, opts)
	if err != nil {
		conn.Close()

		return nil, err
	}

	t := &Tx{
		Tx:     &entsql.Tx{Conn: entsql.Conn{ExecQuerier: sqlTx}, Tx: sqlTx},
		driver: d,
		conn:   conn,
		sqlTx:  sqlTx,
		known:  true,
	}
	// database/sql rolls the transaction back when ctx is done; the
	// connection must then return to the pool as well. Close waits until
	// the rollback has finished.
	t.stopConn = context.AfterFunc(ctx, func() { conn.Close() })

	return t, nil
}

// Commit commits the transaction.
func (t *Tx) Commit() error {
	err := t.Tx.Commit()
	t.release()

	return err
}

// Rollback aborts the transaction.
func (t *Tx) Rollback() error {
	err := t.Tx.Rollback()
	t.release()

	return err
}

func (t *Tx) release() {
	if t.conn == nil {
		return
	}
	t.stopConn()
	// Close returns sql.ErrConnDone when the connection was closed before,
	// as when the context of BeginTx was done; there is nothing to do then.
	_ = t.conn.Close()
}

// Exec runs a statement that returns no rows in the transaction.
func (t *Tx) Exec(ctx context.Context, query string, args, v any) error {
	t.mu.Lock()
	defer t.mu.Unlock()

	st, err := t.annotate(ctx, query, args)
	if err != nil {
		return err
	}
	if st.batch {
		argv, err := argSlice(args)
		if err != nil {
			return err
		}
		res, err := t.driver.execBatch(ctx, t.conn, st.payload, query, argv)
		t.settled(st, err)
		if err != nil {
			return err
		}

		return setResult(v, res)
	}

	err = t.Tx.Exec(ctx, st.query, args, v)
	t.forgetAfterRollback(query)

	return err
}

// Query runs a statement that returns rows in the transaction.
func (t *Tx) Query(ctx context.Context, query string, args, v any) error {
	t.mu.Lock()
	defer t.mu.Unlock()

	st, err := t.annotate(ctx, query, args)
	if err != nil {
		return err
	}
	if !st.batch {
		return t.Tx.Query(ctx, st.query, args, v)
	}

	vr, ok := v.(*entsql.Rows)
	if !ok {
		return fmt.Errorf("entbemi: query result is %T, want *sql.Rows of entgo.io/ent/dialect/sql", v)
	}
	argv, err := argSlice(args)
	if err != nil {
		return err
	}
	rows, err := t.driver.queryBatch(ctx, t.conn, st.payload, query, argv)
	t.settled(st, err)
	if err != nil {
		return err
	}
	*vr = entsql.Rows{ColumnScanner: rows}

	return nil
}

// ExecContext runs a raw statement in the transaction. With
// MechanismComment, the wrapped transaction must have ExecContext.
func (t *Tx) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	ex, ok := t.Tx.(execContexter)
	if !ok {
		return nil, fmt.Errorf("entbemi: transaction %T has no ExecContext method", t.Tx)
	}

	t.mu.Lock()
	defer t.mu.Unlock()

	st, err := t.annotate(ctx, query, args)
	if err != nil {
		return nil, err
	}
	if st.batch {
		res, err := t.driver.execBatch(ctx, t.conn, st.payload, query, args)
		t.settled(st, err)

		return res, err
	}

	res, err := ex.ExecContext(ctx, st.query, args...)
	t.forgetAfterRollback(query)

	return res, err
}

// QueryContext runs a raw statement that returns rows in the transaction.
// With MechanismComment, the wrapped transaction must have QueryContext.
func (t *Tx) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	q, ok := t.Tx.(queryContexter)
	if !ok {
		return nil, fmt.Errorf("entbemi: transaction %T has no QueryContext method", t.Tx)
	}

	t.mu.Lock()
	defer t.mu.Unlock()

	st, err := t.annotate(ctx, query, args)
	if err != nil {
		return nil, err
	}
	if st.batch {
		rows, err := t.driver.queryBatch(ctx, t.conn, st.payload, query, args)
		t.settled(st, err)

		return rows, err
	}

	return q.QueryContext(ctx, st.query, args...)
}

// txStatement is the plan for sending one statement of a Tx.
type txStatement struct {
	// query is the text to send through the transaction, with the comment
	// when MechanismComment annotates it.
	query string
	// batch sends the statement in a batch after set_config(payload), or
	// after clearing the setting when payload is nil.
	batch   bool
	payload []byte
}

// annotate decides how to send query with args. When the setting must
// change but args cannot go into a batch (see pgxsql.Batchable), it
// changes the setting with a statement of its own, and query goes through
// the transaction unchanged.
func (t *Tx) annotate(ctx context.Context, query string, args any) (txStatement, error) {
	if !t.driver.annotator.AllStatements && !core.IsWrite(query) {
		return txStatement{query: query}, nil
	}

	payload, ok, err := core.Payload(ctx, t.driver.annotator.Encoder)
	if err != nil {
		return txStatement{}, fmt.Errorf("entbemi: encode context: %w", err)
	}
	if t.conn == nil {
		if !ok {
			return txStatement{query: query}, nil
		}

		return txStatement{query: core.AppendComment(query, payload)}, nil
	}

	if t.known && t.setting == string(payload) {
		return txStatement{query: query}, nil
	}
	if argv, ok := args.([]any); ok && !pgxsql.Batchable(argv) {
		if err := t.setApart(ctx, payload); err != nil {
			return txStatement{}, err
		}

		return txStatement{query: query}, nil
	}

	return txStatement{query: query, batch: true, payload: payload}, nil
}

// setApart sets the setting to payload, or clears it when payload is nil,
// with a statement of its own in the transaction.
func (t *Tx) setApart(ctx context.Context, payload []byte) error {
	var err error
	if payload != nil {
		_, err = t.sqlTx.ExecContext(ctx, setContextSQL, string(payload))
	} else {
		_, err = t.sqlTx.ExecContext(ctx, clearContextSQL)
	}
	t.settled(txStatement{payload: payload}, err)

	return err
}

// settled records the setting after a batch.
func (t *Tx) settled(st txStatement, err error) {
	if err != nil {
		t.known = false

		return
	}
	t.setting = string(st.payload)
	t.known = true
}

// forgetAfterRollback marks the setting unknown after a statement that
// starts with ROLLBACK, such as ROLLBACK TO SAVEPOINT, which may undo an
// earlier set_config.
func (t *Tx) forgetAfterRollback(query string) {
	q := strings.TrimLeft(query, " \t\r\n(")
	if len(q) >= 8 && strings.EqualFold(q[:8], "ROLLBACK") {
		t.known = false
	}
}
