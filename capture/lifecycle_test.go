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
	s := newSource(t, `
CREATE TABLE items (id int PRIMARY KEY);
CREATE TABLE noise (id serial PRIMARY KEY, body text)`, "items")
	s.start(capture.Config{StatusInterval: 100 * time.Millisecond})

	s.tx("INSERT INTO items VALUES (1)")
	waitChanges(t, s.url, 1)

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

	var text string
	if err := s.conn.QueryRow(context.Background(), "SELECT pg_current_wal_lsn()::text").Scan(&text); err != nil {
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
SELECT confirmed_flush_lsn::text, pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)::bigint
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
