package capture

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"
)

// Checkpoint is the position up to which a worker has stored the changes of
// one source database, as written in the destination's bemi.checkpoints
// table.
type Checkpoint struct {
	Slot     string
	Database string

	// CommitLSN is the commit LSN of the last stored source transaction, and
	// EndLSN the end of its commit record: the position confirmed to the
	// source slot.
	CommitLSN pglogrepl.LSN
	EndLSN    pglogrepl.LSN

	// TransactionID is the xid of that transaction (informational).
	TransactionID uint32

	// CommittedAt is the source commit time of that transaction, and
	// UpdatedAt the time the checkpoint was written.
	CommittedAt time.Time
	UpdatedAt   time.Time
}

// ReadCheckpoint reads the checkpoint of a slot and source database from the
// destination's bemi.checkpoints table. It returns false when the worker has
// not stored anything for them yet, also when the table does not exist.
func ReadCheckpoint(ctx context.Context, destination *pgx.Conn, slot, database string) (Checkpoint, bool, error) {
	var exists bool
	err := destination.QueryRow(ctx, "SELECT to_regclass('bemi.checkpoints') IS NOT NULL").Scan(&exists)
	if err != nil {
		return Checkpoint{}, false, fmt.Errorf("look up bemi.checkpoints: %w", err)
	}
	if !exists {
		return Checkpoint{}, false, nil
	}

	cp := Checkpoint{Slot: slot, Database: database}
	var commitLSN, endLSN string
	var xid int64
	err = destination.QueryRow(ctx, `
SELECT commit_lsn::text, end_lsn::text, transaction_id, committed_at, updated_at
FROM bemi.checkpoints WHERE slot = $1 AND database = $2`, slot, database).
		Scan(&commitLSN, &endLSN, &xid, &cp.CommittedAt, &cp.UpdatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return Checkpoint{}, false, nil
	}
	if err != nil {
		return Checkpoint{}, false, fmt.Errorf("read checkpoint of slot %q: %w", slot, err)
	}

	if cp.CommitLSN, err = pglogrepl.ParseLSN(commitLSN); err != nil {
		return Checkpoint{}, false, fmt.Errorf("parse checkpoint commit_lsn %q: %w", commitLSN, err)
	}
	if cp.EndLSN, err = pglogrepl.ParseLSN(endLSN); err != nil {
		return Checkpoint{}, false, fmt.Errorf("parse checkpoint end_lsn %q: %w", endLSN, err)
	}
	cp.TransactionID = uint32(xid)

	return cp, true, nil
}

// writeCheckpoint stores cp in the destination transaction tx. The update
// only moves forward, so a stale writer cannot move a checkpoint back.
func writeCheckpoint(ctx context.Context, tx pgx.Tx, cp Checkpoint) (time.Time, error) {
	var updatedAt time.Time
	err := tx.QueryRow(ctx, `
INSERT INTO bemi.checkpoints AS c (slot, database, commit_lsn, end_lsn, transaction_id, committed_at)
VALUES ($1, $2, $3::text::pg_lsn, $4::text::pg_lsn, $5, $6)
ON CONFLICT (slot, database) DO UPDATE SET
	commit_lsn = excluded.commit_lsn,
	end_lsn = excluded.end_lsn,
	transaction_id = excluded.transaction_id,
	committed_at = excluded.committed_at,
	updated_at = now()
WHERE c.commit_lsn < excluded.commit_lsn
RETURNING updated_at`,
		cp.Slot, cp.Database, cp.CommitLSN.String(), cp.EndLSN.String(), int64(cp.TransactionID), cp.CommittedAt).
		Scan(&updatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return time.Time{}, fmt.Errorf("write checkpoint of slot %q at %s: a newer checkpoint exists, so another worker is writing for this slot", cp.Slot, cp.CommitLSN)
	}
	if err != nil {
		return time.Time{}, fmt.Errorf("write checkpoint of slot %q at %s: %w", cp.Slot, cp.CommitLSN, err)
	}

	return updatedAt, nil
}
