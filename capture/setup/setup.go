package setup

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"
)

// lockKey is the advisory lock that serializes concurrent setup and teardown
// runs on one database.
const lockKey = 0x62656d69_73657470 // "bemisetp"

// Report lists what Run or Teardown changed, in order.
type Report struct {
	// Actions are short descriptions of the changes made, such as
	// `add public.todos to publication bemi`. Empty when there was nothing
	// to do.
	Actions []string

	// Warnings describe what setup could not do and what follows from it,
	// such as a missing event trigger.
	Warnings []string
}

// NothingToDo reports whether the run changed nothing.
func (r Report) NothingToDo() bool { return len(r.Actions) == 0 }

// Run installs change tracking in the database that conn is connected to,
// or brings an earlier installation in line with cfg, and returns what it
// changed. A second run with the same cfg changes nothing.
//
// Run checks the server first and returns a *VersionError, *WALLevelError,
// *ReplicationError, *CreatePrivilegeError or *OwnershipError when it cannot
// proceed. Everything except the replication slot is installed in one
// transaction. The slot is created after that transaction commits, because
// PostgreSQL rejects slot creation in a transaction that has written. conn
// must not be inside a transaction block.
func Run(ctx context.Context, conn *pgx.Conn, cfg Config) (Report, error) {
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
	if err := s.preflight(r); err != nil {
		return Report{}, err
	}

	slotExists := false
	if !r.skipSlot {
		if slotExists, err = checkSlot(ctx, conn, r.slot, s.database); err != nil {
			return Report{}, err
		}
	}

	var report Report
	err = pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		return install(ctx, tx, s, r, &report)
	})
	if err != nil {
		return Report{}, err
	}

	if !r.skipSlot && !slotExists {
		if err := createSlot(ctx, conn, r.slot); err != nil {
			return report, err
		}
		report.Actions = append(report.Actions, fmt.Sprintf("create replication slot %s (plugin pgoutput)", r.slot))
	}

	return report, nil
}

// install does the transactional part of Run.
func install(ctx context.Context, tx pgx.Tx, s server, r resolved, report *Report) error {
	if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", int64(lockKey)); err != nil {
		return fmt.Errorf("setup: take advisory lock: %w", err)
	}

	var schemaExists, configExists, publicationExists, emitPublic bool
	var comment *string
	err := tx.QueryRow(ctx, `
SELECT EXISTS (SELECT FROM pg_namespace WHERE nspname = 'bemi'),
       to_regclass('bemi.config') IS NOT NULL,
       (SELECT obj_description(oid, 'pg_namespace') FROM pg_namespace WHERE nspname = 'bemi'),
       EXISTS (SELECT FROM pg_publication WHERE pubname = $1),
       -- PostgreSQL 17 adds an optional fourth argument, so match by name.
       (SELECT coalesce(bool_and(p.proacl IS NULL OR EXISTS (
            SELECT FROM aclexplode(p.proacl) a WHERE a.grantee = 0 AND a.privilege_type = 'EXECUTE')), true)
        FROM pg_proc p
        WHERE p.proname = 'pg_logical_emit_message' AND p.pronamespace = 'pg_catalog'::regnamespace
          AND p.proargtypes[2] = 'text'::regtype)`,
		r.publication).Scan(&schemaExists, &configExists, &comment, &publicationExists, &emitPublic)
	if err != nil {
		return fmt.Errorf("setup: inspect installed objects: %w", err)
	}
	if (!schemaExists || !publicationExists) && !s.canCreate {
		return &CreatePrivilegeError{Role: s.role, Database: s.database}
	}
	if !emitPublic {
		report.Warnings = append(report.Warnings, "pg_logical_emit_message with text content is not executable by PUBLIC "+
			"on this server: a role that writes to tracked tables without EXECUTE on it gets a permission error, "+
			"so grant it to every application role")
	}

	if comment == nil || *comment != schemaComment() || !configExists {
		if _, err := tx.Exec(ctx, objectsSQL+"\n"+commentSQL()); err != nil {
			return fmt.Errorf("setup: install schema bemi: %w", err)
		}
		if schemaExists && configExists {
			report.Actions = append(report.Actions, "upgrade the functions in schema bemi to version "+objectsVersion)
		} else {
			report.Actions = append(report.Actions, "create schema bemi with its functions, version "+objectsVersion)
		}
	}

	if err := storeConfig(ctx, tx, r, report); err != nil {
		return err
	}

	plan, err := refresh(ctx, tx, false)
	if err != nil {
		return err
	}
	if err := checkOwnership(ctx, tx, s.role, plan.relations); err != nil {
		return err
	}

	done, err := refresh(ctx, tx, true)
	if err != nil {
		return err
	}
	report.Actions = append(report.Actions, done.actions...)
	report.Warnings = append(report.Warnings, done.warnings...)

	return nil
}

// storeConfig writes the configuration rows when they differ from r. A
// change of publication or slot name is an error: the old ones would stay
// behind, and a slot holds WAL until it is dropped.
func storeConfig(ctx context.Context, tx pgx.Tx, r resolved, report *Report) error {
	var publication, slot, destSchema, destTable string
	err := tx.QueryRow(ctx, `SELECT publication, slot, destination_schema, destination_table FROM bemi.config`).
		Scan(&publication, &slot, &destSchema, &destTable)
	found := err == nil
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("setup: read bemi.config: %w", err)
	}
	if found && publication != r.publication {
		return fmt.Errorf("setup: this database is set up with publication %s, not %s: "+
			"keep the name, or run teardown first", displayIdent(publication), displayIdent(r.publication))
	}
	if found && slot != r.slot {
		return fmt.Errorf("setup: this database is set up with replication slot %s, not %s: "+
			"keep the name, or run teardown first", slot, r.slot)
	}

	rows, _ := tx.Query(ctx, `SELECT kind, schema_name, coalesce(table_name, '') FROM bemi.table_filter`)
	stored, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (filterRow, error) {
		var f filterRow
		err := row.Scan(&f.kind, &f.schema, &f.table)

		return f, err
	})
	if err != nil {
		return fmt.Errorf("setup: read bemi.table_filter: %w", err)
	}

	wanted := filterRows(r)
	sameDest := destSchema == r.destination.schema && destTable == r.destination.table
	if found && sameDest && sameFilters(stored, wanted) {
		return nil
	}

	if _, err := tx.Exec(ctx, configSQL(r)); err != nil {
		return fmt.Errorf("setup: store configuration: %w", err)
	}
	report.Actions = append(report.Actions, "store configuration: "+describe(r))

	return nil
}

func sameFilters(a, b []filterRow) bool {
	key := func(f filterRow) string { return f.kind + "\x00" + f.schema + "\x00" + f.table }
	ka := make([]string, len(a))
	for i, f := range a {
		ka[i] = key(f)
	}
	kb := make([]string, len(b))
	for i, f := range b {
		kb[i] = key(f)
	}
	slices.Sort(ka)
	slices.Sort(kb)

	return slices.Equal(slices.Compact(ka), slices.Compact(kb))
}

// describe summarizes a configuration for the report.
func describe(r resolved) string {
	list := func(names []tableName, empty string) string {
		if len(names) == 0 {
			return empty
		}
		s := make([]string, len(names))
		for i, n := range names {
			s[i] = n.String()
		}

		return strings.Join(s, ", ")
	}

	return fmt.Sprintf("publication %s, slot %s, destination table %s, include %s, exclude %s",
		displayIdent(r.publication), r.slot, r.destination, list(r.include, "all tables"), list(r.exclude, "none"))
}

// refreshResult contains the rows that bemi.refresh returned.
type refreshResult struct {
	actions   []string
	warnings  []string
	relations []uint32
}

// refresh calls bemi.refresh, which applies the changes or, when apply is
// false, only lists them.
func refresh(ctx context.Context, tx pgx.Tx, apply bool) (refreshResult, error) {
	return callRefresh(ctx, tx, apply, false)
}

func callRefresh(ctx context.Context, tx pgx.Tx, apply, untrackAll bool) (refreshResult, error) {
	rows, err := tx.Query(ctx, "SELECT kind, action, relation FROM bemi.refresh($1, $2)", apply, untrackAll)
	if err != nil {
		return refreshResult{}, fmt.Errorf("setup: refresh tables: %w", err)
	}
	defer rows.Close()

	var res refreshResult
	for rows.Next() {
		var kind, action string
		var relation *uint32
		if err := rows.Scan(&kind, &action, &relation); err != nil {
			return refreshResult{}, fmt.Errorf("setup: refresh tables: %w", err)
		}
		if kind == "warning" {
			res.warnings = append(res.warnings, action)
		} else {
			res.actions = append(res.actions, action)
		}
		if relation != nil {
			res.relations = append(res.relations, *relation)
		}
	}
	if err := rows.Err(); err != nil {
		return refreshResult{}, fmt.Errorf("setup: refresh tables: %w", err)
	}

	return res, nil
}
