package pgxbemi

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// DBTX is the interface of the values that New wraps, which *pgx.Conn,
// *pgxpool.Pool, *pgxpool.Conn and pgx.Tx implement: the DBTX interface
// that sqlc generates for pgx/v5, plus Begin.
type DBTX interface {
	Exec(ctx context.Context, sql string, arguments ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults
	CopyFrom(ctx context.Context, tableName pgx.Identifier, columnNames []string, rowSrc pgx.CopyFromSource) (int64, error)
	Begin(ctx context.Context) (pgx.Tx, error)
}

// DB wraps a *pgxpool.Pool, a *pgx.Conn, a *pgxpool.Conn or a pgx.Tx so
// that every write sent through it carries the application context of the
// call's context.Context (see core.With) to the Bemi trigger. It satisfies
// sqlc's generated DBTX interface for pgx/v5, so pass it to sqlc's New.
//
// Results, errors, rows and batch results behave as those of the wrapped
// value. A DB over a pool is safe for concurrent use; over a single
// connection or transaction it is as safe as that value.
type DB struct {
	r  *runner
	tx *Tx // set when DB wraps a transaction
}

// New returns db wrapped. New returns a *DB unchanged and ignores cfg then,
// and wraps a pgx.Tx with NewTx.
func New(db DBTX, cfg Config) *DB {
	switch x := db.(type) {
	case *DB:
		return x
	case pgx.Tx:
		return &DB{tx: NewTx(x, cfg)}
	}

	return &DB{r: newRunner(db, newOptions(cfg))}
}

// Exec runs sql with args and the context of ctx, and returns the command
// tag of sql.
func (db *DB) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	if db.tx != nil {
		return db.tx.Exec(ctx, sql, args...)
	}

	return db.r.exec(ctx, sql, args)
}

// Query runs sql with args and the context of ctx, and returns its rows.
// As with pgx, errors may come from Query or from the rows' Err after
// reading, and the rows must be closed.
func (db *DB) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	if db.tx != nil {
		return db.tx.Query(ctx, sql, args...)
	}

	return db.r.query(ctx, sql, args)
}

// QueryRow runs sql with args and the context of ctx. The row's Scan
// returns pgx.ErrNoRows when sql returns no row.
func (db *DB) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	if db.tx != nil {
		return db.tx.QueryRow(ctx, sql, args...)
	}

	return db.r.queryRow(ctx, sql, args)
}

// SendBatch sends the queued statements of b in one round trip. Every
// write in b carries the context of ctx. The results read are those of b's
// statements only.
func (db *DB) SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults {
	if db.tx != nil {
		return db.tx.SendBatch(ctx, b)
	}

	return db.r.sendBatch(ctx, b)
}

// CopyFrom copies rows into a table with COPY FROM, and the copied rows
// carry the context of ctx. Outside a transaction, CopyFrom sends the COPY
// statement itself, with the context in a comment, in the round trips that
// pgx takes. The package documentation explains the other cases.
func (db *DB) CopyFrom(ctx context.Context, tableName pgx.Identifier, columnNames []string, rowSrc pgx.CopyFromSource) (int64, error) {
	if db.tx != nil {
		return db.tx.CopyFrom(ctx, tableName, columnNames, rowSrc)
	}

	return db.r.copyFrom(ctx, tableName, columnNames, rowSrc)
}

// Begin starts a transaction and returns it as a *Tx. Over a transaction it
// starts a pseudo nested transaction with a savepoint.
func (db *DB) Begin(ctx context.Context) (pgx.Tx, error) {
	return db.BeginTx(ctx, pgx.TxOptions{})
}

// BeginTx starts a transaction with txOptions and returns it as a *Tx.
func (db *DB) BeginTx(ctx context.Context, txOptions pgx.TxOptions) (pgx.Tx, error) {
	if db.tx != nil {
		if txOptions != (pgx.TxOptions{}) {
			return nil, errors.New("pgxbemi: begin a nested transaction: a savepoint takes no transaction options; call Begin")
		}

		return db.tx.Begin(ctx)
	}

	var tx pgx.Tx
	var err error
	if b, ok := db.r.target.(interface {
		BeginTx(context.Context, pgx.TxOptions) (pgx.Tx, error)
	}); ok {
		tx, err = b.BeginTx(ctx, txOptions)
	} else if txOptions == (pgx.TxOptions{}) {
		tx, err = db.r.target.Begin(ctx)
	} else {
		return nil, errors.New("pgxbemi: begin a transaction: the wrapped value has no BeginTx; call Begin")
	}
	if err != nil {
		return nil, err
	}

	return newOwnedTx(tx, db.r), nil
}
