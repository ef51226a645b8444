package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/spf13/cobra"

	"github.com/bemi-go/bemi/capture"
	"github.com/bemi-go/bemi/capture/history"
)

func newSnapshotCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "snapshot",
		Short: "Record the current rows of the tracked tables as a baseline",
		Long: `Record the current rows of the tracked tables in the destination, as a
baseline for bemi as-of: a record or table can then be shown as of any time
after the snapshot, also when it did not change since.

The rows are read on a snapshot exported by a temporary replication slot,
so they match one replication position exactly: changes committed after it
apply on top. The source role needs the REPLICATION attribute. Run it once
after bemi setup, and again later to shorten what as-of has to replay.
Tables without a primary key are skipped.`,
		Args: cobra.NoArgs,
		RunE: runSnapshot,
	}

	f := cmd.Flags()
	f.String("destination-url", "", "database URL of the changes table (default $BEMI_DESTINATION_URL, else the source)")
	f.String("publication", capture.DefaultPublication, "publication that names the tracked tables")
	f.StringSlice("tables", nil, "tables to record, comma-separated, as schema.table or table (in public); default every tracked table")
	f.String("format", "text", "output format: text or json")

	return cmd
}

func runSnapshot(cmd *cobra.Command, args []string) error {
	source, err := sourceURL(cmd)
	if err != nil {
		return err
	}
	dest, err := destinationURL(cmd)
	if err != nil {
		return err
	}
	f := cmd.Flags()
	publication, _ := f.GetString("publication")
	tables, _ := f.GetStringSlice("tables")
	format, _ := f.GetString("format")
	if format != "text" && format != "json" {
		return fmt.Errorf("invalid --format %q: use text or json", format)
	}

	snap, err := history.TakeSnapshot(cmd.Context(), history.SnapshotConfig{
		SourceURL:      source,
		DestinationURL: dest,
		Publication:    publication,
		Tables:         tables,
	})
	if err != nil {
		return err
	}

	out := cmd.OutOrStdout()
	if format == "json" {
		return json.NewEncoder(out).Encode(snap)
	}

	fmt.Fprintf(out, "Snapshot %d of database %s at position %s, taken at %s:\n",
		snap.ID, snap.Database, pglogrepl.LSN(snap.Position), snap.TakenAt.Format(time.RFC3339Nano))
	for _, t := range snap.Tables {
		fmt.Fprintf(out, "  %s.%s: %d rows (key %s)\n", t.Schema, t.Table, t.Rows, strings.Join(t.KeyColumns, ", "))
	}
	for _, s := range snap.Skipped {
		fmt.Fprintf(out, "  skipped %s\n", s)
	}

	return nil
}
