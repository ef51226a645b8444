package main

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/spf13/cobra"

	"github.com/bemi-go/bemi/capture/history"
)

func newAsOfCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "as-of",
		Short: "Show a record or a table as it was at a time",
		Long: `Show the state of one record (with --primary-key) or of a whole table at a
time, reconstructed from the changes table and the snapshots that bemi
snapshot recorded.

A record prints as its JSON row, or null when it did not exist. A table
prints as JSON lines {"primary_key": ..., "row": {...}} in primary key order.
When the history does not reach back to the time, the command fails and
says what is missing instead of guessing; a whole table needs a snapshot
taken at or before the time.

Examples:
  bemi as-of --table todos --primary-key 26 --at 2024-05-01T10:00:00Z
  bemi as-of --table public.todos --at 2024-05-01`,
		Args: cobra.NoArgs,
		RunE: runAsOf,
	}

	f := cmd.Flags()
	addDestinationFlags(f)
	f.String("source-database", "", "source database name, when the changes table holds several")
	f.String("table", "", "source table: table (in public) or schema.table; required")
	f.String("primary-key", "", `primary key of one record: the value, or a JSON array for a composite key such as '["acme","42"]'`)
	f.String("at", "", "time, RFC 3339 (2024-05-01T10:00:00Z) or a date (2024-05-01); default now")

	return cmd
}

func runAsOf(cmd *cobra.Command, args []string) error {
	f := cmd.Flags()
	name, _ := f.GetString("table")
	if name == "" {
		return fmt.Errorf("missing --table: name the table, such as --table public.todos")
	}
	var table history.Table
	table.Database, _ = f.GetString("source-database")
	table.Schema, table.Name = history.SplitTableName(name)
	key, _ := f.GetString("primary-key")
	at := time.Now()
	if s, _ := f.GetString("at"); s != "" {
		var err error
		if at, err = parseTime("at", s); err != nil {
			return err
		}
	}

	reader, conn, err := openReader(cmd)
	if err != nil {
		return err
	}
	defer conn.Close(cmd.Context())

	out := cmd.OutOrStdout()
	if key != "" {
		state, err := reader.RecordAsOf(cmd.Context(), history.Record{Table: table, PrimaryKey: key}, at)
		if err != nil {
			return err
		}
		if !state.Exists {
			fmt.Fprintln(out, "null")
			fmt.Fprintf(cmd.ErrOrStderr(), "%s %s did not exist at %s\n", table, key, at.UTC().Format(time.RFC3339Nano))

			return nil
		}
		fmt.Fprintln(out, string(state.Row))

		return nil
	}

	rows, err := reader.TableAsOf(cmd.Context(), table, at)
	if err != nil {
		return err
	}
	enc := json.NewEncoder(out)
	enc.SetEscapeHTML(false)
	for _, k := range slices.Sorted(maps.Keys(rows)) {
		if err := enc.Encode(struct {
			PrimaryKey string          `json:"primary_key"`
			Row        json.RawMessage `json:"row"`
		}{k, rows[k]}); err != nil {
			return err
		}
	}

	return nil
}
