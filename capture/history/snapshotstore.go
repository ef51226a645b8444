package history

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/bemi-go/bemi/capture"
)

// snapshotLockKey serializes the creation of the snapshot tables ("bemisnap"
// in ASCII).
const snapshotLockKey int64 = 0x62656d69736e6170

// snapshotTablesSQL creates the destination tables that hold snapshots, in
// the worker's metadata schema. They are created on the first snapshot, so
// a destination without snapshots has none of them.
const snapshotTablesSQL = `
CREATE SCHEMA IF NOT EXISTS ` + capture.MetadataSchema + `;
CREATE TABLE IF NOT EXISTS bemi.snapshots (
	id bigserial PRIMARY KEY,
	database text NOT NULL,
	position bigint NOT NULL,
	taken_at timestamptz NOT NULL,
	created_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS bemi.snapshot_tables (
	snapshot_id bigint NOT NULL REFERENCES bemi.snapshots ON DELETE CASCADE,
	schema text NOT NULL,
	"table" text NOT NULL,
	key_columns text[] NOT NULL,
	row_count bigint NOT NULL,
	PRIMARY KEY (snapshot_id, schema, "table")
);
CREATE TABLE IF NOT EXISTS bemi.snapshot_rows (
	snapshot_id bigint NOT NULL REFERENCES bemi.snapshots ON DELETE CASCADE,
	schema text NOT NULL,
	"table" text NOT NULL,
	primary_key text NOT NULL,
	row jsonb NOT NULL,
	PRIMARY KEY (snapshot_id, schema, "table", primary_key)
);`

// Snapshot is a baseline: the rows of the tracked tables at one replication
// position, stored in the destination by TakeSnapshot.
type Snapshot struct {
	ID       int64  `json:"id"`
	Database string `json:"database"`

	// Position is the consistent point (an LSN) of the snapshot: it holds
	// every transaction whose commit LSN is below Position, and the changes
	// table holds the ones at or above it.
	Position int64 `json:"position"`

	// TakenAt is a server time read after the consistent point was
	// reached, so every transaction in the snapshot committed before it.
	// As-of queries use the snapshot for times at or after TakenAt.
	TakenAt time.Time `json:"taken_at"`

	Tables []SnapshotTable `json:"tables"`

	// Skipped lists the tracked tables that the snapshot left out, with
	// the reason, such as a missing primary key.
	Skipped []string `json:"skipped,omitempty"`
}

// SnapshotTable is one table of a Snapshot.
type SnapshotTable struct {
	Schema     string   `json:"schema"`
	Table      string   `json:"table"`
	KeyColumns []string `json:"key_columns"`
	Rows       int64    `json:"rows"`
}

// ensureSnapshotTables creates the snapshot tables when they are missing.
func ensureSnapshotTables(ctx context.Context, conn *pgx.Conn) error {
	return pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", snapshotLockKey); err != nil {
			return fmt.Errorf("lock snapshot tables: %w", err)
		}
		if _, err := tx.Exec(ctx, snapshotTablesSQL); err != nil {
			return fmt.Errorf("create snapshot tables: %w", err)
		}

		return nil
	})
}

// snapshotTablesExist reports whether the destination has the snapshot
// tables. Once they exist the result is cached, because this package never
// drops them.
func (r *Reader) snapshotTablesExist(ctx context.Context) (bool, error) {
	if r.haveSnapshots.Load() {
		return true, nil
	}

	var exists bool
	if err := r.queryRow(ctx, "SELECT to_regclass('bemi.snapshot_rows') IS NOT NULL").Scan(&exists); err != nil {
		return false, fmt.Errorf("look up snapshot tables: %w", err)
	}
	if exists {
		r.haveSnapshots.Store(true)
	}

	return exists, nil
}

// latestSnapshotSQL finds the newest snapshot of a table taken at or before
// a time.
const latestSnapshotSQL = `
SELECT s.id, s.database, s.position, s.taken_at, t.key_columns
FROM bemi.snapshots s JOIN bemi.snapshot_tables t ON t.snapshot_id = s.id
WHERE t.schema = $1 AND t."table" = $2 AND s.taken_at <= $3 AND ($4 = '' OR s.database = $4)
ORDER BY s.taken_at DESC, s.id DESC
LIMIT 1`

// snapshotRef is the part of a snapshot that as-of queries use.
type snapshotRef struct {
	id         int64
	database   string
	position   int64
	takenAt    time.Time
	keyColumns []string
}

// latestSnapshot returns the newest snapshot of schema.table taken at or
// before at, or nil when there is none.
func (r *Reader) latestSnapshot(ctx context.Context, database, schema, table string, at time.Time) (*snapshotRef, error) {
	ok, err := r.snapshotTablesExist(ctx)
	if err != nil || !ok {
		return nil, err
	}

	var s snapshotRef
	err = r.queryRow(ctx, latestSnapshotSQL, schema, table, at, database).
		Scan(&s.id, &s.database, &s.position, &s.takenAt, &s.keyColumns)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("look up snapshot of %s.%s: %w", schema, table, err)
	}

	return &s, nil
}

// Snapshots returns the snapshots stored in the destination, newest first,
// with their tables.
func (r *Reader) Snapshots(ctx context.Context) ([]Snapshot, error) {
	ok, err := r.snapshotTablesExist(ctx)
	if err != nil || !ok {
		return nil, err
	}

	rows, err := r.query(ctx, `
SELECT s.id, s.database, s.position, s.taken_at,
	coalesce(array_agg(t.schema ORDER BY t.schema, t."table") FILTER (WHERE t.schema IS NOT NULL), '{}'),
	coalesce(array_agg(t."table" ORDER BY t.schema, t."table") FILTER (WHERE t.schema IS NOT NULL), '{}'),
	coalesce(array_agg(t.row_count ORDER BY t.schema, t."table") FILTER (WHERE t.schema IS NOT NULL), '{}')
FROM bemi.snapshots s LEFT JOIN bemi.snapshot_tables t ON t.snapshot_id = s.id
GROUP BY s.id ORDER BY s.taken_at DESC, s.id DESC`)
	if err != nil {
		return nil, fmt.Errorf("list snapshots: %w", err)
	}
	defer rows.Close()

	var out []Snapshot
	for rows.Next() {
		var s Snapshot
		var schemas, tables []string
		var counts []int64
		if err := rows.Scan(&s.ID, &s.Database, &s.Position, &s.TakenAt, &schemas, &tables, &counts); err != nil {
			return nil, fmt.Errorf("list snapshots: %w", err)
		}
		s.TakenAt = s.TakenAt.UTC()
		for i := range schemas {
			s.Tables = append(s.Tables, SnapshotTable{Schema: schemas[i], Table: tables[i], Rows: counts[i]})
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list snapshots: %w", err)
	}

	return out, nil
}
