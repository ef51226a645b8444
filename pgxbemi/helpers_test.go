package pgxbemi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"

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

// trackedDB is a fresh database with the sqlctest schema, Bemi's trigger
// installed on every table, and a test_decoding slot that reads the WAL from
// before the test's first write.
type trackedDB struct {
	url  string
	slot string
}

var slotSeq atomic.Int64

// newTrackedDB creates a trackedDB for the test.
func newTrackedDB(t testing.TB) *trackedDB {
	t.Helper()
	ctx := context.Background()

	url := pgtest.NewDatabase(t)
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	defer conn.Close(ctx)

	if _, err := conn.Exec(ctx, sqlctest.Schema); err != nil {
		t.Fatalf("create schema: %v", err)
	}
	if _, err := setup.Run(ctx, conn, setup.Config{SkipSlot: true}); err != nil {
		t.Fatalf("setup: %v", err)
	}

	slot := fmt.Sprintf("pgxbemi_test_%d", slotSeq.Add(1))
	if _, err := conn.Exec(ctx, "SELECT pg_create_logical_replication_slot($1, 'test_decoding')", slot); err != nil {
		t.Fatalf("create slot: %v", err)
	}

	return &trackedDB{url: url, slot: slot}
}

// pool opens a pool on the database, closed when the test ends.
func (d *trackedDB) pool(t testing.TB, configure ...func(*pgxpool.Config)) *pgxpool.Pool {
	t.Helper()

	cfg, err := pgxpool.ParseConfig(d.url)
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

// walChange is one row change read from the slot with the context that the
// WAL assigns it.
type walChange struct {
	xact    int    // ordinal of the change's transaction in the read
	op      string // INSERT, UPDATE, DELETE or TRUNCATE
	title   string // the todo title of the row (the old row for UPDATE)
	context string // the stitched context JSON, {} without context
}

// walLog is what the slot returned since the last read.
type walLog struct {
	changes  []walChange
	messages []string // payloads of the _bemi messages, in WAL order
}

var (
	titlePattern   = regexp.MustCompile(`title\[text\]:'((?:[^']|'')*)'`)
	messagePattern = regexp.MustCompile(`^message: transactional: (\d) prefix: ([^,]*), sz: \d+ content:(.*)$`)
	changePattern  = regexp.MustCompile(`^table [^:]+: (INSERT|UPDATE|DELETE|TRUNCATE):`)
)

// readWAL consumes the slot and stitches each change to its context with
// core.Stitcher, the logic of the capture worker.
func (d *trackedDB) readWAL(t testing.TB) walLog {
	t.Helper()
	ctx := context.Background()

	conn := d.conn(t)
	rows, _ := conn.Query(ctx, "SELECT data FROM pg_logical_slot_get_changes($1, NULL, NULL, 'include-xids', '0')", d.slot)
	lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatalf("read slot: %v", err)
	}

	var log walLog
	var stitcher core.Stitcher
	xact := 0
	for _, line := range lines {
		switch {
		case line == "BEGIN":
			xact++
			stitcher.Begin()
		case line == "COMMIT":
		case strings.HasPrefix(line, "message: "):
			m := messagePattern.FindStringSubmatch(line)
			if m == nil {
				t.Fatalf("unexpected message line %q", line)
			}
			if stitcher.Message(m[2], m[1] == "1", []byte(m[3])) != core.MessageIgnored {
				log.messages = append(log.messages, m[3])
			}
		default:
			m := changePattern.FindStringSubmatch(line)
			if m == nil {
				t.Fatalf("unexpected WAL line %q", line)
			}
			c := walChange{xact: xact, op: m[1], context: string(stitcher.Context())}
			if tm := titlePattern.FindStringSubmatch(line); tm != nil {
				c.title = strings.ReplaceAll(tm[1], "''", "'")
			}
			log.changes = append(log.changes, c)
		}
	}

	return log
}

// fields returns the context of the fields as the capture worker stores it,
// for comparison with walChange.context.
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

// wantChanges compares the changes with the expected operation, title and
// context, in order.
func wantChanges(t testing.TB, got []walChange, want []walChange) {
	t.Helper()

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
