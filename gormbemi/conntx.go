package gormbemi

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
)

// connTx is a transaction on a *sql.Conn that the plugin began itself, so
// that BEGIN and the first set_config travel in one round trip.
// database/sql is not aware of the transaction, but the *sql.Conn keeps
// the connection reserved for it until Commit or Rollback. Should the
// connection return to the pool inside a transaction anyway, pgx's stdlib
// driver (v5.13.0, Conn.ResetSession) discards it.
type connTx struct {
	conn  *sql.Conn
	ctx   context.Context
	done  bool
	state txState
}

// beginWithContext reserves a connection of db and sends BEGIN and
// set_config(payload) as one pgx batch, which takes one round trip. It
// returns nil and no error when the connection is not pgx's, so the caller
// begins a transaction the usual way.
func beginWithContext(ctx context.Context, db *sql.DB, payload []byte) (*connTx, error) {
	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("gormbemi: begin transaction: %w", err)
	}

	isPgx := false
	err = conn.Raw(func(driverConn any) error {
		c, ok := driverConn.(*stdlib.Conn)
		if !ok {
			return nil
		}
		isPgx = true

		batch := &pgx.Batch{}
		batch.Queue("begin")
		batch.Queue(setContextSQL, string(payload))

		return c.Conn().SendBatch(ctx, batch).Close()
	})
	if err != nil || !isPgx {
		// After a failed batch the connection may be inside a transaction;
		// the driver discards it when it returns to the pool.
		_ = conn.Close()
		if err != nil {
			return nil, fmt.Errorf("gormbemi: begin transaction: %w", err)
		}

		return nil, nil
	}

	return &connTx{conn: conn, ctx: ctx, state: txState{known: true, value: string(payload)}}, nil
}

// The methods below run on the reserved connection; after Commit or
// Rollback they return sql.ErrConnDone.

// PrepareContext prepares query on the transaction's connection.
func (t *connTx) PrepareContext(ctx context.Context, query string) (*sql.Stmt, error) {
	return t.conn.PrepareContext(ctx, query)
}

// ExecContext runs query in the transaction.
func (t *connTx) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	return t.conn.ExecContext(ctx, query, args...)
}

// QueryContext runs query in the transaction.
func (t *connTx) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	return t.conn.QueryContext(ctx, query, args...)
}

// QueryRowContext runs query in the transaction.
func (t *connTx) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	return t.conn.QueryRowContext(ctx, query, args...)
}

// Commit commits the transaction and returns the connection to the pool.
// Like pgx's Tx.Commit it returns pgx.ErrTxCommitRollback when the server
// rolled the transaction back because a statement in it failed.
func (t *connTx) Commit() error {
	tag, err := t.finish("commit")
	if err == nil && tag.String() == "ROLLBACK" {
		return pgx.ErrTxCommitRollback
	}

	return err
}

// Rollback rolls the transaction back and returns the connection to the
// pool.
func (t *connTx) Rollback() error {
	_, err := t.finish("rollback")

	return err
}

func (t *connTx) finish(command string) (pgconn.CommandTag, error) {
	if t.done {
		return pgconn.CommandTag{}, sql.ErrTxDone
	}
	t.done = true
	conn := t.conn
	defer conn.Close()

	var tag pgconn.CommandTag
	err := conn.Raw(func(driverConn any) error {
		c, ok := driverConn.(*stdlib.Conn)
		if !ok {
			return errors.New("gormbemi: connection is no longer pgx's")
		}

		var err error
		tag, err = c.Conn().Exec(t.ctx, command)

		return err
	})
	if err != nil {
		return tag, fmt.Errorf("gormbemi: %s: %w", command, err)
	}

	return tag, nil
}
