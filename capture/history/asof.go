package history

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/bemi-go/bemi/core"
)

// Table names a source table. Database empty means the Reader's
// Config.Database, and Schema empty means public.
type Table struct {
	Database string
	Schema   string
	Name     string
}

func (t Table) withDefaults(database string) Table {
	if t.Database == "" {
		t.Database = database
	}
	if t.Schema == "" {
		t.Schema = "public"
	}

	return t
}

func (t Table) String() string { return t.Schema + "." + t.Name }

// Record names one row of a source table by its primary_key text.
type Record struct {
	Table
	PrimaryKey string
}

// State is a record's state as of a time.
type State struct {
	// Exists reports whether the record existed, and Row is its JSON
	// object then, nil when it did not exist.
	Exists bool
	Row    json.RawMessage

	// Change is the latest change at or before the time that decided the
	// state (the record's own last change, a TRUNCATE, or an UPDATE that
	// moved the row to another key), nil when the state comes from a
	// snapshot alone. SnapshotID is the snapshot the state starts from, 0
	// for none.
	Change     *core.Change
	SnapshotID int64
}

// point is a place in commit order: a commit LSN and an ordinal. Changes
// after a point have a greater (position, ordinal).
type point struct {
	position int64
	ordinal  int32
}

// snapshotPoint is the point just before a snapshot's consistent point,
// so that every change at or above it comes after.
func snapshotPoint(s *snapshotRef) point { return point{position: s.position, ordinal: -1} }

// endOfHistory is a point after every change.
var endOfHistory = point{position: math.MaxInt64, ordinal: math.MaxInt32}

const (
	lastChangeSQL = `SELECT %s FROM %s
WHERE "table" = $1 AND primary_key = $2 AND schema = $3 AND ($4 = '' OR database = $4)
	AND committed_at <= $5 AND position >= $6
ORDER BY committed_at DESC, position DESC, ordinal DESC LIMIT 1`

	firstChangeAfterSQL = `SELECT %s FROM %s
WHERE "table" = $1 AND primary_key = $2 AND schema = $3 AND ($4 = '' OR database = $4)
	AND committed_at > $5
ORDER BY committed_at, position, ordinal LIMIT 1`

	// truncateSQL finds a TRUNCATE of the table between two points, within
	// a commit time range that lets the planner use the index.
	truncateSQL = `SELECT %s FROM %s
WHERE "table" = $1 AND primary_key IS NULL AND schema = $2 AND ($3 = '' OR database = $3)
	AND operation = 'TRUNCATE' AND committed_at >= $4 AND committed_at <= $5
	AND (position, ordinal) > ($6, $7) AND (position, ordinal) < ($8, $9)
ORDER BY committed_at DESC, position DESC LIMIT 1`

	// movedAwaySQL finds an UPDATE that changed the primary key of a row
	// whose last known state is $1: it is stored under the new key, with
	// the old row as before.
	//
	// The candidates are read first, so the planner uses the index on the
	// old row's md5 rather than walking committed_at for the LIMIT.
	movedAwaySQL = `WITH candidates AS MATERIALIZED (
	SELECT * FROM %[2]s WHERE md5(before::text) = md5($1::jsonb::text) AND operation = 'UPDATE'
)
SELECT %[1]s FROM candidates
WHERE "table" = $2 AND schema = $3 AND ($4 = '' OR database = $4) AND primary_key IS DISTINCT FROM $5
	AND committed_at <= $6 AND (position, ordinal) > ($7, $8)
ORDER BY committed_at, position, ordinal LIMIT 1`

	snapshotRowSQL = `SELECT row::text FROM bemi.snapshot_rows
WHERE snapshot_id = $1 AND schema = $2 AND "table" = $3 AND primary_key = $4`

	noPrimaryKeySQL = `SELECT EXISTS (SELECT FROM %s
WHERE "table" = $1 AND primary_key IS NULL AND schema = $2 AND ($3 = '' OR database = $3) AND operation <> 'TRUNCATE')`
)

// RecordAsOf returns the state of one record as of a time. The state is the
// row that the last change at or before at left, or else the row in the
// newest snapshot taken at or before at. A later TRUNCATE, or an UPDATE
// that moved the row to another key, up to at removes it.
//
// When neither a change nor a snapshot decides the state, a first change
// of the record after at that is a CREATE means that the record did not
// exist yet; anything else returns a *HistoryError. A table without a
// primary key returns a *NoPrimaryKeyError.
//
// NOTE: a record that existed before capture started, was removed by a
// TRUNCATE or by a change of its key, and was created again later, reads
// as not existing before its CREATE unless a snapshot covers the time.
func (r *Reader) RecordAsOf(ctx context.Context, rec Record, at time.Time) (State, error) {
	t := rec.Table.withDefaults(r.database)
	if t.Name == "" || rec.PrimaryKey == "" {
		return State{}, errors.New("record as of: missing table or primary key")
	}

	snap, err := r.latestSnapshot(ctx, t.Database, t.Schema, t.Name, at)
	if err != nil {
		return State{}, err
	}
	var since int64
	if snap != nil {
		since = snap.position
		t.Database = snap.database
	}

	last, err := r.queryChange(ctx, fmt.Sprintf(lastChangeSQL, changeColumns, r.table), t.Name, rec.PrimaryKey, t.Schema, t.Database, at, since)
	if err != nil {
		return State{}, fmt.Errorf("record as of: read last change of %s %s: %w", t, rec.PrimaryKey, err)
	}

	var state State
	var after point
	var afterTime time.Time
	switch {
	case last != nil:
		t.Database = last.Database
		state = State{Change: last}
		if snap != nil {
			state.SnapshotID = snap.id
		}
		if last.Operation == core.OperationDelete {
			return state, nil
		}
		state.Exists, state.Row = true, last.After
		after, afterTime = point{last.Position, last.Ordinal}, last.CommittedAt
	case snap != nil:
		state.SnapshotID = snap.id
		row, err := r.snapshotRow(ctx, snap.id, t, rec.PrimaryKey)
		if err != nil || row == nil {
			return state, err
		}
		state.Exists, state.Row = true, row
		after = snapshotPoint(snap)
	default:
		return r.beforeFirstChange(ctx, t, rec.PrimaryKey, at)
	}

	return r.checkRemoved(ctx, t, rec.PrimaryKey, state, after, afterTime, at)
}

// checkRemoved looks for a TRUNCATE or a key change that removed the row
// after the point that set state, up to at.
func (r *Reader) checkRemoved(ctx context.Context, t Table, key string, state State, after point, afterTime, at time.Time) (State, error) {
	trunc, err := r.queryChange(ctx, fmt.Sprintf(truncateSQL, changeColumns, r.table),
		t.Name, t.Schema, t.Database, afterTime, at, after.position, after.ordinal, endOfHistory.position, endOfHistory.ordinal)
	if err != nil {
		return State{}, fmt.Errorf("record as of: look for a TRUNCATE of %s: %w", t, err)
	}
	if trunc != nil {
		return State{Change: trunc, SnapshotID: state.SnapshotID}, nil
	}

	moved, err := r.queryChange(ctx, fmt.Sprintf(movedAwaySQL, changeColumns, r.table),
		string(state.Row), t.Name, t.Schema, t.Database, key, at, after.position, after.ordinal)
	if err != nil {
		return State{}, fmt.Errorf("record as of: look for a key change of %s %s: %w", t, key, err)
	}
	if moved != nil {
		return State{Change: moved, SnapshotID: state.SnapshotID}, nil
	}

	return state, nil
}

// beforeFirstChange decides the state of a record that has no change at or
// before at and no snapshot: it did not exist when its first change is a
// CREATE with no TRUNCATE between at and it.
func (r *Reader) beforeFirstChange(ctx context.Context, t Table, key string, at time.Time) (State, error) {
	first, err := r.queryChange(ctx, fmt.Sprintf(firstChangeAfterSQL, changeColumns, r.table), t.Name, key, t.Schema, t.Database, at)
	if err != nil {
		return State{}, fmt.Errorf("record as of: read first change of %s %s: %w", t, key, err)
	}

	if first == nil {
		if err := r.checkPrimaryKey(ctx, t); err != nil {
			return State{}, err
		}

		return State{}, &HistoryError{Table: t.String(), PrimaryKey: key, At: at,
			Reason: "the changes table holds no change of this record and no snapshot covers the table: run bemi snapshot to record a baseline"}
	}
	if first.Operation != core.OperationCreate {
		return State{}, &HistoryError{Table: t.String(), PrimaryKey: key, At: at,
			Reason: fmt.Sprintf("the record's first captured change is an %s at %s, not a CREATE, and no snapshot was taken before that time",
				first.Operation, first.CommittedAt.Format(time.RFC3339Nano))}
	}

	trunc, err := r.queryChange(ctx, fmt.Sprintf(truncateSQL, changeColumns, r.table),
		t.Name, t.Schema, first.Database, at, first.CommittedAt, int64(0), int32(-1), first.Position, first.Ordinal)
	if err != nil {
		return State{}, fmt.Errorf("record as of: look for a TRUNCATE of %s: %w", t, err)
	}
	if trunc != nil && trunc.CommittedAt.After(at) {
		return State{}, &HistoryError{Table: t.String(), PrimaryKey: key, At: at,
			Reason: fmt.Sprintf("the table was truncated at %s, before the record's first CREATE, so an earlier row may have existed; no snapshot was taken before that time",
				trunc.CommittedAt.Format(time.RFC3339Nano))}
	}

	return State{}, nil
}

// checkPrimaryKey returns a *NoPrimaryKeyError when the table's changes
// have no primary key.
func (r *Reader) checkPrimaryKey(ctx context.Context, t Table) error {
	var noKey bool
	err := r.queryRow(ctx, fmt.Sprintf(noPrimaryKeySQL, r.table), t.Name, t.Schema, t.Database).Scan(&noKey)
	if err != nil {
		return fmt.Errorf("check primary key of %s: %w", t, err)
	}
	if noKey {
		return &NoPrimaryKeyError{Table: t.String()}
	}

	return nil
}

func (r *Reader) snapshotRow(ctx context.Context, id int64, t Table, key string) (json.RawMessage, error) {
	var row string
	err := r.queryRow(ctx, snapshotRowSQL, id, t.Schema, t.Name, key).Scan(&row)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("record as of: read snapshot %d row of %s %s: %w", id, t, key, err)
	}

	return json.RawMessage(row), nil
}

// queryChange runs a query for at most one change and returns nil when it
// finds none.
func (r *Reader) queryChange(ctx context.Context, sql string, args ...any) (*core.Change, error) {
	c, err := scanChange(r.queryRow(ctx, sql, args...))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}

	return &c, nil
}
