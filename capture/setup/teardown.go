package setup

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// dependentObjectsStillExist is the SQLSTATE of a DROP that other objects
// depend on.
const dependentObjectsStillExist = "2BP01"

// dropObjectsSQL drops what objectsSQL creates, and nothing else in schema
// bemi.
const dropObjectsSQL = `
DROP FUNCTION IF EXISTS bemi.track_tables();
DROP FUNCTION IF EXISTS bemi.refresh(boolean, boolean);
DROP FUNCTION IF EXISTS bemi.tracked_tables();
DROP FUNCTION IF EXISTS bemi.capture_context();
DROP FUNCTION IF EXISTS bemi.comment_payload(text);
DROP TABLE IF EXISTS bemi.config, bemi.table_filter, bemi.replica_identity;
`

// Teardown removes everything that Run created: the _bemi_context triggers,
// the event trigger, the publication, schema bemi with its functions, and the
// replication slot unless cfg.SkipSlot is set. It also restores the replica
// identity that each table had before Run set it to FULL. The publication and
// slot names come from the installed configuration, or from cfg when schema
// bemi no longer exists. Running Teardown again changes nothing.
//
// Teardown returns an *OwnershipError when the role does not own a tracked
// table, and a *SlotActiveError, before it changes anything, while the
// capture worker reads the slot.
// conn must not be inside a transaction block.
func Teardown(ctx context.Context, conn *pgx.Conn, cfg Config) (Report, error) {
	r, err := cfg.resolve()
	if err != nil {
		return Report{}, fmt.Errorf("setup: %w", err)
	}
	if conn.PgConn().TxStatus() != 'I' {
		return Report{}, errInTransaction
	}

	s, err := inspect(ctx, conn)
	if err != nil {
		return Report{}, err
	}

	// Refuse before dropping anything while the worker reads the slot:
	// a worker whose publication disappears stops with an error.
	slot := r.slot
	if configured, err := configuredSlot(ctx, conn); err != nil {
		return Report{}, err
	} else if configured != "" {
		slot = configured
	}
	if !r.skipSlot {
		if _, err := checkSlotIdle(ctx, conn, slot, s.database); err != nil {
			return Report{}, err
		}
	}

	var report Report
	err = pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		installedSlot, err := uninstall(ctx, tx, s, &report)
		if installedSlot != "" {
			slot = installedSlot
		}

		return err
	})
	if err != nil {
		return Report{}, err
	}

	if !r.skipSlot {
		dropped, err := dropSlot(ctx, conn, slot, s.database)
		if err != nil {
			return report, err
		}
		if dropped {
			report.Actions = append(report.Actions, "drop replication slot "+slot)
		}
	}

	return report, nil
}

// uninstall does the transactional part of Teardown and returns the slot
// name from the installed configuration, if any.
func uninstall(ctx context.Context, tx pgx.Tx, s server, report *Report) (string, error) {
	if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", int64(lockKey)); err != nil {
		return "", fmt.Errorf("setup: take advisory lock: %w", err)
	}

	// Schema bemi may exist without setup's objects: the capture worker
	// keeps its checkpoints there, and a teardown leaves them.
	var installed bool
	if err := tx.QueryRow(ctx, "SELECT to_regclass('bemi.config') IS NOT NULL").Scan(&installed); err != nil {
		return "", fmt.Errorf("setup: inspect installed objects: %w", err)
	}
	if !installed {
		return "", nil
	}

	var publication, slot string
	err := tx.QueryRow(ctx, "SELECT publication, slot FROM bemi.config").Scan(&publication, &slot)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return "", fmt.Errorf("setup: read bemi.config: %w", err)
	}

	if publication != "" {
		plan, err := callRefresh(ctx, tx, false, true)
		if err != nil {
			return "", err
		}
		if err := checkOwnership(ctx, tx, s.role, plan.relations); err != nil {
			return "", err
		}

		done, err := callRefresh(ctx, tx, true, true)
		if err != nil {
			return "", err
		}
		report.Actions = append(report.Actions, done.actions...)
	}

	var eventTrigger, publicationExists bool
	err = tx.QueryRow(ctx, `
SELECT EXISTS (SELECT FROM pg_event_trigger WHERE evtname = 'bemi_track_tables'),
       EXISTS (SELECT FROM pg_publication WHERE pubname = $1)`, publication).Scan(&eventTrigger, &publicationExists)
	if err != nil {
		return "", fmt.Errorf("setup: inspect installed objects: %w", err)
	}
	if eventTrigger {
		if _, err := tx.Exec(ctx, "DROP EVENT TRIGGER bemi_track_tables"); err != nil {
			return "", fmt.Errorf("setup: drop event trigger bemi_track_tables: %w", err)
		}
		report.Actions = append(report.Actions, "drop event trigger bemi_track_tables")
	}
	if publicationExists {
		if _, err := tx.Exec(ctx, "DROP PUBLICATION "+quoteIdent(publication)); err != nil {
			return "", fmt.Errorf("setup: drop publication %s: %w", displayIdent(publication), err)
		}
		report.Actions = append(report.Actions, "drop publication "+displayIdent(publication))
	}

	if _, err := tx.Exec(ctx, dropObjectsSQL); err != nil {
		return "", fmt.Errorf("setup: drop the functions and tables in schema bemi: %w", err)
	}
	report.Actions = append(report.Actions, "drop the functions and tables in schema bemi")

	// Objects that others put in schema bemi are not ours to drop: then the
	// schema stays, with a warning.
	err = pgx.BeginFunc(ctx, tx, func(sp pgx.Tx) error {
		_, err := sp.Exec(ctx, "DROP SCHEMA bemi")

		return err
	})
	var pgErr *pgconn.PgError
	switch {
	case errors.As(err, &pgErr) && pgErr.Code == dependentObjectsStillExist:
		// The schema's comment marks setup's installed version: clear it, so
		// a later setup installs its objects again.
		if _, err := tx.Exec(ctx, "COMMENT ON SCHEMA bemi IS NULL"); err != nil {
			return "", fmt.Errorf("setup: clear the comment of schema bemi: %w", err)
		}
		var others []string
		if err := tx.QueryRow(ctx, `
SELECT coalesce(array_agg(format('%I.%I', n.nspname, c.relname) ORDER BY c.relname), '{}')
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = 'bemi' AND c.relkind IN ('r', 'p', 'v', 'm', 'f')`).Scan(&others); err != nil {
			return "", fmt.Errorf("setup: list the objects left in schema bemi: %w", err)
		}
		report.Warnings = append(report.Warnings, fmt.Sprintf("schema bemi was left in place because it holds objects "+
			"that setup did not create: %s (bemi.checkpoints, bemi.migrations and bemi.snapshot* belong to the capture "+
			"worker and bemi snapshot; DROP SCHEMA bemi CASCADE removes them when the worker is retired)",
			strings.Join(others, ", ")))
	case err != nil:
		return "", fmt.Errorf("setup: drop schema bemi: %w", err)
	default:
		report.Actions = append(report.Actions, "drop schema bemi")
	}

	return slot, nil
}

// configuredSlot returns the slot name from the installed configuration, or
// "" when setup's configuration table does not exist or is empty.
func configuredSlot(ctx context.Context, conn *pgx.Conn) (string, error) {
	var installed bool
	if err := conn.QueryRow(ctx, "SELECT to_regclass('bemi.config') IS NOT NULL").Scan(&installed); err != nil {
		return "", fmt.Errorf("setup: inspect installed objects: %w", err)
	}
	if !installed {
		return "", nil
	}

	var slot string
	err := conn.QueryRow(ctx, "SELECT slot FROM bemi.config").Scan(&slot)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return "", fmt.Errorf("setup: read bemi.config: %w", err)
	}

	return slot, nil
}
