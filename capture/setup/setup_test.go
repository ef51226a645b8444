package setup

import (
	"context"
	"errors"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bemi-go/bemi/core"
	"github.com/bemi-go/bemi/core/pgtest"
)

func TestRunSecondRunNothingToDo(t *testing.T) {
	t.Parallel()
	dbURL, conn := newDatabase(t, `
CREATE TABLE todos (id int PRIMARY KEY, title text);
CREATE TABLE events (id int NOT NULL) PARTITION BY RANGE (id);
CREATE TABLE events_1 PARTITION OF events FOR VALUES FROM (0) TO (100);
`)
	cfg := testConfig(t, dbURL)

	first := mustRun(t, conn, cfg)
	if first.NothingToDo() {
		t.Fatal("first run reports nothing to do")
	}
	wantActions := []string{
		"create publication bemi",
		"create trigger _bemi_context on public.todos",
		"add public.events to publication bemi",
		"create event trigger bemi_track_tables",
		"create replication slot " + cfg.Slot + " (plugin pgoutput)",
	}
	for _, want := range wantActions {
		if !slices.Contains(first.Actions, want) {
			t.Errorf("first run actions %q lack %q", first.Actions, want)
		}
	}
	if len(first.Warnings) != 0 {
		t.Errorf("first run warnings = %q, want none for a superuser", first.Warnings)
	}
	installed := catalogSnapshot(t, conn)

	second := mustRun(t, conn, cfg)
	if !second.NothingToDo() {
		t.Errorf("second run actions = %q, want none", second.Actions)
	}
	if got := catalogSnapshot(t, conn); !slices.Equal(got, installed) {
		t.Errorf("second run changed the catalog:\nbefore %q\nafter  %q", installed, got)
	}
}

func TestRunRejectsRenamedPublication(t *testing.T) {
	t.Parallel()
	dbURL, conn := newDatabase(t, todosSchema)
	cfg := testConfig(t, dbURL)
	cfg.SkipSlot = true
	mustRun(t, conn, cfg)

	cfg.Publication = "other"
	_, err := Run(context.Background(), conn, cfg)
	if err == nil || !strings.Contains(err.Error(), "run teardown first") {
		t.Fatalf("Run with another publication name: err = %v, want an error that says to run teardown first", err)
	}
}

func TestEventTriggerTracksNewTables(t *testing.T) {
	t.Parallel()
	conn, wal := trackedDatabase(t, `
CREATE SCHEMA app;
CREATE TABLE events (id int NOT NULL) PARTITION BY RANGE (id);
`)

	mustExec(t, conn, `CREATE TABLE app.later (id int PRIMARY KEY)`)
	mustExec(t, conn, `CREATE TABLE copied AS SELECT 1 AS id`)
	mustExec(t, conn, `SELECT 2 AS id INTO selected`)
	mustExec(t, conn, `CREATE TABLE events_1 PARTITION OF events FOR VALUES FROM (0) TO (100)`)
	mustExec(t, conn, `CREATE TABLE events_2 (id int NOT NULL)`)
	mustExec(t, conn, `ALTER TABLE events ATTACH PARTITION events_2 FOR VALUES FROM (100) TO (200)`)
	mustExec(t, conn, `CREATE TEMPORARY TABLE scratch (id int)`)
	mustExec(t, conn, `CREATE UNLOGGED TABLE cache (id int)`)

	for _, table := range []string{"app.later", "copied", "selected", "events", "events_1", "events_2"} {
		assertTracked(t, conn, table)
	}
	for _, table := range []string{"scratch", "cache"} {
		assertUntracked(t, conn, table)
	}
	published := queryStrings(t, conn, `SELECT prrelid::regclass::text FROM pg_publication_rel ORDER BY 1`)
	if want := []string{"app.later", "copied", "events", "selected"}; !slices.Equal(published, want) {
		t.Errorf("publication lists %v, want %v (an attached partition is published through its root)", published, want)
	}

	wal.transactions(t) // Skip the rows that CREATE TABLE AS and SELECT INTO wrote.
	mustExec(t, conn, `INSERT INTO app.later VALUES (1) /*Bemi {"new":true} Bemi*/`)
	mustExec(t, conn, `INSERT INTO events_2 VALUES (150) /*Bemi {"attached":true} Bemi*/`)
	assertTransactions(t, wal.transactions(t), [][]string{
		{`msg {"new":true}`, "INSERT app.later"},
		{`msg {"attached":true}`, "INSERT public.events_2"},
	})

	// A detached partition becomes a top-level table of its own.
	mustExec(t, conn, `ALTER TABLE events DETACH PARTITION events_2`)
	if !queryBool(t, conn, `SELECT EXISTS (SELECT FROM pg_publication_rel WHERE prrelid = 'events_2'::regclass)`) {
		t.Error("detached partition events_2 is not in the publication")
	}
}

func TestRunQuotedNames(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("x", 63)
	longMultibyte := strings.Repeat("é", 31) + "x" // 63 bytes
	dbURL, conn := newDatabase(t, "")
	for _, schema := range []string{"My Schema", "other-schema"} {
		mustExec(t, conn, "CREATE SCHEMA "+quoteIdent(schema))
		for _, table := range []string{"MixedCase", "dashed-name", "with space", long, longMultibyte} {
			mustExec(t, conn, "CREATE TABLE "+quoteIdent(schema)+"."+quoteIdent(table)+" (id int)")
		}
	}
	cfg := testConfig(t, dbURL)
	cfg.SkipSlot = true
	mustRun(t, conn, cfg)
	wal := startWAL(t, dbURL)

	var want [][]string
	for _, schema := range []string{"My Schema", "other-schema"} {
		for _, table := range []string{"MixedCase", "dashed-name", "with space", long, longMultibyte} {
			qualified := quoteIdent(schema) + "." + quoteIdent(table)
			assertTracked(t, conn, qualified)
			mustExec(t, conn, "INSERT INTO "+qualified+` VALUES (1) /*Bemi {"t":1} Bemi*/`)
			// test_decoding quotes a name only where needed, as quote_ident does.
			printed := queryStrings(t, conn, "SELECT quote_ident($1) || '.' || quote_ident($2)", schema, table)[0]
			want = append(want, []string{`msg {"t":1}`, "INSERT " + printed})
		}
	}
	assertTransactions(t, wal.transactions(t), want)
	if !mustRun(t, conn, cfg).NothingToDo() {
		t.Error("second run with quoted names has something to do")
	}
}

func TestRunIncludeExcludeLists(t *testing.T) {
	t.Parallel()
	dbURL, conn := newDatabase(t, `
CREATE SCHEMA app;
CREATE SCHEMA "Other";
CREATE TABLE public.a (id int);
CREATE TABLE public.b (id int);
CREATE TABLE app.c (id int);
CREATE TABLE app.d (id int);
CREATE TABLE "Other"."E" (id int);
`)
	cfg := testConfig(t, dbURL)
	cfg.SkipSlot = true
	cfg.Tables = []string{"a", "app.*", `"Other"."E"`}
	cfg.ExcludeTables = []string{"app.d"}
	mustRun(t, conn, cfg)

	for _, table := range []string{"public.a", "app.c", `"Other"."E"`} {
		assertTracked(t, conn, table)
	}
	for _, table := range []string{"public.b", "app.d"} {
		assertUntracked(t, conn, table)
	}

	// The event trigger obeys the same lists.
	mustExec(t, conn, `CREATE TABLE app.f (id int)`)
	mustExec(t, conn, `CREATE TABLE public.g (id int)`)
	assertTracked(t, conn, "app.f")
	assertUntracked(t, conn, "public.g")

	// A new configuration untracks what it no longer includes and restores
	// the replica identity.
	cfg.Tables = nil
	cfg.ExcludeTables = []string{"public.a"}
	report := mustRun(t, conn, cfg)
	for _, want := range []string{
		"drop public.a from publication bemi",
		"drop trigger _bemi_context on public.a",
		"restore replica identity default on public.a",
		"add public.b to publication bemi",
	} {
		if !slices.Contains(report.Actions, want) {
			t.Errorf("actions %q lack %q", report.Actions, want)
		}
	}
	assertUntracked(t, conn, "public.a")
	if !queryBool(t, conn, `SELECT relreplident = 'd' FROM pg_class WHERE oid = 'public.a'::regclass`) {
		t.Error("public.a did not get its replica identity back")
	}
	for _, table := range []string{"public.b", "app.c", "app.d", "app.f", "public.g", `"Other"."E"`} {
		assertTracked(t, conn, table)
	}
}

func TestRunSkipsDestinationTable(t *testing.T) {
	t.Parallel()
	dbURL, conn := newDatabase(t, `
CREATE SCHEMA audit;
CREATE TABLE public.changes (id int);
CREATE TABLE audit.changes (id int);
CREATE TABLE public.todos (id int);
`)
	cfg := testConfig(t, dbURL)
	cfg.SkipSlot = true
	// Even an include list that names it does not track the destination.
	cfg.Tables = []string{"changes", "todos"}
	mustRun(t, conn, cfg)
	assertUntracked(t, conn, "public.changes")
	assertTracked(t, conn, "public.todos")

	cfg.Tables = nil
	cfg.DestinationTable = "audit.changes"
	mustRun(t, conn, cfg)
	assertUntracked(t, conn, "audit.changes")
	assertTracked(t, conn, "public.changes")
}

func TestRunSkipsNonTrackableRelations(t *testing.T) {
	t.Parallel()
	dbURL, conn := newDatabase(t, `
CREATE TABLE todos (id int);
CREATE VIEW todo_view AS SELECT * FROM todos;
CREATE MATERIALIZED VIEW todo_matview AS SELECT * FROM todos;
CREATE UNLOGGED TABLE cache (id int);
CREATE EXTENSION file_fdw;
CREATE SERVER files FOREIGN DATA WRAPPER file_fdw;
CREATE FOREIGN TABLE remote (id int) SERVER files OPTIONS (filename '/dev/null');
CREATE EXTENSION citext;
CREATE TABLE extension_member (id int);
ALTER EXTENSION citext ADD TABLE extension_member;
`)
	cfg := testConfig(t, dbURL)
	cfg.SkipSlot = true
	mustRun(t, conn, cfg)

	published := queryStrings(t, conn, `SELECT prrelid::regclass::text FROM pg_publication_rel ORDER BY 1`)
	if !slices.Equal(published, []string{"todos"}) {
		t.Errorf("publication lists %v, want only todos", published)
	}
	triggered := queryStrings(t, conn, `SELECT tgrelid::regclass::text FROM pg_trigger WHERE tgname = '_bemi_context'`)
	if !slices.Equal(triggered, []string{"todos"}) {
		t.Errorf("tables with the trigger: %v, want only todos", triggered)
	}
	full := queryStrings(t, conn, `SELECT oid::regclass::text FROM pg_class WHERE relreplident = 'f' ORDER BY 1`)
	if !slices.Equal(full, []string{"todos"}) {
		t.Errorf("relations with REPLICA IDENTITY FULL: %v, want only todos", full)
	}
}

// pgbench_history has no primary key: without REPLICA IDENTITY FULL its
// UPDATE and DELETE would fail once it is published.
func TestRunTableWithoutPrimaryKey(t *testing.T) {
	t.Parallel()
	dbURL, conn := newDatabase(t, "")
	c := pgtest.Shared(t)
	out, err := exec.Command(c.Bin("pgbench"), "-i", "-s", "1", "-q", "-n", dbURL).CombinedOutput()
	if err != nil {
		t.Fatalf("pgbench -i: %v\n%s", err, out)
	}
	mustExec(t, conn, `CREATE TABLE no_identity (id int); ALTER TABLE no_identity REPLICA IDENTITY NOTHING;
INSERT INTO no_identity VALUES (1), (2)`)

	cfg := testConfig(t, dbURL)
	cfg.SkipSlot = true
	mustRun(t, conn, cfg)
	wal := startWAL(t, dbURL)

	out, err = exec.Command(c.Bin("pgbench"), "-n", "-t", "20", dbURL).CombinedOutput()
	if err != nil {
		t.Fatalf("pgbench run on tracked tables: %v\n%s", err, out)
	}
	mustExec(t, conn, `UPDATE pgbench_history SET delta = delta + 1 /*Bemi {"job":"fix"} Bemi*/`)
	mustExec(t, conn, `DELETE FROM pgbench_history WHERE delta > 0 /*Bemi {"job":"fix"} Bemi*/`)
	mustExec(t, conn, `UPDATE no_identity SET id = 3 WHERE id = 1`)
	mustExec(t, conn, `DELETE FROM no_identity`)

	txs := wal.transactions(t)
	var sawUpdate, sawDelete bool
	for _, tx := range txs {
		if len(tx) > 1 && tx[0] == `msg {"job":"fix"}` && tx[1] == "UPDATE public.pgbench_history" {
			sawUpdate = true
		}
		if len(tx) > 1 && tx[0] == `msg {"job":"fix"}` && tx[1] == "DELETE public.pgbench_history" {
			sawDelete = true
		}
	}
	if !sawUpdate || !sawDelete {
		t.Errorf("decoded WAL lacks the UPDATE or DELETE of pgbench_history after its message:\n%s", render(txs))
	}
}

func TestTeardownRestoresEverything(t *testing.T) {
	t.Parallel()
	dbURL, conn := newDatabase(t, `
CREATE SCHEMA app;
CREATE TABLE app.plain (id int PRIMARY KEY);
CREATE TABLE app.nothing (id int);
ALTER TABLE app.nothing REPLICA IDENTITY NOTHING;
CREATE TABLE app.by_index (id int NOT NULL, code text NOT NULL);
CREATE UNIQUE INDEX by_index_code ON app.by_index (code);
ALTER TABLE app.by_index REPLICA IDENTITY USING INDEX by_index_code;
CREATE TABLE app.full (id int);
ALTER TABLE app.full REPLICA IDENTITY FULL;
CREATE TABLE app.events (id int NOT NULL) PARTITION BY RANGE (id);
CREATE TABLE app.events_1 PARTITION OF app.events FOR VALUES FROM (0) TO (100);
CREATE TABLE app.own_trigger_log (id int);
CREATE FUNCTION app.log() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
CREATE TRIGGER own BEFORE INSERT ON app.plain FOR EACH ROW EXECUTE FUNCTION app.log();
`)
	before := catalogSnapshot(t, conn)
	cfg := testConfig(t, dbURL)
	mustRun(t, conn, cfg)
	mustExec(t, conn, `CREATE TABLE app.created_later (id int)`)
	if slices.Equal(catalogSnapshot(t, conn), before) {
		t.Fatal("setup changed nothing")
	}

	report, err := Teardown(context.Background(), conn, cfg)
	if err != nil {
		t.Fatalf("Teardown: %v", err)
	}
	for _, want := range []string{
		"restore replica identity nothing on app.nothing",
		"restore replica identity using index by_index_code on app.by_index",
		"drop event trigger bemi_track_tables",
		"drop publication bemi",
		"drop schema bemi",
		"drop replication slot " + cfg.Slot,
	} {
		if !slices.Contains(report.Actions, want) {
			t.Errorf("teardown actions %q lack %q", report.Actions, want)
		}
	}

	mustExec(t, conn, `DROP TABLE app.created_later`)
	if after := catalogSnapshot(t, conn); !slices.Equal(after, before) {
		t.Errorf("teardown left a difference:\nbefore %q\nafter  %q", before, after)
	}

	again, err := Teardown(context.Background(), conn, cfg)
	if err != nil {
		t.Fatalf("second Teardown: %v", err)
	}
	if !again.NothingToDo() {
		t.Errorf("second teardown actions = %q, want none", again.Actions)
	}
}

func TestTeardownKeepsForeignObjectsInSchema(t *testing.T) {
	t.Parallel()
	dbURL, conn := newDatabase(t, todosSchema)
	cfg := testConfig(t, dbURL)
	cfg.SkipSlot = true
	mustRun(t, conn, cfg)
	mustExec(t, conn, `CREATE TABLE bemi.worker_state (id int)`)

	report, err := Teardown(context.Background(), conn, cfg)
	if err != nil {
		t.Fatalf("Teardown: %v", err)
	}
	if len(report.Warnings) != 1 || !strings.Contains(report.Warnings[0], "schema bemi was left in place") {
		t.Errorf("warnings = %q, want one about schema bemi left in place", report.Warnings)
	}
	if !queryBool(t, conn, `SELECT to_regclass('bemi.worker_state') IS NOT NULL`) {
		t.Error("teardown dropped a table it did not create")
	}
	if queryBool(t, conn, `SELECT to_regprocedure('bemi.capture_context()') IS NOT NULL`) {
		t.Error("teardown left bemi.capture_context")
	}
	if !strings.Contains(report.Warnings[0], "bemi.worker_state") {
		t.Errorf("warning %q does not name the table left behind", report.Warnings[0])
	}
	assertUntracked(t, conn, "todos")

	again, err := Teardown(context.Background(), conn, cfg)
	if err != nil {
		t.Fatalf("second Teardown: %v", err)
	}
	if !again.NothingToDo() {
		t.Errorf("second teardown actions = %q, want none", again.Actions)
	}

	// The capture worker keeps its checkpoints in schema bemi, so setup must
	// install itself again next to them.
	mustRun(t, conn, cfg)
	if !queryBool(t, conn, `SELECT to_regprocedure('bemi.capture_context()') IS NOT NULL`) {
		t.Error("setup after teardown did not install bemi.capture_context")
	}
	if queryBool(t, conn, `SELECT count(*) = 0 FROM pg_trigger WHERE tgname = '_bemi_context'`) {
		t.Error("setup after teardown installed no trigger")
	}
}

func TestTeardownActiveSlot(t *testing.T) {
	t.Parallel()
	dbURL, conn := newDatabase(t, todosSchema)
	cfg := testConfig(t, dbURL)
	mustRun(t, conn, cfg)

	// pg_recvlogical holds the slot open, as the capture worker would.
	c := pgtest.Shared(t)
	recv := exec.Command(c.Bin("pg_recvlogical"), "-d", dbURL, "--slot", cfg.Slot, "--start",
		"-o", "proto_version=1", "-o", "publication_names=bemi", "-f", "/dev/null")
	if err := recv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = recv.Process.Kill()
		_ = recv.Wait()
	})
	waitFor(t, func() bool {
		return queryBool(t, conn, `SELECT coalesce((SELECT active FROM pg_replication_slots WHERE slot_name = $1), false)`, cfg.Slot)
	})

	installed := catalogSnapshot(t, conn)
	_, err := Teardown(context.Background(), conn, cfg)
	var active *SlotActiveError
	if !errors.As(err, &active) {
		t.Fatalf("Teardown with an active slot: err = %v, want *SlotActiveError", err)
	}
	if active.Slot != cfg.Slot || active.PID == 0 {
		t.Errorf("SlotActiveError = %+v, want slot %s and a process id", active, cfg.Slot)
	}
	if !strings.Contains(err.Error(), "stop the capture worker") {
		t.Errorf("error %q does not say what to do", err)
	}
	// Nothing is dropped while the worker reads the slot: a worker whose
	// publication disappears stops with an error.
	if got := catalogSnapshot(t, conn); !slices.Equal(got, installed) {
		t.Errorf("Teardown with an active slot changed the catalog:\nbefore %q\nafter  %q", installed, got)
	}
}

// waitFor polls cond until it holds, for at most 30 seconds.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()

	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 30 seconds")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// A database set up by an earlier release has other functions in schema
// bemi and another version in the schema's comment. Running setup again
// replaces the functions, reports the upgrade, and the new trigger emits
// the context.
func TestRunUpgradesOlderFunctions(t *testing.T) {
	t.Parallel()
	dbURL, conn := newDatabase(t, "CREATE TABLE todos (id int PRIMARY KEY, title text)")
	cfg := testConfig(t, dbURL)
	cfg.SkipSlot = true
	mustRun(t, conn, cfg)

	// Stand in for an older release: a trigger function that emits a
	// marker, and the comment of another version.
	mustExec(t, conn, `
CREATE OR REPLACE FUNCTION bemi.capture_context() RETURNS trigger LANGUAGE plpgsql AS $f$
BEGIN
    PERFORM pg_catalog.pg_logical_emit_message(true, '_bemi', '{"release":"older"}');
    RETURN NULL;
END $f$;
COMMENT ON SCHEMA bemi IS 'Bemi change tracking objects, version 0000000000000000'`)

	report := mustRun(t, conn, cfg)
	want := "upgrade the functions in schema bemi to version " + objectsVersion
	if !slices.Contains(report.Actions, want) {
		t.Fatalf("actions = %q, want %q", report.Actions, want)
	}
	var comment string
	if err := conn.QueryRow(t.Context(), "SELECT obj_description('bemi'::regnamespace, 'pg_namespace')").Scan(&comment); err != nil {
		t.Fatal(err)
	}
	if comment != schemaComment() {
		t.Errorf("schema comment = %q, want %q", comment, schemaComment())
	}

	wal := startWAL(t, dbURL)
	mustExec(t, conn, core.AppendComment("INSERT INTO todos VALUES (1, 'a')", []byte(`{"release":"current"}`)))
	got := wal.transactions(t)
	wantTxs := [][]string{{`msg {"release":"current"}`, "INSERT public.todos"}}
	if !slices.EqualFunc(got, wantTxs, slices.Equal[[]string]) {
		t.Errorf("WAL after the upgrade = %q, want %q", got, wantTxs)
	}

	if again := mustRun(t, conn, cfg); !again.NothingToDo() {
		t.Errorf("run after the upgrade: actions = %q, want none", again.Actions)
	}
}

// The slot statement that --print-sql prints fails, instead of doing
// nothing, when a slot of that name belongs to another database.
func TestSlotSQLRejectsSlotOfOtherDatabase(t *testing.T) {
	t.Parallel()
	otherURL, other := newDatabase(t, "")
	_, conn := newDatabase(t, "")
	slot := "other_" + databaseName(t, otherURL)
	if len(slot) > 63 {
		slot = slot[:63]
	}
	mustExec(t, other, "SELECT pg_create_logical_replication_slot($1, 'pgoutput')", slot)
	t.Cleanup(func() { _, _ = other.Exec(context.Background(), "SELECT pg_drop_replication_slot($1)", slot) })

	_, err := conn.Exec(t.Context(), slotSQL(slot))
	if err == nil || !strings.Contains(err.Error(), "belongs to another database") {
		t.Fatalf("slot SQL in another database: err = %v, want an error that the slot belongs to another database", err)
	}

	// In the slot's own database the statement changes nothing.
	mustExec(t, other, slotSQL(slot))
}
