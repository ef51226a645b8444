package pgxbemi_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/bemi-go/bemi/core"
	"github.com/bemi-go/bemi/pgxbemi"
	"github.com/bemi-go/bemi/pgxbemi/internal/sqlctest"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// execModes are the pgx query exec modes that the end-to-end tests run in:
// the default, and the modes that pgbouncer users choose.
var execModes = []pgx.QueryExecMode{
	pgx.QueryExecModeCacheStatement,
	pgx.QueryExecModeCacheDescribe,
	pgx.QueryExecModeDescribeExec,
	pgx.QueryExecModeExec,
	pgx.QueryExecModeSimpleProtocol,
}

func withMode(m pgx.QueryExecMode) func(*pgxpool.Config) {
	return func(c *pgxpool.Config) { c.ConnConfig.DefaultQueryExecMode = m }
}

func TestSqlcCreateUpdateDelete(t *testing.T) {
	for _, mode := range execModes {
		t.Run(mode.String(), func(t *testing.T) {
			t.Parallel()
			d := newTrackedDB(t)
			q := sqlctest.New(pgxbemi.New(d.pool(t, withMode(mode)), pgxbemi.Config{}))
			bg := context.Background()

			create := core.Fields{"userId": 1, "endpoint": "POST /todos"}
			todo, err := q.CreateTodo(core.With(bg, create), "write tests")
			if err != nil {
				t.Fatalf("CreateTodo: %v", err)
			}
			if todo.ID == 0 || todo.Title != "write tests" || todo.Done {
				t.Fatalf("CreateTodo returned %+v", todo)
			}

			complete := core.Fields{"userId": 2, "endpoint": "PUT /todos/{id}"}
			if err := q.CompleteTodo(core.With(bg, complete), todo.ID); err != nil {
				t.Fatalf("CompleteTodo: %v", err)
			}

			rename := core.Fields{"userId": 3, "note": "it's /* not */ a comment"}
			n, err := q.RenameTodos(core.With(bg, rename), sqlctest.RenameTodosParams{Title: "write tests", Title_2: "test"})
			if err != nil || n != 1 {
				t.Fatalf("RenameTodos = %d, %v; want 1 row", n, err)
			}

			got, err := q.GetTodo(core.With(bg, rename), todo.ID)
			if err != nil || got.Title != "test" || !got.Done {
				t.Fatalf("GetTodo = %+v, %v", got, err)
			}

			// DeleteDoneTodos has no parameters, so pgx sends it over the
			// simple protocol.
			remove := core.Fields{"userId": 4}
			n, err = q.DeleteDoneTodos(core.With(bg, remove))
			if err != nil || n != 1 {
				t.Fatalf("DeleteDoneTodos = %d, %v; want 1 row", n, err)
			}

			other, err := q.CreateTodo(bg, "no context")
			if err != nil {
				t.Fatal(err)
			}
			if err := q.DeleteTodo(core.With(bg, create), other.ID); err != nil {
				t.Fatalf("DeleteTodo: %v", err)
			}

			d.wantChanges(t, []change{
				{op: "CREATE", title: "write tests", context: fields(t, create)},
				{op: "UPDATE", title: "write tests", context: fields(t, complete)},
				{op: "UPDATE", title: "write tests", context: fields(t, rename)},
				{op: "DELETE", title: "test", context: fields(t, remove)},
				{op: "CREATE", title: "no context", context: "{}"},
				{op: "DELETE", title: "no context", context: fields(t, create)},
			})
		})
	}
}

func TestSqlcBulkInsertOneMessage(t *testing.T) {
	t.Parallel()
	d := newTrackedDB(t)
	q := sqlctest.New(pgxbemi.New(d.pool(t), pgxbemi.Config{}))
	ctx := core.With(context.Background(), core.Fields{"job": "import", "batch": 7})

	titles := make([]string, 1000)
	for i := range titles {
		titles[i] = fmt.Sprintf("todo %d", i)
	}
	n, err := q.InsertManyTodos(ctx, titles)
	if err != nil || n != 1000 {
		t.Fatalf("InsertManyTodos = %d, %v; want 1000 rows", n, err)
	}

	if messages := d.messages(t); len(messages) != 1 {
		t.Errorf("got %d _bemi messages, want 1: %v", len(messages), messages)
	}
	want := fields(t, core.FieldsFrom(ctx))
	changes := d.changes(t, 1000)
	if len(changes) != 1000 {
		t.Fatalf("got %d changes, want 1000", len(changes))
	}
	for i, c := range changes {
		if c.op != "CREATE" || !sameJSON(t, c.context, want) {
			t.Fatalf("change %d is %s with context %s, want INSERT with %s", i, c.op, c.context, want)
		}
	}
}

func TestSqlcCopyFrom(t *testing.T) {
	// target is what the DB wraps: a pool, or one of its connections.
	type target int
	const (
		pool target = iota
		conn
		acquired
	)
	cases := []struct {
		name   string
		mode   pgx.QueryExecMode
		target target
		inTx   bool
	}{
		{name: "pool", mode: pgx.QueryExecModeCacheStatement},
		{name: "pool describe exec", mode: pgx.QueryExecModeDescribeExec},
		{name: "pool simple protocol", mode: pgx.QueryExecModeSimpleProtocol},
		{name: "connection", mode: pgx.QueryExecModeCacheStatement, target: conn},
		{name: "acquired connection cache describe", mode: pgx.QueryExecModeCacheDescribe, target: acquired},
		{name: "transaction", mode: pgx.QueryExecModeCacheStatement, inTx: true},
		{name: "transaction exec mode", mode: pgx.QueryExecModeExec, inTx: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			d := newTrackedDB(t)
			bg := context.Background()
			var wrapped pgxbemi.DBTX = d.pool(t, withMode(tc.mode))
			switch tc.target {
			case conn:
				wrapped = d.conn(t, func(c *pgx.ConnConfig) { c.DefaultQueryExecMode = tc.mode })
			case acquired:
				c, err := d.pool(t, withMode(tc.mode)).Acquire(bg)
				if err != nil {
					t.Fatal(err)
				}
				defer c.Release()
				wrapped = c
			}
			db := pgxbemi.New(wrapped, pgxbemi.Config{})
			ctx := core.With(bg, core.Fields{"job": "copy"})

			rows := make([]sqlctest.CopyTodosParams, 1000)
			for i := range rows {
				rows[i] = sqlctest.CopyTodosParams{Title: fmt.Sprintf("copied %d", i), Done: i%2 == 0}
			}

			q := sqlctest.New(db)
			var tx pgx.Tx
			if tc.inTx {
				var err error
				tx, err = db.Begin(bg)
				if err != nil {
					t.Fatal(err)
				}
				q = q.WithTx(tx)
			}

			n, err := q.CopyTodos(ctx, rows)
			if err != nil || n != 1000 {
				t.Fatalf("CopyTodos = %d, %v; want 1000 rows", n, err)
			}
			// A write without context right after the copy must not get
			// the copy's context.
			if _, err := q.CreateTodo(bg, "after copy"); err != nil {
				t.Fatal(err)
			}
			if tx != nil {
				if err := tx.Commit(bg); err != nil {
					t.Fatal(err)
				}
			}

			changes := d.changes(t, 1001)
			if len(changes) != 1001 {
				t.Fatalf("got %d changes, want 1001", len(changes))
			}
			want := fields(t, core.FieldsFrom(ctx))
			for i, c := range changes[:1000] {
				if !sameJSON(t, c.context, want) {
					t.Fatalf("copied row %d has context %s, want %s", i, c.context, want)
				}
			}
			if last := changes[1000]; last.title != "after copy" || last.context != "{}" {
				t.Errorf("write after the copy is %q with context %s, want {}", last.title, last.context)
			}
		})
	}
}

func TestSqlcBatchExec(t *testing.T) {
	for _, mode := range execModes {
		t.Run(mode.String(), func(t *testing.T) {
			t.Parallel()
			d := newTrackedDB(t)
			db := pgxbemi.New(d.pool(t, withMode(mode)), pgxbemi.Config{})
			q := sqlctest.New(db)
			bg := context.Background()
			ctx := core.With(bg, core.Fields{"userId": 9})

			titles := []string{"a", "b", "c"}
			var results []error
			q.CreateTodos(ctx, titles).Exec(func(i int, err error) {
				if i != len(results) {
					t.Errorf("callback %d came as number %d", i, len(results))
				}
				results = append(results, err)
			})
			if len(results) != len(titles) {
				t.Fatalf("got %d batch results, want %d", len(results), len(titles))
			}
			for i, err := range results {
				if err != nil {
					t.Errorf("batch statement %d: %v", i, err)
				}
			}

			// The same batch in a transaction, then without context.
			tx, err := db.Begin(bg)
			if err != nil {
				t.Fatal(err)
			}
			q.WithTx(tx).CreateTodos(ctx, []string{"d"}).Exec(nil)
			q.WithTx(tx).CreateTodos(bg, []string{"e"}).Exec(nil)
			if err := tx.Commit(bg); err != nil {
				t.Fatal(err)
			}

			want := fields(t, core.FieldsFrom(ctx))
			d.wantChanges(t, []change{
				{op: "CREATE", title: "a", context: want},
				{op: "CREATE", title: "b", context: want},
				{op: "CREATE", title: "c", context: want},
				{op: "CREATE", title: "d", context: want},
				{op: "CREATE", title: "e", context: "{}"},
			})
		})
	}
}
