package capture_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/bemi-go/bemi/capture"
	"github.com/bemi-go/bemi/capture/setup"
	"github.com/bemi-go/bemi/core/pgtest"
)

func TestStatusWithoutSetup(t *testing.T) {
	t.Parallel()
	url := pgtest.NewDatabase(t)
	w, err := capture.New(capture.Config{SourceURL: url, Slot: "status_none"})
	if err != nil {
		t.Fatal(err)
	}

	_, err = w.Status(t.Context())
	if !errors.Is(err, capture.ErrSetupNotFound) {
		t.Fatalf("Status = %v, want ErrSetupNotFound", err)
	}
	if !strings.Contains(err.Error(), "run bemi setup") {
		t.Errorf("error %q does not name the fix", err)
	}
}

func TestStatusReportsSlotTablesAndCheckpoint(t *testing.T) {
	t.Parallel()
	url := pgtest.NewDatabase(t)
	conn := connect(t, url)
	slot := slotName(t, url)
	s := &source{t: t, url: url, slot: slot, conn: conn}
	s.exec(`
CREATE TABLE items (id int PRIMARY KEY, name text);
CREATE TABLE events (at timestamptz, body text);
CREATE TABLE notes (body text);
CREATE TABLE measurements (id int, at date) PARTITION BY RANGE (at);
CREATE TABLE measurements_2024 PARTITION OF measurements FOR VALUES FROM ('2024-01-01') TO ('2025-01-01')`)
	if _, err := setup.Run(t.Context(), conn, setup.Config{Slot: slot}); err != nil {
		t.Fatal(err)
	}

	w, err := capture.New(capture.Config{SourceURL: url, Slot: slot})
	if err != nil {
		t.Fatal(err)
	}
	st, err := w.Status(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if !st.SetupFound || !st.Slot.Found || !st.Publication.Found || !st.Publication.ViaPartitionRoot {
		t.Fatalf("status after setup = %+v, want setup, slot and publication found", st)
	}
	if st.Slot.Active || st.Slot.Plugin != "pgoutput" || st.Slot.Type != "logical" || st.Slot.WALStatus != "reserved" {
		t.Errorf("slot = %+v, want an inactive logical pgoutput slot with wal_status reserved", st.Slot)
	}
	if st.Publication.Tables != 5 {
		t.Errorf("publication covers %d tables and partitions, want 5", st.Publication.Tables)
	}
	if len(st.ReplicaIdentityProblems) != 0 || len(st.TriggerProblems) != 0 {
		t.Errorf("problems right after setup: identity %v, trigger %v", st.ReplicaIdentityProblems, st.TriggerProblems)
	}
	if st.CheckpointFound || st.ChangesTableFound {
		t.Errorf("checkpoint or changes table found before the worker ran: %+v", st)
	}
	if st.MaxSlotWALKeepSize != -1 {
		t.Errorf("max_slot_wal_keep_size = %d, want -1 (the default)", st.MaxSlotWALKeepSize)
	}
	if !hasProblem(st.Problems(), "not active") {
		t.Errorf("Problems() = %q, want the inactive slot", st.Problems())
	}

	r := s.start(capture.Config{})
	s.exec(`INSERT INTO items VALUES (1, 'a') /*Bemi {"userId":1} Bemi*/`)
	waitChanges(t, url, 1)

	// Break four tables behind setup's back, after the worker created the
	// changes table, which ran the event trigger. The event trigger would
	// repair them after ALTER TABLE, but it does not fire in replica mode.
	s.exec("SET session_replication_role = replica")
	s.exec("ALTER TABLE events REPLICA IDENTITY DEFAULT")
	s.exec("ALTER TABLE measurements_2024 REPLICA IDENTITY NOTHING")
	s.exec("DROP TRIGGER _bemi_context ON notes")
	s.exec("ALTER TABLE items DISABLE TRIGGER _bemi_context")
	s.exec("RESET session_replication_role")
	waitFor(t, "the worker holds the slot", func() bool {
		st, err = w.Status(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		return st.Slot.Active && st.CheckpointFound
	})

	wantProblems := map[string]string{
		`public.events`:            "DEFAULT without a primary key",
		`public.measurements_2024`: "NOTHING",
	}
	if len(st.ReplicaIdentityProblems) != len(wantProblems) {
		t.Errorf("replica identity problems = %v, want %d", st.ReplicaIdentityProblems, len(wantProblems))
	}
	for _, p := range st.ReplicaIdentityProblems {
		if !strings.Contains(p.Problem, wantProblems[p.Table]) || wantProblems[p.Table] == "" {
			t.Errorf("replica identity problem %+v, want one of %v", p, wantProblems)
		}
	}
	triggers := map[string]string{}
	for _, p := range st.TriggerProblems {
		triggers[p.Table] = p.Problem
	}
	if !strings.Contains(triggers["public.notes"], "missing") || !strings.Contains(triggers["public.items"], "disabled") || len(triggers) != 2 {
		t.Errorf("trigger problems = %v, want notes missing and items disabled", st.TriggerProblems)
	}

	cp, _ := r.worker.Checkpoint()
	if st.Checkpoint.CommitLSN != cp.CommitLSN || st.Checkpoint.TransactionID != cp.TransactionID {
		t.Errorf("status checkpoint %s xid %d, worker's %s xid %d", st.Checkpoint.CommitLSN, st.Checkpoint.TransactionID, cp.CommitLSN, cp.TransactionID)
	}
	if !st.ChangesTableFound {
		t.Error("changes table not found after the worker stored a change")
	}
	if st.SinceLastChange <= 0 || st.SinceLastChange > time.Minute {
		t.Errorf("since last change = %s, want a few seconds at most", st.SinceLastChange)
	}
	if st.Slot.ActivePID == 0 || st.CurrentLSN < st.Slot.ConfirmedFlushLSN || st.Slot.LagBytes < 0 {
		t.Errorf("slot %+v at current LSN %s: want an active pid and the confirmed position at or below the current one", st.Slot, st.CurrentLSN)
	}
	if st.Slot.RetainedBytes < st.Slot.LagBytes {
		t.Errorf("retained %d bytes, lag %d: the slot retains at least the WAL it has not confirmed", st.Slot.RetainedBytes, st.Slot.LagBytes)
	}
	if hasProblem(st.Problems(), "not active") {
		t.Errorf("Problems() = %q while the worker runs", st.Problems())
	}
}

func TestStatusDestinationInAnotherDatabase(t *testing.T) {
	t.Parallel()
	s := newSource(t, "CREATE TABLE items (id int PRIMARY KEY)", "items")
	dest := pgtest.NewDatabase(t)
	s.start(capture.Config{DestinationURL: dest, DestinationSchema: "audit"})
	s.exec("INSERT INTO items VALUES (1)")
	waitChangesIn(t, dest, "audit", 1, time.Minute)

	w, err := capture.New(capture.Config{SourceURL: s.url, DestinationURL: dest, DestinationSchema: "audit", Slot: s.slot})
	if err != nil {
		t.Fatal(err)
	}
	var st capture.Status
	waitFor(t, "the checkpoint in the destination", func() bool {
		st, err = w.Status(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		return st.CheckpointFound
	})
	if !st.ChangesTableFound {
		t.Error("changes table audit.changes not found in the destination")
	}
	// The source was prepared without bemi setup: no schema bemi, and
	// no triggers.
	if st.SetupFound || len(st.TriggerProblems) != 1 {
		t.Errorf("setup found = %v, trigger problems %v, want false and items", st.SetupFound, st.TriggerProblems)
	}
}

func hasProblem(problems []string, part string) bool {
	for _, p := range problems {
		if strings.Contains(p, part) {
			return true
		}
	}

	return false
}

// waitFor polls cond for up to 30 seconds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()

	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
