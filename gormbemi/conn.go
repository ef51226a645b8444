package gormbemi

import (
	"context"
	"database/sql"
	"errors"
	"sync"

	"github.com/bemi-go/bemi/core"
	"github.com/bemi-go/bemi/internal/pgxsql"
	"github.com/jackc/pgx/v5"
	"gorm.io/gorm"
)

// mechanism is the way a statement's context reaches the database trigger.
type mechanism int

const (
	// viaSetting sets the transaction-local setting core.SettingName on
	// the statement's transaction before the statement, when its value
	// changes. The statement text stays the same, so every statement cache
	// keeps working.
	viaSetting mechanism = iota + 1

	// viaComment appends the context comment to the statement text. It is
	// used where no statement cache receives the text: when pgx caches
	// nothing by text (the simple protocol, for example), and outside a
	// transaction. There, on pgx's driver, a write goes as a batch of
	// set_config and the unchanged statement instead (see statement.batch),
	// and the commented statement runs without a cached prepared statement
	// only where the batch cannot serve (see stmtConn.uncached).
	viaComment
)

// stmtConn is the gorm.ConnPool that GORM's callback sends a statement
// through. It attaches the context of the statement's context.Context to
// writes and passes everything else through unchanged.
type stmtConn struct {
	in *installation
	db *gorm.DB

	// inner is the pool GORM would have used: *sql.DB, *sql.Tx,
	// *gorm.PreparedStmtDB, *gorm.PreparedStmtTX, a *connTx or another
	// application pool.
	inner gorm.ConnPool

	// direct runs commented statements. It is inner, except that GORM's
	// prepared statement cache is bypassed.
	direct gorm.ConnPool

	mode mechanism

	// tx is the setting's state in the statement's transaction
	// (viaSetting only).
	tx *txState

	// tracked is false when WithTables excludes the statement's table.
	tracked bool

	// uncached runs commented statements in pgx's QueryExecModeDescribeExec,
	// for writes that the batch cannot send: a statement whose result types
	// pgxsql.Exact rejects, or arguments with pgx query options. pgx then
	// prepares them as the unnamed statement and reads the parameter types
	// from the server, so arguments are encoded exactly as in the default
	// mode. pgx's statement cache never fills with statements used once. It
	// costs a second round trip. QueryExecModeExec would not, but it infers
	// parameter types from Go types, which pgx v5.13's documentation warns
	// can change how some values are encoded.
	uncached bool
}

// statement is a statement ready to send: where to, with which text and
// arguments, and the transaction state to unlock afterwards.
type statement struct {
	pool   gorm.ConnPool
	query  string
	args   []any
	locked *sync.Mutex

	// batch is the pool on which payload and the original statement may go
	// as one batch instead of the commented query (see execBatch and
	// queryBatch).
	batch   *sql.DB
	payload []byte
}

func (s statement) done() {
	if s.locked != nil {
		s.locked.Unlock()
	}
}

// PrepareContext prepares query on the inner pool without context: a
// prepared statement is a shared object, not a write of this request.
func (c *stmtConn) PrepareContext(ctx context.Context, query string) (*sql.Stmt, error) {
	return c.inner.PrepareContext(ctx, query)
}

// ExecContext runs query with the statement's context attached. Outside a
// transaction on pgx's driver, a write with context runs as one batch of
// set_config and the statement (see execBatch).
func (c *stmtConn) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	s, err := c.annotate(ctx, query, args)
	if err != nil {
		return nil, err
	}
	defer s.done()

	if s.batch != nil {
		r, err := execBatch(ctx, s.batch, s.payload, query, args)
		if !errors.Is(err, errNotPgx) {
			return r, err
		}
	}

	return s.pool.ExecContext(ctx, s.query, s.args...)
}

// QueryContext runs query with the statement's context attached. A write
// with RETURNING arrives here. Outside a transaction on pgx's driver, a
// write with context runs as one batch of set_config and the statement,
// and its rows are read into memory before QueryContext returns (see
// queryBatch).
func (c *stmtConn) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	s, err := c.annotate(ctx, query, args)
	if err != nil {
		return nil, err
	}
	defer s.done()

	if s.batch != nil {
		rows, err := queryBatch(ctx, s.batch, &c.in.results, s.payload, query, args)
		if err != nil && !errors.Is(err, errNotPgx) && !errors.Is(err, errInexactTypes) {
			return nil, err
		}
		if err == nil {
			return rows.SQLRows()
		}
	}

	return s.pool.QueryContext(ctx, s.query, s.args...)
}

// QueryRowContext runs query with the statement's context attached, as
// QueryContext does. When attaching fails, the error goes to the *gorm.DB
// and to the returned row.
func (c *stmtConn) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	s, err := c.annotate(ctx, query, args)
	if err != nil {
		_ = c.db.AddError(err)

		return pgxsql.ErrRow(err)
	}
	defer s.done()

	if s.batch != nil {
		rows, err := queryBatch(ctx, s.batch, &c.in.results, s.payload, query, args)
		if err != nil && !errors.Is(err, errNotPgx) && !errors.Is(err, errInexactTypes) {
			return pgxsql.ErrRow(err)
		}
		if err == nil {
			return rows.SQLRow()
		}
	}

	return s.pool.QueryRowContext(ctx, s.query, s.args...)
}

// annotate decides how query is sent. Reads pass through unchanged. In a
// transaction, ROLLBACK TO SAVEPOINT makes the setting unknown, because it
// undoes the set_config calls made after the savepoint.
func (c *stmtConn) annotate(ctx context.Context, query string, args []any) (statement, error) {
	s := statement{pool: c.inner, query: query, args: args}
	if !core.IsWrite(query) {
		if c.tx != nil && isRollback(query) {
			c.tx.forget()
		}

		return s, nil
	}

	var payload []byte
	if c.tracked {
		var err error
		if payload, err = c.in.p.payload(ctx, query); err != nil {
			return s, err
		}
	}

	if c.mode == viaComment {
		if payload == nil {
			return s, nil
		}
		s.pool = c.direct
		s.query = core.AppendComment(query, payload)
		if c.uncached {
			s.args = append([]any{pgx.QueryExecModeDescribeExec}, args...)
			if db, ok := c.direct.(*sql.DB); ok && pgxsql.Batchable(args) {
				s.batch, s.payload = db, payload
			}
		}

		return s, nil
	}

	c.tx.mu.Lock()
	if err := c.tx.apply(ctx, c.inner, payload); err != nil {
		c.tx.mu.Unlock()

		return s, err
	}
	s.locked = &c.tx.mu

	return s, nil
}

// isRollback reports whether query starts with the keyword ROLLBACK, as
// ROLLBACK TO SAVEPOINT does.
func isRollback(query string) bool {
	i := 0
	for i < len(query) && (query[i] == ' ' || query[i] == '\t' || query[i] == '\n' || query[i] == '\r') {
		i++
	}
	const keyword = "rollback"
	if len(query)-i < len(keyword) {
		return false
	}
	for j := 0; j < len(keyword); j++ {
		if query[i+j]|0x20 != keyword[j] {
			return false
		}
	}

	return true
}
