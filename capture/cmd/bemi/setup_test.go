package main

import (
	"bytes"
	"context"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/bemi-go/bemi/core/pgtest"
	"github.com/jackc/pgx/v5"
)

// runBemi runs the command line in process and returns its output.
func runBemi(t *testing.T, args ...string) (string, error) {
	t.Helper()

	cmd := newRootCommand()
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetArgs(args)
	err := cmd.ExecuteContext(context.Background())

	return out.String(), err
}

// newSourceDatabase creates a database with a few tables and returns its URL
// and a slot name that is unique on the shared cluster.
func newSourceDatabase(t *testing.T) (string, string) {
	t.Helper()

	dbURL := pgtest.NewDatabase(t)
	err := pgtest.Shared(t).Exec(dbURL, `
CREATE SCHEMA audit;
CREATE TABLE todos (id int PRIMARY KEY, title text);
CREATE TABLE "Mixed Case" (id int);
CREATE TABLE skip_me (id int);
CREATE TABLE audit.changes (id int);
CREATE TABLE events (id int NOT NULL) PARTITION BY RANGE (id);
CREATE TABLE events_1 PARTITION OF events FOR VALUES FROM (0) TO (100);`)
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}

	return dbURL, "s_" + strings.TrimPrefix(u.Path, "/")
}

// snapshot lists the objects that setup creates or changes, by name, with
// the slot name replaced by "SLOT".
func snapshot(t *testing.T, dbURL, slot string) []string {
	t.Helper()

	conn, err := pgx.Connect(context.Background(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())

	rows, _ := conn.Query(context.Background(), `
SELECT line FROM (
    SELECT format('table %I.%I replica identity %s', n.nspname, c.relname, c.relreplident) AS line
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE c.relkind IN ('r', 'p') AND n.nspname NOT LIKE 'pg\_%' AND n.nspname <> 'information_schema'
    UNION ALL
    SELECT format('trigger %s on %s type %s', tgname, tgrelid::regclass, tgtype) FROM pg_trigger WHERE NOT tgisinternal
    UNION ALL
    SELECT format('publication %I via root %s', pubname, pubviaroot) FROM pg_publication
    UNION ALL
    SELECT format('publication %I table %s', p.pubname, r.prrelid::regclass)
    FROM pg_publication_rel r JOIN pg_publication p ON p.oid = r.prpubid
    UNION ALL
    SELECT format('event trigger %I tags %s', evtname, evttags) FROM pg_event_trigger
    UNION ALL
    SELECT format('function %s source md5 %s', p.oid::regprocedure, md5(p.prosrc))
    FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'bemi'
    UNION ALL
    SELECT format('bemi.config %s', c) FROM bemi.config c
    UNION ALL
    SELECT format('bemi.table_filter %s', f) FROM bemi.table_filter f
    UNION ALL
    SELECT format('schema comment %s', obj_description('bemi'::regnamespace, 'pg_namespace'))
) s ORDER BY line`)
	lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	for i, line := range lines {
		lines[i] = strings.ReplaceAll(line, slot, "SLOT")
	}

	return lines
}

func slotExists(t *testing.T, dbURL, slot string) bool {
	t.Helper()

	conn, err := pgx.Connect(context.Background(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())

	var exists bool
	err = conn.QueryRow(context.Background(),
		"SELECT EXISTS (SELECT FROM pg_replication_slots WHERE slot_name = $1 AND plugin = 'pgoutput')", slot).Scan(&exists)
	if err != nil {
		t.Fatal(err)
	}

	return exists
}

func TestSetupCommandTwiceThenTeardown(t *testing.T) {
	dbURL, slot := newSourceDatabase(t)

	out, err := runBemi(t, "setup", "--database-url", dbURL, "--slot", slot)
	if err != nil {
		t.Fatalf("first setup: %v\n%s", err, out)
	}
	for _, want := range []string{
		"Done, ",
		"create publication bemi",
		`create trigger _bemi_context on public."Mixed Case"`,
		"create event trigger bemi_track_tables",
		"create replication slot " + slot + " (plugin pgoutput)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("first setup output lacks %q:\n%s", want, out)
		}
	}
	if !slotExists(t, dbURL, slot) {
		t.Errorf("slot %s does not exist after setup", slot)
	}

	// The second run takes the URL from DATABASE_URL.
	t.Setenv("DATABASE_URL", dbURL)
	out, err = runBemi(t, "setup", "--slot", slot)
	if err != nil {
		t.Fatalf("second setup: %v\n%s", err, out)
	}
	if strings.TrimSpace(out) != "Nothing to do: the database is already set up." {
		t.Errorf("second setup output = %q, want nothing to do", out)
	}

	out, err = runBemi(t, "teardown", "--slot", slot)
	if err != nil {
		t.Fatalf("teardown: %v\n%s", err, out)
	}
	for _, want := range []string{"drop publication bemi", "drop schema bemi", "drop replication slot " + slot} {
		if !strings.Contains(out, want) {
			t.Errorf("teardown output lacks %q:\n%s", want, out)
		}
	}
	out, err = runBemi(t, "teardown", "--slot", slot)
	if err != nil {
		t.Fatalf("second teardown: %v\n%s", err, out)
	}
	if !strings.Contains(out, "Nothing to do") {
		t.Errorf("second teardown output = %q, want nothing to do", out)
	}
}

func TestSetupCommandPrintSQLMatchesRun(t *testing.T) {
	t.Parallel()
	flags := []string{"--exclude-tables", "skip_me", "--destination-table", "audit.changes"}

	ranURL, ranSlot := newSourceDatabase(t)
	out, err := runBemi(t, append([]string{"setup", "--database-url", ranURL, "--slot", ranSlot}, flags...)...)
	if err != nil {
		t.Fatalf("setup: %v\n%s", err, out)
	}

	appliedURL, appliedSlot := newSourceDatabase(t)
	script, err := runBemi(t, append([]string{"setup", "--print-sql", "--slot", appliedSlot}, flags...)...)
	if err != nil {
		t.Fatalf("setup --print-sql: %v\n%s", err, script)
	}
	if !strings.Contains(script, "Run it OUTSIDE any transaction") {
		t.Errorf("printed SQL does not say that the slot part must run outside a transaction:\n%s", script)
	}
	file := filepath.Join(t.TempDir(), "bemi.sql")
	if err := os.WriteFile(file, []byte(script), 0o600); err != nil {
		t.Fatal(err)
	}
	psql := exec.Command(pgtest.Shared(t).Bin("psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", appliedURL, "-f", file)
	if out, err := psql.CombinedOutput(); err != nil {
		t.Fatalf("psql -f printed SQL: %v\n%s", err, out)
	}

	ran, applied := snapshot(t, ranURL, ranSlot), snapshot(t, appliedURL, appliedSlot)
	if !slices.Equal(ran, applied) {
		t.Errorf("objects differ:\nbemi setup: %q\nprinted SQL: %q", ran, applied)
	}
	if !slotExists(t, appliedURL, appliedSlot) {
		t.Errorf("the printed SQL did not create slot %s", appliedSlot)
	}

	// Run finds nothing to do after the printed SQL.
	out, err = runBemi(t, append([]string{"setup", "--database-url", appliedURL, "--slot", appliedSlot}, flags...)...)
	if err != nil {
		t.Fatalf("setup after the printed SQL: %v\n%s", err, out)
	}
	if !strings.Contains(out, "Nothing to do") {
		t.Errorf("setup after the printed SQL output = %q, want nothing to do", out)
	}
}

func TestSetupCommandErrors(t *testing.T) {
	t.Setenv("DATABASE_URL", "")

	tests := []struct {
		name string
		args []string
		want string
	}{
		{"missing URL", []string{"setup", "--database-url", ""}, "set DATABASE_URL or pass --database-url"},
		{"invalid slot", []string{"setup", "--print-sql", "--slot", "Bad-Slot"}, `invalid slot name "Bad-Slot"`},
		{"invalid table", []string{"setup", "--print-sql", "--tables", `a.b.c`}, "use schema.table, table or schema.*"},
		{"password hidden", []string{"setup", "--database-url", "postgres://app:s3cret@127.0.0.1:1/db?connect_timeout=2"}, "connect to the source database"},
	}
	for _, tt := range tests {
		out, err := runBemi(t, tt.args...)
		if err == nil {
			t.Errorf("%s: no error, output %q", tt.name, out)

			continue
		}
		if !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: err = %v, want it to contain %q", tt.name, err, tt.want)
		}
		if strings.Contains(err.Error(), "s3cret") {
			t.Errorf("%s: error %q shows the password", tt.name, err)
		}
	}
}
