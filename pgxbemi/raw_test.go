package pgxbemi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"reflect"
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

// TestContextSize checks the limit on the context size: a context over the
// limit is truncated with a warning in the log.
func TestContextSize(t *testing.T) {
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

	changes := d.changes(t, 1)
	if len(changes) != 1 {
		t.Fatalf("got %d changes, want 1", len(changes))
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
}

// unencodableCalls are the calls that write a todo titled title, each
// returning its error.
var unencodableCalls = []struct {
	name string
	call func(ctx context.Context, db pgxbemi.DBTX, title string) error
}{
	{"Exec", func(ctx context.Context, db pgxbemi.DBTX, title string) error {
		_, err := db.Exec(ctx, "INSERT INTO todos (title) VALUES ($1)", title)
		return err
	}},
	{"Exec without arguments", func(ctx context.Context, db pgxbemi.DBTX, title string) error {
		_, err := db.Exec(ctx, "INSERT INTO todos (title) VALUES ('"+title+"')")
		return err
	}},
	{"Exec with exec mode", func(ctx context.Context, db pgxbemi.DBTX, title string) error {
		_, err := db.Exec(ctx, "INSERT INTO todos (title) VALUES ($1)", pgx.QueryExecModeExec, title)
		return err
	}},
	{"Query", func(ctx context.Context, db pgxbemi.DBTX, title string) error {
		rows, err := db.Query(ctx, "INSERT INTO todos (title) VALUES ($1) RETURNING id", title)
		if err != nil {
			return err
		}
		rows.Close()
		return rows.Err()
	}},
	{"QueryRow", func(ctx context.Context, db pgxbemi.DBTX, title string) error {
		var id int64
		return db.QueryRow(ctx, "INSERT INTO todos (title) VALUES ($1) RETURNING id", title).Scan(&id)
	}},
	{"SendBatch", func(ctx context.Context, db pgxbemi.DBTX, title string) error {
		b := &pgx.Batch{}
		b.Queue("SELECT 1")
		b.Queue("INSERT INTO todos (title) VALUES ($1)", title)
		br := db.SendBatch(ctx, b)
		_, err := br.Exec()
		if closeErr := br.Close(); err == nil {
			err = closeErr
		}
		return err
	}},
	{"CopyFrom", func(ctx context.Context, db pgxbemi.DBTX, title string) error {
		_, err := db.CopyFrom(ctx, pgx.Identifier{"todos"}, []string{"title"}, pgx.CopyFromRows([][]any{{title}}))
		return err
	}},
}

// TestUnencodableContext checks that every write whose context cannot be
// encoded fails before anything is sent, with an error that names the
// field and the fix, through a pool, a connection and a transaction.
func TestUnencodableContext(t *testing.T) {
	t.Parallel()
	d := newTrackedDB(t)
	bg := context.Background()
	bad := core.With(bg, core.Fields{"userId": 2, "bad": make(chan int)})
	var logs bytes.Buffer
	cfg := pgxbemi.Config{Logger: slog.New(slog.NewTextHandler(&logs, nil))}

	check := func(t *testing.T, db pgxbemi.DBTX) {
		for _, c := range unencodableCalls {
			err := c.call(bad, db, "unencodable")
			if err == nil {
				t.Errorf("%s: the write succeeded, want an error", c.name)
				continue
			}
			var unsupported *json.UnsupportedTypeError
			if !errors.As(err, &unsupported) {
				t.Errorf("%s: error %q does not wrap encoding/json's error", c.name, err)
			}
			if !strings.Contains(err.Error(), `"bad"`) {
				t.Errorf("%s: error %q does not name the field", c.name, err)
			}
			if !strings.Contains(err.Error(), "json.Marshaler") {
				t.Errorf("%s: error %q does not name the fix", c.name, err)
			}
		}
	}

	t.Run("pool", func(t *testing.T) { check(t, pgxbemi.New(d.pool(t), cfg)) })
	t.Run("connection", func(t *testing.T) { check(t, pgxbemi.New(d.conn(t), cfg)) })
	t.Run("transaction", func(t *testing.T) {
		tx, err := pgxbemi.New(d.pool(t), cfg).Begin(bg)
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback(bg)
		check(t, tx)

		// Nothing was sent, so the transaction is still usable.
		if _, err := tx.Exec(core.With(bg, userA), "INSERT INTO todos (title) VALUES ($1)", "after the errors"); err != nil {
			t.Fatalf("write after the errors: %v", err)
		}
		if err := tx.Commit(bg); err != nil {
			t.Fatal(err)
		}
	})

	// A read sends no context, so it runs.
	var n int
	if err := pgxbemi.New(d.pool(t), cfg).QueryRow(bad, "SELECT count(*) FROM todos").Scan(&n); err != nil {
		t.Errorf("read with the context: %v", err)
	}

	rows, _ := d.reader.Query(bg, "SELECT title FROM todos ORDER BY id")
	titles, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(titles, []string{"after the errors"}) {
		t.Errorf("todos are %q, want only the write after the errors", titles)
	}
	d.wantChanges(t, []change{{op: "CREATE", title: "after the errors", context: fields(t, userA)}})
	if logs.Len() > 0 {
		t.Errorf("the errors were logged too:\n%s", logs.String())
	}
}
