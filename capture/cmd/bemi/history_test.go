package main

import (
	"context"
	"encoding/json"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/bemi-go/bemi/capture"
	"github.com/bemi-go/bemi/capture/setup"
	"github.com/bemi-go/bemi/core/pgtest"
)

// trackedDatabase creates a database with table todos, installs tracking,
// runs a capture worker on it until the test ends, and returns its URL and
// a connection.
func trackedDatabase(t *testing.T) (string, *pgx.Conn) {
	t.Helper()

	dbURL := pgtest.NewDatabase(t)
	conn, err := pgx.Connect(t.Context(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	if _, err := conn.Exec(t.Context(), `CREATE TABLE todos (id int PRIMARY KEY, task text, done boolean)`); err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	slot := "h_" + strings.TrimPrefix(u.Path, "/")
	if _, err := setup.Run(t.Context(), conn, setup.Config{Slot: slot}); err != nil {
		t.Fatal(err)
	}

	w, err := capture.New(capture.Config{SourceURL: dbURL, Slot: slot})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("worker: %v", err)
		}
	})

	return dbURL, conn
}

// waitChangeCount waits until the changes table holds n changes of todos.
func waitChangeCount(t *testing.T, conn *pgx.Conn, n int) {
	t.Helper()

	deadline := time.Now().Add(60 * time.Second)
	for {
		var count int
		err := conn.QueryRow(t.Context(), `SELECT count(*) FROM changes WHERE "table" = 'todos'`).Scan(&count)
		if err == nil && count >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("changes of todos: %d after 60s, want %d (%v)", count, n, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func execWithContext(t *testing.T, conn *pgx.Conn, context, sql string) {
	t.Helper()

	err := pgx.BeginFunc(t.Context(), conn, func(tx pgx.Tx) error {
		if _, err := tx.Exec(t.Context(), "SELECT set_config('bemi.context', $1, true)", context); err != nil {
			return err
		}
		_, err := tx.Exec(t.Context(), sql)

		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestHistoryCommands(t *testing.T) {
	dbURL, conn := trackedDatabase(t)
	execWithContext(t, conn, `{"userId": 187234}`, `INSERT INTO todos VALUES (26, 'Sleep', false), (27, 'Eat', false)`)
	waitChangeCount(t, conn, 2)

	out, err := runBemi(t, "snapshot", "--database-url", dbURL)
	if err != nil || !strings.Contains(out, "public.todos: 2 rows") {
		t.Fatalf("bemi snapshot: %v\n%s", err, out)
	}
	var before time.Time
	if err := conn.QueryRow(t.Context(), "SELECT clock_timestamp()").Scan(&before); err != nil {
		t.Fatal(err)
	}
	time.Sleep(20 * time.Millisecond)

	execWithContext(t, conn, `{"userId": 187234, "requestId": "r1"}`, `UPDATE todos SET done = true WHERE id = 26`)
	execWithContext(t, conn, `{"userId": 1, "requestId": "r2"}`, `DELETE FROM todos WHERE id = 27`)
	waitChangeCount(t, conn, 4)

	t.Run("changes table", func(t *testing.T) {
		out, err := runBemi(t, "changes", "--database-url", dbURL, "--table", "todos", "--primary-key", "26")
		if err != nil {
			t.Fatalf("bemi changes: %v\n%s", err, out)
		}
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if len(lines) != 3 || !strings.HasPrefix(lines[0], "COMMITTED_AT") || !strings.Contains(lines[1], "done: false → true") {
			t.Errorf("bemi changes printed:\n%s\nwant a header, the update's diff, then the create", out)
		}
	})

	t.Run("changes json and paging", func(t *testing.T) {
		out, err := runBemi(t, "changes", "--database-url", dbURL, "--table", "public.todos", "--format", "json", "--order", "asc", "--limit", "3")
		if err != nil {
			t.Fatalf("bemi changes: %v\n%s", err, out)
		}
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if len(lines) != 4 || !strings.Contains(lines[3], "--cursor ") {
			t.Fatalf("bemi changes --limit 3 printed:\n%s\nwant 3 JSON lines and the next cursor", out)
		}
		var first struct{ Operation, PrimaryKey string }
		if err := json.Unmarshal([]byte(lines[0]), &first); err != nil || first.Operation != "CREATE" {
			t.Errorf("first JSON line %s: %v; want a CREATE", lines[0], err)
		}

		cursor := strings.TrimSpace(strings.SplitN(lines[3], "--cursor ", 2)[1])
		out, err = runBemi(t, "changes", "--database-url", dbURL, "--table", "todos", "--format", "json", "--order", "asc", "--limit", "3", "--cursor", cursor)
		if err != nil || strings.Count(strings.TrimSpace(out), "\n") != 0 || !strings.Contains(out, `"DELETE"`) {
			t.Errorf("second page: %v\n%s\nwant the delete alone", err, out)
		}
	})

	t.Run("changes context filter", func(t *testing.T) {
		out, err := runBemi(t, "changes", "--database-url", dbURL, "--context", `{"requestId": "r2"}`, "--format", "json")
		if err != nil || strings.Count(strings.TrimSpace(out), "\n") != 0 || !strings.Contains(out, `"DELETE"`) {
			t.Errorf("bemi changes --context: %v\n%s\nwant the delete alone", err, out)
		}
	})

	t.Run("as-of", func(t *testing.T) {
		at := before.UTC().Format(time.RFC3339Nano)
		out, err := runBemi(t, "as-of", "--database-url", dbURL, "--table", "todos", "--primary-key", "26", "--at", at)
		if err != nil || strings.TrimSpace(out) != `{"id": 26, "done": false, "task": "Sleep"}` {
			t.Errorf("bemi as-of record: %v\n%s", err, out)
		}
		out, err = runBemi(t, "as-of", "--database-url", dbURL, "--table", "todos", "--at", at)
		if err != nil || strings.Count(out, `"primary_key"`) != 2 {
			t.Errorf("bemi as-of table: %v\n%s\nwant two rows", err, out)
		}
		out, err = runBemi(t, "as-of", "--database-url", dbURL, "--table", "todos", "--primary-key", "27")
		if err != nil || !strings.HasPrefix(out, "null") {
			t.Errorf("bemi as-of of a deleted record: %v\n%s\nwant null", err, out)
		}
	})

	t.Run("revert", func(t *testing.T) {
		out, err := runBemi(t, "revert", "--database-url", dbURL, "--context", `{"requestId": "r2"}`, "--dry-run")
		if err != nil || !strings.Contains(out, "BEGIN;") || !strings.Contains(out, "INSERT INTO") || !strings.Contains(out, `'{"done":false,"id":27,"task":"Eat"}'`) {
			t.Fatalf("bemi revert --dry-run: %v\n%s", err, out)
		}
		var n int
		if err := conn.QueryRow(t.Context(), "SELECT count(*) FROM todos WHERE id = 27").Scan(&n); err != nil || n != 0 {
			t.Fatalf("dry run wrote: %d rows with id 27, %v", n, err)
		}

		execWithContext(t, conn, `{"requestId": "later"}`, `UPDATE todos SET task = 'Nap' WHERE id = 26`)
		waitChangeCount(t, conn, 5)
		out, err = runBemi(t, "revert", "--database-url", dbURL, "--context", `{"requestId": "r1"}`)
		if err == nil || !strings.Contains(out, "conflict: public.todos 26") {
			t.Errorf("bemi revert with a later change: %v\n%s\nwant the conflict listed", err, out)
		}

		out, err = runBemi(t, "revert", "--database-url", dbURL, "--context", `{"requestId": "r2"}`, "--by", "tester")
		if err != nil || !strings.Contains(out, "Reverted 1 change(s)") {
			t.Fatalf("bemi revert: %v\n%s", err, out)
		}
		var task string
		if err := conn.QueryRow(t.Context(), "SELECT task FROM todos WHERE id = 27").Scan(&task); err != nil || task != "Eat" {
			t.Errorf("todo 27 after revert: %q, %v; want Eat", task, err)
		}
	})
}
