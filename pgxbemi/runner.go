package pgxbemi

import (
	"context"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// kind is what a runner's target is, which decides how the runner learns
// whether a transaction is open.
type kind int

const (
	// kindPool: every call runs on an idle connection, because pgxpool
	// destroys connections that are released inside a transaction.
	kindPool kind = iota

	// kindConn: one connection whose transaction status is read before each
	// call.
	kindConn

	// kindTx: a transaction.
	kindTx

	// kindOther: an unknown implementation.
	kindOther
)

// runner sends statements with their context through one target. DB and Tx
// are thin layers over it.
type runner struct {
	target DBTX
	opts   *options
	kind   kind

	// conn and state are the connection and its setting record, for
	// kindConn and kindTx; nil otherwise.
	conn  *pgconn.PgConn
	state *settingState

	// owner is the transaction this runner belongs to when that transaction
	// was begun through this package, nil otherwise.
	owner *Tx

	// execMode is the default query exec mode of the target's
	// connections when hasExecMode is set; see defaultMode.
	execMode    pgx.QueryExecMode
	hasExecMode bool
}

// newRunner returns a runner for t. It finds the connection of a *pgx.Conn,
// a pgx.Tx or a *pgxpool.Conn to read its transaction status and setting
// record.
func newRunner(t DBTX, opts *options) *runner {
	r := &runner{target: t, opts: opts, kind: kindOther}

	var conn *pgx.Conn
	switch x := t.(type) {
	case *pgxpool.Pool:
		r.kind = kindPool
	case *pgx.Conn:
		r.kind, conn = kindConn, x
	case pgx.Tx:
		r.kind, conn = kindTx, x.Conn()
	case interface{ Conn() *pgx.Conn }:
		// *pgxpool.Conn and similar wrappers of one connection.
		r.kind, conn = kindConn, x.Conn()
	}
	if (r.kind == kindConn || r.kind == kindTx) && conn == nil {
		r.kind = kindOther
	}
	if conn != nil && r.kind != kindOther {
		r.conn = conn.PgConn()
		r.state = stateOf(r.conn)
	}
	if r.kind == kindPool || r.kind == kindConn {
		// Read now, because a DB over a pool is shared by goroutines.
		r.defaultMode()
	}

	return r
}

// mode returns where the next statement runs.
func (r *runner) mode() mode {
	switch r.kind {
	case kindPool:
		return modeImplicit
	case kindOther:
		return modeUnknown
	}

	// A Tx is used only while its transaction is open, so reading its
	// connection is safe: after the end of a pgxpool transaction the
	// connection may already serve another goroutine.

	switch r.conn.TxStatus() {
	case 'I':
		r.state.reset()

		return modeImplicit
	case 'T':
		return modeTx
	default:
		return modeFailed
	}
}

// defaultMode returns the default query exec mode of the target's
// connections, read once because pgx returns it in a copy of the whole
// configuration. ok is false for an unknown target. Only newRunner and the
// goroutine that uses a Tx call it, so the cache needs no lock.
func (r *runner) defaultMode() (m pgx.QueryExecMode, ok bool) {
	if r.hasExecMode {
		return r.execMode, true
	}

	switch x := r.target.(type) {
	case *pgxpool.Pool:
		m = x.Config().ConnConfig.DefaultQueryExecMode
	case *pgx.Conn:
		m = x.Config().DefaultQueryExecMode
	case interface{ Conn() *pgx.Conn }:
		conn := x.Conn()
		if conn == nil {
			return 0, false
		}
		m = conn.Config().DefaultQueryExecMode
	default:
		return 0, false
	}
	r.execMode, r.hasExecMode = m, true

	return m, true
}

// acquireConn returns the connection of a *pgx.Conn or of a wrapper of one
// connection such as *pgxpool.Conn, or an idle connection of a
// *pgxpool.Pool, which release returns to the pool. conn is nil for other
// targets. Call release when err is nil.
func (r *runner) acquireConn(ctx context.Context) (conn *pgx.Conn, release func(), err error) {
	switch x := r.target.(type) {
	case *pgxpool.Pool:
		// pgxpool hands out connections outside a transaction only.
		c, err := x.Acquire(ctx)
		if err != nil {
			return nil, nil, err
		}

		return c.Conn(), c.Release, nil
	case *pgx.Conn:
		return x, func() {}, nil
	case interface{ Conn() *pgx.Conn }:
		return x.Conn(), func() {}, nil
	}

	return nil, func() {}, nil
}
