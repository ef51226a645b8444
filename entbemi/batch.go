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
	args = plainArgs(args)
	vars, err := d.vars.sessionVars(ctx)
	if err != nil {
		return nil, err
	}

	var affected int64
	err = d.onConn(ctx, conn, func(pc *pgx.Conn) error {
		return sendBatch(ctx, pc, vars, payload, query, args, func(br pgx.BatchResults) error {
			tag, err := br.Exec()
			affected = tag.RowsAffected()

			return err
		})
	})
	if err != nil {
		return nil, err
	}

	return driver.RowsAffected(affected), nil
}

// queryBatch is execBatch for a statement that returns rows. The rows are
// read into memory while the connection is held, and returned as
// database/sql rows with the values that the pgx stdlib driver gives (see
// queryRows).
func (d *Driver) queryBatch(ctx context.Context, conn *sql.Conn, payload []byte, query string, args []any) (*sql.Rows, error) {
	args = plainArgs(args)
	vars, err := d.vars.sessionVars(ctx)
	if err != nil {
		return nil, err
	}

	var rows *pgxsql.Rows
	err = d.onConn(ctx, conn, func(pc *pgx.Conn) error {
		var err error
		rows, err = d.queryRows(ctx, pc, vars, payload, query, args)

		return err
	})
	if err != nil {
		return nil, err
	}

	return rows.SQLRows()
}

// queryRows sends the statement with set_config in one round trip and
// reads its rows, in the result formats that the pgx stdlib driver would
// receive them in, so the values are the driver's:
//
//   - In the exec and simple protocol modes, the driver and a pgx batch
//     both receive every column in text format, so the statement goes in a
//     pgx batch.
//   - In the other modes, the driver requests binary format for a few
//     types and text for all others (pgxsql.StdlibResultFormats), and a pgx
//     batch requests binary for every type that pgx can decode. The
//     statement text is described once (d.descriptions). When every result
//     column is one that pgxsql.Exact accepts, the statement goes in a pgx
//     batch, which in the cache_statement mode runs it as a prepared
//     statement of pgx's statement cache. Otherwise it goes in a pipeline
//     with the driver's result formats (see queryPipeline).
func (d *Driver) queryRows(ctx context.Context, pc *pgx.Conn, vars *sessionVars, payload []byte, query string, args []any) (*pgxsql.Rows, error) {
	m := pc.TypeMap()
	switch stateOf(pc).mode {
	case pgx.QueryExecModeExec, pgx.QueryExecModeSimpleProtocol:
		return batchRows(ctx, pc, vars, payload, query, args)
	}

	sd, err := d.descriptions.Describe(ctx, pc, query)
	if err != nil {
		return nil, err
	}
	if !pgxsql.Exact(sd.Fields, m) {
		rows, err := queryPipeline(ctx, pc, vars, payload, sd, args)
		if err != nil || !sameTypes(rows.Fields(), sd.Fields) {
			// The table may have changed since the statement was
			// described, so the statement failed or received a column
			// in a format that stdlib would not request. Describe it
			// again on its next run.
			d.descriptions.Forget(query)
		}

		return rows, err
	}

	var rows *pgxsql.Rows
	err = sendBatch(ctx, pc, vars, payload, query, args, func(br pgx.BatchResults) error {
		pgxRows, err := br.Query()
		if err != nil {
			return err
		}
		if !pgxsql.Exact(pgxRows.FieldDescriptions(), m) {
			// The table changed since the statement was described, and
			// the statement has run. The next run takes the pipeline.
			// NOTE: these rows may hold pgx's text form where the stdlib
			// driver returns the server's text (see pgxsql.ReadRows).
			d.descriptions.SetFields(query, pgxRows.FieldDescriptions())
		}
		rows, err = pgxsql.ReadRows(pgxRows, m)

		return err
	})

	return rows, err
}

// sameTypes reports whether a and b describe columns of the same types.
func sameTypes(a, b []pgconn.FieldDescription) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].DataTypeOID != b[i].DataTypeOID {
			return false
		}
	}

	return true
}

// batchRows sends the statement in a pgx batch and reads its rows.
func batchRows(ctx context.Context, pc *pgx.Conn, vars *sessionVars, payload []byte, query string, args []any) (*pgxsql.Rows, error) {
	var rows *pgxsql.Rows
	err := sendBatch(ctx, pc, vars, payload, query, args, func(br pgx.BatchResults) error {
		pgxRows, err := br.Query()
		if err != nil {
			return err
		}
		rows, err = pgxsql.ReadRows(pgxRows, pc.TypeMap())

		return err
	})

	return rows, err
}

// onConn runs fn on the pgx connection under conn or, with a nil conn, on
// a connection of d.db. Without conn, fn runs again on another connection
// when it failed before any byte reached the server.
func (d *Driver) onConn(ctx context.Context, conn *sql.Conn, fn func(pc *pgx.Conn) error) error {
	if conn != nil {
		return onPgxConn(conn, fn)
	}

	var err error
	for range maxBatchAttempts {
		conn, err = d.db.Conn(ctx)
		if err != nil {
			return err
		}
		err = onPgxConn(conn, fn)
		conn.Close()
		if !errors.Is(err, driver.ErrBadConn) {
			return err
		}
	}

	return fmt.Errorf("entbemi: send statement: %w", err)
}

func onPgxConn(conn *sql.Conn, fn func(pc *pgx.Conn) error) error {
	return conn.Raw(func(driverConn any) error {
		sc, ok := driverConn.(*stdlib.Conn)
		if !ok {
			return fmt.Errorf("entbemi: connection is %T, want *stdlib.Conn of the pgx stdlib driver", driverConn)
		}
		pc := sc.Conn()
		if pc.IsClosed() {
			return driver.ErrBadConn
		}

		err := fn(pc)
		if err != nil && pgconn.SafeToRetry(err) {
			// Nothing reached the server: let database/sql discard the
			// connection.
			return driver.ErrBadConn
		}

		return err
	})
}

// batchReader reads the statement's result from a batch.
type batchReader func(br pgx.BatchResults) error

// sendBatch sends set_config and the statement in one batch and hands the
// statement's result to read. The SET and RESET statements of
// entsql.WithVar variables in ctx go into the same batch, before and after,
// as ent's SQL driver would run them around the statement.
func sendBatch(ctx context.Context, pc *pgx.Conn, vars *sessionVars, payload []byte, query string, args []any, read batchReader) error {
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
		err = read(br)
	}
	for i := 0; err == nil && i < len(resets); i++ {
		_, err = br.Exec()
	}
	if closeErr := br.Close(); err == nil {
		err = closeErr
	}

	return err
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
