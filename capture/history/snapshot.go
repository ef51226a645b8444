package history

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/bemi-go/bemi/capture"
	"github.com/bemi-go/bemi/capture/convert"
)

// SnapshotConfig configures TakeSnapshot. SourceURL is required; every
// other field has a default.
type SnapshotConfig struct {
	// SourceURL is the source database. Its role needs the REPLICATION
	// attribute, to create a temporary replication slot, and SELECT on the
	// tracked tables.
	SourceURL string

	// DestinationURL is the database that holds the changes table. Empty
	// means SourceURL.
	DestinationURL string

	// Publication names the tracked tables. Empty means
	// capture.DefaultPublication.
	Publication string

	// Tables limits the snapshot to some tracked tables, each written as
	// "schema.table" or "table" (schema public), unquoted, as the catalog
	// spells them. Empty means every table of the publication.
	Tables []string

	// Columns are the capture worker's column rules (capture.Config.Columns):
	// excluded columns are left out of the stored rows and masked values
	// are replaced, so snapshot rows look like captured rows.
	Columns map[string]capture.ColumnRule
}

// TakeSnapshot stores the current rows of the tracked tables in the
// destination, as a baseline for as-of queries that reach back before the
// first captured change of a record or table.
//
// It creates a temporary logical replication slot that exports a snapshot,
// reads every table in one REPEATABLE READ transaction on that snapshot, and
// converts the values as the capture worker does. It records the slot's
// consistent point: the snapshot contains exactly the transactions whose
// commit LSN is below it, so the changes at or above it apply on top. The slot is
// dropped when TakeSnapshot returns. Tables without a primary key are
// skipped and listed in Snapshot.Skipped, because as-of addresses rows by
// primary key.
//
// The worker's slot must exist before the snapshot is taken, or the changes
// between the snapshot and the slot's start are missing from the history.
func TakeSnapshot(ctx context.Context, cfg SnapshotConfig) (Snapshot, error) {
	if cfg.SourceURL == "" {
		return Snapshot{}, fmt.Errorf("take snapshot: missing source database URL: set SnapshotConfig.SourceURL")
	}
	if cfg.DestinationURL == "" {
		cfg.DestinationURL = cfg.SourceURL
	}
	if cfg.Publication == "" {
		cfg.Publication = capture.DefaultPublication
	}

	dest, err := pgx.Connect(ctx, cfg.DestinationURL)
	if err != nil {
		return Snapshot{}, fmt.Errorf("take snapshot: connect to destination %s: %w", capture.RedactURL(cfg.DestinationURL), err)
	}
	defer dest.Close(context.WithoutCancel(ctx))

	if err := ensureSnapshotTables(ctx, dest); err != nil {
		return Snapshot{}, fmt.Errorf("take snapshot: %w", err)
	}

	source, err := connectWithSettings(ctx, cfg.SourceURL)
	if err != nil {
		return Snapshot{}, fmt.Errorf("take snapshot: connect to source %s: %w", capture.RedactURL(cfg.SourceURL), err)
	}
	defer source.Close(context.WithoutCancel(ctx))

	repl, err := connectReplication(ctx, cfg.SourceURL)
	if err != nil {
		return Snapshot{}, fmt.Errorf("take snapshot: open replication connection to %s: %w", capture.RedactURL(cfg.SourceURL), err)
	}
	// Closing the connection drops the temporary slot.
	defer repl.Close(context.WithoutCancel(ctx))

	// The slot must be created before the destination transaction begins:
	// creating it waits for every running transaction, which includes that
	// one when the destination is the source.
	slot, err := pglogrepl.CreateReplicationSlot(ctx, repl, temporarySlotName(), "pgoutput", pglogrepl.CreateReplicationSlotOptions{
		Temporary:      true,
		SnapshotAction: "EXPORT_SNAPSHOT",
		Mode:           pglogrepl.LogicalReplication,
	})
	if err != nil {
		return Snapshot{}, fmt.Errorf("take snapshot: create temporary replication slot: %w", err)
	}
	position, err := pglogrepl.ParseLSN(slot.ConsistentPoint)
	if err != nil {
		return Snapshot{}, fmt.Errorf("take snapshot: parse consistent point %q: %w", slot.ConsistentPoint, err)
	}

	var snap Snapshot
	err = pgx.BeginTxFunc(ctx, source, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(src pgx.Tx) error {
		if _, err := src.Exec(ctx, "SET TRANSACTION SNAPSHOT "+quoteLiteral(slot.SnapshotName)); err != nil {
			return fmt.Errorf("use exported snapshot %s: %w", slot.SnapshotName, err)
		}
		if err := src.QueryRow(ctx, "SELECT current_database(), clock_timestamp()").Scan(&snap.Database, &snap.TakenAt); err != nil {
			return fmt.Errorf("read snapshot time: %w", err)
		}
		snap.Position = int64(position)
		snap.TakenAt = snap.TakenAt.UTC()

		tables, err := selectTables(ctx, src, cfg.Publication, cfg.Tables)
		if err != nil {
			return err
		}

		return pgx.BeginFunc(ctx, dest, func(dst pgx.Tx) error {
			return copySnapshot(ctx, src, dst, tables, cfg.Columns, &snap)
		})
	})
	if err != nil {
		return Snapshot{}, fmt.Errorf("take snapshot: %w", err)
	}

	return snap, nil
}

// copySnapshot records the snapshot and copies every table's rows into the
// destination transaction dst.
func copySnapshot(ctx context.Context, src, dst pgx.Tx, tables [][2]string, rules map[string]capture.ColumnRule, snap *Snapshot) error {
	err := dst.QueryRow(ctx, "INSERT INTO bemi.snapshots (database, position, taken_at) VALUES ($1, $2, $3) RETURNING id",
		snap.Database, snap.Position, snap.TakenAt).Scan(&snap.ID)
	if err != nil {
		return fmt.Errorf("record snapshot: %w", err)
	}

	registry := convert.NewRegistry()
	for _, name := range tables {
		t, err := loadTable(ctx, src, name[0], name[1], rules)
		if err != nil {
			return err
		}
		if len(t.keyColumns) == 0 {
			snap.Skipped = append(snap.Skipped, t.String()+": no primary key")

			continue
		}

		rc, err := newRowConverter(ctx, src, registry, t)
		if err != nil {
			return err
		}
		n, err := copyTable(ctx, src, dst, rc, snap.ID)
		if err != nil {
			return err
		}

		_, err = dst.Exec(ctx, `INSERT INTO bemi.snapshot_tables (snapshot_id, schema, "table", key_columns, row_count) VALUES ($1, $2, $3, $4, $5)`,
			snap.ID, t.schema, t.name, t.keyColumns, n)
		if err != nil {
			return fmt.Errorf("record snapshot of %s: %w", t, err)
		}
		snap.Tables = append(snap.Tables, SnapshotTable{Schema: t.schema, Table: t.name, KeyColumns: t.keyColumns, Rows: n})
	}

	return nil
}

// copyTable streams one table's rows from src into bemi.snapshot_rows.
func copyTable(ctx context.Context, src, dst pgx.Tx, rc *rowConverter, id int64) (int64, error) {
	t := rc.table
	from := t.quoted()
	if !t.partitioned {
		// A published plain table does not publish its inheritance
		// children, so their rows are not part of its history.
		from = "ONLY " + from
	}
	rows, err := src.Query(ctx, "SELECT "+rc.selectList("t")+" FROM "+from+" AS t", pgx.QueryResultFormats{pgx.TextFormatCode})
	if err != nil {
		return 0, fmt.Errorf("read %s: %w", t, err)
	}
	defer rows.Close()

	source := &snapshotSource{rows: rows, rc: rc, id: id}
	n, err := dst.CopyFrom(ctx, pgx.Identifier{capture.MetadataSchema, "snapshot_rows"},
		[]string{"snapshot_id", "schema", "table", "primary_key", "row"}, source)
	if err != nil {
		return 0, fmt.Errorf("copy rows of %s: %w", t, err)
	}

	return n, nil
}

// snapshotSource converts source rows for CopyFrom, one at a time.
type snapshotSource struct {
	rows   pgx.Rows
	rc     *rowConverter
	id     int64
	values []any
	err    error
}

func (s *snapshotSource) Next() bool {
	if s.err != nil || !s.rows.Next() {
		return false
	}

	raw := s.rows.RawValues()
	key, _ := s.rc.primaryKey(raw)
	row, err := s.rc.appendRow(nil, raw)
	if err != nil {
		s.err = err

		return false
	}
	s.values = []any{s.id, s.rc.table.schema, s.rc.table.name, key, row}

	return true
}

func (s *snapshotSource) Values() ([]any, error) { return s.values, nil }

func (s *snapshotSource) Err() error {
	if s.err != nil {
		return s.err
	}

	return s.rows.Err()
}

// selectTables returns the publication's tables, limited to the names in
// only when it is not empty.
func selectTables(ctx context.Context, q Querier, publication string, only []string) ([][2]string, error) {
	published, err := publishedTables(ctx, q, publication)
	if err != nil {
		return nil, err
	}
	if len(published) == 0 {
		return nil, fmt.Errorf("publication %s has no tables: run bemi setup first, or pass the publication the worker reads", publication)
	}
	if len(only) == 0 {
		return published, nil
	}

	var out [][2]string
	for _, name := range only {
		schema, table := SplitTableName(name)
		found := false
		for _, p := range published {
			if p[0] == schema && p[1] == table {
				out = append(out, p)
				found = true
			}
		}
		if !found {
			return nil, fmt.Errorf("table %s is not in publication %s: name a tracked table (partitions by their partitioned table)", name, publication)
		}
	}

	return out, nil
}

// SplitTableName splits "schema.table" at its first dot; a name without a
// dot is in schema public. Names are taken as written, without quotes.
func SplitTableName(name string) (schema, table string) {
	if s, t, ok := strings.Cut(name, "."); ok {
		return s, t
	}

	return "public", name
}

// connectWithSettings opens a regular connection whose session settings
// make values print as on the capture worker's replication connection.
func connectWithSettings(ctx context.Context, url string) (*pgx.Conn, error) {
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		return nil, err
	}
	for k, v := range convert.SessionSettings() {
		cfg.RuntimeParams[k] = v
	}

	return pgx.ConnectConfig(ctx, cfg)
}

// connectReplication opens a logical replication connection.
func connectReplication(ctx context.Context, url string) (*pgconn.PgConn, error) {
	cfg, err := pgconn.ParseConfig(url)
	if err != nil {
		return nil, err
	}
	cfg.RuntimeParams["replication"] = "database"
	if cfg.RuntimeParams["application_name"] == "" {
		cfg.RuntimeParams["application_name"] = "bemi snapshot"
	}

	return pgconn.ConnectConfig(ctx, cfg)
}

// temporarySlotName returns a slot name that no other snapshot uses.
func temporarySlotName() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b) // crypto/rand.Read never fails since Go 1.24
	return "bemi_snapshot_" + hex.EncodeToString(b)
}

// quoteLiteral quotes s as a SQL string literal that means the same
// whatever standard_conforming_strings is: a string with a backslash is
// written in the E'...' form with the backslashes doubled.
func quoteLiteral(s string) string {
	quoted := "'" + strings.ReplaceAll(s, "'", "''") + "'"
	if !strings.Contains(s, `\`) {
		return quoted
	}

	return "E" + strings.ReplaceAll(quoted, `\`, `\\`)
}
