package capture

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5/pgconn"
)

func TestRedactURL(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"url with password", "postgres://app:s3cret@db:5432/app?sslmode=disable", "postgres://app:xxxxx@db:5432/app?sslmode=disable"},
		{"url without password", "postgres://app@db/app", "postgres://app@db/app"},
		{"password parameter", "postgres://db/app?password=s3cret&user=app", "postgres://db/app?password=xxxxx&user=app"},
		{"keyword form", "host=db user=app password=s3cret dbname=app", "host=db user=app password=xxxxx dbname=app"},
		{"quoted keyword form", "host=db password='s3 cret' dbname=app", "host=db password=xxxxx dbname=app"},
		{"invalid url", "postgres://app:s3cret@db:badport/app", "(invalid URL)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := RedactURL(tt.in)
			if got != tt.want {
				t.Errorf("RedactURL(%q) = %q, want %q", tt.in, got, tt.want)
			}
			if strings.Contains(got, "s3") {
				t.Errorf("RedactURL(%q) = %q still shows the password", tt.in, got)
			}
		})
	}
}

func TestScrubErrorKeepsChain(t *testing.T) {
	base := io.ErrUnexpectedEOF
	err := scrubError(fmt.Errorf("connect to postgres://app:s3cret@db/app: %w", base), "postgres://app:s3cret@db/app")
	if strings.Contains(err.Error(), "s3cret") {
		t.Errorf("scrubbed error = %q, still shows the password", err)
	}
	if !errors.Is(err, base) {
		t.Error("scrubbed error lost its wrapped error")
	}
}

func TestBackoffGrowsToMax(t *testing.T) {
	minDelay, maxDelay := 100*time.Millisecond, 2*time.Second
	prev := time.Duration(0)
	for n := 1; n <= 10; n++ {
		d := backoff(n, minDelay, maxDelay)
		if d > maxDelay || d < minDelay*8/10 {
			t.Fatalf("backoff(%d) = %s, want within [%s, %s]", n, d, minDelay*8/10, maxDelay)
		}
		if n <= 4 && d <= prev*8/10 {
			t.Errorf("backoff(%d) = %s did not grow from %s", n, d, prev)
		}
		prev = d
	}
	if d := backoff(20, minDelay, maxDelay); d < maxDelay*8/10 {
		t.Errorf("backoff(20) = %s, want near the max %s", d, maxDelay)
	}
}

func TestRetryable(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"server shutdown", &pgconn.PgError{Code: "57P01"}, true},
		{"server starting", fmt.Errorf("connect: %w", &pgconn.PgError{Code: "57P03"}), true},
		{"slot in use", &pgconn.PgError{Code: "55006"}, true},
		{"connection failure", &pgconn.PgError{Code: "08006"}, true},
		{"lost connection", fmt.Errorf("receive: %w", io.ErrUnexpectedEOF), true},
		{"wrong password", &pgconn.PgError{Code: "28P01"}, false},
		{"missing database", &pgconn.PgError{Code: "3D000"}, false},
		{"unique violation", &pgconn.PgError{Code: "23505"}, false},
		{"missing slot", &SlotError{Err: ErrSlotNotFound}, false},
		{"decode error", errors.New("decode: bad tuple"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := retryable(tt.err); got != tt.want {
				t.Errorf("retryable(%v) = %v, want %v", tt.err, got, tt.want)
			}
		})
	}
}

func TestConfigDefaults(t *testing.T) {
	cfg, err := Config{SourceURL: "postgres://db/app"}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.DestinationURL != cfg.SourceURL {
		t.Errorf("DestinationURL = %q, want the source URL", cfg.DestinationURL)
	}
	if cfg.Slot != DefaultSlot || cfg.Publication != DefaultPublication || cfg.DestinationSchema != DefaultDestinationSchema {
		t.Errorf("names = %q %q %q, want the defaults", cfg.Slot, cfg.Publication, cfg.DestinationSchema)
	}
	if cfg.MaxBatchRows != DefaultMaxBatchRows || cfg.FlushInterval != DefaultFlushInterval {
		t.Errorf("batching = %d rows, %s, want the defaults", cfg.MaxBatchRows, cfg.FlushInterval)
	}
}

func TestConfigRejectsInvalid(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"missing source", Config{}, "missing source database URL"},
		{"slot with quote", Config{SourceURL: "x", Slot: "a'b"}, "invalid slot name"},
		{"rule without schema", Config{SourceURL: "x", Columns: map[string]ColumnRule{"users": {}}}, "schema.table"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(tt.cfg)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("New = %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

// The server also skips transactions below the requested start position, so
// the worker's own check is tested here on its own.
func TestSessionSkipsStoredTransactions(t *testing.T) {
	s := &session{checkpoint: 0x2000, log: discardLogger()}

	tests := []struct {
		final pglogrepl.LSN
		skip  bool
	}{
		{0x1000, true},
		{0x2000, true},
		{0x2001, false},
	}
	for _, tt := range tests {
		s.begin(&pglogrepl.BeginMessage{FinalLSN: tt.final, Xid: 7})
		if s.txn.skip != tt.skip {
			t.Errorf("transaction committed at %s: skip = %v, want %v", tt.final, s.txn.skip, tt.skip)
		}
	}
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

func TestRunInvalidURLHidesPassword(t *testing.T) {
	urls := []string{
		"postgres://app:pw-9931-secret@127.0.0.1:badport/app",
		"host=127.0.0.1 port=badport user=app password=pw-9931-secret",
	}
	for _, url := range urls {
		logs := &strings.Builder{}
		w, err := New(Config{SourceURL: url}, WithLogger(slog.New(slog.NewTextHandler(logs, nil))))
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		err = w.Run(ctx)
		cancel()
		if err == nil {
			t.Fatalf("Run(%s) = nil, want an error", RedactURL(url))
		}
		if strings.Contains(err.Error(), "pw-9931") {
			t.Errorf("error shows the password: %v", err)
		}
		if strings.Contains(logs.String(), "pw-9931") {
			t.Errorf("logs show the password:\n%s", logs)
		}
	}
}
