package capture_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pglogrepl"

	"github.com/bemi-go/bemi/capture"
	"github.com/bemi-go/bemi/core/pgtest"
)

func TestWorkerMissingSlot(t *testing.T) {
	t.Parallel()
	url := pgtest.NewDatabase(t)
	w, err := capture.New(capture.Config{SourceURL: url, Slot: "no_such_slot"})
	if err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	err = w.Run(ctx)
	if !errors.Is(err, capture.ErrSlotNotFound) {
		t.Fatalf("Run = %v, want ErrSlotNotFound", err)
	}
	for _, want := range []string{`"no_such_slot"`, "bemi setup"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %s", err, want)
		}
	}
	if ctx.Err() != nil {
		t.Error("Run retried until the deadline instead of failing at once")
	}
}

func TestWorkerStopConfirmsStoredPosition(t *testing.T) {
	t.Parallel()
	s := newSource(t, "CREATE TABLE items (id int PRIMARY KEY)", "items")
	r := s.start(capture.Config{StatusInterval: time.Hour})

	s.tx("INSERT INTO items VALUES (1)")
	s.tx("INSERT INTO items VALUES (2)")
	waitChanges(t, s.url, 2)

	if err := r.stop(); err != nil {
		t.Fatalf("Run after cancel = %v, want nil", err)
	}
	cp, ok := r.worker.Checkpoint()
	if !ok {
		t.Fatal("no checkpoint after storing two transactions")
	}

	var confirmed string
	if err := s.conn.QueryRow(t.Context(), "SELECT confirmed_flush_lsn::text FROM pg_replication_slots WHERE slot_name = $1", s.slot).Scan(&confirmed); err != nil {
		t.Fatal(err)
	}
	lsn, err := pglogrepl.ParseLSN(confirmed)
	if err != nil {
		t.Fatal(err)
	}
	if lsn < cp.EndLSN {
		t.Errorf("slot confirmed %s after stop, want at least the checkpoint %s", lsn, cp.EndLSN)
	}
}

// TestWorkerSkipsStoredTransactions replays a slot whose confirmed position
// is behind the checkpoint, as after a crash between the destination commit
// and the confirmation.
func TestWorkerSkipsStoredTransactions(t *testing.T) {
	t.Parallel()
	s := newSource(t, "CREATE TABLE items (id int PRIMARY KEY)", "items")
	replay := s.slot + "_r"
	s.exec("SELECT pg_copy_logical_replication_slot($1, $2)", s.slot, replay)
	t.Cleanup(func() {
		_, _ = s.conn.Exec(context.Background(), "SELECT pg_drop_replication_slot($1)", replay)
	})

	first := s.start(capture.Config{})
	for i := 1; i <= 3; i++ {
		s.tx(fmt.Sprintf("INSERT INTO items VALUES (%d)", i))
	}
	waitChanges(t, s.url, 3)
	if err := first.stop(); err != nil {
		t.Fatal(err)
	}

	// The copied slot has not confirmed anything: hand it the checkpoint.
	s.exec("UPDATE bemi.checkpoints SET slot = $1 WHERE slot = $2", replay, s.slot)
	s.start(capture.Config{Slot: replay})
	s.tx("INSERT INTO items VALUES (4)")

	got := waitChanges(t, s.url, 4)
	for i, c := range got {
		if want := fmt.Sprint(i + 1); deref(c.PrimaryKey) != want {
			t.Errorf("change %d: key %s, want %s", i, deref(c.PrimaryKey), want)
		}
	}
}

func TestWorkerSourceRestart(t *testing.T) {
	t.Parallel()
	cluster, err := pgtest.Start(pgtest.Options{IgnoreEnv: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cluster.Stop() })
	url, err := cluster.CreateDatabase("restart")
	if err != nil {
		t.Fatal(err)
	}

	s := newSourceAt(t, url, "CREATE TABLE items (id int PRIMARY KEY)", "items")
	r := s.start(capture.Config{ReconnectMinDelay: 50 * time.Millisecond, ReconnectMaxDelay: time.Second})

	for i := 1; i <= 50; i++ {
		s.tx(fmt.Sprintf("INSERT INTO items VALUES (%d)", i))
	}
	if err := cluster.Restart(); err != nil {
		t.Fatal(err)
	}
	s.conn = connect(t, url)
	for i := 51; i <= 100; i++ {
		s.tx(fmt.Sprintf("INSERT INTO items VALUES (%d)", i))
	}

	got := waitChanges(t, url, 100)
	seen := map[string]bool{}
	for _, c := range got {
		seen[deref(c.PrimaryKey)] = true
	}
	if len(seen) != 100 {
		t.Errorf("%d distinct keys, want 100", len(seen))
	}
	if !strings.Contains(r.logs.String(), "reconnecting") {
		t.Errorf("no reconnect logged:\n%s", r.logs.String())
	}
}

// TestWorkerIdleSlotAdvances checks that WAL written for untracked tables
// is released while tracked tables are quiet.
func TestWorkerIdleSlotAdvances(t *testing.T) {
	t.Parallel()
	// A cluster of its own keeps other tests' WAL out of the measurement.
	cluster, err := pgtest.Start(pgtest.Options{IgnoreEnv: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cluster.Stop() })
	url, err := cluster.CreateDatabase("idle")
	if err != nil {
		t.Fatal(err)
	}
	s := newSourceAt(t, url, `
CREATE TABLE items (id int PRIMARY KEY);
CREATE TABLE noise (id serial PRIMARY KEY, body text)`, "items")
	s.start(capture.Config{StatusInterval: 100 * time.Millisecond})

	s.tx("INSERT INTO items VALUES (1)")
	waitChanges(t, url, 1)

	start := s.walPosition()
	for i := 0; i < 200; i++ {
		s.tx("INSERT INTO noise (body) SELECT md5(i::text) FROM generate_series(1, 50) i")
	}
	end := s.walPosition()
	burst := end - start
	// CHECKPOINT logs the running transactions, from which the slot may
	// move its restart position.
	s.exec("CHECKPOINT")

	deadline := time.Now().Add(30 * time.Second)
	for {
		confirmed, retained := s.slotPositions()
		if confirmed >= end && retained < burst {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("slot confirmed %s (burst ended at %s) and retains %d bytes of WAL, want under the burst's %d bytes",
				confirmed, end, retained, burst)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (s *source) walPosition() pglogrepl.LSN {
	s.t.Helper()

	// The insert position, because with synchronous_commit off the write
	// position may lag behind the commits.
	var text string
	if err := s.conn.QueryRow(context.Background(), "SELECT pg_current_wal_insert_lsn()::text").Scan(&text); err != nil {
		s.t.Fatal(err)
	}
	lsn, err := pglogrepl.ParseLSN(text)
	if err != nil {
		s.t.Fatal(err)
	}

	return lsn
}

// slotPositions returns the slot's confirmed position and the WAL it
// retains in bytes.
func (s *source) slotPositions() (pglogrepl.LSN, pglogrepl.LSN) {
	s.t.Helper()

	var confirmed string
	var retained int64
	err := s.conn.QueryRow(context.Background(), `
SELECT confirmed_flush_lsn::text, pg_wal_lsn_diff(pg_current_wal_insert_lsn(), restart_lsn)::bigint
FROM pg_replication_slots WHERE slot_name = $1`, s.slot).Scan(&confirmed, &retained)
	if err != nil {
		s.t.Fatal(err)
	}
	lsn, err := pglogrepl.ParseLSN(confirmed)
	if err != nil {
		s.t.Fatal(err)
	}

	return lsn, pglogrepl.LSN(retained)
}

func TestMigrateConcurrently(t *testing.T) {
	t.Parallel()
	url := pgtest.NewDatabase(t)

	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		conn := connect(t, url)
		wg.Go(func() { errs[i] = capture.Migrate(t.Context(), conn, "public") })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("Migrate %d: %v", i, err)
		}
	}

	conn := connect(t, url)
	var applied, distinct int
	if err := conn.QueryRow(t.Context(), "SELECT count(*), count(DISTINCT version) FROM bemi.migrations").Scan(&applied, &distinct); err != nil {
		t.Fatal(err)
	}
	if applied != distinct || applied == 0 {
		t.Errorf("bemi.migrations holds %d rows for %d versions, want one row per version", applied, distinct)
	}
	if err := capture.Migrate(t.Context(), conn, "public"); err != nil {
		t.Errorf("Migrate on a migrated database: %v", err)
	}
}

func TestWorkerWrongPasswordNotShown(t *testing.T) {
	t.Parallel()
	dir, err := os.MkdirTemp("", "bemi-hba-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	hba := filepath.Join(dir, "pg_hba.conf")
	rules := "local all all trust\nhost all postgres 127.0.0.1/32 trust\nhost all all 127.0.0.1/32 scram-sha-256\n"
	if err := os.WriteFile(hba, []byte(rules), 0o644); err != nil {
		t.Fatal(err)
	}

	cluster, err := pgtest.Start(pgtest.Options{IgnoreEnv: true, Settings: map[string]string{"hba_file": "'" + hba + "'"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cluster.Stop() })
	if err := cluster.Exec(cluster.URL, "CREATE ROLE app LOGIN REPLICATION PASSWORD 'right-password-5521'"); err != nil {
		t.Fatal(err)
	}

	const wrong = "wrong-password-7734"
	source := fmt.Sprintf("postgres://app:%s@127.0.0.1:%d/postgres?sslmode=disable", wrong, cluster.Port)
	logs := &syncBuffer{}
	w, err := capture.New(capture.Config{SourceURL: source}, capture.WithLogger(newTextLogger(logs)))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	err = w.Run(ctx)
	if err == nil {
		t.Fatal("Run with a wrong password returned nil")
	}
	if ctx.Err() != nil {
		t.Error("Run retried a failed authentication until the deadline")
	}
	if strings.Contains(err.Error(), wrong) {
		t.Errorf("error shows the password: %v", err)
	}
	if !strings.Contains(err.Error(), "password") {
		t.Errorf("error %q does not say that authentication failed", err)
	}
	if strings.Contains(logs.String(), wrong) {
		t.Errorf("logs show the password:\n%s", logs.String())
	}
	if !strings.Contains(logs.String(), "app:xxxxx@") {
		t.Errorf("logs do not show the redacted URL:\n%s", logs.String())
	}
}

func TestWorkerInvalidatedSlot(t *testing.T) {
	t.Parallel()
	cluster, err := pgtest.Start(pgtest.Options{IgnoreEnv: true, Settings: map[string]string{
		"max_slot_wal_keep_size": "'1MB'",
		"min_wal_size":           "'32MB'",
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cluster.Stop() })
	url, err := cluster.CreateDatabase("invalidated")
	if err != nil {
		t.Fatal(err)
	}
	s := newSourceAt(t, url, "CREATE TABLE items (id int PRIMARY KEY, body text)", "items")

	// Move the WAL past the slot's limit: the next checkpoint invalidates
	// the slot.
	deadline := time.Now().Add(60 * time.Second)
	for {
		var status string
		if err := s.conn.QueryRow(t.Context(), "SELECT wal_status FROM pg_replication_slots WHERE slot_name = $1", s.slot).Scan(&status); err != nil {
			t.Fatal(err)
		}
		if status == "lost" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("slot wal_status = %s after a minute of WAL switches, want lost", status)
		}
		s.exec("INSERT INTO items SELECT i, md5(i::text) FROM generate_series(1, 1000) i ON CONFLICT (id) DO UPDATE SET body = excluded.body || 'x'")
		s.exec("SELECT pg_switch_wal()")
		s.exec("CHECKPOINT")
	}

	w, err := capture.New(capture.Config{SourceURL: url, Slot: s.slot})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	err = w.Run(ctx)
	if !errors.Is(err, capture.ErrSlotInvalidated) {
		t.Fatalf("Run = %v, want ErrSlotInvalidated", err)
	}
	if !strings.Contains(err.Error(), s.slot) {
		t.Errorf("error %q does not name the slot", err)
	}
}

// TestWorkerAnswersKeepalives runs the worker without periodic status
// updates on a server that drops a replication connection after a second
// without a reply. Only replies to the server's keepalive requests keep the
// connection up.
func TestWorkerAnswersKeepalives(t *testing.T) {
	t.Parallel()
	cluster, err := pgtest.Start(pgtest.Options{IgnoreEnv: true, Settings: map[string]string{"wal_sender_timeout": "'1s'"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cluster.Stop() })
	url, err := cluster.CreateDatabase("keepalive")
	if err != nil {
		t.Fatal(err)
	}
	s := newSourceAt(t, url, "CREATE TABLE items (id int PRIMARY KEY)", "items")
	r := s.start(capture.Config{StatusInterval: time.Hour})

	s.tx("INSERT INTO items VALUES (1)")
	waitChanges(t, url, 1)
	time.Sleep(4 * time.Second)
	s.tx("INSERT INTO items VALUES (2)")
	waitChanges(t, url, 2)

	if strings.Contains(r.logs.String(), "reconnecting") {
		t.Errorf("the server dropped the connection:\n%s", r.logs.String())
	}
}

// countingMetrics counts the worker's events.
type countingMetrics struct {
	mu         sync.Mutex
	changes    int
	flushed    int
	reconnects int
}

func (m *countingMetrics) Change(capture.ChangeEvent) {
	m.mu.Lock()
	m.changes++
	m.mu.Unlock()
}

func (m *countingMetrics) Flush(ev capture.FlushEvent) {
	m.mu.Lock()
	m.flushed += ev.Rows
	m.mu.Unlock()
}

func (m *countingMetrics) Reconnect(capture.ReconnectEvent) {
	m.mu.Lock()
	m.reconnects++
	m.mu.Unlock()
}

func (m *countingMetrics) counts() (int, int) {
	m.mu.Lock()
	defer m.mu.Unlock()

	return m.changes, m.flushed
}

// TestWorkerStopDuringLargeTransaction stops the worker while it copies a
// large transaction, then checks that the next run stores every row once.
func TestWorkerStopDuringLargeTransaction(t *testing.T) {
	t.Parallel()
	s := newSource(t, "CREATE TABLE items (id int PRIMARY KEY)", "items")

	metrics := &countingMetrics{}
	logs := &syncBuffer{}
	w, err := capture.New(capture.Config{SourceURL: s.url, Slot: s.slot, MaxBatchRows: 500},
		capture.WithLogger(newTextLogger(logs)), capture.WithMetrics(metrics))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()

	const rows = 50000
	s.tx("INSERT INTO items SELECT generate_series(1, " + fmt.Sprint(rows) + ")")

	deadline := time.Now().Add(60 * time.Second)
	for changes, _ := metrics.counts(); changes < 1000; changes, _ = metrics.counts() {
		if time.Now().After(deadline) {
			t.Fatalf("worker decoded %d changes in a minute:\n%s", changes, logs)
		}
		time.Sleep(time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run after cancel = %v, want nil:\n%s", err, logs)
	}
	if !strings.Contains(logs.String(), "transaction_in_progress=true") {
		t.Logf("the transaction was complete before the stop:\n%s", logs)
	}
	_, flushed := metrics.counts()
	if flushed != 0 && flushed != rows {
		t.Errorf("flush events report %d rows, want 0 or all %d", flushed, rows)
	}

	s.start(capture.Config{})
	got := waitChanges(t, s.url, rows)
	for i, c := range got {
		if int(c.Ordinal) != i || c.Position != got[0].Position {
			t.Fatalf("change %d: position %d ordinal %d, want one transaction in order", i, c.Position, c.Ordinal)
		}
	}
}

func TestMigrateForeignChangesTable(t *testing.T) {
	t.Parallel()
	url := pgtest.NewDatabase(t)
	conn := connect(t, url)
	if _, err := conn.Exec(t.Context(), "CREATE TABLE changes (id int)"); err != nil {
		t.Fatal(err)
	}

	err := capture.Migrate(t.Context(), conn, "public")
	if err == nil || !strings.Contains(err.Error(), "another destination schema") {
		t.Fatalf("Migrate = %v, want an error that suggests another schema", err)
	}
	if err := capture.Migrate(t.Context(), conn, "audit"); err != nil {
		t.Fatalf("Migrate into another schema: %v", err)
	}
}
