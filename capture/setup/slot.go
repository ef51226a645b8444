package setup

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// slotInfo is a row of pg_replication_slots.
type slotInfo struct {
	plugin   *string
	database *string
	active   bool
	pid      *int32
}

// lookupSlot returns the named slot, or false when it does not exist.
func lookupSlot(ctx context.Context, conn *pgx.Conn, slot string) (slotInfo, bool, error) {
	var s slotInfo
	err := conn.QueryRow(ctx,
		"SELECT plugin, database, active, active_pid FROM pg_replication_slots WHERE slot_name = $1", slot).
		Scan(&s.plugin, &s.database, &s.active, &s.pid)
	if errors.Is(err, pgx.ErrNoRows) {
		return slotInfo{}, false, nil
	}
	if err != nil {
		return slotInfo{}, false, fmt.Errorf("setup: look up replication slot %s: %w", slot, err)
	}

	return s, true, nil
}

// checkSlot reports whether the slot exists, and returns an error when a
// slot of that name exists but cannot serve the capture worker: a physical
// slot, another output plugin, or another database.
func checkSlot(ctx context.Context, conn *pgx.Conn, slot, database string) (bool, error) {
	s, ok, err := lookupSlot(ctx, conn, slot)
	if err != nil || !ok {
		return false, err
	}
	if s.plugin == nil || *s.plugin != "pgoutput" {
		plugin := "none (a physical slot)"
		if s.plugin != nil {
			plugin = *s.plugin
		}

		return false, fmt.Errorf("setup: replication slot %s exists with output plugin %s, but the capture worker needs pgoutput: "+
			"drop it (SELECT pg_drop_replication_slot('%s')) or choose another slot name", slot, plugin, slot)
	}
	if s.database == nil || *s.database != database {
		return false, fmt.Errorf("setup: replication slot %s belongs to another database: choose another slot name with --slot (one slot per database)", slot)
	}

	return true, nil
}

// createSlot creates the logical replication slot. It waits for the
// transactions running at that moment to finish, as PostgreSQL needs a
// consistent starting point.
func createSlot(ctx context.Context, conn *pgx.Conn, slot string) error {
	if _, err := conn.Exec(ctx, slotSQL(slot)); err != nil {
		return fmt.Errorf("setup: create replication slot %s: %w", slot, err)
	}

	return nil
}

// dropSlot drops the slot when it exists in database and reports whether it
// did. A slot in use returns a *SlotActiveError.
func dropSlot(ctx context.Context, conn *pgx.Conn, slot, database string) (bool, error) {
	exists, err := checkSlotIdle(ctx, conn, slot, database)
	if err != nil || !exists {
		return false, err
	}

	if _, err := conn.Exec(ctx, "SELECT pg_drop_replication_slot($1)", slot); err != nil {
		return false, fmt.Errorf("setup: drop replication slot %s: %w", slot, err)
	}

	return true, nil
}

// checkSlotIdle reports whether the slot exists in database, and returns a
// *SlotActiveError when a process, such as the capture worker, reads it.
func checkSlotIdle(ctx context.Context, conn *pgx.Conn, slot, database string) (bool, error) {
	s, ok, err := lookupSlot(ctx, conn, slot)
	if err != nil || !ok {
		return false, err
	}
	if s.database == nil || *s.database != database {
		return false, nil
	}
	if s.active {
		var pid int32
		if s.pid != nil {
			pid = *s.pid
		}

		return true, &SlotActiveError{Slot: slot, PID: pid}
	}

	return true, nil
}
