package capture

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"
)

// Sentinel errors of the slot check, matched with errors.Is through a
// SlotError.
var (
	// ErrSlotNotFound means the replication slot does not exist.
	ErrSlotNotFound = errors.New("replication slot not found")

	// ErrSlotInvalidated means PostgreSQL invalidated the slot, because it
	// retained more WAL than max_slot_wal_keep_size allows: changes were
	// lost and the slot cannot stream again.
	ErrSlotInvalidated = errors.New("replication slot invalidated")

	// ErrSlotMismatch means the slot exists but cannot serve this worker: it
	// uses another output plugin or belongs to another database.
	ErrSlotMismatch = errors.New("replication slot mismatch")

	// ErrPublicationNotFound means the publication does not exist in the
	// source database.
	ErrPublicationNotFound = errors.New("publication not found")
)

// SlotError reports a replication slot or publication that the worker cannot
// stream from. The worker never creates a new slot in its place, because a
// fresh slot would silently skip every change made since the old one stopped.
type SlotError struct {
	// Slot is the slot name and Database the source database.
	Slot     string
	Database string

	// Detail describes the problem and Hint the fix.
	Detail string
	Hint   string

	// Err is one of the sentinel errors of this package.
	Err error
}

func (e *SlotError) Error() string {
	return fmt.Sprintf("replication slot %q in database %q: %s: %s", e.Slot, e.Database, e.Detail, e.Hint)
}

func (e *SlotError) Unwrap() error { return e.Err }

// slotState is what the worker needs to know about its slot before
// streaming.
type slotState struct {
	database       string
	confirmedFlush pglogrepl.LSN
}

// checkSlot verifies that the slot and publication exist and can stream, on
// a regular connection to the source.
func checkSlot(ctx context.Context, conn *pgx.Conn, slot, publication string) (slotState, error) {
	var st slotState
	if err := conn.QueryRow(ctx, "SELECT current_database()").Scan(&st.database); err != nil {
		return st, fmt.Errorf("read current database: %w", err)
	}

	var plugin, slotType, slotDatabase, walStatus, confirmed *string
	err := conn.QueryRow(ctx, `
SELECT plugin, slot_type, database, wal_status, confirmed_flush_lsn::text
FROM pg_replication_slots WHERE slot_name = $1`, slot).
		Scan(&plugin, &slotType, &slotDatabase, &walStatus, &confirmed)
	if errors.Is(err, pgx.ErrNoRows) {
		return st, &SlotError{
			Slot: slot, Database: st.database, Err: ErrSlotNotFound,
			Detail: "not found",
			Hint:   "run bemi setup to create it, and start capturing from there",
		}
	}
	if err != nil {
		return st, fmt.Errorf("look up replication slot %q: %w", slot, err)
	}

	switch {
	case deref(slotType) != "logical" || deref(plugin) != "pgoutput":
		return st, &SlotError{
			Slot: slot, Database: st.database, Err: ErrSlotMismatch,
			Detail: fmt.Sprintf("is a %s slot with plugin %q, not a logical slot with plugin pgoutput", deref(slotType), deref(plugin)),
			Hint:   "drop it or choose another slot name, then run bemi setup",
		}
	case deref(slotDatabase) != st.database:
		return st, &SlotError{
			Slot: slot, Database: st.database, Err: ErrSlotMismatch,
			Detail: fmt.Sprintf("belongs to database %q", deref(slotDatabase)),
			Hint:   "connect to that database, or pass the slot name that bemi setup created for this one with --slot",
		}
	case deref(walStatus) == "lost":
		return st, &SlotError{
			Slot: slot, Database: st.database, Err: ErrSlotInvalidated,
			Detail: "invalidated (wal_status lost): the WAL it needed was removed, so changes since its last confirmed position are lost",
			Hint:   "drop the slot, run bemi setup to create a new one, and backfill the gap from another source",
		}
	}

	if confirmed != nil {
		if st.confirmedFlush, err = pglogrepl.ParseLSN(*confirmed); err != nil {
			return st, fmt.Errorf("parse confirmed_flush_lsn %q of slot %q: %w", *confirmed, slot, err)
		}
	}

	var found bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT FROM pg_publication WHERE pubname = $1)", publication).Scan(&found); err != nil {
		return st, fmt.Errorf("look up publication %q: %w", publication, err)
	}
	if !found {
		return st, &SlotError{
			Slot: slot, Database: st.database, Err: ErrPublicationNotFound,
			Detail: fmt.Sprintf("publication %q not found", publication),
			Hint:   "run bemi setup to create it",
		}
	}

	return st, nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}

	return *s
}
