package pgxbemi_test

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/bemi-go/bemi/core"
	"github.com/bemi-go/bemi/pgxbemi"
	"github.com/bemi-go/bemi/pgxbemi/internal/sqlctest"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgproto3"
)

// protocolTrace records the protocol messages of one connection, from
// pgx's own tracer in pgproto3.
type protocolTrace struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (p *protocolTrace) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()

	return p.buf.Write(b)
}

// take returns the message lines recorded since the last call.
func (p *protocolTrace) take() []string {
	p.mu.Lock()
	defer p.mu.Unlock()

	lines := strings.Split(strings.TrimSpace(p.buf.String()), "\n")
	p.buf.Reset()

	return lines
}

// roundTrips counts the times the client waited for the server: each
// ReadyForQuery ends a request, and a COPY waits once more for
// CopyInResponse before it sends its rows.
func roundTrips(lines []string) int {
	n := 0
	for _, line := range lines {
		if strings.HasPrefix(line, "B\tReadyForQuery\t") || strings.HasPrefix(line, "B\tCopyInResponse\t") {
			n++
		}
	}

	return n
}

// statements counts the statements that the client ran: Execute messages
// of the extended protocol and Query messages of the simple protocol.
func statements(lines []string) int {
	n := 0
	for _, line := range lines {
		if strings.HasPrefix(line, "F\tExecute\t") || strings.HasPrefix(line, "F\tQuery\t") {
			n++
		}
	}

	return n
}

// tracedConn opens a connection whose protocol messages are recorded.
func tracedConn(t *testing.T, d *trackedDB) (*pgx.Conn, *protocolTrace) {
	t.Helper()

	conn := d.conn(t)
	trace := &protocolTrace{}
	conn.PgConn().Frontend().Trace(trace, pgproto3.TracerOptions{SuppressTimestamps: true})

	return conn, trace
}

// TestRoundTrips compares the round trips of calls through a DB with the
// same calls through the bare connection, counted on the wire. Every call
// runs once before it is counted, so pgx has prepared its statements.
func TestRoundTrips(t *testing.T) {
	d := newTrackedDB(t)
	bg := context.Background()
	a, b := core.With(bg, userA), core.With(bg, userB)

	copyRows := []sqlctest.CopyTodosParams{{Title: "c1"}, {Title: "c2"}}
	type calls func(ctx context.Context, db pgxbemi.DBTX) error
	cases := []struct {
		name       string
		run        calls
		extra      int // round trips added by the wrapper
		statements int // statements added by the wrapper
	}{
		{name: "insert", statements: 1, run: func(ctx context.Context, db pgxbemi.DBTX) error {
			_, err := sqlctest.New(db).CreateTodo(ctx, "x")
			return err
		}},
		{name: "update without arguments", run: func(ctx context.Context, db pgxbemi.DBTX) error {
			_, err := db.Exec(ctx, "UPDATE todos SET done = NOT done WHERE id = 1")
			return err
		}},
		{name: "read", run: func(ctx context.Context, db pgxbemi.DBTX) error {
			_, err := sqlctest.New(db).ListTodos(ctx)
			return err
		}},
		{name: "batch", statements: 1, run: func(ctx context.Context, db pgxbemi.DBTX) error {
			var err error
			sqlctest.New(db).CreateTodos(ctx, []string{"b1", "b2"}).Exec(func(_ int, e error) { err = e })
			return err
		}},
		// Sets for a, b, a and a clear for the statement without context.
		{name: "transaction with changing contexts", statements: 4, run: func(_ context.Context, db pgxbemi.DBTX) error {
			tx, err := db.Begin(bg)
			if err != nil {
				return err
			}
			defer tx.Rollback(bg)
			q := sqlctest.New(db).WithTx(tx)
			for _, ctx := range []context.Context{a, a, a, b, bg, a} {
				if _, err := q.CreateTodo(ctx, "t"); err != nil {
					return err
				}
			}

			return tx.Commit(bg)
		}},
		// Outside a transaction, the COPY statement carries the context in
		// a comment, so the copy takes the bare call's round trips.
		{name: "copy", run: func(ctx context.Context, db pgxbemi.DBTX) error {
			_, err := sqlctest.New(db).CopyTodos(ctx, copyRows)
			return err
		}},
		// In a transaction, the set runs before the first COPY only.
		{name: "copy in transaction", extra: 1, statements: 1, run: func(ctx context.Context, db pgxbemi.DBTX) error {
			tx, err := db.Begin(bg)
			if err != nil {
				return err
			}
			defer tx.Rollback(bg)
			q := sqlctest.New(db).WithTx(tx)
			for range 3 {
				if _, err := q.CopyTodos(ctx, copyRows); err != nil {
					return err
				}
			}

			return tx.Commit(bg)
		}},
	}

	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			conn, trace := tracedConn(t, d)
			db := pgxbemi.New(conn, pgxbemi.Config{})

			count := func(ctx context.Context, db pgxbemi.DBTX) (trips, stmts int) {
				t.Helper()
				if err := c.run(ctx, db); err != nil {
					t.Fatal(err)
				}
				trace.take() // warm up: pgx prepares the statements

				if err := c.run(ctx, db); err != nil {
					t.Fatal(err)
				}
				lines := trace.take()

				return roundTrips(lines), statements(lines)
			}

			bare, bareStmts := count(bg, conn)
			wrapped, wrappedStmts := count(a, db)
			if bare == 0 {
				t.Fatal("the trace recorded no round trip")
			}
			if wrapped != bare+c.extra {
				t.Errorf("wrapped call took %d round trips, want %d (the bare call took %d)", wrapped, bare+c.extra, bare)
			}
			if wrappedStmts != bareStmts+c.statements {
				t.Errorf("wrapped call ran %d statements, want %d (the bare call ran %d)", wrappedStmts, bareStmts+c.statements, bareStmts)
			}
		})
	}
}
