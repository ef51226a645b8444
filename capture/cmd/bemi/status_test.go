package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/bemi-go/bemi/core/pgtest"
	"github.com/jackc/pgx/v5"
)

func TestStatusCommandWithoutSetup(t *testing.T) {
	t.Parallel()
	dbURL := pgtest.NewDatabase(t)

	out, err := runBemi(t, "status", "--database-url", dbURL, "--slot", "none_here")
	if err == nil {
		t.Fatalf("status without setup succeeded:\n%s", out)
	}
	for _, want := range []string{"setup has not run", `"none_here"`, "run bemi setup"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %s", err, want)
		}
	}
}

// A slot without setup's objects is what a teardown that stopped halfway
// leaves: status prints what it found and still fails.
func TestStatusCommandSlotWithoutSetup(t *testing.T) {
	t.Parallel()
	dbURL := pgtest.NewDatabase(t)
	// Slot names are unique per cluster; the database name is unique too.
	var slot string
	conn, err := pgx.Connect(t.Context(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(t.Context())
	if err := conn.QueryRow(t.Context(), "SELECT left('orphan_' || current_database(), 63)").Scan(&slot); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(t.Context(), "SELECT pg_create_logical_replication_slot($1, 'pgoutput')", slot); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_, _ = conn.Exec(context.Background(), "SELECT pg_drop_replication_slot($1)", slot)
	})

	out, err := runBemi(t, "status", "--database-url", dbURL, "--slot", slot)
	if err == nil {
		t.Fatalf("status with a slot but no setup succeeded:\n%s", out)
	}
	if !strings.Contains(err.Error(), "run bemi setup") {
		t.Errorf("error %q does not say to run bemi setup", err)
	}
	if !strings.Contains(out, "Setup:") || !strings.Contains(out, "not found") {
		t.Errorf("output does not show that setup was not found:\n%s", out)
	}
}

// Without --slot and --publication, status and capture use the names that
// bemi setup stored in the source database.
func TestStatusCommandUsesInstalledNames(t *testing.T) {
	t.Parallel()
	dbURL := pgtest.NewDatabase(t)
	conn, err := pgx.Connect(t.Context(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(t.Context())
	var slot string
	if err := conn.QueryRow(t.Context(), "SELECT left('named_' || current_database(), 63)").Scan(&slot); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(t.Context(), "CREATE TABLE items (id int PRIMARY KEY)"); err != nil {
		t.Fatal(err)
	}

	if out, err := runBemi(t, "setup", "--database-url", dbURL, "--slot", slot, "--publication", "audit_pub"); err != nil {
		t.Fatalf("setup: %v\n%s", err, out)
	}
	t.Cleanup(func() { _, _ = runBemi(t, "teardown", "--database-url", dbURL) })

	out, err := runBemi(t, "status", "--database-url", dbURL, "--json")
	if err != nil {
		t.Fatalf("status without --slot: %v\n%s", err, out)
	}
	var st statusJSON
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatalf("decode status: %v\n%s", err, out)
	}
	if st.Slot.Name != slot || !st.Slot.Found {
		t.Errorf("slot = %+v, want %s, found", st.Slot, slot)
	}
	if st.Publication.Name != "audit_pub" {
		t.Errorf("publication = %q, want audit_pub", st.Publication.Name)
	}
}

func TestWorkerConfigFromEnvironment(t *testing.T) {
	t.Setenv("DATABASE_URL", "postgres://source/app")
	t.Setenv("BEMI_DESTINATION_URL", "postgres://dest/audit")

	cmd := newStatusCommand()
	cmd.Flags().String("database-url", "", "")
	if err := cmd.ParseFlags([]string{"--slot", "s1"}); err != nil {
		t.Fatal(err)
	}
	cfg, err := workerConfig(cmd)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.SourceURL != "postgres://source/app" || cfg.DestinationURL != "postgres://dest/audit" || cfg.Slot != "s1" {
		t.Errorf("config = %+v, want the URLs from the environment and slot s1", cfg)
	}

	if err := cmd.ParseFlags([]string{"--destination-url", "postgres://flag/x"}); err != nil {
		t.Fatal(err)
	}
	if cfg, _ := workerConfig(cmd); cfg.DestinationURL != "postgres://flag/x" {
		t.Errorf("destination = %q, want the flag to win over the environment", cfg.DestinationURL)
	}
}

// TestStatusCommandWithRunningWorker runs bemi capture as a child with the
// destination in another database from BEMI_DESTINATION_URL and its
// metrics endpoint on, then reads bemi status as text and JSON.
func TestStatusCommandWithRunningWorker(t *testing.T) {
	t.Parallel()
	source, slot := newSourceDatabase(t)
	dest := pgtest.NewDatabase(t)
	if out, err := runBemi(t, "setup", "--database-url", source, "--slot", slot); err != nil {
		t.Fatalf("setup: %v\n%s", err, out)
	}

	cmd := exec.Command(bemiBinary(t), "capture", "--slot", slot, "--listen", "127.0.0.1:0")
	cmd.Env = append(os.Environ(), "DATABASE_URL="+source, "BEMI_DESTINATION_URL="+dest)
	stderr := &lockedWriter{w: &bytes.Buffer{}}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("bemi capture output:\n%s", stderr.String())
		}
	})

	writer := connect(t, source)
	if _, err := writer.Exec(context.Background(), `INSERT INTO todos VALUES (1, 'a'), (2, 'b') /*Bemi {"userId":7} Bemi*/`); err != nil {
		t.Fatal(err)
	}
	destConn := connect(t, dest)
	waitCount(t, destConn, 2, 60*time.Second)

	var commitLSN string
	if err := destConn.QueryRow(context.Background(), "SELECT commit_lsn::text FROM bemi.checkpoints WHERE slot = $1", slot).Scan(&commitLSN); err != nil {
		t.Fatal(err)
	}

	text, err := runBemi(t, "status", "--database-url", source, "--destination-url", dest, "--slot", slot)
	t.Logf("status output:\n%s", text)
	if err != nil {
		t.Fatalf("status: %v\n%s", err, text)
	}
	for _, want := range []string{
		"Slot:", "active (pid ", "wal_status reserved", "plugin pgoutput",
		"Confirmed flush LSN:", "Current WAL LSN:", "Lag:", "WAL retained:", "unlimited",
		"Last checkpoint:", "LSN " + commitLSN, "Since last change:", "No problems found.",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("status output does not contain %q:\n%s", want, text)
		}
	}
	checkAligned(t, text)

	out, err := runBemi(t, "status", "--json", "--database-url", source, "--destination-url", dest, "--slot", slot)
	if err != nil {
		t.Fatalf("status --json: %v\n%s", err, out)
	}
	var st statusJSON
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatalf("status --json is not JSON: %v\n%s", err, out)
	}
	if !st.SetupFound || !st.Slot.Found || !st.Slot.Active || st.Slot.Plugin != "pgoutput" {
		t.Errorf("slot = %+v, setup found %v, want an active pgoutput slot after setup", st.Slot, st.SetupFound)
	}
	if st.Checkpoint == nil || st.Checkpoint.CommitLSN != commitLSN {
		t.Errorf("checkpoint = %+v, want commit_lsn %s", st.Checkpoint, commitLSN)
	}
	if st.SecondsSinceLastChange == nil || *st.SecondsSinceLastChange > 60 {
		t.Errorf("seconds_since_last_change = %v, want a recent change", st.SecondsSinceLastChange)
	}
	if len(st.Problems) != 0 || !st.ChangesTableFound || st.Publication.Tables == 0 {
		t.Errorf("problems %q, changes table found %v, %d published tables", st.Problems, st.ChangesTableFound, st.Publication.Tables)
	}

	// The metrics endpoint of the child.
	addr := regexp.MustCompile(`msg="serving metrics and health checks" addr=(127\.0\.0\.1:\d+)`).FindStringSubmatch(stderr.String())
	if addr == nil {
		t.Fatalf("no listen address logged:\n%s", stderr.String())
	}
	metrics := httpGet(t, "http://"+addr[1]+"/metrics")
	for _, want := range []string{`bemi_capture_changes_total{operation="CREATE"} 2`, "bemi_capture_connected 1", "process_resident_memory_bytes", "go_goroutines"} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics does not contain %q", want)
		}
	}
	if body := httpGet(t, "http://"+addr[1]+"/readyz"); !strings.Contains(body, "ready") {
		t.Errorf("/readyz = %q, want ready", body)
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("bemi capture after SIGTERM: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("bemi capture did not stop within 30s of SIGTERM")
	}
}

// checkAligned checks that every "Label:  value" line before the problem
// list starts its value in the same column.
func checkAligned(t *testing.T, text string) {
	t.Helper()

	column := -1
	for _, line := range strings.Split(text, "\n") {
		if line == "" {
			break
		}
		i := strings.Index(line, ":  ")
		if i < 0 {
			t.Errorf("line %q has no label", line)

			continue
		}
		start := i + 1 + len(line[i+1:]) - len(strings.TrimLeft(line[i+1:], " "))
		if column < 0 {
			column = start
		}
		if start != column {
			t.Errorf("line %q starts its value at column %d, want %d", line, start, column)
		}
	}
}

func httpGet(t *testing.T, u string) string {
	t.Helper()

	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}

	return string(body)
}

func (l *lockedWriter) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()

	return l.w.String()
}
