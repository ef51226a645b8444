package setup

import (
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"fmt"
	"strings"
)

var (
	//go:embed sql/schema.sql
	schemaSQL string

	//go:embed sql/capture.sql
	captureSQL string

	//go:embed sql/refresh.sql
	refreshSQL string
)

// objectsSQL creates schema bemi with its tables and functions. Every
// statement in it is idempotent.
var objectsSQL = schemaSQL + "\n" + captureSQL + "\n" + refreshSQL

// objectsVersion identifies objectsSQL. Setup stores it as the comment on
// schema bemi and reinstalls the functions when it differs.
var objectsVersion = func() string {
	sum := sha256.Sum256([]byte(objectsSQL))

	return hex.EncodeToString(sum[:8])
}()

// schemaComment is the comment on schema bemi that records objectsVersion.
func schemaComment() string {
	return "Bemi change tracking objects, version " + objectsVersion
}

// Script is the setup SQL for migration tools (goose, golang-migrate, atlas),
// in two parts because PostgreSQL refuses to create a logical replication
// slot in a transaction that has written anything.
type Script struct {
	// Setup installs schema bemi, the configuration, the publication, the
	// event trigger (when the role is a superuser), the triggers and REPLICA
	// IDENTITY FULL. It may run in one transaction, and running it again is
	// harmless.
	Setup string

	// Slot creates the replication slot unless it exists. It must run
	// outside any transaction block, after Setup has committed (goose:
	// "-- +goose NO TRANSACTION"). Empty when Config.SkipSlot is set.
	Slot string
}

// SQL returns the SQL that Run would execute for cfg, for users who apply
// schema changes with a migration tool. Unlike Run, it checks nothing on a
// server: the tables are discovered when Script.Setup runs, and PostgreSQL
// reports a missing privilege as an error at that point. The event trigger
// is created only when the role that applies the script is a superuser. For
// any other role the script returns a warning row, so the script must run
// again after new tables are created.
func SQL(cfg Config) (Script, error) {
	r, err := cfg.resolve()
	if err != nil {
		return Script{}, fmt.Errorf("setup: %w", err)
	}

	var b strings.Builder
	b.WriteString(objectsSQL)
	b.WriteString("\n")
	b.WriteString(commentSQL())
	b.WriteString("\n\n-- The configuration.\n")
	b.WriteString(configSQL(r))
	b.WriteString("\n-- Create the publication and event trigger, and track the tables.\n")
	b.WriteString("SELECT kind, action FROM bemi.refresh();\n")

	s := Script{Setup: b.String()}
	if !r.skipSlot {
		s.Slot = slotSQL(r.slot)
	}

	return s, nil
}

func commentSQL() string {
	return "COMMENT ON SCHEMA bemi IS " + quoteLiteral(schemaComment()) + ";"
}

// configSQL writes the configuration rows that bemi.refresh reads.
func configSQL(r resolved) string {
	var b strings.Builder
	fmt.Fprintf(&b, "INSERT INTO bemi.config (singleton, publication, slot, destination_schema, destination_table)\n"+
		"VALUES (true, %s, %s, %s, %s)\n"+
		"ON CONFLICT (singleton) DO UPDATE SET publication = excluded.publication, slot = excluded.slot,\n"+
		"    destination_schema = excluded.destination_schema, destination_table = excluded.destination_table;\n",
		quoteLiteral(r.publication), quoteLiteral(r.slot),
		quoteLiteral(r.destination.schema), quoteLiteral(r.destination.table))

	b.WriteString("DELETE FROM bemi.table_filter;\n")
	rows := filterRows(r)
	if len(rows) > 0 {
		b.WriteString("INSERT INTO bemi.table_filter (kind, schema_name, table_name) VALUES\n")
		for i, f := range rows {
			table := "NULL"
			if f.table != "" {
				table = quoteLiteral(f.table)
			}
			sep := ",\n"
			if i == len(rows)-1 {
				sep = ";\n"
			}
			fmt.Fprintf(&b, "    (%s, %s, %s)%s", quoteLiteral(f.kind), quoteLiteral(f.schema), table, sep)
		}
	}

	return b.String()
}

// filterRow is one row of bemi.table_filter.
type filterRow struct {
	kind   string
	schema string
	table  string
}

// filterRows returns the include and exclude rows of r in a stable order.
func filterRows(r resolved) []filterRow {
	var rows []filterRow
	for _, n := range r.include {
		rows = append(rows, filterRow{"include", n.schema, n.table})
	}
	for _, n := range r.exclude {
		rows = append(rows, filterRow{"exclude", n.schema, n.table})
	}

	return rows
}

// slotSQL creates the logical replication slot unless it exists, and fails
// with an error when a slot of that name belongs to another database, which
// the capture worker could not use. slot is a validated name: lower case
// letters, digits and underscores.
func slotSQL(slot string) string {
	return fmt.Sprintf(`DO $bemi_slot$
BEGIN
    IF EXISTS (SELECT FROM pg_catalog.pg_replication_slots
               WHERE slot_name = %[1]s AND database IS DISTINCT FROM pg_catalog.current_database()) THEN
        RAISE EXCEPTION 'replication slot %% belongs to another database', %[1]s
            USING HINT = 'Choose another slot name: a slot belongs to one database.';
    END IF;
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_replication_slots WHERE slot_name = %[1]s) THEN
        PERFORM pg_catalog.pg_create_logical_replication_slot(%[1]s, 'pgoutput');
    END IF;
END
$bemi_slot$;
`, quoteLiteral(slot))
}
