package capture_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/bemi-go/bemi/capture"
	"github.com/bemi-go/bemi/core"
	"github.com/bemi-go/bemi/core/pgtest"
)

func TestWorkerCreateUpdateDelete(t *testing.T) {
	t.Parallel()
	s := newSource(t, "CREATE TABLE items (id bigint PRIMARY KEY, name text)", "items")
	s.start(capture.Config{})

	s.tx(emit(`{"userId":1}`), "INSERT INTO items VALUES (1, 'one')")
	s.tx(emit(`{"userId":2}`), "UPDATE items SET name = 'uno' WHERE id = 1")
	s.tx("DELETE FROM items WHERE id = 1")

	got := waitChanges(t, s.url, 3)

	create, update, del := got[0], got[1], got[2]
	if create.Operation != "CREATE" || update.Operation != "UPDATE" || del.Operation != "DELETE" {
		t.Fatalf("operations = %s %s %s, want CREATE UPDATE DELETE", create.Operation, update.Operation, del.Operation)
	}
	for i, c := range got {
		if deref(c.PrimaryKey) != "1" {
			t.Errorf("change %d: primary_key = %s, want 1", i, deref(c.PrimaryKey))
		}
		if c.Schema != "public" || c.Table != "items" {
			t.Errorf("change %d: table = %s.%s, want public.items", i, c.Schema, c.Table)
		}
		if !strings.HasPrefix(c.Database, "t_") {
			t.Errorf("change %d: database = %q, want the test database", i, c.Database)
		}
		if c.Ordinal != 0 {
			t.Errorf("change %d: ordinal = %d, want 0", i, c.Ordinal)
		}
	}

	if len(create.Before) != 0 {
		t.Errorf("CREATE before = %v, want {}", create.Before)
	}
	if text(create.After["name"]) != "one" || text(create.After["id"]) != "1" {
		t.Errorf("CREATE after = %v, want id 1 and name one", create.After)
	}
	if text(create.Context["userId"]) != "1" || len(create.Context) != 1 {
		t.Errorf("CREATE context = %v, want {userId: 1}", create.Context)
	}

	if text(update.Before["name"]) != "one" || text(update.After["name"]) != "uno" {
		t.Errorf("UPDATE before = %v, after = %v, want name one then uno", update.Before, update.After)
	}
	if text(update.Context["userId"]) != "2" {
		t.Errorf("UPDATE context = %v, want {userId: 2}", update.Context)
	}

	if text(del.Before["name"]) != "uno" || len(del.After) != 0 {
		t.Errorf("DELETE before = %v, after = %v, want name uno and {}", del.Before, del.After)
	}
	if len(del.Context) != 0 {
		t.Errorf("DELETE context = %v, want {}", del.Context)
	}

	if !(create.Position < update.Position && update.Position < del.Position) {
		t.Errorf("positions %d %d %d are not increasing", create.Position, update.Position, del.Position)
	}
}

func TestWorkerCompositeKey(t *testing.T) {
	t.Parallel()
	// The key columns are declared in another order than the table's
	// columns, so key order is tested.
	s := newSource(t, "CREATE TABLE memberships (org text, member text, role text, PRIMARY KEY (member, org))", "memberships")
	s.start(capture.Config{})

	s.tx("INSERT INTO memberships VALUES ('acme', 'ann', 'admin')")

	got := waitChanges(t, s.url, 1)
	if want := `["ann","acme"]`; deref(got[0].PrimaryKey) != want {
		t.Errorf("primary_key = %s, want %s", deref(got[0].PrimaryKey), want)
	}
}

func TestWorkerPrimaryKeyChange(t *testing.T) {
	t.Parallel()
	s := newSource(t, "CREATE TABLE items (id bigint PRIMARY KEY, name text)", "items")
	s.start(capture.Config{})

	s.tx("INSERT INTO items VALUES (1, 'one')")
	s.tx("UPDATE items SET id = 2 WHERE id = 1")

	got := waitChanges(t, s.url, 2)
	update := got[1]
	if deref(update.PrimaryKey) != "2" {
		t.Errorf("primary_key = %s, want the new key 2", deref(update.PrimaryKey))
	}
	if text(update.Before["id"]) != "1" || text(update.After["id"]) != "2" {
		t.Errorf("before.id = %v, after.id = %v, want 1 and 2", update.Before["id"], update.After["id"])
	}
}

func TestWorkerNoPrimaryKey(t *testing.T) {
	t.Parallel()
	// A column named id does not make a primary key.
	s := newSource(t, "CREATE TABLE events (id bigint, body text)", "events")
	s.start(capture.Config{})

	s.tx("INSERT INTO events VALUES (1, 'x')")
	s.tx("UPDATE events SET body = 'y'")

	got := waitChanges(t, s.url, 2)
	for i, c := range got {
		if c.PrimaryKey != nil {
			t.Errorf("change %d: primary_key = %s, want NULL", i, *c.PrimaryKey)
		}
	}
	if text(got[1].Before["body"]) != "x" || text(got[1].After["body"]) != "y" {
		t.Errorf("UPDATE before = %v, after = %v", got[1].Before, got[1].After)
	}
}

func TestWorkerTruncate(t *testing.T) {
	t.Parallel()
	s := newSource(t, `
CREATE TABLE a (id int PRIMARY KEY);
CREATE TABLE b (id int PRIMARY KEY);
INSERT INTO a VALUES (1);
INSERT INTO b VALUES (1)`, "a", "b")
	s.start(capture.Config{})

	s.tx(emit(`{"job":"reset"}`), "TRUNCATE a, b")

	got := waitChanges(t, s.url, 2)
	tables := map[string]bool{}
	for i, c := range got {
		if c.Operation != "TRUNCATE" {
			t.Errorf("change %d: operation = %s, want TRUNCATE", i, c.Operation)
		}
		if c.PrimaryKey != nil {
			t.Errorf("change %d: primary_key = %s, want NULL", i, *c.PrimaryKey)
		}
		if len(c.Before) != 0 || len(c.After) != 0 {
			t.Errorf("change %d: before = %v, after = %v, want {} and {}", i, c.Before, c.After)
		}
		if text(c.Context["job"]) != "reset" {
			t.Errorf("change %d: context = %v, want the statement's", i, c.Context)
		}
		if int(c.Ordinal) != i {
			t.Errorf("change %d: ordinal = %d", i, c.Ordinal)
		}
		tables[c.Table] = true
	}
	if !tables["a"] || !tables["b"] {
		t.Errorf("truncated tables = %v, want a and b", tables)
	}
}

func TestWorkerPartitionReportsRoot(t *testing.T) {
	t.Parallel()
	s := newSource(t, `
CREATE TABLE measurements (id int, at date, value int, PRIMARY KEY (id, at)) PARTITION BY RANGE (at);
CREATE TABLE measurements_2024 PARTITION OF measurements FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
CREATE TABLE measurements_2025 PARTITION OF measurements FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
ALTER TABLE measurements_2024 REPLICA IDENTITY FULL;
ALTER TABLE measurements_2025 REPLICA IDENTITY FULL`, "measurements")
	s.start(capture.Config{})

	s.tx("INSERT INTO measurements VALUES (1, '2024-06-01', 10), (2, '2025-06-01', 20)")
	s.tx("UPDATE measurements SET value = 11 WHERE id = 1")

	got := waitChanges(t, s.url, 3)
	for i, c := range got {
		if c.Table != "measurements" {
			t.Errorf("change %d: table = %s, want the root measurements", i, c.Table)
		}
	}
	if want := `["1","2024-06-01"]`; deref(got[2].PrimaryKey) != want {
		t.Errorf("primary_key = %s, want %s", deref(got[2].PrimaryKey), want)
	}
	if text(got[2].Before["value"]) != "10" || text(got[2].After["value"]) != "11" {
		t.Errorf("UPDATE before = %v, after = %v", got[2].Before, got[2].After)
	}
}

func TestWorkerToastUnchangedFromOldRow(t *testing.T) {
	t.Parallel()
	s := newSource(t, "CREATE TABLE docs (id int PRIMARY KEY, title text, body text)", "docs")
	s.start(capture.Config{})

	// md5 hashes do not compress, so the 12 kB body is stored out of line.
	s.tx("INSERT INTO docs SELECT 1, 'draft', string_agg(md5(i::text), '') FROM generate_series(1, 400) i")
	s.tx("UPDATE docs SET title = 'final' WHERE id = 1")

	var body string
	if err := s.conn.QueryRow(t.Context(), "SELECT body FROM docs WHERE id = 1").Scan(&body); err != nil {
		t.Fatal(err)
	}
	var external bool
	err := s.conn.QueryRow(t.Context(), "SELECT pg_column_size(body) < octet_length(body) OR pg_relation_size(reltoastrelid) > 0 FROM docs, pg_class WHERE relname = 'docs' AND id = 1").Scan(&external)
	if err != nil {
		t.Fatal(err)
	}
	if !external {
		t.Fatal("body is not TOASTed: the test does not exercise unchanged TOAST values")
	}

	got := waitChanges(t, s.url, 2)
	update := got[1]
	if text(update.After["title"]) != "final" {
		t.Errorf("after.title = %v, want final", update.After["title"])
	}
	if text(update.After["body"]) != body {
		t.Errorf("after.body has %d bytes, want the unchanged %d-byte body", len(text(update.After["body"])), len(body))
	}
	if text(update.Before["body"]) != body {
		t.Errorf("before.body has %d bytes, want the %d-byte body", len(text(update.Before["body"])), len(body))
	}
}

func TestWorkerColumnAddedAndDropped(t *testing.T) {
	t.Parallel()
	s := newSource(t, "CREATE TABLE items (id int PRIMARY KEY, name text)", "items")
	s.start(capture.Config{})

	s.tx("INSERT INTO items VALUES (1, 'one')")
	s.tx("ALTER TABLE items ADD COLUMN price int", "INSERT INTO items VALUES (2, 'two', 20)")
	s.tx("UPDATE items SET price = 10 WHERE id = 1")
	s.tx("ALTER TABLE items DROP COLUMN name", "INSERT INTO items VALUES (3, 30)")

	got := waitChanges(t, s.url, 4)
	if _, ok := got[0].After["price"]; ok {
		t.Errorf("first row after = %v, want no price column yet", got[0].After)
	}
	if text(got[1].After["price"]) != "20" || text(got[1].After["name"]) != "two" {
		t.Errorf("second row after = %v, want name two and price 20", got[1].After)
	}
	if got[2].Before["price"] != nil || text(got[2].After["price"]) != "10" {
		t.Errorf("update before = %v, after = %v, want price null then 10", got[2].Before, got[2].After)
	}
	if _, ok := got[3].After["name"]; ok || text(got[3].After["price"]) != "30" {
		t.Errorf("last row after = %v, want price 30 and no name", got[3].After)
	}
}

func TestWorkerCopyThousandRows(t *testing.T) {
	t.Parallel()
	s := newSource(t, "CREATE TABLE items (id int PRIMARY KEY, name text)", "items")
	s.start(capture.Config{MaxBatchRows: 300})

	rows := make([][]any, 1000)
	for i := range rows {
		rows[i] = []any{i + 1, "same"}
	}
	tx, err := s.conn.Begin(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(t.Context(), emit(`{"job":"import"}`)); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.CopyFrom(t.Context(), []string{"items"}, []string{"id", "name"}, pgx.CopyFromRows(rows)); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(t.Context()); err != nil {
		t.Fatal(err)
	}

	got := waitChanges(t, s.url, 1000)
	keys := map[string]bool{}
	for i, c := range got {
		if c.Position != got[0].Position {
			t.Fatalf("change %d: position %d, want the transaction's %d", i, c.Position, got[0].Position)
		}
		if int(c.Ordinal) != i {
			t.Fatalf("change %d: ordinal = %d", i, c.Ordinal)
		}
		if text(c.Context["job"]) != "import" {
			t.Fatalf("change %d: context = %v", i, c.Context)
		}
		keys[deref(c.PrimaryKey)] = true
	}
	if len(keys) != 1000 {
		t.Errorf("%d distinct primary keys, want 1000", len(keys))
	}
}

func TestWorkerStatementContexts(t *testing.T) {
	t.Parallel()
	s := newSource(t, "CREATE TABLE items (id int PRIMARY KEY, name text)", "items")
	s.start(capture.Config{})

	s.tx(
		emit(`{"step":1}`), "INSERT INTO items VALUES (1, 'a'), (2, 'b')",
		emit(`{"step":2}`), "UPDATE items SET name = 'c' WHERE id = 1",
		emit(core.ResetPayload), "DELETE FROM items WHERE id = 2",
		emit(`{"step":4}`), "INSERT INTO items VALUES (3, 'd')",
	)

	got := waitChanges(t, s.url, 5)
	want := []string{"1", "1", "2", "", "4"}
	for i, c := range got {
		if text(c.Context["step"]) != want[i] && !(want[i] == "" && len(c.Context) == 0) {
			t.Errorf("change %d (%s %s): context = %v, want step %q", i, c.Operation, deref(c.PrimaryKey), c.Context, want[i])
		}
		if c.Position != got[0].Position || int(c.Ordinal) != i {
			t.Errorf("change %d: position %d ordinal %d, want one transaction in order", i, c.Position, c.Ordinal)
		}
	}
}

func TestWorkerRolledBackSavepointContext(t *testing.T) {
	t.Parallel()
	s := newSource(t, "CREATE TABLE items (id int PRIMARY KEY)", "items")
	s.start(capture.Config{})

	// The trigger's record of the last emitted context is rolled back with
	// the savepoint, so it emits nothing before the last statement.
	s.tx(
		"INSERT INTO items VALUES (1)",
		"SAVEPOINT s",
		emit(`{"userId":7}`), "INSERT INTO items VALUES (2)",
		"ROLLBACK TO SAVEPOINT s",
		"INSERT INTO items VALUES (3)",
	)

	got := waitChanges(t, s.url, 2)
	for i, c := range got {
		if len(c.Context) != 0 {
			t.Errorf("change %d (key %s): context = %v, want {}", i, deref(c.PrimaryKey), c.Context)
		}
	}
	if deref(got[1].PrimaryKey) != "3" {
		t.Errorf("second change key = %s, want 3", deref(got[1].PrimaryKey))
	}
}

func TestWorkerIgnoresOtherMessages(t *testing.T) {
	t.Parallel()
	s := newSource(t, "CREATE TABLE items (id int PRIMARY KEY)", "items")
	s.start(capture.Config{})

	s.tx(
		"SELECT pg_logical_emit_message(false, '_bemi', '{\"userId\":1}')",
		"SELECT pg_logical_emit_message(true, 'other', '{\"userId\":2}')",
		"SELECT pg_logical_emit_message(true, '_bemi_extra', '{\"userId\":3}')",
		"INSERT INTO items VALUES (1)",
	)

	got := waitChanges(t, s.url, 1)
	if len(got[0].Context) != 0 {
		t.Errorf("context = %v, want {}", got[0].Context)
	}
}

func TestWorkerKeepsMalformedContext(t *testing.T) {
	t.Parallel()
	s := newSource(t, "CREATE TABLE items (id int PRIMARY KEY)", "items")
	r := s.start(capture.Config{})

	s.tx(emit(`not json {`), "INSERT INTO items VALUES (1)")
	s.tx(emit(`{"userId":2}`), "INSERT INTO items VALUES (2)")

	got := waitChanges(t, s.url, 2)
	if text(got[0].Context[core.InvalidContextKey]) != "not json {" {
		t.Errorf("context = %v, want the payload under %s", got[0].Context, core.InvalidContextKey)
	}
	if text(got[1].Context["userId"]) != "2" {
		t.Errorf("next context = %v, want {userId: 2}", got[1].Context)
	}
	logs := r.logs.String()
	if !strings.Contains(logs, "level=WARN") || !strings.Contains(logs, "xid=") {
		t.Errorf("no warning with the xid logged for the malformed payload:\n%s", logs)
	}
	if strings.Contains(logs, "not json {") {
		t.Errorf("the payload was logged:\n%s", logs)
	}
}

func TestWorkerColumnRules(t *testing.T) {
	t.Parallel()
	s := newSource(t, "CREATE TABLE users (id int PRIMARY KEY, email text, password_hash text, nickname text)", "users")
	s.start(capture.Config{Columns: map[string]capture.ColumnRule{
		"public.users": {Exclude: []string{"password_hash"}, Mask: []string{"email", "nickname"}},
	}})

	s.tx("INSERT INTO users VALUES (1, 'a@example.com', 'secret-hash', NULL)")
	s.tx("UPDATE users SET email = 'b@example.com'")

	got := waitChanges(t, s.url, 2)
	for i, c := range got {
		for _, row := range []map[string]any{c.After, c.Before} {
			if i == 0 && len(row) == 0 {
				continue // before of CREATE
			}
			if _, ok := row["password_hash"]; ok {
				t.Errorf("change %d: excluded column stored: %v", i, row)
			}
			if row["email"] != capture.MaskedValue {
				t.Errorf("change %d: email = %v, want %s", i, row["email"], capture.MaskedValue)
			}
			if v, ok := row["nickname"]; !ok || v != nil {
				t.Errorf("change %d: masked NULL nickname = %v, want null", i, v)
			}
			if text(row["id"]) != "1" {
				t.Errorf("change %d: id = %v, want 1", i, row["id"])
			}
		}
	}
}

func TestWorkerDestinationInAnotherDatabase(t *testing.T) {
	t.Parallel()
	s := newSource(t, "CREATE TABLE items (id int PRIMARY KEY)", "items")
	dest := pgtest.NewDatabase(t)
	s.start(capture.Config{DestinationURL: dest, DestinationSchema: "audit"})

	s.tx(emit(`{"userId":1}`), "INSERT INTO items VALUES (1)")

	got := waitChangesIn(t, dest, "audit", 1, 60*time.Second)
	if text(got[0].Context["userId"]) != "1" {
		t.Errorf("context = %v", got[0].Context)
	}
	var sourceHasChanges bool
	if err := s.conn.QueryRow(t.Context(), "SELECT to_regclass('audit.changes') IS NOT NULL OR to_regclass('bemi.checkpoints') IS NOT NULL").Scan(&sourceHasChanges); err != nil {
		t.Fatal(err)
	}
	if sourceHasChanges {
		t.Error("the worker created tables in the source database, want them only in the destination")
	}
}

func TestWorkerBackToBackTransactions(t *testing.T) {
	t.Parallel()
	s := newSource(t, "CREATE TABLE items (id int PRIMARY KEY)", "items")
	s.start(capture.Config{})

	// Transactions that follow each other closely make the worker read a
	// new transaction while earlier ones wait for their destination commit.
	const n = 2000
	for i := 1; i <= n; i++ {
		s.exec("INSERT INTO items VALUES ($1)", i)
	}

	got := waitChanges(t, s.url, n)
	for i, c := range got {
		if want := fmt.Sprint(i + 1); deref(c.PrimaryKey) != want {
			t.Fatalf("change %d: key %s, want %s", i, deref(c.PrimaryKey), want)
		}
	}
}

func TestWorkerIgnoresItsOwnTables(t *testing.T) {
	t.Parallel()
	s := newSource(t, "CREATE TABLE items (id int PRIMARY KEY)", "items")
	// A publication for all tables also publishes the changes table once
	// the worker creates it.
	s.exec("DROP PUBLICATION bemi")
	s.exec("CREATE PUBLICATION bemi FOR ALL TABLES")
	r := s.start(capture.Config{})

	s.tx("INSERT INTO items VALUES (1)")
	waitChanges(t, s.url, 1)
	s.tx("INSERT INTO items VALUES (2)")
	got := waitChanges(t, s.url, 2)
	for i, c := range got {
		if c.Table != "items" {
			t.Errorf("change %d: table %s.%s, want only items", i, c.Schema, c.Table)
		}
	}
	if !strings.Contains(r.logs.String(), "worker's own table") {
		t.Errorf("no warning about the published changes table:\n%s", r.logs.String())
	}
}
