package capture

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"
)

// readSourceStatus reads everything Status reports from the source.
func readSourceStatus(ctx context.Context, conn *pgx.Conn, cfg Config) (Status, error) {
	st := Status{
		Slot:        SlotStatus{Name: cfg.Slot},
		Publication: PublicationStatus{Name: cfg.Publication},
	}

	var current string
	err := conn.QueryRow(ctx, `
SELECT current_database(), now(), to_regclass('bemi.config') IS NOT NULL,
	(CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() ELSE pg_current_wal_lsn() END)::text,
	pg_size_bytes(current_setting('max_slot_wal_keep_size'))`).
		Scan(&st.Database, &st.SourceTime, &st.SetupFound, &current, &st.MaxSlotWALKeepSize)
	if err != nil {
		return st, fmt.Errorf("read source state: %w", err)
	}
	if st.CurrentLSN, err = pglogrepl.ParseLSN(current); err != nil {
		return st, fmt.Errorf("parse current WAL position %q: %w", current, err)
	}

	if err := readSlotStatus(ctx, conn, &st); err != nil {
		return st, err
	}
	if err := readPublicationStatus(ctx, conn, &st); err != nil {
		return st, err
	}

	return st, nil
}

func readSlotStatus(ctx context.Context, conn *pgx.Conn, st *Status) error {
	sl := &st.Slot
	var slotType, plugin, database, walStatus, confirmed, restart *string
	var pid *int32
	err := conn.QueryRow(ctx, `
SELECT slot_type, plugin, database, active, active_pid, wal_status,
	confirmed_flush_lsn::text, restart_lsn::text, safe_wal_size
FROM pg_replication_slots WHERE slot_name = $1`, sl.Name).
		Scan(&slotType, &plugin, &database, &sl.Active, &pid, &walStatus, &confirmed, &restart, &sl.SafeWALSize)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("look up replication slot %q: %w", sl.Name, err)
	}

	sl.Found = true
	sl.Type, sl.Plugin, sl.Database, sl.WALStatus = deref(slotType), deref(plugin), deref(database), deref(walStatus)
	if pid != nil {
		sl.ActivePID = int(*pid)
	}
	if confirmed != nil {
		if sl.ConfirmedFlushLSN, err = pglogrepl.ParseLSN(*confirmed); err != nil {
			return fmt.Errorf("parse confirmed_flush_lsn %q of slot %q: %w", *confirmed, sl.Name, err)
		}
		// The current position was read before the slot: when WAL was
		// written in between and the worker confirmed it already, the slot
		// is ahead of that reading, not the other way round.
		if sl.ConfirmedFlushLSN > st.CurrentLSN {
			st.CurrentLSN = sl.ConfirmedFlushLSN
		}
		sl.LagBytes = int64(st.CurrentLSN) - int64(sl.ConfirmedFlushLSN)
	}
	if restart != nil {
		if sl.RestartLSN, err = pglogrepl.ParseLSN(*restart); err != nil {
			return fmt.Errorf("parse restart_lsn %q of slot %q: %w", *restart, sl.Name, err)
		}
		sl.RetainedBytes = int64(st.CurrentLSN) - int64(sl.RestartLSN)
	}

	return nil
}

// readPublicationStatus reads the publication and checks the replica
// identity and trigger of every table and partition it covers.
func readPublicationStatus(ctx context.Context, conn *pgx.Conn, st *Status) error {
	pub := &st.Publication
	err := conn.QueryRow(ctx, "SELECT pubviaroot FROM pg_publication WHERE pubname = $1", pub.Name).Scan(&pub.ViaPartitionRoot)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("look up publication %q: %w", pub.Name, err)
	}
	pub.Found = true

	// pg_publication_tables lists the partitioned roots when the
	// publication publishes via the root, and the partitions otherwise.
	// pg_partition_tree adds every partition below them; it returns no rows
	// for a plain table.
	rows, err := conn.Query(ctx, `
WITH listed AS (
	SELECT c.oid
	FROM pg_publication_tables p
	JOIN pg_namespace n ON n.nspname = p.schemaname
	JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = p.tablename
	WHERE p.pubname = $1
),
published AS (
	SELECT oid AS relid FROM listed
	UNION
	SELECT t.relid FROM listed CROSS JOIN LATERAL pg_partition_tree(listed.oid) t
)
SELECT format('%I.%I', n.nspname, c.relname), c.relkind::text, c.relreplident::text,
	EXISTS (SELECT FROM pg_index i WHERE i.indrelid = c.oid AND i.indisprimary),
	coalesce((SELECT g.tgenabled IN ('O', 'A') FROM pg_trigger g
		WHERE g.tgrelid = c.oid AND g.tgname = $2
			AND g.tgfoid = to_regprocedure('bemi.capture_context()')), false),
	EXISTS (SELECT FROM pg_trigger g WHERE g.tgrelid = c.oid AND g.tgname = $2)
FROM published p
JOIN pg_class c ON c.oid = p.relid
JOIN pg_namespace n ON n.oid = c.relnamespace
ORDER BY 1`, pub.Name, TriggerName)
	if err != nil {
		return fmt.Errorf("list tables of publication %q: %w", pub.Name, err)
	}
	defer rows.Close()

	for rows.Next() {
		var table, kind, identity string
		var hasKey, triggerEnabled, triggerFound bool
		if err := rows.Scan(&table, &kind, &identity, &hasKey, &triggerEnabled, &triggerFound); err != nil {
			return fmt.Errorf("list tables of publication %q: %w", pub.Name, err)
		}
		pub.Tables++

		// A partitioned table stores no rows: its partitions' identities
		// count. A trigger enabled only for session_replication_role
		// replica (R) does not fire for applications, so it counts as
		// disabled.
		if kind == "r" {
			if problem := identityProblem(identity, hasKey); problem != "" {
				st.ReplicaIdentityProblems = append(st.ReplicaIdentityProblems, TableProblem{Table: table, Problem: problem})
			}
		}
		switch {
		case triggerEnabled:
		case triggerFound:
			st.TriggerProblems = append(st.TriggerProblems, TableProblem{Table: table,
				Problem: "trigger " + TriggerName + " is disabled or calls another function: changes get no context; enable it or run bemi setup"})
		default:
			st.TriggerProblems = append(st.TriggerProblems, TableProblem{Table: table,
				Problem: "trigger " + TriggerName + " missing: changes get no context; run bemi setup"})
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("list tables of publication %q: %w", pub.Name, err)
	}

	return nil
}

// identityProblem describes what a replica identity costs, or returns ""
// for FULL and for an index or primary key identity, which is usable.
func identityProblem(identity string, hasPrimaryKey bool) string {
	switch {
	case identity == "n":
		return "replica identity NOTHING: UPDATE and DELETE fail on a published table; run bemi setup"
	case identity == "d" && !hasPrimaryKey:
		return "replica identity DEFAULT without a primary key: UPDATE and DELETE fail on a published table; run bemi setup"
	}

	return ""
}
