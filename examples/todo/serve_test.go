package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bemi-go/bemi/core/pgtest"
)

// lockedBuffer is a bytes.Buffer that the service's logger writes to while
// the test reads it.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()

	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()

	return b.buf.String()
}

var startedURL = regexp.MustCompile(`msg="todo service started" url=(http://127\.0\.0\.1:\d+)`)

// TestServeUntilCanceled runs the serve command on a free port, creates a
// todo over HTTP and stops the command by canceling its context, as SIGTERM
// does.
func TestServeUntilCanceled(t *testing.T) {
	url := pgtest.NewDatabase(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	var stderr lockedBuffer
	exit := make(chan int, 1)
	go func() {
		exit <- run(ctx, []string{"serve", "--database-url", url, "--port", "0", "--slot", "serve_test"}, io.Discard, &stderr)
	}()

	var base string
	deadline := time.Now().Add(time.Minute)
	for base == "" {
		if m := startedURL.FindStringSubmatch(stderr.String()); m != nil {
			base = m[1]
		}
		select {
		case code := <-exit:
			t.Fatalf("serve exited with %d before it started:\n%s", code, stderr.String())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve did not log its start within a minute:\n%s", stderr.String())
		}
	}

	resp, err := http.Post(base+"/todo", "application/json", strings.NewReader(`{"task":"Sleep"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Errorf("POST /todo: status %d, want 201", resp.StatusCode)
	}

	cancel()
	select {
	case code := <-exit:
		if code != 0 {
			t.Errorf("serve exited with %d, want 0:\n%s", code, stderr.String())
		}
	case <-time.After(time.Minute):
		t.Fatal("serve did not stop within a minute of the cancellation")
	}
	for _, want := range []string{"bemi setup", "stopping", "capture stopped"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("log has no %q:\n%s", want, stderr.String())
		}
	}
}

func TestServeMissingDatabaseURL(t *testing.T) {
	t.Setenv("DATABASE_URL", "")

	var stderr bytes.Buffer
	if code := run(context.Background(), []string{"serve"}, io.Discard, &stderr); code != 1 {
		t.Errorf("exit status %d, want 1", code)
	}
	if !strings.Contains(stderr.String(), "missing database URL: set DATABASE_URL or pass --database-url") {
		t.Errorf("stderr = %q, want the missing URL and the fix", stderr.String())
	}
}
