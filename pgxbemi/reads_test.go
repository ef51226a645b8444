package pgxbemi_test

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/bemi-go/bemi/core"
	"github.com/bemi-go/bemi/pgxbemi"
	"github.com/bemi-go/bemi/pgxbemi/internal/sqlctest"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// sqlRecorder is a pgx QueryTracer and BatchTracer that records the SQL
// text of every statement that pgx runs.
type sqlRecorder struct {
	mu  sync.Mutex
	sql []string
}

func (r *sqlRecorder) record(sql string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sql = append(r.sql, sql)
}

func (r *sqlRecorder) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.sql
	r.sql = nil

	return out
}

func (r *sqlRecorder) TraceQueryStart(ctx context.Context, _ *pgx.Conn, data pgx.TraceQueryStartData) context.Context {
	r.record(data.SQL)

	return ctx
}

func (r *sqlRecorder) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

func (r *sqlRecorder) TraceBatchStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceBatchStartData) context.Context {
	return ctx
}

func (r *sqlRecorder) TraceBatchQuery(_ context.Context, _ *pgx.Conn, data pgx.TraceBatchQueryData) {
	r.record(data.SQL)
}

func (r *sqlRecorder) TraceBatchEnd(context.Context, *pgx.Conn, pgx.TraceBatchEndData) {}

func recordingPool(t *testing.T, d *trackedDB) (*pgxpool.Pool, *sqlRecorder) {
	t.Helper()

	rec := &sqlRecorder{}
	pool := d.pool(t, func(c *pgxpool.Config) { c.ConnConfig.Tracer = rec })

	return pool, rec
}

func TestReadsNotAnnotated(t *testing.T) {
	t.Parallel()
	d := newTrackedDB(t)
	pool, rec := recordingPool(t, d)
	db := pgxbemi.New(pool, pgxbemi.Config{})
	q := sqlctest.New(db)
	bg := context.Background()
	a := core.With(bg, userA)

	todo, err := q.CreateTodo(bg, "read me")
	if err != nil {
		t.Fatal(err)
	}
	rec.take()

	reads := []struct {
		name string
		run  func(pgxbemi.DBTX) error
	}{
		{"get", func(db pgxbemi.DBTX) error { _, err := sqlctest.New(db).GetTodo(a, todo.ID); return err }},
		{"list", func(db pgxbemi.DBTX) error { _, err := sqlctest.New(db).ListTodos(a); return err }},
		{"select for update", func(db pgxbemi.DBTX) error {
			_, err := db.Exec(a, "SELECT * FROM todos WHERE id = $1 FOR UPDATE", todo.ID)
			return err
		}},
		{"select without arguments", func(db pgxbemi.DBTX) error {
			_, err := db.Exec(a, "SELECT count(*) FROM todos")
			return err
		}},
	}
	for _, r := range reads {
		if err := r.run(db); err != nil {
			t.Fatalf("%s: %v", r.name, err)
		}
		sent := rec.take()
		if len(sent) != 1 || strings.Contains(sent[0], "set_config") || strings.Contains(sent[0], core.CommentStart) {
			t.Errorf("%s sent %q, want the read alone and unchanged", r.name, sent)
		}
	}

	// The same reads in a transaction whose setting holds the same context.
	tx, err := db.Begin(bg)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(bg)
	if err := sqlctest.New(db).WithTx(tx).CompleteTodo(a, todo.ID); err != nil {
		t.Fatal(err)
	}
	rec.take()
	for _, r := range reads {
		if err := r.run(tx); err != nil {
			t.Fatalf("%s in transaction: %v", r.name, err)
		}
		sent := rec.take()
		if len(sent) != 1 || strings.Contains(sent[0], "set_config") || strings.Contains(sent[0], core.CommentStart) {
			t.Errorf("%s in transaction sent %q, want the read alone and unchanged", r.name, sent)
		}
	}
	if err := tx.Commit(bg); err != nil {
		t.Fatal(err)
	}

	if messages := d.messages(t); len(messages) != 1 {
		t.Errorf("got _bemi messages %q, want only the update's", messages)
	}
}

// TestWriteThroughFunction writes through a function called from SELECT,
// which gets the context only with AllStatements.
func TestWriteThroughFunction(t *testing.T) {
	t.Parallel()
	d := newTrackedDB(t)
	pool, rec := recordingPool(t, d)
	bg := context.Background()
	a, b := core.With(bg, userA), core.With(bg, userB)

	plain := sqlctest.New(pgxbemi.New(pool, pgxbemi.Config{}))
	all := sqlctest.New(pgxbemi.New(pool, pgxbemi.Config{AllStatements: true}))

	if _, err := plain.AddTodoThroughFunction(a, "plain"); err != nil {
		t.Fatal(err)
	}
	if _, err := all.AddTodoThroughFunction(a, "all statements"); err != nil {
		t.Fatal(err)
	}
	if sent := rec.take(); len(sent) != 3 || !strings.Contains(sent[1], "set_config") {
		t.Errorf("sent %q, want the plain SELECT, then set_config and the SELECT", sent)
	}

	// In a transaction that holds a, a SELECT under another context
	// clears the value even without AllStatements, so the function's write
	// never gets a's context.
	db := pgxbemi.New(pool, pgxbemi.Config{})
	tx, err := db.Begin(bg)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(bg)
	qtx := sqlctest.New(db).WithTx(tx)
	mustCreate(t, qtx, a, "a in tx")
	if _, err := qtx.AddTodoThroughFunction(b, "function under b"); err != nil {
		t.Fatal(err)
	}
	if _, err := qtx.AddTodoThroughFunction(a, "function under a"); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(bg); err != nil {
		t.Fatal(err)
	}

	ca := fields(t, userA)
	d.wantChanges(t, []change{
		{op: "CREATE", title: "plain", context: "{}"},
		{op: "CREATE", title: "all statements", context: ca},
		{op: "CREATE", title: "a in tx", context: ca},
		{op: "CREATE", title: "function under b", context: "{}"},
		{op: "CREATE", title: "function under a", context: "{}"},
	})
}
