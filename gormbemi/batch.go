package gormbemi

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/bemi-go/bemi/core"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
)

// errNotPgx reports that a connection is not pgx's, so the caller falls
// back to the comment.
var errNotPgx = errors.New("gormbemi: connection is not a pgx connection")

// execBatch runs a write outside a transaction as one pgx batch of
// set_config(payload) and the statement: one round trip, in the implicit
// transaction that PostgreSQL opens for a batch, so the setting lasts
// exactly for the statement. The statement keeps its text, so pgx's
// statement cache serves it. Arguments go to pgx unchanged, as pgx's
// database/sql driver passes them.
func execBatch(ctx context.Context, db *sql.DB, payload []byte, query string, args []any) (sql.Result, error) {
	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Close()

	var tag pgconn.CommandTag
	err = conn.Raw(func(driverConn any) error {
		c, ok := driverConn.(*stdlib.Conn)
		if !ok {
			return errNotPgx
		}

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
		results := c.Conn().SendBatch(ctx, batch)
		if _, err := results.Exec(); err != nil {
			_ = results.Close()

			return fmt.Errorf("gormbemi: set %s: %w", core.SettingName, err)
		}
		tag, err = results.Exec()
		if closeErr := results.Close(); err == nil {
			err = closeErr
		}

		return err
	})
	if err != nil {
		return nil, err
	}

	return driverResult(tag.RowsAffected()), nil
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
