package setup

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
)

const todosSchema = `
CREATE TABLE todos (id int PRIMARY KEY, title text NOT NULL, done boolean NOT NULL DEFAULT false);
`

// trackedDatabase creates a database with schema, runs setup without a
// slot, and starts reading the WAL.
func trackedDatabase(t *testing.T, schema string) (*pgx.Conn, *walReader) {
	t.Helper()

	dbURL, conn := newDatabase(t, schema)
	cfg := testConfig(t, dbURL)
	cfg.SkipSlot = true
	mustRun(t, conn, cfg)

	return conn, startWAL(t, dbURL)
}

// assertTransactions compares decoded transactions event by event.
func assertTransactions(t *testing.T, got, want [][]string) {
	t.Helper()

	equal := len(got) == len(want)
	for i := 0; equal && i < len(got); i++ {
		equal = slices.Equal(got[i], want[i])
	}
	if !equal {
		t.Fatalf("decoded WAL:\n%s\nwant:\n%s", render(got), render(want))
	}
}

func render(txs [][]string) string {
	var b strings.Builder
	for i, tx := range txs {
		fmt.Fprintf(&b, "  transaction %d:\n", i+1)
		for _, e := range tx {
			fmt.Fprintf(&b, "    %s\n", truncate(e, 120))
		}
	}

	return b.String()
}

func TestCaptureMultiRowStatementOneMessage(t *testing.T) {
	t.Parallel()
	conn, wal := trackedDatabase(t, todosSchema)

	mustExec(t, conn, `INSERT INTO todos (id, title) SELECT g, 'task ' || g FROM generate_series(1, 5) g /*Bemi {"op":"insert"} Bemi*/`)
	mustExec(t, conn, `UPDATE todos SET done = true WHERE id <= 3 /*Bemi {"op":"update"} Bemi*/`)
	mustExec(t, conn, `DELETE FROM todos WHERE id > 3 /*Bemi {"op":"delete"} Bemi*/`)
	mustExec(t, conn, `TRUNCATE todos /*Bemi {"op":"truncate"} Bemi*/`)

	assertTransactions(t, wal.transactions(t), [][]string{
		concat([]string{`msg {"op":"insert"}`}, repeat("INSERT public.todos", 5)),
		concat([]string{`msg {"op":"update"}`}, repeat("UPDATE public.todos", 3)),
		concat([]string{`msg {"op":"delete"}`}, repeat("DELETE public.todos", 2)),
		{`msg {"op":"truncate"}`, "TRUNCATE public.todos"},
	})
}

func TestCaptureContextsInOneTransaction(t *testing.T) {
	t.Parallel()
	conn, wal := trackedDatabase(t, todosSchema)

	ctx := context.Background()
	err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		for i, q := range []string{
			`INSERT INTO todos (id, title) VALUES ($1, 'a') /*Bemi {"user":1} Bemi*/`,
			`INSERT INTO todos (id, title) VALUES ($1, 'b') /*Bemi {"user":2} Bemi*/`,
			`INSERT INTO todos (id, title) VALUES ($1, 'c') /*Bemi {"user":2} Bemi*/`,
			`UPDATE todos SET done = true WHERE id <= $1 /*Bemi {"user":1} Bemi*/`,
		} {
			if _, err := tx.Exec(ctx, q, i+1); err != nil {
				return fmt.Errorf("%s: %w", q, err)
			}
		}

		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	assertTransactions(t, wal.transactions(t), [][]string{{
		`msg {"user":1}`, "INSERT public.todos",
		`msg {"user":2}`, "INSERT public.todos", "INSERT public.todos",
		`msg {"user":1}`, "UPDATE public.todos", "UPDATE public.todos", "UPDATE public.todos",
	}})
}

// One simple-query string that holds several statements carries one
// context: current_query returns the whole string to every statement, and
// its last comment counts only when it ends the string.
func TestCaptureSimpleQueryOneContext(t *testing.T) {
	t.Parallel()
	conn, wal := trackedDatabase(t, todosSchema)

	mustExec(t, conn, `INSERT INTO todos (id, title) VALUES (1, 'a') /*Bemi {"user":1} Bemi*/;
INSERT INTO todos (id, title) VALUES (2, 'b') /*Bemi {"user":2} Bemi*/;`)
	mustExec(t, conn, `BEGIN;
INSERT INTO todos (id, title) VALUES (3, 'c') /*Bemi {"user":3} Bemi*/;
COMMIT;`)

	assertTransactions(t, wal.transactions(t), [][]string{
		{`msg {"user":2}`, "INSERT public.todos", "INSERT public.todos"},
		{"INSERT public.todos"},
	})
}

func TestCaptureResetAfterContext(t *testing.T) {
	t.Parallel()
	conn, wal := trackedDatabase(t, todosSchema)

	ctx := context.Background()
	err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		for _, q := range []string{
			`INSERT INTO todos (id, title) VALUES (1, 'a')`,
			`INSERT INTO todos (id, title) VALUES (2, 'b') /*Bemi {"user":1} Bemi*/`,
			`INSERT INTO todos (id, title) VALUES (3, 'c')`,
			`INSERT INTO todos (id, title) VALUES (4, 'd')`,
			`UPDATE todos SET done = true /*Bemi {"user":1} Bemi*/`,
			`DELETE FROM todos WHERE id = 1`,
		} {
			if _, err := tx.Exec(ctx, q); err != nil {
				return fmt.Errorf("%s: %w", q, err)
			}
		}

		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	assertTransactions(t, wal.transactions(t), [][]string{{
		"INSERT public.todos",
		`msg {"user":1}`, "INSERT public.todos",
		"msg {}", "INSERT public.todos", "INSERT public.todos",
		`msg {"user":1}`, "UPDATE public.todos", "UPDATE public.todos", "UPDATE public.todos", "UPDATE public.todos",
		"msg {}", "DELETE public.todos",
	}})
}

func TestCaptureSavepointRollback(t *testing.T) {
	t.Parallel()
	conn, wal := trackedDatabase(t, todosSchema)

	tests := []struct {
		name       string
		statements []string
		want       []string
	}{
		{
			// The rolled-back message and row vanish from the stream, and the
			// setting goes back to {"a":1}, so the last insert gets a reset.
			name: "context then rolled back context then none",
			statements: []string{
				`INSERT INTO todos (id, title) VALUES (1, 'a') /*Bemi {"a":1} Bemi*/`,
				`SAVEPOINT s`,
				`INSERT INTO todos (id, title) VALUES (2, 'b') /*Bemi {"b":2} Bemi*/`,
				`ROLLBACK TO SAVEPOINT s`,
				`INSERT INTO todos (id, title) VALUES (3, 'c')`,
			},
			want: []string{`msg {"a":1}`, "INSERT public.todos", "msg {}", "INSERT public.todos"},
		},
		{
			// After the rollback no message of the transaction survives, so
			// the statement without context needs none.
			name: "rolled back context then none",
			statements: []string{
				`SAVEPOINT s`,
				`INSERT INTO todos (id, title) VALUES (4, 'd') /*Bemi {"b":2} Bemi*/`,
				`ROLLBACK TO SAVEPOINT s`,
				`INSERT INTO todos (id, title) VALUES (5, 'e')`,
			},
			want: []string{"INSERT public.todos"},
		},
		{
			// The surviving {"a":1} message already covers the last insert.
			name: "context then rolled back context then same context",
			statements: []string{
				`INSERT INTO todos (id, title) VALUES (6, 'f') /*Bemi {"a":1} Bemi*/`,
				`SAVEPOINT s`,
				`INSERT INTO todos (id, title) VALUES (7, 'g') /*Bemi {"b":2} Bemi*/`,
				`ROLLBACK TO SAVEPOINT s`,
				`INSERT INTO todos (id, title) VALUES (8, 'h') /*Bemi {"a":1} Bemi*/`,
			},
			want: []string{`msg {"a":1}`, "INSERT public.todos", "INSERT public.todos"},
		},
		{
			// A released savepoint keeps its message.
			name: "released savepoint then none",
			statements: []string{
				`SAVEPOINT s`,
				`INSERT INTO todos (id, title) VALUES (9, 'i') /*Bemi {"b":2} Bemi*/`,
				`RELEASE SAVEPOINT s`,
				`INSERT INTO todos (id, title) VALUES (10, 'j')`,
			},
			want: []string{`msg {"b":2}`, "INSERT public.todos", "msg {}", "INSERT public.todos"},
		},
	}

	ctx := context.Background()
	for _, tt := range tests {
		err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			for _, q := range tt.statements {
				if _, err := tx.Exec(ctx, q); err != nil {
					return fmt.Errorf("%s: %w", q, err)
				}
			}

			return nil
		})
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}

		got := wal.transactions(t)
		if len(got) != 1 || !slices.Equal(got[0], tt.want) {
			t.Errorf("%s: decoded WAL:\n%s\nwant:\n%s", tt.name, render(got), render([][]string{tt.want}))
		}
	}
}

func TestCaptureCascadesTriggersAndCTE(t *testing.T) {
	t.Parallel()
	conn, wal := trackedDatabase(t, `
CREATE TABLE projects (id int PRIMARY KEY);
CREATE TABLE tasks (id int PRIMARY KEY, project_id int NOT NULL REFERENCES projects ON DELETE CASCADE);
CREATE TABLE audit (id serial PRIMARY KEY, note text);
CREATE FUNCTION audit_project() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO audit (note) VALUES ('project ' || OLD.id || ' deleted');
    RETURN OLD;
END $$;
CREATE TRIGGER audit_project AFTER DELETE ON projects FOR EACH ROW EXECUTE FUNCTION audit_project();
INSERT INTO projects VALUES (1), (2);
INSERT INTO tasks VALUES (10, 1), (11, 1), (20, 2);
`)

	ctx := context.Background()
	err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		for _, q := range []string{
			`INSERT INTO projects VALUES (3) /*Bemi {"step":"before"} Bemi*/`,
			`DELETE FROM projects WHERE id IN (1, 2) /*Bemi {"step":"cascade"} Bemi*/`,
			`WITH moved AS (INSERT INTO projects VALUES (4) RETURNING id)
			 INSERT INTO tasks SELECT 40, id FROM moved /*Bemi {"step":"cte"} Bemi*/`,
		} {
			if _, err := tx.Exec(ctx, q); err != nil {
				return fmt.Errorf("%s: %w", q, err)
			}
		}

		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	got := wal.transactions(t)
	if len(got) != 1 {
		t.Fatalf("decoded WAL:\n%s\nwant one transaction", render(got))
	}
	events := got[0]

	// Each change must follow the message of its own statement, with no
	// other message between them.
	wantSegments := []struct {
		message string
		changes []string
	}{
		{`msg {"step":"before"}`, []string{"INSERT public.projects"}},
		{`msg {"step":"cascade"}`, []string{
			"DELETE public.projects", "DELETE public.projects",
			"DELETE public.tasks", "DELETE public.tasks", "DELETE public.tasks",
			"INSERT public.audit", "INSERT public.audit",
		}},
		{`msg {"step":"cte"}`, []string{"INSERT public.projects", "INSERT public.tasks"}},
	}
	i := 0
	for _, seg := range wantSegments {
		if i >= len(events) || events[i] != seg.message {
			t.Fatalf("event %d: want %s\ndecoded WAL:\n%s", i, seg.message, render(got))
		}
		i++
		end := i
		for end < len(events) && !strings.HasPrefix(events[end], "msg ") {
			end++
		}
		gotChanges := slices.Clone(events[i:end])
		slices.Sort(gotChanges)
		wantChanges := slices.Clone(seg.changes)
		slices.Sort(wantChanges)
		if !slices.Equal(gotChanges, wantChanges) {
			t.Errorf("changes after %s = %v, want %v", seg.message, events[i:end], seg.changes)
		}
		i = end
	}
	if i != len(events) {
		t.Errorf("unexpected events after the last statement: %v", events[i:])
	}
}

func TestCaptureSettingPath(t *testing.T) {
	t.Parallel()
	conn, wal := trackedDatabase(t, todosSchema)
	ctx := context.Background()

	// In an explicit transaction: set before, clear after, as an adapter
	// does.
	err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		for _, q := range []string{
			`SELECT set_config('bemi.context', '{"via":"setting"}', true)`,
			`INSERT INTO todos (id, title) VALUES (1, 'a'), (2, 'b')`,
			`SELECT set_config('bemi.context', '', true)`,
			`INSERT INTO todos (id, title) VALUES (3, 'c')`,
			`SELECT set_config('bemi.context', '{"via":"setting"}', true)`,
			// The setting wins over a comment.
			`UPDATE todos SET done = true WHERE id = 1 /*Bemi {"via":"comment"} Bemi*/`,
			`SELECT set_config('bemi.context', '', true)`,
			`UPDATE todos SET done = true WHERE id = 2 /*Bemi {"via":"comment"} Bemi*/`,
		} {
			if _, err := tx.Exec(ctx, q); err != nil {
				return fmt.Errorf("%s: %w", q, err)
			}
		}

		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	// In a pgx batch, which runs in one implicit transaction.
	batch := &pgx.Batch{}
	batch.Queue(`SELECT set_config('bemi.context', '{"via":"batch"}', true)`)
	batch.Queue(`INSERT INTO todos (id, title) VALUES (4, 'd')`)
	batch.Queue(`SELECT set_config('bemi.context', '', true)`)
	batch.Queue(`INSERT INTO todos (id, title) VALUES (5, 'e')`)
	if err := conn.SendBatch(ctx, batch).Close(); err != nil {
		t.Fatal(err)
	}

	assertTransactions(t, wal.transactions(t), [][]string{
		{
			`msg {"via":"setting"}`, "INSERT public.todos", "INSERT public.todos",
			"msg {}", "INSERT public.todos",
			`msg {"via":"setting"}`, "UPDATE public.todos",
			`msg {"via":"comment"}`, "UPDATE public.todos",
		},
		{`msg {"via":"batch"}`, "INSERT public.todos", "msg {}", "INSERT public.todos"},
	})
}

func TestCaptureLastCommentRule(t *testing.T) {
	t.Parallel()
	conn, wal := trackedDatabase(t, `CREATE TABLE notes (id int PRIMARY KEY, body text);`)

	tests := []struct {
		name string
		sql  string
		want []string
	}{
		{
			name: "spoof in a literal is not context",
			sql:  `INSERT INTO notes VALUES (1, '/*Bemi {"user":"spoof"} Bemi*/')`,
			want: []string{"INSERT public.notes"},
		},
		{
			name: "spoof in a literal followed by a real comment",
			sql:  `INSERT INTO notes VALUES (2, '/*Bemi {"user":"spoof"} Bemi*/') /*Bemi {"user":"real"} Bemi*/`,
			want: []string{`msg {"user":"real"}`, "INSERT public.notes"},
		},
		{
			name: "tracing comment after ours",
			sql:  `INSERT INTO notes VALUES (3, 'x') /*Bemi {"user":"real"} Bemi*/ /*traceparent='00-abc-01'*/`,
			want: []string{`msg {"user":"real"}`, "INSERT public.notes"},
		},
		{
			name: "line comment and semicolon after ours",
			sql:  "INSERT INTO notes VALUES (4, 'x') /*Bemi {\"user\":\"real\"} Bemi*/; -- trailing\n",
			want: []string{`msg {"user":"real"}`, "INSERT public.notes"},
		},
		{
			name: "spoof in a literal with a tracing comment after it",
			sql:  `INSERT INTO notes VALUES (5, 'a /*Bemi {"user":"spoof"} Bemi*/ b') /*traceparent='00-abc-01'*/`,
			want: []string{"INSERT public.notes"},
		},
	}
	for _, tt := range tests {
		mustExec(t, conn, tt.sql)
		got := wal.transactions(t)
		if len(got) != 1 || !slices.Equal(got[0], tt.want) {
			t.Errorf("%s: decoded WAL:\n%s\nwant:\n%s", tt.name, render(got), render([][]string{tt.want}))
		}
	}
}

func TestCapturePartitionWrites(t *testing.T) {
	t.Parallel()
	conn, wal := trackedDatabase(t, `
CREATE TABLE events (id int NOT NULL, at date NOT NULL) PARTITION BY RANGE (at);
CREATE TABLE events_2024 PARTITION OF events FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
CREATE TABLE events_2025 PARTITION OF events FOR VALUES FROM ('2025-01-01') TO ('2026-01-01')
    PARTITION BY RANGE (id);
CREATE TABLE events_2025_low PARTITION OF events_2025 FOR VALUES FROM (0) TO (1000);
`)

	mustExec(t, conn, `INSERT INTO events VALUES (1, '2024-05-01'), (2, '2025-05-01') /*Bemi {"via":"root"} Bemi*/`)
	mustExec(t, conn, `INSERT INTO events_2024 VALUES (3, '2024-06-01') /*Bemi {"via":"partition"} Bemi*/`)
	mustExec(t, conn, `UPDATE events_2025_low SET id = 4 WHERE id = 2 /*Bemi {"via":"leaf"} Bemi*/`)
	mustExec(t, conn, `DELETE FROM events_2024 WHERE id = 3 /*Bemi {"via":"partition"} Bemi*/`)

	assertTransactions(t, wal.transactions(t), [][]string{
		{`msg {"via":"root"}`, "INSERT public.events_2024", "INSERT public.events_2025_low"},
		{`msg {"via":"partition"}`, "INSERT public.events_2024"},
		{`msg {"via":"leaf"}`, "UPDATE public.events_2025_low"},
		{`msg {"via":"partition"}`, "DELETE public.events_2024"},
	})

	// Only the root is listed in the publication; every partition has the
	// trigger and REPLICA IDENTITY FULL.
	gotPublished := queryStrings(t, conn, `SELECT prrelid::regclass::text FROM pg_publication_rel ORDER BY 1`)
	if !slices.Equal(gotPublished, []string{"events"}) {
		t.Errorf("publication lists %v, want [events]", gotPublished)
	}
	for _, table := range []string{"events", "events_2024", "events_2025", "events_2025_low"} {
		assertTracked(t, conn, table)
	}
}

// assertTracked checks the trigger and replica identity of a table, given as
// a regclass literal.
func assertTracked(t *testing.T, conn *pgx.Conn, table string) {
	t.Helper()

	if !queryBool(t, conn, `SELECT EXISTS (SELECT FROM pg_trigger WHERE tgrelid = $1::regclass AND tgname = '_bemi_context')`, table) {
		t.Errorf("table %s has no _bemi_context trigger", table)
	}
	if !queryBool(t, conn, `SELECT relreplident = 'f' FROM pg_class WHERE oid = $1::regclass`, table) {
		t.Errorf("table %s does not have REPLICA IDENTITY FULL", table)
	}
}

// assertUntracked checks that a table has neither the trigger nor a place in
// the publication.
func assertUntracked(t *testing.T, conn *pgx.Conn, table string) {
	t.Helper()

	if queryBool(t, conn, `SELECT EXISTS (SELECT FROM pg_trigger WHERE tgrelid = $1::regclass AND tgname = '_bemi_context')`, table) {
		t.Errorf("table %s has the _bemi_context trigger", table)
	}
	if queryBool(t, conn, `SELECT EXISTS (SELECT FROM pg_publication_rel WHERE prrelid = $1::regclass)`, table) {
		t.Errorf("table %s is in a publication", table)
	}
}

// A deferred constraint trigger fires at COMMIT, whose statement text holds
// no context: its changes follow a reset message instead of inheriting the
// last statement's context.
func TestCaptureDeferredTriggerGetsNoContext(t *testing.T) {
	t.Parallel()
	conn, wal := trackedDatabase(t, `
CREATE TABLE orders (id int PRIMARY KEY);
CREATE TABLE order_log (id int);
CREATE FUNCTION log_order() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO order_log VALUES (NEW.id);
    RETURN NULL;
END $$;
CREATE CONSTRAINT TRIGGER log_order AFTER INSERT ON orders
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION log_order();
`)

	ctx := context.Background()
	err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO orders VALUES (1) /*Bemi {"user":1} Bemi*/`)

		return err
	})
	if err != nil {
		t.Fatal(err)
	}

	assertTransactions(t, wal.transactions(t), [][]string{
		{`msg {"user":1}`, "INSERT public.orders", "msg {}", "INSERT public.order_log"},
	})
}
