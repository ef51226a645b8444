package setup

import (
	"context"
	"log/slog"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/bemi-go/bemi/core/pgtest"
	"github.com/jackc/pgx/v5"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Run(m)) }

// connect opens a connection that the test closes at cleanup.
func connect(t testing.TB, dbURL string) *pgx.Conn {
	t.Helper()

	conn, err := pgx.Connect(context.Background(), dbURL)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })

	return conn
}

// mustExec runs SQL (several statements allowed) and fails the test on error.
func mustExec(t testing.TB, conn *pgx.Conn, sql string, args ...any) {
	t.Helper()

	if _, err := conn.Exec(context.Background(), sql, args...); err != nil {
		t.Fatalf("exec %q: %v", truncate(sql, 200), err)
	}
}

// queryStrings returns the first column of every row as text.
func queryStrings(t testing.TB, conn *pgx.Conn, sql string, args ...any) []string {
	t.Helper()

	rows, _ := conn.Query(context.Background(), sql, args...)
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatalf("query %q: %v", truncate(sql, 200), err)
	}

	return out
}

func queryBool(t testing.TB, conn *pgx.Conn, sql string, args ...any) bool {
	t.Helper()

	var b bool
	if err := conn.QueryRow(context.Background(), sql, args...).Scan(&b); err != nil {
		t.Fatalf("query %q: %v", truncate(sql, 200), err)
	}

	return b
}

// databaseName returns the database name in a URL.
func databaseName(t testing.TB, dbURL string) string {
	t.Helper()

	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}

	return strings.TrimPrefix(u.Path, "/")
}

// withUser returns dbURL with another user name.
func withUser(t testing.TB, dbURL, user string) string {
	t.Helper()

	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.User(user)

	return u.String()
}

// testConfig returns a Config whose slot name is unique on the shared
// cluster, because slot names are cluster-wide and tests run in parallel.
func testConfig(t testing.TB, dbURL string) Config {
	t.Helper()

	return Config{Slot: "s_" + databaseName(t, dbURL)}
}

// newDatabase creates a database, runs schema in it and returns its URL and
// a connection.
func newDatabase(t testing.TB, schema string) (string, *pgx.Conn) {
	t.Helper()

	dbURL := pgtest.NewDatabase(t)
	conn := connect(t, dbURL)
	if schema != "" {
		mustExec(t, conn, schema)
	}

	return dbURL, conn
}

// mustRun runs setup and fails the test on error.
func mustRun(t testing.TB, conn *pgx.Conn, cfg Config) Report {
	t.Helper()

	report, err := Run(context.Background(), conn, cfg)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}

	return report
}

// walReader reads decoded WAL through a test_decoding slot.
type walReader struct {
	conn *pgx.Conn
	slot string
}

// startWAL creates a test_decoding slot on the database of conn; changes
// made after this call can be read with transactions.
func startWAL(t testing.TB, dbURL string) *walReader {
	t.Helper()

	conn := connect(t, dbURL)
	// The shared cluster runs with synchronous_commit off, and logical
	// decoding reads only flushed WAL: a commit that wrote WAL on this
	// connection flushes everything before it.
	mustExec(t, conn, "SET synchronous_commit = on")
	slot := "td_" + databaseName(t, dbURL)
	mustExec(t, conn, "SELECT pg_create_logical_replication_slot($1, 'test_decoding')", slot)
	t.Cleanup(func() {
		_, _ = conn.Exec(context.Background(), "SELECT pg_drop_replication_slot($1)", slot)
	})

	return &walReader{conn: conn, slot: slot}
}

// flushPrefix marks the message that the reader writes to flush the WAL.
const flushPrefix = "test_flush"

var (
	messageLine = regexp.MustCompile(`(?s)^message: transactional: (\d) prefix: (.*?), sz: (\d+) content:(.*)$`)
	changeLine  = regexp.MustCompile(`^table (.+?): (INSERT|UPDATE|DELETE|TRUNCATE):`)
)

// transactions consumes the decoded WAL since the last call and returns one
// entry per transaction that holds messages or row changes. Each event is
// rendered as "msg <content>" for a _bemi message or "<OPERATION> <table>"
// for a row change, with the table as test_decoding prints it (the leaf
// partition for partitioned tables). Changes to schema bemi's own tables are
// left out.
func (w *walReader) transactions(t testing.TB) [][]string {
	t.Helper()

	mustExec(t, w.conn, "SELECT pg_logical_emit_message(true, $1, '')", flushPrefix)
	lines := queryStrings(t, w.conn,
		"SELECT data FROM pg_logical_slot_get_changes($1, NULL, NULL, 'include-xids', '0', 'skip-empty-xacts', '0')",
		w.slot)

	var txs [][]string
	var cur []string
	for _, line := range lines {
		switch {
		case line == "BEGIN":
			cur = nil
		case line == "COMMIT":
			if len(cur) > 0 {
				txs = append(txs, cur)
			}
			cur = nil
		case strings.HasPrefix(line, "message: "):
			m := messageLine.FindStringSubmatch(line)
			if m == nil {
				t.Fatalf("unparsed message line %q", truncate(line, 200))
			}
			if m[1] != "1" {
				t.Fatalf("non-transactional message %q", truncate(line, 200))
			}
			size, _ := strconv.Atoi(m[3])
			if len(m[4]) != size {
				t.Fatalf("message size %d, content %d bytes", size, len(m[4]))
			}
			if m[2] == flushPrefix {
				continue
			}
			if m[2] != "_bemi" {
				cur = append(cur, "other-msg "+m[2])

				continue
			}
			cur = append(cur, "msg "+m[4])
		default:
			m := changeLine.FindStringSubmatch(line)
			if m == nil {
				t.Fatalf("unparsed WAL line %q", truncate(line, 200))
			}
			// test_decoding ignores publications: leave out setup's own
			// bookkeeping, which the capture worker never receives.
			if strings.HasPrefix(m[1], "bemi.") {
				continue
			}
			cur = append(cur, m[2]+" "+m[1])
		}
	}

	return txs
}

// repeat returns n copies of s.
func repeat(s string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = s
	}

	return out
}

// concat joins event lists.
func concat(parts ...[]string) []string {
	var out []string
	for _, p := range parts {
		out = append(out, p...)
	}

	return out
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}

	return s[:n] + "..."
}

// catalogSnapshot describes, as sorted lines, every object that setup may
// create or change in the database of conn: replica identities of user
// tables, user triggers, publications and their tables, event triggers,
// non-system schemas, their functions, and the database's replication
// slots.
func catalogSnapshot(t testing.TB, conn *pgx.Conn) []string {
	t.Helper()

	return queryStrings(t, conn, `
SELECT line FROM (
    SELECT format('table %I.%I replica identity %s', n.nspname, c.relname, c.relreplident) AS line
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE c.relkind IN ('r', 'p') AND n.nspname NOT LIKE 'pg\_%' AND n.nspname <> 'information_schema'
    UNION ALL
    SELECT format('trigger %s on %s type %s function %s', g.tgname, g.tgrelid::regclass, g.tgtype, g.tgfoid::regproc)
    FROM pg_trigger g WHERE NOT g.tgisinternal
    UNION ALL
    SELECT format('publication %I all %s insert %s update %s delete %s truncate %s via root %s',
        pubname, puballtables, pubinsert, pubupdate, pubdelete, pubtruncate, pubviaroot)
    FROM pg_publication
    UNION ALL
    SELECT format('publication %I table %s', p.pubname, r.prrelid::regclass)
    FROM pg_publication_rel r JOIN pg_publication p ON p.oid = r.prpubid
    UNION ALL
    SELECT format('event trigger %I on %s tags %s function %s', evtname, evtevent, evttags, evtfoid::regproc)
    FROM pg_event_trigger
    UNION ALL
    SELECT format('schema %I', nspname) FROM pg_namespace
    WHERE nspname NOT LIKE 'pg\_%' AND nspname <> 'information_schema'
    UNION ALL
    SELECT format('function %s security definer %s config %s source md5 %s', p.oid::regprocedure, p.prosecdef, p.proconfig, md5(p.prosrc))
    FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
    WHERE n.nspname NOT LIKE 'pg\_%' AND n.nspname <> 'information_schema'
    UNION ALL
    SELECT format('slot %s plugin %s', slot_name, plugin) FROM pg_replication_slots
    WHERE database = current_database() AND plugin <> 'test_decoding'
) s ORDER BY line`)
}

// discardLogger keeps the encoder's truncation warnings out of test output.
func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }
