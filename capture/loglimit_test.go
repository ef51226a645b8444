package capture

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"
)

func TestLogLimiterOnePerInterval(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&buf, nil))
	now := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	l := newLogLimiter()
	l.now = func() time.Time { return now }

	for range 5 {
		l.warn(log, "public.t.a", "value does not parse", "column", "a")
	}
	l.warn(log, "public.t.b", "value does not parse", "column", "b")
	now = now.Add(logLimitInterval)
	l.warn(log, "public.t.a", "value does not parse", "column", "a")

	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 3 {
		t.Fatalf("logged %d lines, want 3:\n%s", len(lines), buf.String())
	}
	var last map[string]any
	if err := json.Unmarshal([]byte(lines[2]), &last); err != nil {
		t.Fatal(err)
	}
	if last["column"] != "a" {
		t.Errorf("last line is for column %v, want a", last["column"])
	}
	if last["suppressed"] != float64(4) {
		t.Errorf("suppressed = %v, want 4", last["suppressed"])
	}
	if strings.Contains(lines[0], "suppressed") {
		t.Errorf("first line reports suppressed warnings: %s", lines[0])
	}
}

func TestLogLimiterForgetsKeysWhenFull(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, nil))
	l := newLogLimiter()

	for i := range logLimitKeys + 1 {
		l.warn(log, strings.Repeat("k", i+1), "warning")
	}
	if len(l.keys) > logLimitKeys {
		t.Errorf("remembers %d keys, want at most %d", len(l.keys), logLimitKeys)
	}
	if got := strings.Count(buf.String(), "\n"); got != logLimitKeys+1 {
		t.Errorf("logged %d lines, want %d: one per new key", got, logLimitKeys+1)
	}
}
