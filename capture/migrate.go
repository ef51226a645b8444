package capture

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// MetadataSchema is the destination schema that holds the worker's own
// tables: bemi.migrations and bemi.checkpoints.
const MetadataSchema = "bemi"

// migrationLockKey is the advisory lock that serializes migrations when
// several workers start at once on the same destination. The value is an
// arbitrary constant ("bemi" in ASCII).
const migrationLockKey int64 = 0x62656d69

// migration is one versioned change of the destination schema. Its SQL is a
// format string whose %[1]s is the quoted changes schema.
type migration struct {
	version int
	sql     string
}

// migrations are applied in order, each once per changes schema. Never edit
// a released migration: append a new one.
var migrations = []migration{
	{version: 1, sql: `
CREATE TABLE IF NOT EXISTS bemi.checkpoints (
	slot text NOT NULL,
	database text NOT NULL,
	commit_lsn pg_lsn NOT NULL,
	end_lsn pg_lsn NOT NULL,
	transaction_id bigint NOT NULL,
	committed_at timestamptz NOT NULL,
	updated_at timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (slot, database)
);

CREATE SCHEMA IF NOT EXISTS %[1]s;

CREATE TABLE %[1]s.changes (
	id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	database text NOT NULL,
	schema text NOT NULL,
	"table" text NOT NULL,
	primary_key text,
	operation text NOT NULL CONSTRAINT changes_operation_check
		CHECK (operation IN ('CREATE', 'UPDATE', 'DELETE', 'TRUNCATE')),
	before jsonb NOT NULL DEFAULT '{}',
	after jsonb NOT NULL DEFAULT '{}',
	context jsonb NOT NULL DEFAULT '{}',
	committed_at timestamptz NOT NULL,
	queued_at timestamptz NOT NULL,
	created_at timestamptz NOT NULL DEFAULT now(),
	transaction_id bigint NOT NULL,
	position bigint NOT NULL,
	ordinal integer NOT NULL,
	-- position leads, so the key also serves lookups of one transaction.
	CONSTRAINT changes_position_key UNIQUE (position, ordinal, database)
);

CREATE INDEX changes_table_primary_key_committed_at_idx
	ON %[1]s.changes ("table", primary_key, committed_at);
CREATE INDEX changes_committed_at_idx ON %[1]s.changes (committed_at);
CREATE INDEX changes_context_idx ON %[1]s.changes USING gin (context jsonb_path_ops);
`},
	// Version 2 serves the history package: the changes of one transaction
	// by xid (by commit LSN, changes_position_key serves), and an UPDATE that changed a row's primary
	// key, found by the row's old content (it is stored under the new key).
	// CREATE INDEX blocks the worker's own writes while it builds, so on a
	// large changes table the first start after an upgrade takes longer.
	{version: 2, sql: `
CREATE INDEX changes_transaction_id_idx ON %[1]s.changes (transaction_id);
CREATE INDEX changes_before_md5_idx ON %[1]s.changes (md5(before::text)) WHERE operation = 'UPDATE';
`},
}

// Migrate creates or upgrades the changes table in schema and the worker's
// metadata tables in schema bemi of the destination. Each migration runs
// once, in its own transaction, under an advisory lock, so workers that start
// at the same time do not race. Run calls it at start.
func Migrate(ctx context.Context, conn *pgx.Conn, schema string) error {
	for {
		applied, err := migrateNext(ctx, conn, schema)
		if err != nil {
			return err
		}
		if !applied {
			return nil
		}
	}
}

// migrateNext applies the first migration not yet applied to schema and
// reports whether there was one.
func migrateNext(ctx context.Context, conn *pgx.Conn, schema string) (bool, error) {
	tx, err := conn.Begin(ctx)
	if err != nil {
		return false, fmt.Errorf("begin migration: %w", err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck // a no-op after Commit

	if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", migrationLockKey); err != nil {
		return false, fmt.Errorf("lock migrations: %w", err)
	}

	// CREATE ... IF NOT EXISTS is not safe against a concurrent creator, so
	// it runs under the lock too.
	_, err = tx.Exec(ctx, `
CREATE SCHEMA IF NOT EXISTS bemi;
CREATE TABLE IF NOT EXISTS bemi.migrations (
	schema text NOT NULL,
	version integer NOT NULL,
	applied_at timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (schema, version)
)`)
	if err != nil {
		return false, fmt.Errorf("create bemi.migrations: %w", err)
	}

	var current int
	err = tx.QueryRow(ctx, "SELECT coalesce(max(version), 0) FROM bemi.migrations WHERE schema = $1", schema).Scan(&current)
	if err != nil {
		return false, fmt.Errorf("read migration version: %w", err)
	}

	var next *migration
	for i := range migrations {
		if migrations[i].version > current {
			next = &migrations[i]

			break
		}
	}
	if next == nil {
		return false, tx.Commit(ctx)
	}

	quoted := pgx.Identifier{schema}.Sanitize()
	if _, err := tx.Exec(ctx, fmt.Sprintf(next.sql, quoted)); err != nil {
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgErr.Code == "42P07" {
			return false, fmt.Errorf("apply migration %d to schema %q: a table the worker did not create is in the way: rename it or choose another destination schema: %w",
				next.version, schema, err)
		}

		return false, fmt.Errorf("apply migration %d to schema %q: %w", next.version, schema, err)
	}
	if _, err := tx.Exec(ctx, "INSERT INTO bemi.migrations (schema, version) VALUES ($1, $2)", schema, next.version); err != nil {
		return false, fmt.Errorf("record migration %d: %w", next.version, err)
	}
	if err := tx.Commit(ctx); err != nil {
		return false, fmt.Errorf("commit migration %d: %w", next.version, err)
	}

	return true, nil
}
