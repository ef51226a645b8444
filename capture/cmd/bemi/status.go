package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/spf13/cobra"

	"github.com/bemi-go/bemi/capture"
)

func newStatusCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show the replication slot, lag, tables and last checkpoint",
		Long: `Status reads the state of change capture from the source and the destination:
the replication slot (whether it is active, its wal_status and plugin), the
confirmed and current WAL positions and the lag between them, the WAL the slot
retains against max_slot_wal_keep_size, published tables whose replica
identity makes UPDATE and DELETE fail or that lack the context trigger, and
the worker's last checkpoint with the time since the last captured change.

It exits with status 1 when it cannot read the state or setup has not run,
and with status 0 otherwise; problems are listed at the end, and under
"problems" with --json.`,
		Args: cobra.NoArgs,
		RunE: runStatus,
	}
	addWorkerFlags(cmd)
	cmd.Flags().Bool("json", false, "print the status as JSON")

	return cmd
}

func runStatus(cmd *cobra.Command, args []string) error {
	cfg, err := workerConfig(cmd)
	if err != nil {
		return err
	}
	useInstalledNames(cmd, &cfg)
	w, err := capture.New(cfg)
	if err != nil {
		return err
	}

	st, err := w.Status(cmd.Context())
	if err != nil {
		return err
	}

	schema := cfg.DestinationSchema
	if schema == "" {
		schema = capture.DefaultDestinationSchema
	}
	changesTable := pgx.Identifier{schema, "changes"}.Sanitize()
	if asJSON, _ := cmd.Flags().GetBool("json"); asJSON {
		enc := json.NewEncoder(cmd.OutOrStdout())
		enc.SetIndent("", "  ")
		if err := enc.Encode(newStatusJSON(st, changesTable)); err != nil {
			return err
		}
	} else {
		printStatus(cmd.OutOrStdout(), st, changesTable)
	}

	if !st.SetupFound {
		return errors.New("setup has not run in this database, or teardown removed it: run bemi setup")
	}

	return nil
}

// printStatus writes the status as aligned text.
func printStatus(out io.Writer, st capture.Status, changesTable string) {
	w := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	line := func(label, format string, args ...any) {
		fmt.Fprintf(w, "%s\t%s\n", label, fmt.Sprintf(format, args...))
	}

	line("Source database:", "%s", st.Database)
	line("Setup:", "%s", found(st.SetupFound))

	sl := st.Slot
	if sl.Found {
		line("Slot:", "%s, %s, wal_status %s, plugin %s", sl.Name, activity(sl), sl.WALStatus, sl.Plugin)
		line("Confirmed flush LSN:", "%s", sl.ConfirmedFlushLSN)
	} else {
		line("Slot:", "%s, not found", sl.Name)
	}
	line("Current WAL LSN:", "%s", st.CurrentLSN)
	if sl.Found {
		line("Lag:", "%s", formatBytes(sl.LagBytes))
		line("WAL retained:", "%s of max_slot_wal_keep_size %s", formatBytes(sl.RetainedBytes), keepSize(st.MaxSlotWALKeepSize, sl.SafeWALSize))
	}

	pub := st.Publication
	if pub.Found {
		root := "publish_via_partition_root"
		if !pub.ViaPartitionRoot {
			root = "without publish_via_partition_root"
		}
		line("Publication:", "%s, %d tables and partitions, %s", pub.Name, pub.Tables, root)
	} else {
		line("Publication:", "%s, not found", pub.Name)
	}
	line("Replica identity:", "%s", tableProblems(st.ReplicaIdentityProblems, "every table usable"))
	line("Context trigger:", "%s", tableProblems(st.TriggerProblems, "on every table"))

	line("Changes table:", "%s, %s", changesTable, found(st.ChangesTableFound))
	if st.CheckpointFound {
		cp := st.Checkpoint
		line("Last checkpoint:", "LSN %s, xid %d, committed at %s, updated at %s",
			cp.CommitLSN, cp.TransactionID, cp.CommittedAt.UTC().Format(time.RFC3339Nano), cp.UpdatedAt.UTC().Format(time.RFC3339Nano))
		line("Since last change:", "%s", st.SinceLastChange.Round(time.Millisecond))
	} else {
		line("Last checkpoint:", "none: the worker has not stored a change yet")
	}
	w.Flush()

	problems := st.Problems()
	if len(problems) == 0 {
		fmt.Fprintln(out, "\nNo problems found.")

		return
	}
	fmt.Fprintln(out, "\nProblems:")
	for _, p := range problems {
		fmt.Fprintf(out, "  - %s\n", p)
	}
}

func found(ok bool) string {
	if ok {
		return "found"
	}

	return "not found"
}

func activity(sl capture.SlotStatus) string {
	if sl.Active {
		return fmt.Sprintf("active (pid %d)", sl.ActivePID)
	}

	return "inactive"
}

// tableProblems returns the number of problem tables and their names, or
// none when there are none.
func tableProblems(problems []capture.TableProblem, none string) string {
	if len(problems) == 0 {
		return none
	}
	names := make([]string, len(problems))
	for i, p := range problems {
		names[i] = p.Table
	}

	return fmt.Sprintf("%d table(s) with problems: %s", len(problems), strings.Join(names, ", "))
}

func keepSize(maxKeep int64, safe *int64) string {
	if maxKeep < 0 {
		return "unlimited (-1)"
	}
	if safe == nil {
		return formatBytes(maxKeep)
	}

	return fmt.Sprintf("%s, %s left before the slot is invalidated", formatBytes(maxKeep), formatBytes(*safe))
}

// formatBytes writes n in bytes and, from 1 kB on, also in PostgreSQL's
// units (kB, MB, GB and TB of 1024).
func formatBytes(n int64) string {
	if n < 1024 && n > -1024 {
		return fmt.Sprintf("%d bytes", n)
	}

	value, unit := float64(n), ""
	for _, u := range []string{"kB", "MB", "GB", "TB"} {
		if value < 1024 && value > -1024 {
			break
		}
		value /= 1024
		unit = u
	}

	return fmt.Sprintf("%.1f %s (%d bytes)", value, unit, n)
}

// statusJSON is the --json form of capture.Status, with LSNs as text.
type statusJSON struct {
	Database                string          `json:"database"`
	SetupFound              bool            `json:"setup_found"`
	Slot                    slotJSON        `json:"slot"`
	CurrentLSN              string          `json:"current_lsn"`
	MaxSlotWALKeepSize      int64           `json:"max_slot_wal_keep_size_bytes"`
	Publication             publicationJSON `json:"publication"`
	ReplicaIdentityProblems []problemJSON   `json:"replica_identity_problems"`
	TriggerProblems         []problemJSON   `json:"trigger_problems"`
	ChangesTable            string          `json:"changes_table"`
	ChangesTableFound       bool            `json:"changes_table_found"`
	Checkpoint              *checkpointJSON `json:"checkpoint"`
	SecondsSinceLastChange  *float64        `json:"seconds_since_last_change"`
	SourceTime              time.Time       `json:"source_time"`
	Problems                []string        `json:"problems"`
}

type slotJSON struct {
	Name              string `json:"name"`
	Found             bool   `json:"found"`
	Active            bool   `json:"active"`
	ActivePID         int    `json:"active_pid,omitempty"`
	Type              string `json:"type,omitempty"`
	Plugin            string `json:"plugin,omitempty"`
	Database          string `json:"database,omitempty"`
	WALStatus         string `json:"wal_status,omitempty"`
	ConfirmedFlushLSN string `json:"confirmed_flush_lsn,omitempty"`
	RestartLSN        string `json:"restart_lsn,omitempty"`
	LagBytes          int64  `json:"lag_bytes"`
	RetainedBytes     int64  `json:"retained_bytes"`
	SafeWALSize       *int64 `json:"safe_wal_size_bytes"`
}

type publicationJSON struct {
	Name             string `json:"name"`
	Found            bool   `json:"found"`
	ViaPartitionRoot bool   `json:"via_partition_root"`
	Tables           int    `json:"tables"`
}

type problemJSON struct {
	Table   string `json:"table"`
	Problem string `json:"problem"`
}

type checkpointJSON struct {
	CommitLSN     string    `json:"commit_lsn"`
	EndLSN        string    `json:"end_lsn"`
	TransactionID uint32    `json:"transaction_id"`
	CommittedAt   time.Time `json:"committed_at"`
	UpdatedAt     time.Time `json:"updated_at"`
}

func newStatusJSON(st capture.Status, changesTable string) statusJSON {
	sl := st.Slot
	out := statusJSON{
		Database:   st.Database,
		SetupFound: st.SetupFound,
		Slot: slotJSON{
			Name: sl.Name, Found: sl.Found, Active: sl.Active, ActivePID: sl.ActivePID,
			Type: sl.Type, Plugin: sl.Plugin, Database: sl.Database, WALStatus: sl.WALStatus,
			LagBytes: sl.LagBytes, RetainedBytes: sl.RetainedBytes, SafeWALSize: sl.SafeWALSize,
		},
		CurrentLSN:         st.CurrentLSN.String(),
		MaxSlotWALKeepSize: st.MaxSlotWALKeepSize,
		Publication: publicationJSON{
			Name: st.Publication.Name, Found: st.Publication.Found,
			ViaPartitionRoot: st.Publication.ViaPartitionRoot, Tables: st.Publication.Tables,
		},
		ReplicaIdentityProblems: problemsJSON(st.ReplicaIdentityProblems),
		TriggerProblems:         problemsJSON(st.TriggerProblems),
		ChangesTable:            changesTable,
		ChangesTableFound:       st.ChangesTableFound,
		SourceTime:              st.SourceTime,
		Problems:                st.Problems(),
	}
	if sl.Found {
		out.Slot.ConfirmedFlushLSN = sl.ConfirmedFlushLSN.String()
		out.Slot.RestartLSN = sl.RestartLSN.String()
	}
	if out.Problems == nil {
		out.Problems = []string{}
	}
	if st.CheckpointFound {
		cp := st.Checkpoint
		out.Checkpoint = &checkpointJSON{
			CommitLSN: cp.CommitLSN.String(), EndLSN: cp.EndLSN.String(), TransactionID: cp.TransactionID,
			CommittedAt: cp.CommittedAt, UpdatedAt: cp.UpdatedAt,
		}
		seconds := st.SinceLastChange.Seconds()
		out.SecondsSinceLastChange = &seconds
	}

	return out
}

func problemsJSON(problems []capture.TableProblem) []problemJSON {
	out := make([]problemJSON, len(problems))
	for i, p := range problems {
		out[i] = problemJSON{Table: p.Table, Problem: p.Problem}
	}

	return out
}
