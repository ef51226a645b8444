package capture_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/bemi-go/bemi/capture"
	"github.com/bemi-go/bemi/core/pgtest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Run(m)) }

// source is a test database with tracked tables, a publication and a slot,
// set up with the same SQL that bemi setup uses for them.
type source struct {
	t    *testing.T
	url  string
	slot string
	conn *pgx.Conn
}

// newSource creates a database, runs schema, and publishes tables with
// REPLICA IDENTITY FULL through publication and slot "bemi".
func newSource(t *testing.T, schema string, tables ...string) *source {
	t.Helper()

	return newSourceAt(t, pgtest.NewDatabase(t), schema, tables...)
}

func newSourceAt(t *testing.T, url, schema string, tables ...string) *source {
	t.Helper()

	s := &source{t: t, url: url, slot: slotName(t, url), conn: connect(t, url)}
	if schema != "" {
		s.exec(schema)
	}
	for _, table := range tables {
		s.exec("ALTER TABLE " + table + " REPLICA IDENTITY FULL")
	}
	s.exec("CREATE PUBLICATION bemi FOR TABLE " + strings.Join(tables, ", ") + " WITH (publish_via_partition_root = true)")
	s.exec("SELECT pg_create_logical_replication_slot($1, 'pgoutput')", s.slot)

	return s
}

// slotName derives a slot name from the database name, because slot names
// are unique per cluster and every test has its own database.
func slotName(t testing.TB, dbURL string) string {
	t.Helper()

	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	name := strings.TrimPrefix(u.Path, "/")
	if len(name) > 63 {
		name = name[len(name)-63:]
	}

	return name
}

func connect(t testing.TB, url string) *pgx.Conn {
	t.Helper()

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })

	return conn
}

func (s *source) exec(sql string, args ...any) {
	s.t.Helper()

	if _, err := s.conn.Exec(context.Background(), sql, args...); err != nil {
		s.t.Fatalf("exec %q: %v", sql, err)
	}
}

// tx runs statements in one transaction through the simple protocol, as a
// trigger-emitted message and its statement would run.
func (s *source) tx(statements ...string) {
	s.t.Helper()

	sql := "BEGIN;\n" + strings.Join(statements, ";\n") + ";\nCOMMIT"
	if _, err := s.conn.Exec(context.Background(), sql); err != nil {
		s.t.Fatalf("exec %q: %v", sql, err)
	}
}

// emit returns the statement that emits a context message, as the trigger
// does before a statement.
func emit(payload string) string {
	return "SELECT pg_logical_emit_message(true, '_bemi', '" + strings.ReplaceAll(payload, "'", "''") + "')"
}

// running is a worker started by start.
type running struct {
	worker *capture.Worker
	cancel context.CancelFunc
	done   chan error
	logs   *syncBuffer
}

// start runs a worker on cfg (SourceURL defaults to s.url) with opts until
// the test ends or stop is called.
func (s *source) start(cfg capture.Config, opts ...capture.Option) *running {
	s.t.Helper()

	if cfg.SourceURL == "" {
		cfg.SourceURL = s.url
	}
	if cfg.Slot == "" {
		cfg.Slot = s.slot
	}
	if cfg.StatusInterval == 0 {
		cfg.StatusInterval = 200 * time.Millisecond
	}
	logs := &syncBuffer{}
	w, err := capture.New(cfg, append([]capture.Option{capture.WithLogger(newTextLogger(logs))}, opts...)...)
	if err != nil {
		s.t.Fatalf("new worker: %v", err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	r := &running{worker: w, cancel: cancel, done: make(chan error, 1), logs: logs}
	go func() { r.done <- w.Run(ctx) }()
	s.t.Cleanup(func() {
		if err := r.stop(); err != nil {
			s.t.Errorf("worker: %v", err)
		}
		if s.t.Failed() {
			s.t.Logf("worker logs:\n%s", logs.String())
		}
	})

	return r
}

// stop cancels the worker and returns Run's result.
func (r *running) stop() error {
	r.cancel()
	select {
	case err, ok := <-r.done:
		if !ok {
			return nil
		}
		close(r.done)

		return err
	case <-time.After(60 * time.Second):
		return errors.New("worker did not stop within 60s")
	}
}

// change is one row of the changes table, with jsonb columns as text.
type change struct {
	Database, Schema, Table string
	PrimaryKey              *string
	Operation               string
	Before, After, Context  map[string]any
	Position                int64
	Ordinal                 int32
	TransactionID           int64
}

// waitChanges polls the changes table at dbURL until it holds n rows, and
// returns them in position and ordinal order. It fails the test when more
// rows appear or n are not there within the timeout.
func waitChanges(t testing.TB, dbURL string, n int) []change {
	t.Helper()

	return waitChangesIn(t, dbURL, "public", n, 60*time.Second)
}

func waitChangesIn(t testing.TB, dbURL, schema string, n int, timeout time.Duration) []change {
	t.Helper()

	conn := connect(t, dbURL)
	deadline := time.Now().Add(timeout)
	count := 0
	for {
		var exists bool
		err := conn.QueryRow(context.Background(), "SELECT to_regclass($1) IS NOT NULL", schema+".changes").Scan(&exists)
		if err != nil {
			t.Fatal(err)
		}
		if exists {
			if err := conn.QueryRow(context.Background(), "SELECT count(*) FROM "+pgx.Identifier{schema, "changes"}.Sanitize()).Scan(&count); err != nil {
				t.Fatal(err)
			}
		}
		if count >= n {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("changes table holds %d rows after %s, want %d", count, timeout, n)
		}
		time.Sleep(20 * time.Millisecond)
	}

	// Rows arrive in whole transactions; give a wrong extra row a moment to
	// show up before the count is checked.
	time.Sleep(100 * time.Millisecond)

	return readChanges(t, conn, schema, n)
}

func readChanges(t testing.TB, conn *pgx.Conn, schema string, want int) []change {
	t.Helper()

	rows, err := conn.Query(context.Background(), `
SELECT database, schema, "table", primary_key, operation, before::text, after::text, context::text, position, ordinal, transaction_id
FROM `+pgx.Identifier{schema, "changes"}.Sanitize()+` ORDER BY position, ordinal`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()

	var out []change
	for rows.Next() {
		var c change
		var before, after, ctx string
		if err := rows.Scan(&c.Database, &c.Schema, &c.Table, &c.PrimaryKey, &c.Operation, &before, &after, &ctx, &c.Position, &c.Ordinal, &c.TransactionID); err != nil {
			t.Fatal(err)
		}
		c.Before, c.After, c.Context = decodeObject(t, before), decodeObject(t, after), decodeObject(t, ctx)
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if len(out) != want {
		t.Fatalf("changes table holds %d rows, want exactly %d: %+v", len(out), want, out)
	}

	return out
}

func decodeObject(t testing.TB, s string) map[string]any {
	t.Helper()

	var m map[string]any
	d := json.NewDecoder(strings.NewReader(s))
	d.UseNumber()
	if err := d.Decode(&m); err != nil {
		t.Fatalf("decode %q: %v", s, err)
	}

	return m
}

// text returns a JSON value as text, whether convert stored it as a string
// or a number, so tests do not depend on the type conversion.
func text(v any) string {
	switch v := v.(type) {
	case nil:
		return "<nil>"
	case string:
		return v
	default:
		return fmt.Sprint(v)
	}
}

func deref(s *string) string {
	if s == nil {
		return "<nil>"
	}

	return *s
}

func newTextLogger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// syncBuffer is a bytes.Buffer safe for concurrent writes, for log output.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()

	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()

	return b.buf.String()
}
