package pgxbemi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"

	"github.com/bemi-go/bemi/core"
	"github.com/bemi-go/bemi/pgxbemi"
	"github.com/bemi-go/bemi/pgxbemi/internal/sqlctest"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// otherDB is a DBTX that pgxbemi does not know, so it cannot tell whether
// a transaction is open.
type otherDB struct{ *pgxpool.Pool }

// rawStatements runs raw SQL in the forms that pgx accepts, under ctx a,
// and returns the titles it writes in order with the context each write
// must get.
func rawStatements(t *testing.T, db pgxbemi.DBTX, a context.Context) []change {
	t.Helper()
	bg := context.Background()
	ca := fields(t, userA)
	var want []change

	exec := func(ctx context.Context, sql string, args ...any) {
		t.Helper()
		if _, err := db.Exec(ctx, sql, args...); err != nil {
			t.Fatalf("exec %q: %v", sql, err)
		}
	}

	exec(a, "INSERT INTO todos (title) VALUES ($1)", "arguments")
	want = append(want, change{op: "CREATE", title: "arguments", context: ca})

	exec(a, "INSERT INTO todos (title) VALUES ('no arguments')")
	want = append(want, change{op: "CREATE", title: "no arguments", context: ca})

	exec(a, "INSERT INTO todos (title) VALUES ('first'); INSERT INTO todos (title) VALUES ('second');")
	want = append(want,
		change{op: "CREATE", title: "first", context: ca},
		change{op: "CREATE", title: "second", context: ca})

	exec(a, "INSERT INTO todos (title) VALUES (@title)", pgx.NamedArgs{"title": "named"})
	want = append(want, change{op: "CREATE", title: "named", context: ca})

	exec(a, "UPDATE todos SET done = $1 WHERE title = $2", pgx.QueryExecModeExec, true, "named")
	want = append(want, change{op: "UPDATE", title: "named", context: ca})

	exec(bg, "DELETE FROM todos WHERE title = $1", "arguments")
	want = append(want, change{op: "DELETE", title: "arguments", context: "{}"})

	exec(a, "WITH gone AS (DELETE FROM todos WHERE title = $1 RETURNING id) SELECT count(*) FROM gone", "first")
	want = append(want, change{op: "DELETE", title: "first", context: ca})

	rows, err := db.Query(a, "INSERT INTO todos (title) VALUES ($1) RETURNING id", "queried")
	if err != nil {
		t.Fatal(err)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	want = append(want, change{op: "CREATE", title: "queried", context: ca})

	n, err := db.CopyFrom(a, pgx.Identifier{"todos"}, []string{"title"}, pgx.CopyFromRows([][]any{{"copied"}}))
	if err != nil || n != 1 {
		t.Fatalf("CopyFrom = %d, %v; want 1 row", n, err)
	}
	want = append(want, change{op: "CREATE", title: "copied", context: ca})

	// The procedure commits between its two inserts; the second keeps the
	// context.
	exec(a, "CALL add_two_todos($1)", "call")
	want = append(want,
		change{op: "CREATE", title: "call 1", context: ca},
		change{op: "CREATE", title: "call 2", context: ca})

	return want
}

const addTwoTodos = `CREATE PROCEDURE add_two_todos(prefix text) LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO todos (title) VALUES (prefix || ' 1');
	COMMIT;
	INSERT INTO todos (title) VALUES (prefix || ' 2');
END $$`

func TestRawSQL(t *testing.T) {
	cases := []struct {
		name string
		wrap func(*pgxpool.Pool) pgxbemi.DBTX
	}{
		{"pool", func(p *pgxpool.Pool) pgxbemi.DBTX { return p }},
		{"unknown DBTX", func(p *pgxpool.Pool) pgxbemi.DBTX { return otherDB{p} }},
	}
	for _, c := range cases {
		for _, mode := range execModes {
			t.Run(c.name+"/"+mode.String(), func(t *testing.T) {
				t.Parallel()
				d := newTrackedDB(t)
				d.exec(t, addTwoTodos)
				db := pgxbemi.New(c.wrap(d.pool(t, withMode(mode))), pgxbemi.Config{})

				want := rawStatements(t, db, core.With(context.Background(), userA))
				d.wantChanges(t, want)
			})
		}
	}
}

func TestRawSQLAcquiredConn(t *testing.T) {
	t.Parallel()
	d := newTrackedDB(t)
	d.exec(t, addTwoTodos)
	bg := context.Background()

	c, err := d.pool(t).Acquire(bg)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Release()
	db := pgxbemi.New(c, pgxbemi.Config{})

	want := rawStatements(t, db, core.With(bg, userA))
	d.wantChanges(t, want)
}

// TestContextSizeAndErrors checks the limit on the context size and that
// a context that cannot be encoded is logged, and the write still runs.
func TestContextSizeAndErrors(t *testing.T) {
	t.Parallel()
	d := newTrackedDB(t)
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, nil))
	q := sqlctest.New(pgxbemi.New(d.pool(t), pgxbemi.Config{MaxContextSize: 100, Logger: logger}))
	bg := context.Background()

	big := core.Fields{"userId": 1, "notes": strings.Repeat("x", 2000)}
	mustCreate(t, q, core.With(bg, big), "truncated")
	if !strings.Contains(logs.String(), "truncated") {
		t.Errorf("no truncation warning in the log:\n%s", logs.String())
	}

	logs.Reset()
	mustCreate(t, q, core.With(bg, core.Fields{"userId": 2, "bad": make(chan int)}), "unencodable")
	if !strings.Contains(logs.String(), "level=ERROR") || !strings.Contains(logs.String(), "bad") {
		t.Errorf("no error naming the field in the log:\n%s", logs.String())
	}

	changes := d.changes(t, 2)
	if len(changes) != 2 {
		t.Fatalf("got %d changes, want 2", len(changes))
	}
	var truncated map[string]any
	if err := json.Unmarshal([]byte(changes[0].context), &truncated); err != nil {
		t.Fatal(err)
	}
	if truncated["userId"] != 1.0 {
		t.Errorf("truncated context is %s, want userId 1 kept", changes[0].context)
	}
	if _, ok := truncated[core.TruncatedKey]; !ok {
		t.Errorf("truncated context is %s, want the %s marker", changes[0].context, core.TruncatedKey)
	}
	if changes[1].context != "{}" {
		t.Errorf("unencodable context arrived as %s, want {}", changes[1].context)
	}
}
