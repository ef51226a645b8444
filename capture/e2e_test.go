package capture_test

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/bemi-go/bemi/capture"
	"github.com/bemi-go/bemi/core/pgtest"
)

// The tests in this file run setup.Run, so context reaches the WAL through
// the real trigger, from a comment or the bemi.context setting, and the
// worker runs in process.

// TestE2ECopyThousandRows copies 1,000 rows twice, with the context in the
// bemi.context setting and in a comment after the COPY statement. Each
// COPY must emit one _bemi message, and every row must carry its context.
func TestE2ECopyThousandRows(t *testing.T) {
	t.Parallel()
	s := newSetupSource(t, "CREATE TABLE items (id int PRIMARY KEY, name text)")

	// A test_decoding slot shows the messages that the trigger emits.
	peek := s.slot + "_peek"
	s.exec("SELECT pg_create_logical_replication_slot($1, 'test_decoding')", peek)
	t.Cleanup(func() {
		_, _ = s.conn.Exec(context.Background(), "SELECT pg_drop_replication_slot($1)", peek)
	})
	s.start(capture.Config{MaxBatchRows: 300})

	rows := make([][]any, 1000)
	for i := range rows {
		rows[i] = []any{i + 1, "row"}
	}
	tx, err := s.conn.Begin(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(t.Context(), `SELECT set_config('bemi.context', '{"job":"import"}', true)`); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.CopyFrom(t.Context(), pgx.Identifier{"items"}, []string{"id", "name"}, pgx.CopyFromRows(rows)); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(t.Context()); err != nil {
		t.Fatal(err)
	}

	var data strings.Builder
	for i := 1001; i <= 2000; i++ {
		fmt.Fprintf(&data, "%d\trow\n", i)
	}
	_, err = s.conn.PgConn().CopyFrom(t.Context(), strings.NewReader(data.String()),
		`COPY items (id, name) FROM STDIN /*Bemi {"job":"comment"} Bemi*/`)
	if err != nil {
		t.Fatal(err)
	}

	got := waitChanges(t, s.url, 2000)
	for i, c := range got {
		want := "import"
		if i >= 1000 {
			want = "comment"
		}
		if text(c.Context["job"]) != want || len(c.Context) != 1 {
			t.Fatalf("change %d: context %v, want {job: %s}", i, c.Context, want)
		}
		if c.Position != got[i/1000*1000].Position || int(c.Ordinal) != i%1000 {
			t.Fatalf("change %d: position %d ordinal %d, want transaction %d in order", i, c.Position, c.Ordinal, i/1000)
		}
		if want := fmt.Sprint(i + 1); deref(c.PrimaryKey) != want {
			t.Fatalf("change %d: key %s, want %s", i, deref(c.PrimaryKey), want)
		}
	}

	messages := queryStrings(t, s.conn, `
SELECT data FROM pg_logical_slot_peek_changes($1, NULL, NULL)
WHERE data LIKE 'message: transactional: 1 prefix: _bemi,%'`, peek)
	if len(messages) != 2 {
		t.Fatalf("%d _bemi messages for two COPY statements, want one each: %q", len(messages), messages)
	}
	for i, want := range []string{`{"job":"import"}`, `{"job":"comment"}`} {
		if !strings.HasSuffix(messages[i], "content:"+want) {
			t.Errorf("message %d = %q, want content %s", i, messages[i], want)
		}
	}
}

// TestE2EStatementContexts runs one transaction whose statements carry
// different contexts or none, with savepoints rolled back, cascaded deletes
// and a data-modifying CTE.
func TestE2EStatementContexts(t *testing.T) {
	t.Parallel()
	s := newSetupSource(t, `
CREATE TABLE parents (id int PRIMARY KEY, name text);
CREATE TABLE children (id int PRIMARY KEY, parent_id int REFERENCES parents ON DELETE CASCADE);
INSERT INTO parents VALUES (1, 'a'), (2, 'b'), (3, 'c');
INSERT INTO children VALUES (10, 1), (11, 1), (12, 2)`)
	s.start(capture.Config{})

	tx, err := s.conn.Begin(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for _, sql := range []string{
		`INSERT INTO parents VALUES (4, 'd') /*Bemi {"step":1} Bemi*/`,
		`UPDATE parents SET name = 'b2' WHERE id = 2 /*Bemi {"step":2} Bemi*/`,
		`INSERT INTO children VALUES (13, 4)`,
		// A savepoint whose statement carries context, rolled back after a
		// statement without context: the next statement without context
		// must not get the rolled-back context.
		`SAVEPOINT a`,
		`INSERT INTO parents VALUES (5, 'e') /*Bemi {"step":"rolled back"} Bemi*/`,
		`ROLLBACK TO SAVEPOINT a`,
		`UPDATE parents SET name = 'c2' WHERE id = 3`,
		// The same after a statement with context.
		`UPDATE parents SET name = 'a2' WHERE id = 1 /*Bemi {"step":8} Bemi*/`,
		`SAVEPOINT b`,
		`DELETE FROM children WHERE id = 12 /*Bemi {"step":"rolled back"} Bemi*/`,
		`ROLLBACK TO SAVEPOINT b`,
		`INSERT INTO children VALUES (14, 3)`,
		// The cascaded deletes of children 10 and 11 take the context of
		// the statement that deleted their parent.
		`DELETE FROM parents WHERE id = 1 /*Bemi {"step":"cascade"} Bemi*/`,
		`WITH gone AS (DELETE FROM children WHERE id = 13 RETURNING parent_id)
			UPDATE parents SET name = 'cte' WHERE id IN (SELECT parent_id FROM gone) /*Bemi {"step":"cte"} Bemi*/`,
	} {
		if _, err := tx.Exec(t.Context(), sql); err != nil {
			t.Fatalf("exec %q: %v", sql, err)
		}
	}
	if err := tx.Commit(t.Context()); err != nil {
		t.Fatal(err)
	}

	got := waitChanges(t, s.url, 11)
	// Within one statement, rows may change in any order: compare the
	// changes of each statement as a set.
	want := [][]string{
		{"CREATE parents 4 step=1"},
		{"UPDATE parents 2 step=2"},
		{"CREATE children 13 {}"},
		{"UPDATE parents 3 {}"},
		{"UPDATE parents 1 step=8"},
		{"CREATE children 14 {}"},
		{"DELETE children 10 step=cascade", "DELETE children 11 step=cascade", "DELETE parents 1 step=cascade"},
		{"DELETE children 13 step=cte", "UPDATE parents 4 step=cte"},
	}
	i := 0
	for _, statement := range want {
		var described []string
		for range statement {
			c := got[i]
			if c.Position != got[0].Position || int(c.Ordinal) != i {
				t.Errorf("change %d: position %d ordinal %d, want one transaction in order", i, c.Position, c.Ordinal)
			}
			described = append(described, describe(c))
			i++
		}
		sort.Strings(described)
		if strings.Join(described, ", ") != strings.Join(statement, ", ") {
			t.Errorf("changes %d to %d = %q, want %q", i-len(statement), i-1, described, statement)
		}
	}
}

// describe writes a change as "OPERATION table key context", the context
// as step=value or {}.
func describe(c change) string {
	ctx := "{}"
	if len(c.Context) > 0 {
		ctx = "step=" + text(c.Context["step"])
		if len(c.Context) != 1 {
			ctx = fmt.Sprint(c.Context)
		}
	}

	return fmt.Sprintf("%s %s %s %s", c.Operation, c.Table, deref(c.PrimaryKey), ctx)
}

func TestE2EDestinationInAnotherDatabase(t *testing.T) {
	t.Parallel()
	s := newSetupSource(t, "CREATE TABLE items (id int PRIMARY KEY, name text)")
	dest := pgtest.NewDatabase(t)
	s.start(capture.Config{DestinationURL: dest})

	s.exec(`INSERT INTO items VALUES (1, 'a') /*Bemi {"userId":1} Bemi*/`)
	s.exec(`UPDATE items SET name = 'b' /*Bemi {"userId":2} Bemi*/`)

	got := waitChangesIn(t, dest, "public", 2, time.Minute)
	for i, c := range got {
		if want := fmt.Sprint(i + 1); text(c.Context["userId"]) != want {
			t.Errorf("change %d: context %v, want userId %s", i, c.Context, want)
		}
		if c.Database != databaseOf(t, s.url) {
			t.Errorf("change %d: database %q, want the source database", i, c.Database)
		}
	}
	var found bool
	if err := s.conn.QueryRow(t.Context(), "SELECT to_regclass('public.changes') IS NOT NULL OR to_regclass('bemi.checkpoints') IS NOT NULL").Scan(&found); err != nil {
		t.Fatal(err)
	}
	if found {
		t.Error("the worker created its tables in the source database, want them only in the destination")
	}
}

// TestE2EPartitionReportsRoot writes through the partitioned root, into a
// partition directly, across partitions, and into a partition created after
// setup, which the event trigger tracks.
func TestE2EPartitionReportsRoot(t *testing.T) {
	t.Parallel()
	s := newSetupSource(t, `
CREATE TABLE measurements (id int, at date, value int, PRIMARY KEY (id, at)) PARTITION BY RANGE (at);
CREATE TABLE measurements_2024 PARTITION OF measurements FOR VALUES FROM ('2024-01-01') TO ('2025-01-01')`)
	s.start(capture.Config{})

	s.exec(`INSERT INTO measurements VALUES (1, '2024-06-01', 10) /*Bemi {"step":"root"} Bemi*/`)
	s.exec(`INSERT INTO measurements_2024 VALUES (2, '2024-07-01', 20) /*Bemi {"step":"partition"} Bemi*/`)
	s.exec("CREATE TABLE measurements_2025 PARTITION OF measurements FOR VALUES FROM ('2025-01-01') TO ('2026-01-01')")
	s.exec(`INSERT INTO measurements_2025 VALUES (3, '2025-01-02', 30) /*Bemi {"step":"new partition"} Bemi*/`)
	s.exec(`UPDATE measurements SET at = '2025-03-01' WHERE id = 1 /*Bemi {"step":"move"} Bemi*/`)

	got := waitChanges(t, s.url, 5)
	want := []string{
		`CREATE ["1","2024-06-01"] root`,
		`CREATE ["2","2024-07-01"] partition`,
		`CREATE ["3","2025-01-02"] new partition`,
		// A row moved across partitions is a delete and an insert.
		`DELETE ["1","2024-06-01"] move`,
		`CREATE ["1","2025-03-01"] move`,
	}
	for i, c := range got {
		if c.Table != "measurements" || c.Schema != "public" {
			t.Errorf("change %d: table %s.%s, want the root public.measurements", i, c.Schema, c.Table)
		}
		if d := fmt.Sprintf("%s %s %s", c.Operation, deref(c.PrimaryKey), text(c.Context["step"])); d != want[i] {
			t.Errorf("change %d = %s, want %s", i, d, want[i])
		}
	}
}

func databaseOf(t *testing.T, url string) string {
	t.Helper()

	var name string
	if err := connect(t, url).QueryRow(t.Context(), "SELECT current_database()").Scan(&name); err != nil {
		t.Fatal(err)
	}

	return name
}

func queryStrings(t *testing.T, conn *pgx.Conn, sql string, args ...any) []string {
	t.Helper()

	rows, err := conn.Query(t.Context(), sql, args...)
	if err != nil {
		t.Fatal(err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatalf("query %q: %v", sql, err)
	}

	return out
}
