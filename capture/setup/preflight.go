package setup

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// server describes the connected server and role.
type server struct {
	version     int
	versionText string
	walLevel    string
	role        string
	database    string
	superuser   bool
	replication bool
	canCreate   bool
}

// inspect reads what the preflight checks need in one round trip.
func inspect(ctx context.Context, conn *pgx.Conn) (server, error) {
	var s server
	// NOTE: Amazon RDS grants replication through membership in
	// rds_replication instead of the REPLICATION attribute; that membership
	// is accepted here but was not tried on RDS.
	err := conn.QueryRow(ctx, `
SELECT current_setting('server_version_num')::int,
       current_setting('server_version'),
       current_setting('wal_level'),
       current_user,
       current_database(),
       r.rolsuper,
       r.rolreplication OR EXISTS (
           SELECT FROM pg_roles g
           WHERE g.rolname = 'rds_replication' AND pg_has_role(current_user, g.oid, 'MEMBER')),
       has_database_privilege(current_database(), 'CREATE')
FROM pg_roles r
WHERE r.rolname = current_user`).Scan(
		&s.version, &s.versionText, &s.walLevel, &s.role, &s.database,
		&s.superuser, &s.replication, &s.canCreate)
	if err != nil {
		return server{}, fmt.Errorf("setup: inspect server: %w", err)
	}

	return s, nil
}

// preflight returns the first misconfiguration that keeps setup from
// working: an old server, wal_level, and the REPLICATION attribute when the
// slot is wanted.
func (s server) preflight(r resolved) error {
	if s.version < MinServerVersion {
		return &VersionError{Version: s.versionText}
	}
	if s.walLevel != "logical" {
		return &WALLevelError{Level: s.walLevel}
	}
	if !r.skipSlot && !s.superuser && !s.replication {
		return &ReplicationError{Role: s.role}
	}

	return nil
}

// checkOwnership returns an OwnershipError listing the tables among oids that
// the current role does not own.
func checkOwnership(ctx context.Context, tx pgx.Tx, role string, oids []uint32) error {
	if len(oids) == 0 {
		return nil
	}

	rows, _ := tx.Query(ctx, `
SELECT format('%I.%I', n.nspname, c.relname)
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.oid = ANY ($1::oid[])
  AND NOT pg_has_role(c.relowner, 'USAGE')
ORDER BY 1`, oids)
	tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return fmt.Errorf("setup: check table owners: %w", err)
	}
	if len(tables) > 0 {
		return &OwnershipError{Role: role, Tables: tables}
	}

	return nil
}

// errInTransaction is returned when the caller's connection is inside a
// transaction block: setup commits its own transaction and creates the slot
// outside any.
var errInTransaction = errors.New("setup: the connection is inside a transaction: " +
	"pass a connection that is not in a transaction block")
