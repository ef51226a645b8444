package main

import (
	"fmt"
	"io"

	"github.com/bemi-go/bemi/capture/setup"
	"github.com/jackc/pgx/v5"
	"github.com/spf13/cobra"
)

func newSetupCommand() *cobra.Command {
	var cfg setup.Config
	var printSQL bool
	cmd := &cobra.Command{
		Use:   "setup",
		Short: "Install triggers, publication and replication slot in the source database",
		Long: `Setup installs change tracking in the source database: schema bemi with the
trigger function, a statement-level _bemi_context trigger and REPLICA IDENTITY
FULL on every tracked table and partition, the publication, an event trigger
that tracks new tables, and the logical replication slot (plugin pgoutput).

Running it again brings the database in line with the flags and tracks tables
created since, and prints "nothing to do" when everything is in place. Where
the role may not create event triggers (only superusers may), run it again
after creating tables.

With --print-sql it connects to nothing and prints the SQL for migration tools
in two parts; the second part creates the slot and must run outside any
transaction.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if printSQL {
				return printSetupSQL(cmd.OutOrStdout(), cfg)
			}

			conn, err := connectSource(cmd)
			if err != nil {
				return err
			}
			defer conn.Close(cmd.Context())

			report, err := setup.Run(cmd.Context(), conn, cfg)
			printReport(cmd.OutOrStdout(), report, err, "Nothing to do: the database is already set up.")

			return err
		},
	}

	addConfigFlags(cmd, &cfg)
	f := cmd.Flags()
	f.StringVar(&cfg.DestinationTable, "destination-table", setup.DefaultDestinationTable,
		"table the capture worker writes changes to, never tracked")
	f.StringSliceVar(&cfg.Tables, "tables", nil,
		"tables to track, comma-separated: schema.table, table (in public) or schema.*; default every table")
	f.StringSliceVar(&cfg.ExcludeTables, "exclude-tables", nil,
		"tables not to track, in the form of --tables; wins over --tables")
	f.BoolVar(&printSQL, "print-sql", false,
		"print the setup SQL for migration tools instead of connecting")

	return cmd
}

func newTeardownCommand() *cobra.Command {
	var cfg setup.Config
	cmd := &cobra.Command{
		Use:   "teardown",
		Short: "Remove every object that setup created",
		Long: `Teardown removes the triggers, the event trigger, the publication, the
functions and tables of schema bemi and the replication slot, and restores
the replica identity each table had before setup. Stop the capture worker
first: a slot in use cannot be dropped.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			conn, err := connectSource(cmd)
			if err != nil {
				return err
			}
			defer conn.Close(cmd.Context())

			report, err := setup.Teardown(cmd.Context(), conn, cfg)
			printReport(cmd.OutOrStdout(), report, err, "Nothing to do: nothing from bemi setup is installed.")

			return err
		},
	}
	addConfigFlags(cmd, &cfg)

	return cmd
}

// addConfigFlags adds the flags that setup and teardown share.
func addConfigFlags(cmd *cobra.Command, cfg *setup.Config) {
	f := cmd.Flags()
	f.StringVar(&cfg.Publication, "publication", setup.DefaultPublication, "publication name")
	f.StringVar(&cfg.Slot, "slot", setup.DefaultSlot, "logical replication slot name")
	f.BoolVar(&cfg.SkipSlot, "skip-slot", false,
		"leave the replication slot alone (for a setup role without REPLICATION)")
}

func connectSource(cmd *cobra.Command) (*pgx.Conn, error) {
	dbURL, err := sourceURL(cmd)
	if err != nil {
		return nil, err
	}

	// pgx removes the password from connection errors.
	conn, err := pgx.Connect(cmd.Context(), dbURL)
	if err != nil {
		return nil, fmt.Errorf("connect to the source database: %w", err)
	}

	return conn, nil
}

// printReport prints what was done, or nothingToDo after a successful run
// that changed nothing, then the warnings. A failed run may still have
// committed changes, such as everything but the replication slot.
func printReport(w io.Writer, report setup.Report, err error, nothingToDo string) {
	if err == nil && report.NothingToDo() && len(report.Warnings) == 0 {
		fmt.Fprintln(w, nothingToDo)
	}
	if !report.NothingToDo() {
		fmt.Fprintf(w, "Done, %d change(s):\n", len(report.Actions))
		for _, a := range report.Actions {
			fmt.Fprintf(w, "  %s\n", a)
		}
	}
	for _, warning := range report.Warnings {
		fmt.Fprintf(w, "Warning: %s\n", warning)
	}
}

func printSetupSQL(w io.Writer, cfg setup.Config) error {
	script, err := setup.SQL(cfg)
	if err != nil {
		return err
	}

	fmt.Fprintln(w, "-- Bemi setup, part 1: run it in one transaction, for example as a migration.")
	fmt.Fprintln(w, "-- Running it again is harmless, and it also tracks tables created since.")
	fmt.Fprintln(w)
	fmt.Fprint(w, script.Setup)
	if script.Slot == "" {
		return nil
	}

	fmt.Fprintln(w)
	fmt.Fprintln(w, "-- Bemi setup, part 2: creates the replication slot.")
	fmt.Fprintln(w, "-- Run it OUTSIDE any transaction, after part 1 has committed: PostgreSQL")
	fmt.Fprintln(w, "-- refuses to create a logical replication slot in a transaction that has")
	fmt.Fprintln(w, "-- written (for goose, put it in its own file marked -- +goose NO TRANSACTION).")
	fmt.Fprint(w, script.Slot)

	return nil
}
