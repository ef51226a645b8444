package history_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
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
	"github.com/bemi-go/bemi/capture/convert"
	"github.com/bemi-go/bemi/capture/history"
	"github.com/bemi-go/bemi/capture/setup"
	"github.com/bemi-go/bemi/core/pgtest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Run(m)) }

// markerTable is a tracked table that waitSynced writes to.
const markerTable = `CREATE TABLE marker (id bigserial PRIMARY KEY)`

// source is a tracked test database with a running capture worker whose
// destination is the same database.
type source struct {
	t      *testing.T
	url    string
	slot   string
	conn   *pgx.Conn
	reader *history.Reader
	logs   *syncBuffer
}

// newSource creates a database, runs schema (which should create the marker
// table), installs tracking with the setup package and starts a worker.
func newSource(t *testing.T, schema string, rules map[string]capture.ColumnRule) *source {
	t.Helper()

	dbURL := pgtest.NewDatabase(t)
	s := &source{t: t, url: dbURL, slot: slotName(t, dbURL), logs: &syncBuffer{}}
	s.conn = connect(t, dbURL)
	s.exec(schema)

	if _, err := setup.Run(t.Context(), s.conn, setup.Config{Slot: s.slot}); err != nil {
		t.Fatalf("setup: %v", err)
	}
	s.startWorker(rules)
	s.reader = history.NewReader(connect(t, dbURL), history.Config{})
	s.waitSynced() // the worker has created the changes table

	return s
}

func (s *source) startWorker(rules map[string]capture.ColumnRule) {
	s.t.Helper()

	w, err := capture.New(capture.Config{
		SourceURL:      s.url,
		Slot:           s.slot,
		StatusInterval: 200 * time.Millisecond,
		Columns:        rules,
	}, capture.WithLogger(slog.New(slog.NewTextHandler(s.logs, nil))))
	if err != nil {
		s.t.Fatalf("new worker: %v", err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	s.t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				s.t.Errorf("worker: %v", err)
			}
		case <-time.After(60 * time.Second):
			s.t.Errorf("worker did not stop within 60s")
		}
		if s.t.Failed() {
			s.t.Logf("worker logs:\n%s", s.logs.String())
		}
	})
}

// slotName derives a slot name from the database name, because slot names
// are unique per cluster.
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

// connect opens a connection with the session settings that the capture
// worker pins, so to_jsonb prints values as the worker converts them.
func connect(t testing.TB, dbURL string) *pgx.Conn {
	t.Helper()

	cfg, err := pgx.ParseConfig(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range convert.SessionSettings() {
		cfg.RuntimeParams[k] = v
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.ConnectConfig(ctx, cfg)
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

// txWith runs statements in one transaction whose changes carry context.
func (s *source) txWith(context string, statements ...string) {
	s.t.Helper()

	ctx := s.t.Context()
	err := pgx.BeginFunc(ctx, s.conn, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SELECT set_config('bemi.context', $1, true)", context); err != nil {
			return err
		}
		for _, st := range statements {
			if _, err := tx.Exec(ctx, st); err != nil {
				return errors.Join(errors.New(st), err)
			}
		}

		return nil
	})
	if err != nil {
		s.t.Fatalf("transaction: %v", err)
	}
}

// waitSynced writes a marker row and waits until the worker stored its
// change, so every transaction committed before it is stored too.
func (s *source) waitSynced() {
	s.t.Helper()

	var id int64
	if err := s.conn.QueryRow(s.t.Context(), "INSERT INTO marker DEFAULT VALUES RETURNING id").Scan(&id); err != nil {
		s.t.Fatal(err)
	}
	key := strings.TrimSpace(jsonText(id))
	deadline := time.Now().Add(60 * time.Second)
	for {
		var n int
		err := s.conn.QueryRow(s.t.Context(), `SELECT count(*) FROM changes WHERE "table" = 'marker' AND primary_key = $1`, key).Scan(&n)
		if err != nil && !strings.Contains(err.Error(), "does not exist") {
			s.t.Fatal(err)
		}
		if n > 0 {
			return
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("the worker did not store marker %d within 60s", id)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// tableState returns a table's rows as to_jsonb gives them, keyed by the
// primary_key text that keyExpr computes.
func (s *source) tableState(table, keyExpr string) map[string]json.RawMessage {
	s.t.Helper()

	rows, err := s.conn.Query(s.t.Context(), "SELECT "+keyExpr+", to_jsonb(t)::text FROM "+table+" AS t")
	if err != nil {
		s.t.Fatal(err)
	}
	out := make(map[string]json.RawMessage)
	for rows.Next() {
		var k, row string
		if err := rows.Scan(&k, &row); err != nil {
			s.t.Fatal(err)
		}
		out[k] = json.RawMessage(row)
	}
	if err := rows.Err(); err != nil {
		s.t.Fatal(err)
	}

	return out
}

// sameJSON compares two JSON documents as jsonb values, in PostgreSQL.
func (s *source) sameJSON(a, b json.RawMessage) bool {
	s.t.Helper()

	var same bool
	if err := s.conn.QueryRow(s.t.Context(), "SELECT $1::text::jsonb = $2::text::jsonb", string(a), string(b)).Scan(&same); err != nil {
		s.t.Fatalf("compare %s and %s: %v", a, b, err)
	}

	return same
}

// sameRows compares two tables of rows keyed by primary key, in PostgreSQL.
func (s *source) sameRows(a, b map[string]json.RawMessage) bool {
	s.t.Helper()

	return s.sameJSON(mustJSON(s.t, a), mustJSON(s.t, b))
}

func mustJSON(t testing.TB, v any) json.RawMessage {
	t.Helper()

	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}

	return b
}

func jsonText(v any) string {
	b, _ := json.Marshal(v)

	return string(b)
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

var _ io.Writer = (*syncBuffer)(nil)
