package history

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/bemi-go/bemi/core"
)

// tableChangesSQL reads the changes of a table after a snapshot in commit
// order. Its rows are the only ones as-of needs, so it skips the context.
const tableChangesSQL = `SELECT primary_key, operation, before::text, after::text FROM %s
WHERE "table" = $1 AND schema = $2 AND database = $3 AND position >= $4 AND committed_at <= $5
ORDER BY position, ordinal`

// TableAsOf returns the rows of a table as of a time, keyed by primary_key
// text: the newest snapshot taken at or before at, with every change from
// its position up to at applied in commit order. Without such a snapshot
// it returns a *HistoryError, because rows that never changed since capture
// started are in no change. A table without a primary key returns a
// *NoPrimaryKeyError.
//
// The rows are held in memory, so the result is as large as the table was.
func (r *Reader) TableAsOf(ctx context.Context, table Table, at time.Time) (map[string]json.RawMessage, error) {
	t := table.withDefaults(r.database)
	if t.Name == "" {
		return nil, errors.New("table as of: missing table name")
	}
	if err := r.checkPrimaryKey(ctx, t); err != nil {
		return nil, err
	}

	snap, err := r.latestSnapshot(ctx, t.Database, t.Schema, t.Name, at)
	if err != nil {
		return nil, err
	}
	if snap == nil {
		return nil, &HistoryError{Table: t.String(), At: at,
			Reason: "no snapshot of the table was taken at or before that time, and rows that did not change since are in no change: run bemi snapshot to record a baseline"}
	}
	if len(snap.keyColumns) == 0 {
		return nil, &NoPrimaryKeyError{Table: t.String()}
	}

	rows, err := r.snapshotRows(ctx, snap.id, t)
	if err != nil {
		return nil, err
	}
	if err := r.applyChanges(ctx, rows, t, snap, at); err != nil {
		return nil, err
	}

	return rows, nil
}

func (r *Reader) snapshotRows(ctx context.Context, id int64, t Table) (map[string]json.RawMessage, error) {
	rows, err := r.query(ctx, `SELECT primary_key, row::text FROM bemi.snapshot_rows WHERE snapshot_id = $1 AND schema = $2 AND "table" = $3`,
		id, t.Schema, t.Name)
	if err != nil {
		return nil, fmt.Errorf("table as of: read snapshot %d of %s: %w", id, t, err)
	}
	defer rows.Close()

	out := make(map[string]json.RawMessage)
	for rows.Next() {
		var key, row string
		if err := rows.Scan(&key, &row); err != nil {
			return nil, fmt.Errorf("table as of: read snapshot %d of %s: %w", id, t, err)
		}
		out[key] = json.RawMessage(row)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("table as of: read snapshot %d of %s: %w", id, t, err)
	}

	return out, nil
}

// applyChanges applies the table's changes from the snapshot's position up
// to at to state.
func (r *Reader) applyChanges(ctx context.Context, state map[string]json.RawMessage, t Table, snap *snapshotRef, at time.Time) error {
	rows, err := r.query(ctx, fmt.Sprintf(tableChangesSQL, r.table), t.Name, t.Schema, snap.database, snap.position, at)
	if err != nil {
		return fmt.Errorf("table as of: read changes of %s: %w", t, err)
	}
	defer rows.Close()

	for rows.Next() {
		var key *string
		var op, before, after string
		if err := rows.Scan(&key, &op, &before, &after); err != nil {
			return fmt.Errorf("table as of: read changes of %s: %w", t, err)
		}
		apply(state, key, core.Operation(op), json.RawMessage(before), json.RawMessage(after))
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("table as of: read changes of %s: %w", t, err)
	}

	return nil
}

// apply applies one change to the rows of a table.
func apply(state map[string]json.RawMessage, key *string, op core.Operation, before, after json.RawMessage) {
	if op == core.OperationTruncate {
		clear(state)

		return
	}
	if key == nil {
		return
	}

	switch op {
	case core.OperationCreate:
		state[*key] = after
	case core.OperationUpdate:
		if _, ok := state[*key]; !ok {
			// The update changed the primary key: the row is stored under
			// its old key, found by its old content.
			for k, row := range state {
				if equalJSON(row, before) {
					delete(state, k)

					break
				}
			}
		}
		state[*key] = after
	case core.OperationDelete:
		delete(state, *key)
	}
}
