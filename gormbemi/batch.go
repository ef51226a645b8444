package gormbemi

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"

	"github.com/bemi-go/bemi/core"
	"github.com/bemi-go/bemi/internal/pgxsql"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
)

// errNotPgx reports that a connection is not pgx's, so the caller falls
// back to the comment.
var errNotPgx = errors.New("gormbemi: connection is not a pgx connection")

// errInexactTypes reports that a statement returns a column type for which
// pgxsql.ReadRows would not give the values of pgx's database/sql driver,
// so the caller falls back to the comment.
var errInexactTypes = errors.New("gormbemi: statement returns types that a batch cannot read as database/sql would")

// maxBatchAttempts bounds the attempts of a batch that failed before any
// byte reached the server, as on a pooled connection that the server has
// closed. database/sql retries its own statements the same way.
const maxBatchAttempts = 3

// Writes outside a transaction run as one pgx batch of set_config(payload)
// and the statement: one round trip, in the implicit transaction that
// PostgreSQL opens for a batch, so the setting lasts exactly for the
// statement. The statement keeps its text, so pgx's statement cache serves
// it. Arguments go to pgx unchanged, as pgx's database/sql driver passes
// them.

// execBatch runs a write that returns no rows as a batch.
func execBatch(ctx context.Context, db *sql.DB, payload []byte, query string, args []any) (sql.Result, error) {
	var tag pgconn.CommandTag
	err := runBatch(ctx, db, payload, query, args, func(results pgx.BatchResults, _ *pgx.Conn) error {
		var err error
		tag, err = results.Exec()

		return err
	})
	if err != nil {
		return nil, err
	}

	return driverResult(tag.RowsAffected()), nil
}

// queryBatch runs a write that returns rows as a batch and reads the rows
// into memory. It returns errInexactTypes, before running anything, when
// the statement returns a column type that pgxsql.Exact rejects. types
// records the result columns per statement text, so each text is
// described once. A statement that fails to parse returns the same error
// as on pgx's database/sql driver, which also prepares it first.
func queryBatch(ctx context.Context, db *sql.DB, types *pgxsql.DescriptionCache, payload []byte, query string, args []any) (*pgxsql.Rows, error) {
	var rows *pgxsql.Rows
	err := withPgxConn(ctx, db, func(conn *pgx.Conn) error {
		sd, err := types.Describe(ctx, conn, query)
		if err != nil {
			return err
		}
		if !pgxsql.Exact(sd.Fields, conn.TypeMap()) {
			return errInexactTypes
		}

		return sendBatch(ctx, conn, payload, query, args, func(results pgx.BatchResults, conn *pgx.Conn) error {
			pgxRows, err := results.Query()
			if err != nil {
				return err
			}
			if !pgxsql.Exact(pgxRows.FieldDescriptions(), conn.TypeMap()) {
				// The table changed since the statement was described.
				// These rows are read all the same, and the next run
				// takes the comment.
				types.SetFields(query, pgxRows.FieldDescriptions())
			}
			rows, err = pgxsql.ReadRows(pgxRows, conn.TypeMap())

			return err
		})
	})

	return rows, err
}

// batchReader reads the statement's result from a batch.
type batchReader func(results pgx.BatchResults, conn *pgx.Conn) error

// runBatch sends set_config and the statement in one batch on a connection
// of db and hands the statement's result to read.
func runBatch(ctx context.Context, db *sql.DB, payload []byte, query string, args []any, read batchReader) error {
	return withPgxConn(ctx, db, func(conn *pgx.Conn) error {
		return sendBatch(ctx, conn, payload, query, args, read)
	})
}

func sendBatch(ctx context.Context, conn *pgx.Conn, payload []byte, query string, args []any, read batchReader) error {
	values := make([]any, len(args))
	for i, a := range args {
		if named, ok := a.(sql.NamedArg); ok {
			a = named.Value
		}
		values[i] = a
	}

	batch := &pgx.Batch{}
	batch.Queue(setContextSQL, string(payload))
	batch.Queue(query, values...)
	results := conn.SendBatch(ctx, batch)
	if _, err := results.Exec(); err != nil {
		_ = results.Close()

		return fmt.Errorf("gormbemi: set %s: %w", core.SettingName, err)
	}
	err := read(results, conn)
	if closeErr := results.Close(); err == nil {
		err = closeErr
	}

	return err
}

// withPgxConn runs fn on the pgx connection under a connection of db. It
// returns errNotPgx when the connection is not pgx's. Like database/sql, it
// tries again on another connection when fn failed before any byte reached
// the server.
func withPgxConn(ctx context.Context, db *sql.DB, fn func(conn *pgx.Conn) error) error {
	var err error
	for range maxBatchAttempts {
		err = onPgxConn(ctx, db, fn)
		if !errors.Is(err, driver.ErrBadConn) {
			return err
		}
	}

	return fmt.Errorf("gormbemi: send statement: %w", err)
}

func onPgxConn(ctx context.Context, db *sql.DB, fn func(conn *pgx.Conn) error) error {
	conn, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()

	return conn.Raw(func(driverConn any) error {
		c, ok := driverConn.(*stdlib.Conn)
		if !ok {
			return errNotPgx
		}
		if c.Conn().IsClosed() {
			return driver.ErrBadConn
		}

		err := fn(c.Conn())
		if err != nil && pgconn.SafeToRetry(err) {
			// Nothing reached the server: database/sql discards the
			// connection when Raw returns driver.ErrBadConn.
			return driver.ErrBadConn
		}

		return err
	})
}

// driverResult is the sql.Result of a batch statement. Like pgx's
// database/sql driver it has no last insert id: PostgreSQL returns ids
// with RETURNING.
type driverResult int64

// LastInsertId returns an error: PostgreSQL has no last insert id.
func (r driverResult) LastInsertId() (int64, error) {
	return 0, errors.New("gormbemi: LastInsertId is not supported by PostgreSQL: use RETURNING")
}

// RowsAffected returns the number of rows the statement changed.
func (r driverResult) RowsAffected() (int64, error) { return int64(r), nil }
