package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/bemi-go/bemi/core/pgtest"
)

// binDir holds the bemi binary built once for the package's tests.
var binDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "bemi-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binDir = dir
	code := pgtest.Run(m)
	os.RemoveAll(dir)
	os.Exit(code)
}

var build struct {
	once sync.Once
	path string
	err  error
}

// bemiBinary builds the command into a temporary directory on first use.
func bemiBinary(t *testing.T) string {
	t.Helper()

	build.once.Do(func() {
		goTool := filepath.Join(runtime.GOROOT(), "bin", "go")
		if _, err := os.Stat(goTool); err != nil {
			goTool = "go"
		}
		path := filepath.Join(binDir, "bemi")
		out, err := exec.Command(goTool, "build", "-o", path, ".").CombinedOutput()
		if err != nil {
			build.err = fmt.Errorf("go build: %w\n%s", err, out)

			return
		}
		build.path = path
	})
	if build.err != nil {
		t.Fatal(build.err)
	}

	return build.path
}

// setupSource creates a database with one tracked table, a publication and
// a slot, in plain SQL, and returns its URL and slot name.
func setupSource(t *testing.T) (string, string) {
	t.Helper()

	dbURL := pgtest.NewDatabase(t)
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	slot := strings.TrimPrefix(u.Path, "/")

	c := pgtest.Shared(t)
	err = c.Exec(dbURL, `
CREATE TABLE items (id bigint PRIMARY KEY, v int NOT NULL);
ALTER TABLE items REPLICA IDENTITY FULL;
CREATE PUBLICATION bemi FOR TABLE items WITH (publish_via_partition_root = true);`)
	if err != nil {
		t.Fatal(err)
	}
	// psql -c runs its string as one transaction, and a slot must be
	// created in a transaction without writes.
	if err := c.Exec(dbURL, "SELECT pg_create_logical_replication_slot('"+slot+"', 'pgoutput')"); err != nil {
		t.Fatal(err)
	}

	return dbURL, slot
}

// worker is a bemi capture child process.
type worker struct {
	cmd    *exec.Cmd
	stderr *bytes.Buffer
	done   chan error
}

func startWorker(t *testing.T, dbURL, slot string, extraArgs ...string) *worker {
	t.Helper()

	args := append([]string{"capture", "--slot", slot}, extraArgs...)
	cmd := exec.Command(bemiBinary(t), args...)
	cmd.Env = append(os.Environ(), "DATABASE_URL="+dbURL, "BEMI_DESTINATION_URL=")
	w := &worker{cmd: cmd, stderr: &bytes.Buffer{}, done: make(chan error, 1)}
	cmd.Stderr = &lockedWriter{w: w.stderr}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { w.done <- cmd.Wait() }()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			<-w.done
		}
	})

	return w
}

// wait returns the exit code, or fails the test after timeout.
func (w *worker) wait(t *testing.T, timeout time.Duration) int {
	t.Helper()

	select {
	case err := <-w.done:
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			return exit.ExitCode()
		}
		if err != nil {
			t.Fatal(err)
		}

		return 0
	case <-time.After(timeout):
		t.Fatalf("bemi capture did not exit within %s:\n%s", timeout, w.stderr)

		return -1
	}
}

type lockedWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()

	return l.w.Write(p)
}

func countChanges(t *testing.T, conn *pgx.Conn) int {
	t.Helper()

	var exists bool
	if err := conn.QueryRow(context.Background(), "SELECT to_regclass('public.changes') IS NOT NULL").Scan(&exists); err != nil {
		t.Fatal(err)
	}
	if !exists {
		return 0
	}
	var n int
	if err := conn.QueryRow(context.Background(), "SELECT count(*) FROM changes").Scan(&n); err != nil {
		t.Fatal(err)
	}

	return n
}

func waitCount(t *testing.T, conn *pgx.Conn, want int, timeout time.Duration) {
	t.Helper()

	deadline := time.Now().Add(timeout)
	for {
		n := countChanges(t, conn)
		if n >= want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("changes table holds %d rows after %s, want %d", n, timeout, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func connect(t *testing.T, dbURL string) *pgx.Conn {
	t.Helper()

	conn, err := pgx.Connect(context.Background(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })

	return conn
}

func TestCaptureSIGTERMDrains(t *testing.T) {
	t.Parallel()
	dbURL, slot := setupSource(t)
	conn := connect(t, dbURL)
	w := startWorker(t, dbURL, slot)

	for i := 1; i <= 5; i++ {
		if _, err := conn.Exec(context.Background(), "INSERT INTO items VALUES ($1, 0)", i); err != nil {
			t.Fatal(err)
		}
	}
	waitCount(t, conn, 5, 60*time.Second)

	if err := w.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := w.wait(t, 30*time.Second); code != 0 {
		t.Fatalf("exit code after SIGTERM = %d, want 0:\n%s", code, w.stderr)
	}
	if !strings.Contains(w.stderr.String(), "capture stopped") {
		t.Errorf("no stop logged:\n%s", w.stderr)
	}

	var confirmedBehind bool
	err := conn.QueryRow(context.Background(), `
SELECT s.confirmed_flush_lsn < c.end_lsn
FROM pg_replication_slots s, bemi.checkpoints c
WHERE s.slot_name = $1 AND c.slot = $1`, slot).Scan(&confirmedBehind)
	if err != nil {
		t.Fatal(err)
	}
	if confirmedBehind {
		t.Error("the slot's confirmed position is behind the stored checkpoint after SIGTERM")
	}
}

func TestCaptureMissingSlotFails(t *testing.T) {
	t.Parallel()
	dbURL := pgtest.NewDatabase(t)
	// Trust authentication accepts any password, so the run gets as far as
	// the slot check with a password in the URL.
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	const password = "pw-4471-secret"
	u.User = url.UserPassword(u.User.Username(), password)

	w := startWorker(t, u.String(), "absent_slot")
	if code := w.wait(t, 60*time.Second); code != 1 {
		t.Fatalf("exit code = %d, want 1:\n%s", code, w.stderr)
	}
	out := w.stderr.String()
	for _, want := range []string{`"absent_slot"`, "bemi setup"} {
		if !strings.Contains(out, want) {
			t.Errorf("output does not contain %s:\n%s", want, out)
		}
	}
	if strings.Contains(out, password) {
		t.Errorf("output shows the password:\n%s", out)
	}
}

// TestCaptureSurvivesSIGKILL kills the worker repeatedly under a steady
// write load and checks that every change is stored exactly once.
func TestCaptureSurvivesSIGKILL(t *testing.T) {
	t.Parallel()
	dbURL, slot := setupSource(t)
	conn := connect(t, dbURL)

	load := newLoad(t, dbURL)
	ctx, stopLoad := context.WithCancel(context.Background())
	loadDone := make(chan error, 1)
	go func() { loadDone <- load.run(ctx) }()

	rng := rand.New(rand.NewPCG(1, 2))
	const kills = 6
	for k := 0; k < kills; k++ {
		w := startWorker(t, dbURL, slot)
		time.Sleep(time.Duration(300+rng.IntN(900)) * time.Millisecond)
		if err := w.cmd.Process.Signal(syscall.SIGKILL); err != nil {
			w.wait(t, 10*time.Second)
			t.Fatalf("kill worker %d: %v (exited by itself: %s):\n%s", k, err, w.cmd.ProcessState, w.stderr)
		}
		w.wait(t, 10*time.Second)
		if status, ok := w.cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !status.Signaled() {
			t.Fatalf("worker %d exited by itself before the kill (%s):\n%s", k, w.cmd.ProcessState, w.stderr)
		}
	}

	stopLoad()
	if err := <-loadDone; err != nil {
		t.Fatal(err)
	}
	ledger := load.ledger()
	if len(ledger) < 1000 {
		t.Fatalf("the load wrote only %d changes, want at least 1000 for a meaningful test", len(ledger))
	}

	w := startWorker(t, dbURL, slot)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("last worker's output:\n%s", w.stderr)
		}
	})
	waitCount(t, conn, len(ledger), 120*time.Second)
	if err := w.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := w.wait(t, 30*time.Second); code != 0 {
		t.Fatalf("exit code after SIGTERM = %d, want 0:\n%s", code, w.stderr)
	}

	stored := map[string]int{}
	rows, err := conn.Query(context.Background(), "SELECT primary_key, operation, after->>'v', context->>'txn' FROM changes")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var key, op string
		var v, txn *string
		if err := rows.Scan(&key, &op, &v, &txn); err != nil {
			t.Fatal(err)
		}
		stored[entryKey(key, op, deref(v), deref(txn))]++
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}

	missing, duplicated := 0, 0
	for _, e := range ledger {
		switch n := stored[e]; {
		case n == 0:
			missing++
		case n > 1:
			duplicated++
		}
		delete(stored, e)
	}
	if missing > 0 || duplicated > 0 || len(stored) > 0 {
		t.Errorf("of %d changes: %d missing, %d stored more than once, %d stored but never made", len(ledger), missing, duplicated, len(stored))
	}
	t.Logf("%d changes in %d transactions, %d kills", len(ledger), load.transactions, kills)
}

func deref(s *string) string {
	if s == nil {
		return ""
	}

	return *s
}

func entryKey(key, op, v, txn string) string {
	return strings.Join([]string{key, op, v, txn}, "|")
}

// load writes transactions of several statements, each with its own
// context, and keeps a ledger of the changes that committed.
type load struct {
	t            *testing.T
	conn         *pgx.Conn
	mu           sync.Mutex
	entries      []string
	transactions int
}

func newLoad(t *testing.T, dbURL string) *load {
	return &load{t: t, conn: connect(t, dbURL)}
}

func (l *load) ledger() []string {
	l.mu.Lock()
	defer l.mu.Unlock()

	return append([]string(nil), l.entries...)
}

// run writes until ctx is canceled. Transaction n inserts row 10n, and
// every third also inserts rows 10n+1..10n+5 in one statement, updates row
// 10(n-1) and deletes row 10(n-2)+1 when it exists.
func (l *load) run(ctx context.Context) error {
	for n := 1; ctx.Err() == nil; n++ {
		txn := fmt.Sprint(n)
		stmts := []string{
			fmt.Sprintf(`SELECT pg_logical_emit_message(true, '_bemi', '{"txn":"%s"}')`, txn),
			fmt.Sprintf("INSERT INTO items VALUES (%d, 0)", 10*n),
		}
		entries := []string{entryKey(fmt.Sprint(10*n), "CREATE", "0", txn)}
		if n%3 == 0 {
			stmts = append(stmts, fmt.Sprintf("INSERT INTO items SELECT g, 0 FROM generate_series(%d, %d) g", 10*n+1, 10*n+5))
			for k := 1; k <= 5; k++ {
				entries = append(entries, entryKey(fmt.Sprint(10*n+k), "CREATE", "0", txn))
			}
		}
		if n > 1 {
			// The update runs without context: the reset message keeps it
			// from inheriting the insert's.
			stmts = append(stmts, `SELECT pg_logical_emit_message(true, '_bemi', '{}')`,
				fmt.Sprintf("UPDATE items SET v = %d WHERE id = %d", n, 10*(n-1)))
			entries = append(entries, entryKey(fmt.Sprint(10*(n-1)), "UPDATE", fmt.Sprint(n), ""))
		}
		if n > 2 && (n-2)%3 == 0 {
			stmts = append(stmts, fmt.Sprintf("DELETE FROM items WHERE id = %d", 10*(n-2)+1))
			entries = append(entries, entryKey(fmt.Sprint(10*(n-2)+1), "DELETE", "", ""))
		}

		sql := "BEGIN;" + strings.Join(stmts, ";") + ";COMMIT"
		if _, err := l.conn.Exec(context.Background(), sql); err != nil {
			return fmt.Errorf("load transaction %d: %w", n, err)
		}

		l.mu.Lock()
		l.entries = append(l.entries, entries...)
		l.transactions++
		l.mu.Unlock()

		// A steady rate of at most about 1,000 transactions per second
		// leaves CPU for the worker and the server on a small machine.
		time.Sleep(time.Millisecond)
	}

	return nil
}
