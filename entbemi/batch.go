package entbemi

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/bemi-go/bemi/core"
	"github.com/bemi-go/bemi/internal/pgxsql"
)

// The statements that set and clear the context. Their text never changes,
// so pgx prepares each once per connection.
const (
	setContextSQL   = core.SetContextSQL
	clearContextSQL = core.ClearContextSQL
)

// maxBatchAttempts bounds the attempts of a batch that failed before any
// byte reached the server, as on a pooled connection that the server has
// closed. database/sql retries its own statements the same way.
const maxBatchAttempts = 3

// execBatch runs set_config and the statement as one pgx batch. With a nil
// conn it takes a connection of d.db, outside any transaction: the batch
// then runs in one implicit transaction, so the setting lasts exactly for
// the statement and needs no clearing. Inside a transaction, conn is the
// transaction's connection. A nil payload clears the setting instead.
func (d *Driver) execBatch(ctx context.Context, conn *sql.Conn, payload []byte, query string, args []any) (sql.Result, error) {
	var affected int64
	err := d.runBatch(ctx, conn, payload, query, args, func(br pgx.BatchResults, _ *pgx.Conn) error {
		tag, err := br.Exec()
		affected = tag.RowsAffected()

		return err
	})
	if err != nil {
		return nil, err
	}

	return driver.RowsAffected(affected), nil
}

// queryBatch is execBatch for a statement that returns rows. The rows are
// read into memory while the connection is held, and returned as
// database/sql rows with the values that the pgx stdlib driver would give.
// NOTE: for column types that pgxsql.Exact rejects, such as time, interval
// and arrays, some values differ from stdlib's (see pgxsql.ReadRows).
func (d *Driver) queryBatch(ctx context.Context, conn *sql.Conn, payload []byte, query string, args []any) (*sql.Rows, error) {
	var buf *pgxsql.Rows
	err := d.runBatch(ctx, conn, payload, query, args, func(br pgx.BatchResults, pc *pgx.Conn) error {
		rows, err := br.Query()
		if err != nil {
			return err
		}
		buf, err = pgxsql.ReadRows(rows, pc.TypeMap())

		return err
	})
	if err != nil {
		return nil, err
	}

	return buf.SQLRows()
}

// batchReader reads the statement's result from a batch.
type batchReader func(br pgx.BatchResults, conn *pgx.Conn) error

// runBatch sends set_config and the statement in one batch and hands the
// statement's result to read. The SET and RESET statements of
// entsql.WithVar variables in ctx go into the same batch, before and after,
// as ent's SQL driver would run them around the statement. Without conn,
// a batch that failed before any byte reached the server is retried on
// another connection.
func (d *Driver) runBatch(ctx context.Context, conn *sql.Conn, payload []byte, query string, args []any, read batchReader) error {
	args = plainArgs(args)
	vars, err := d.vars.sessionVars(ctx)
	if err != nil {
		return err
	}
	if conn != nil {
		return sendBatch(ctx, conn, vars, payload, query, args, read)
	}

	for range maxBatchAttempts {
		conn, err = d.db.Conn(ctx)
		if err != nil {
			return err
		}
		err = sendBatch(ctx, conn, vars, payload, query, args, read)
		conn.Close()
		if !errors.Is(err, driver.ErrBadConn) {
			return err
		}
	}

	return fmt.Errorf("entbemi: send statement: %w", err)
}

func sendBatch(ctx context.Context, conn *sql.Conn, vars *sessionVars, payload []byte, query string, args []any, read batchReader) error {
	return conn.Raw(func(driverConn any) error {
		sc, ok := driverConn.(*stdlib.Conn)
		if !ok {
			return fmt.Errorf("entbemi: connection is %T, want *stdlib.Conn of the pgx stdlib driver", driverConn)
		}
		pc := sc.Conn()
		if pc.IsClosed() {
			return driver.ErrBadConn
		}

		b := &pgx.Batch{}
		var sets, resets []string
		if vars != nil {
			sets, resets = vars.sets, vars.resets
		}
		for _, s := range sets {
			b.Queue(s)
		}
		if payload != nil {
			b.Queue(setContextSQL, string(payload))
		} else {
			b.Queue(clearContextSQL)
		}
		b.Queue(query, args...)
		for _, s := range resets {
			b.Queue(s)
		}
		br := pc.SendBatch(ctx, b)

		var err error
		for range len(sets) + 1 {
			if _, err = br.Exec(); err != nil {
				break
			}
		}
		if err == nil {
			err = read(br, pc)
		}
		for i := 0; err == nil && i < len(resets); i++ {
			_, err = br.Exec()
		}
		if closeErr := br.Close(); err == nil {
			err = closeErr
		}
		if err != nil && pgconn.SafeToRetry(err) {
			// Nothing reached the server: let database/sql discard the
			// connection.
			return driver.ErrBadConn
		}

		return err
	})
}

// plainArgs unwraps sql.NamedArg values, which database/sql would turn into
// positional arguments for the pgx stdlib driver.
func plainArgs(args []any) []any {
	for i, a := range args {
		if _, ok := a.(sql.NamedArg); !ok {
			continue
		}

		out := make([]any, len(args))
		copy(out, args[:i])
		for j := i; j < len(args); j++ {
			if na, ok := args[j].(sql.NamedArg); ok {
				out[j] = na.Value
			} else {
				out[j] = args[j]
			}
		}

		return out
	}

	return args
}
