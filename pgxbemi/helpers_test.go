package pgxbemi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"testing"
	"time"

	"github.com/bemi-go/bemi/capture"
	"github.com/bemi-go/bemi/capture/setup"
	"github.com/bemi-go/bemi/core"
	"github.com/bemi-go/bemi/core/pgtest"
	"github.com/bemi-go/bemi/pgxbemi/internal/sqlctest"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

func TestMain(m *testing.M) {
	code := pgtest.Run(m)
	stopBench()
	os.Exit(code)
}

// trackedDB is a fresh database with the sqlctest schema and Bemi
// installed on every table. A capture worker streams its changes into the
// changes table until the test ends, and a second slot, with the
// test_decoding plugin, shows the _bemi messages themselves.
type trackedDB struct {
	url    string
	slot   string // the test_decoding slot
	reader *pgx.Conn
}

// newTrackedDB creates a trackedDB for the test.
func newTrackedDB(t testing.TB) *trackedDB {
	t.Helper()
	ctx := context.Background()

	url := pgtest.NewDatabase(t)
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })

	if _, err := conn.Exec(ctx, sqlctest.Schema); err != nil {
		t.Fatalf("create schema: %v", err)
	}
	// Slot names are unique per cluster, and so are database names.
	var database string
	if err := conn.QueryRow(ctx, "SELECT current_database()").Scan(&database); err != nil {
		t.Fatal(err)
	}
	workerSlot := "b" + database
	if _, err := setup.Run(ctx, conn, setup.Config{Slot: workerSlot}); err != nil {
		t.Fatalf("setup: %v", err)
	}
	t.Cleanup(func() { dropSlot(t, conn, workerSlot) })

	d := &trackedDB{url: url, slot: "w" + database, reader: conn}
	if _, err := conn.Exec(ctx, "SELECT pg_create_logical_replication_slot($1, 'test_decoding')", d.slot); err != nil {
		t.Fatalf("create slot: %v", err)
	}
	t.Cleanup(func() { dropSlot(t, conn, d.slot) })

	startWorker(t, url, workerSlot)
	waitFor(t, "the capture worker to create the changes table", func() bool {
		var exists bool
		err := conn.QueryRow(ctx, "SELECT to_regclass('public.changes') IS NOT NULL").Scan(&exists)

		return err == nil && exists
	})

	return d
}

// startWorker runs the capture worker on slot until the test ends.
func startWorker(t testing.TB, url, slot string) {
	t.Helper()

	w, err := capture.New(capture.Config{SourceURL: url, Slot: slot})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("capture worker: %v", err)
		}
	})
}

// dropSlot drops a replication slot, waiting for the worker's replication
// connection to end first.
func dropSlot(t testing.TB, conn *pgx.Conn, slot string) {
	t.Helper()

	var err error
	for range 50 {
		if _, err = conn.Exec(context.Background(), "SELECT pg_drop_replication_slot($1)", slot); err == nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Errorf("drop slot %s: %v", slot, err)
}

// waitFor polls cond for up to 30 seconds.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()

	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after 30 s waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// pool opens a pool on the database, closed when the test ends.
func (d *trackedDB) pool(t testing.TB, configure ...func(*pgxpool.Config)) *pgxpool.Pool {
	t.Helper()

	return openPool(t, d.url, configure...)
}

// openPool opens a pool on url, configured by configure, and closes it when
// the test ends.
func openPool(t testing.TB, url string, configure ...func(*pgxpool.Config)) *pgxpool.Pool {
	t.Helper()

	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range configure {
		f(cfg)
	}
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		t.Fatalf("open pool: %v", err)
	}
	t.Cleanup(pool.Close)

	return pool
}

// conn opens a connection, closed when the test ends.
func (d *trackedDB) conn(t testing.TB, configure ...func(*pgx.ConnConfig)) *pgx.Conn {
	t.Helper()

	cfg, err := pgx.ParseConfig(d.url)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range configure {
		f(cfg)
	}
	conn, err := pgx.ConnectConfig(context.Background(), cfg)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })

	return conn
}

// exec runs administrative SQL on a connection of its own.
func (d *trackedDB) exec(t testing.TB, sql string, args ...any) {
	t.Helper()

	conn := d.conn(t)
	if _, err := conn.Exec(context.Background(), sql, args...); err != nil {
		t.Fatalf("exec %q: %v", sql, err)
	}
}

// change is one row change as the capture worker stored it.
type change struct {
	op      string // CREATE, UPDATE, DELETE or TRUNCATE
	title   string // the todo title of the row (the old row for UPDATE and DELETE)
	context string // the stored context JSON, {} without context
}

// changes waits until the capture worker has stored at least want changes
// and returns all of them in commit order.
func (d *trackedDB) changes(t testing.TB, want int) []change {
	t.Helper()
	ctx := context.Background()

	count := func() int {
		var n int
		if err := d.reader.QueryRow(ctx, "SELECT count(*) FROM changes").Scan(&n); err != nil {
			t.Fatal(err)
		}

		return n
	}
	waitFor(t, fmt.Sprintf("%d stored changes", want), func() bool { return count() >= want })
	// Changes beyond want would arrive in the same flush.
	time.Sleep(50 * time.Millisecond)

	rows, _ := d.reader.Query(ctx, `
		SELECT operation,
			coalesce(CASE WHEN operation = 'CREATE' THEN after ELSE before END ->> 'title', ''),
			context::text
		FROM changes ORDER BY position, ordinal`)
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (change, error) {
		var c change
		err := row.Scan(&c.op, &c.title, &c.context)

		return c, err
	})
	if err != nil {
		t.Fatalf("read changes: %v", err)
	}

	return out
}

var messagePattern = regexp.MustCompile(`^message: transactional: 1 prefix: _bemi, sz: \d+ content:(.*)$`)

// messages consumes the test_decoding slot and returns the payloads of the
// _bemi messages in WAL order.
func (d *trackedDB) messages(t testing.TB) []string {
	t.Helper()

	rows, _ := d.reader.Query(context.Background(),
		"SELECT data FROM pg_logical_slot_get_changes($1, NULL, NULL, 'include-xids', '0')", d.slot)
	lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatalf("read slot: %v", err)
	}

	var out []string
	for _, line := range lines {
		if m := messagePattern.FindStringSubmatch(line); m != nil {
			out = append(out, m[1])
		}
	}

	return out
}

// fields returns the context of the fields as the capture worker stores it,
// for comparison with change.context.
func fields(t testing.TB, f core.Fields) string {
	t.Helper()

	if len(f) == 0 {
		return core.ResetPayload
	}
	p, err := (&core.Encoder{}).Encode(f)
	if err != nil {
		t.Fatal(err)
	}

	return string(core.Sanitize(p))
}

// sameJSON reports whether a and b are equal JSON values.
func sameJSON(t testing.TB, a, b string) bool {
	t.Helper()

	var x, y any
	if err := json.Unmarshal([]byte(a), &x); err != nil {
		t.Fatalf("invalid JSON %q: %v", a, err)
	}
	if err := json.Unmarshal([]byte(b), &y); err != nil {
		t.Fatalf("invalid JSON %q: %v", b, err)
	}
	xa, _ := json.Marshal(x)
	ya, _ := json.Marshal(y)

	return string(xa) == string(ya)
}

// wantChanges waits for the changes that the capture worker stores and
// compares them with the expected operation, title and context, in order.
func (d *trackedDB) wantChanges(t testing.TB, want []change) {
	t.Helper()

	got := d.changes(t, len(want))
	if len(got) != len(want) {
		t.Fatalf("got %d changes, want %d:\ngot  %+v\nwant %+v", len(got), len(want), got, want)
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.op != w.op || g.title != w.title {
			t.Errorf("change %d is %s %q, want %s %q", i, g.op, g.title, w.op, w.title)
		}
		if !sameJSON(t, g.context, w.context) {
			t.Errorf("change %d (%s %q) has context %s, want %s", i, g.op, g.title, g.context, w.context)
		}
	}
}
