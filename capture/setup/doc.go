// Package setup installs change tracking in a source PostgreSQL database
// (14 or newer, wal_level=logical) and removes it again. The bemi setup and
// bemi teardown commands are thin wrappers around Run and Teardown.
//
// # A first run
//
//	conn, err := pgx.Connect(ctx, os.Getenv("DATABASE_URL"))
//	if err != nil {
//		return err
//	}
//	report, err := setup.Run(ctx, conn, setup.Config{})
//	if err != nil {
//		return err // a *WALLevelError, *OwnershipError, ... names the fix
//	}
//	for _, action := range report.Actions {
//		fmt.Println(action)
//	}
//
// The zero Config tracks every table of every non-system schema except the
// destination table public.changes, with publication and slot "bemi". Run
// is idempotent: a second run changes nothing and returns an empty Report
// (Report.NothingToDo). A run with another include or exclude list tracks
// and untracks tables to match it.
//
// # What Run installs
//
//   - Schema bemi with the trigger function bemi.capture_context, the
//     function bemi.refresh that does the work below, and three small
//     tables: the configuration, the include and exclude lists, and each
//     table's replica identity before setup, for Teardown.
//   - On every tracked table and partition, one trigger named _bemi_context:
//     BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE, FOR EACH STATEMENT.
//   - REPLICA IDENTITY FULL on the same tables, so the WAL carries the old
//     row of updates and deletes, and UPDATE and DELETE keep working on
//     published tables without a primary key.
//   - A publication with publish_via_partition_root that lists the tracked
//     top-level tables (plain tables and partitioned roots) by name. Setup
//     owns that list. Temporary, unlogged and foreign tables, views, tables
//     that belong to an extension, schema bemi and the destination table are
//     never tracked.
//   - An event trigger, bemi_track_tables, that runs bemi.refresh after
//     CREATE TABLE (partitions included), CREATE TABLE AS, SELECT INTO and
//     ALTER TABLE (ATTACH and DETACH PARTITION, SET SCHEMA, RENAME), obeying
//     the include and exclude lists.
//   - A logical replication slot with plugin pgoutput, unless
//     Config.SkipSlot is set. It is created after the rest has committed,
//     because PostgreSQL refuses to create a slot in a transaction that has
//     written.
//
// # How a statement's context reaches the WAL
//
// The trigger takes the context from the transaction-local setting
// bemi.context when it is non-empty, else from the last /*Bemi ... Bemi*/
// comment of the statement text (current_query), under the rule of
// core.ParseComment. It emits a transactional logical decoding message with
// the prefix _bemi right before the statement's first row change, unless the
// latest _bemi message of the transaction already carries that context.
// A statement without context that follows one with context gets the reset
// message {}, so it never inherits an earlier statement's context; this also
// holds after ROLLBACK TO SAVEPOINT. An N-row statement emits one message per
// table and operation at most, not N. Cascaded deletes, changes made by other
// triggers and data-modifying CTEs see the top-level statement's text and
// setting, so they get its context.
//
// # Migration tools
//
// SQL returns the same installation as SQL text in two parts: Script.Setup
// for one transaction (a goose, golang-migrate or atlas migration), and
// Script.Slot, which must run outside any transaction after Setup has
// committed. The script discovers the tables when it runs, and running it
// again is harmless.
//
// # Privileges
//
// A superuser can run everything. For least privilege, use two roles:
//
//	-- The setup role owns the tracked tables (or is a member of their
//	-- owner) and may create schema bemi and the publication.
//	CREATE ROLE app_owner LOGIN;
//	GRANT CREATE ON DATABASE app TO app_owner;
//	ALTER TABLE todos OWNER TO app_owner; -- for each table
//
//	-- The capture worker's role reads the slot.
//	CREATE ROLE bemi_worker LOGIN REPLICATION;
//
// Run as app_owner with Config.SkipSlot, then create the slot as
// bemi_worker (the slot part of SQL, or bemi setup --skip-slot followed by
// the worker's own slot creation). Without SkipSlot the setup role needs
// the REPLICATION attribute itself. Writers need no extra privilege: the
// trigger runs as the writing role, and pg_logical_emit_message is
// executable by PUBLIC and checks no role attribute (tested on PostgreSQL
// 15). Run warns when a server has revoked it from PUBLIC.
//
// Only superusers may create event triggers. Without one, Run returns a
// warning, and new tables are not tracked until setup runs again: run bemi
// setup (or the Setup script) after each migration that creates tables. It
// is the refresh command. Until it runs, a new partition of a tracked table
// is published through its root without REPLICA IDENTITY FULL, so UPDATE and
// DELETE on it fail when it has no primary key.
//
// Later runs must use the role that ran setup first, or a superuser, because
// the objects in schema bemi belong to that role.
//
// # pgbouncer in transaction mode
//
// Both ways of sending context work through pgbouncer in transaction mode:
// the comment travels inside the statement, and set_config(..., true) lasts
// until the end of the transaction, which runs on one server connection. A
// session-level SET bemi.context would leak into other clients' transactions
// on the same server connection, so never use it there.
//
// # Limits
//
//   - One simple-query string that holds several statements carries one
//     context: every statement in it sees the whole string as
//     current_query, and the last Bemi comment counts only when it ends the
//     string.
//   - A deferred constraint trigger that fires at COMMIT sees the statement
//     text COMMIT and no context, so its changes follow a reset message.
//   - The rows written by CREATE TABLE AS and SELECT INTO are not captured:
//     the table joins the publication when the command ends.
//   - Setup takes locks on the tables it changes (ALTER TABLE, CREATE
//     TRIGGER, ALTER PUBLICATION). On a busy database, set lock_timeout in
//     the connection string, for example options=-c%20lock_timeout%3D5s.
//   - Changing the publication or slot name of an installed database is an
//     error: run Teardown first.
//   - Tables that the capture worker writes in the source database, other
//     than the destination table, must be excluded, or the worker captures
//     its own writes.
package setup
