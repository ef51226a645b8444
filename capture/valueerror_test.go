package capture_test

import (
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/bemi-go/bemi/capture"
	"github.com/bemi-go/bemi/core/pgtest"
)

// valueErrorLog records the worker's value error events.
type valueErrorLog struct {
	eventLog

	mu     sync.Mutex
	values []capture.ValueErrorEvent
}

func (m *valueErrorLog) ValueError(ev capture.ValueErrorEvent) {
	m.mu.Lock()
	m.values = append(m.values, ev)
	m.mu.Unlock()
}

func (m *valueErrorLog) valueErrors() []capture.ValueErrorEvent {
	m.mu.Lock()
	defer m.mu.Unlock()

	return append([]capture.ValueErrorEvent(nil), m.values...)
}

// In a SQL_ASCII database, text may hold bytes that are not UTF-8. The
// worker stores each value with U+FFFD, counts every such value and logs
// one warning per column and minute, without the value.
func TestWorkerValueErrorsLimitedWarnings(t *testing.T) {
	t.Parallel()

	cluster := pgtest.Shared(t)
	name := "valueerrors_" + strings.ToLower(strings.ReplaceAll(t.Name(), "/", "_"))
	if err := cluster.Exec(cluster.DatabaseURL("postgres"),
		fmt.Sprintf("CREATE DATABASE %s ENCODING 'SQL_ASCII' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0", name)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cluster.DropDatabase(name) })

	s := newSourceAt(t, cluster.DatabaseURL(name), "CREATE TABLE notes (id int PRIMARY KEY, body text)", "notes")
	// The changes table lives in a UTF8 database: PostgreSQL converts
	// nothing between UTF8 and SQL_ASCII.
	dest := pgtest.NewDatabase(t)
	events := &valueErrorLog{}
	r := s.start(capture.Config{DestinationURL: dest}, capture.WithMetrics(events))

	const rows = 5
	for i := 1; i <= rows; i++ {
		s.tx(fmt.Sprintf(`INSERT INTO notes VALUES (%d, E'secret\xff%d')`, i, i))
	}

	got := waitChanges(t, dest, rows)
	for i, c := range got {
		want := fmt.Sprintf("secret\uFFFD%d", i+1)
		if body := text(c.After["body"]); body != want {
			t.Errorf("change %d: body %q, want %q", i, body, want)
		}
	}

	values := events.valueErrors()
	if len(values) != rows {
		t.Fatalf("%d value error events, want %d", len(values), rows)
	}
	for i, ev := range values {
		if ev != (capture.ValueErrorEvent{Schema: "public", Table: "notes", Column: "body"}) {
			t.Errorf("value error event %d = %+v, want public.notes.body", i, ev)
		}
	}

	logs := r.logs.String()
	if n := strings.Count(logs, "value does not parse as its type"); n != 1 {
		t.Errorf("%d warnings about values, want 1 for the column:\n%.3000s", n, logs)
	}
	if strings.Contains(logs, "secret") {
		t.Errorf("the logs quote a value:\n%.3000s", logs)
	}
}
