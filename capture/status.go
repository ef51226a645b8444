package capture

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"
)

// TriggerName is the name of the statement-level trigger that bemi setup
// installs on every tracked table and partition.
const TriggerName = "_bemi_context"

// Status is the state of a capture installation, as Worker.Status reads it
// from the source and the destination.
type Status struct {
	// Database is the source database.
	Database string

	// SetupFound is true when the source has schema bemi with the
	// configuration table that bemi setup creates.
	SetupFound bool

	Slot        SlotStatus
	Publication PublicationStatus

	// CurrentLSN is the source's current WAL position (the replay position
	// on a standby).
	CurrentLSN pglogrepl.LSN

	// MaxSlotWALKeepSize is the source's max_slot_wal_keep_size in bytes,
	// -1 when slots may retain any amount of WAL.
	MaxSlotWALKeepSize int64

	// ReplicaIdentityProblems lists the published tables and partitions
	// whose UPDATE and DELETE fail because of their replica identity:
	// NOTHING, or DEFAULT without a primary key.
	ReplicaIdentityProblems []TableProblem

	// TriggerProblems lists the published tables and partitions without an
	// enabled _bemi_context trigger, whose changes get no context.
	TriggerProblems []TableProblem

	// ChangesTableFound is true when the destination has the changes table
	// in the configured schema.
	ChangesTableFound bool

	// Checkpoint is the destination's checkpoint for the slot, valid when
	// CheckpointFound is true: the worker has stored changes.
	Checkpoint      Checkpoint
	CheckpointFound bool

	// SinceLastChange is the time from the source commit of the last stored
	// transaction to SourceTime, both by the source's clock. It is zero
	// without a checkpoint.
	SinceLastChange time.Duration

	// SourceTime is the source's clock when the status was read.
	SourceTime time.Time
}

// SlotStatus is the state of the replication slot, from
// pg_replication_slots.
type SlotStatus struct {
	Name string

	// Found is false when the slot does not exist; the other fields are
	// then zero.
	Found bool

	// Active is true while a process streams from the slot, and ActivePID
	// is that process on the source server.
	Active    bool
	ActivePID int

	// Type is "logical" or "physical", Plugin the output plugin and
	// Database the database the slot belongs to.
	Type     string
	Plugin   string
	Database string

	// WALStatus is reserved, extended, unreserved or lost (invalidated).
	WALStatus string

	// ConfirmedFlushLSN is the position the worker confirmed: everything
	// before it is stored. RestartLSN is the oldest WAL the slot retains.
	ConfirmedFlushLSN pglogrepl.LSN
	RestartLSN        pglogrepl.LSN

	// LagBytes is CurrentLSN minus ConfirmedFlushLSN, and RetainedBytes is
	// CurrentLSN minus RestartLSN, the WAL kept for the slot.
	LagBytes      int64
	RetainedBytes int64

	// SafeWALSize is how many more bytes of WAL can be written before the
	// slot risks invalidation (pg_replication_slots.safe_wal_size), nil
	// when max_slot_wal_keep_size is -1.
	SafeWALSize *int64
}

// PublicationStatus is the state of the publication.
type PublicationStatus struct {
	Name string

	// Found is false when the publication does not exist.
	Found bool

	// ViaPartitionRoot is publish_via_partition_root, which makes changes
	// to partitions name their partitioned root table.
	ViaPartitionRoot bool

	// Tables counts the tables and partitions the publication covers.
	Tables int
}

// TableProblem is one table with a problem.
type TableProblem struct {
	// Table is the schema-qualified name, quoted where needed.
	Table string

	// Problem describes what is wrong and its effect.
	Problem string
}

// ErrSetupNotFound is returned by Worker.Status when the source has none of
// the objects that bemi setup creates: schema bemi, the publication and the
// slot.
var ErrSetupNotFound = errors.New("bemi setup has not run")

// Problems returns one line per problem that stops or degrades capture, in
// order of severity. It is empty when everything is in place.
func (s Status) Problems() []string {
	var out []string
	sl := s.Slot
	switch {
	case !sl.Found:
		out = append(out, fmt.Sprintf("replication slot %q not found: run bemi setup", sl.Name))
	case sl.Type != "logical" || sl.Plugin != "pgoutput":
		out = append(out, fmt.Sprintf("replication slot %q is a %s slot with plugin %q, not a logical slot with plugin pgoutput", sl.Name, sl.Type, sl.Plugin))
	case sl.Database != s.Database:
		out = append(out, fmt.Sprintf("replication slot %q belongs to database %q", sl.Name, sl.Database))
	case sl.WALStatus == "lost":
		out = append(out, fmt.Sprintf("replication slot %q is invalidated (wal_status lost): changes were lost; drop it and run bemi setup", sl.Name))
	case sl.WALStatus == "unreserved":
		out = append(out, fmt.Sprintf("replication slot %q retains more WAL than max_slot_wal_keep_size (wal_status unreserved): it is invalidated at the next checkpoint unless the worker catches up", sl.Name))
	}
	if sl.Found && !sl.Active {
		out = append(out, fmt.Sprintf("replication slot %q is not active: no worker is streaming from it", sl.Name))
	}

	if !s.Publication.Found {
		out = append(out, fmt.Sprintf("publication %q not found: run bemi setup", s.Publication.Name))
	} else if !s.Publication.ViaPartitionRoot {
		out = append(out, fmt.Sprintf("publication %q does not set publish_via_partition_root: changes to partitions name the partition", s.Publication.Name))
	}

	for _, p := range s.ReplicaIdentityProblems {
		out = append(out, p.Table+": "+p.Problem)
	}
	for _, p := range s.TriggerProblems {
		out = append(out, p.Table+": "+p.Problem)
	}
	if !s.ChangesTableFound {
		out = append(out, "changes table not found in the destination: it is created when bemi capture starts")
	}

	return out
}

// Status reads the state of the worker's slot, publication, tables and
// checkpoint on connections of its own, so it may run while Run runs. It
// returns an error wrapping ErrSetupNotFound when setup has not run in the
// source database; missing parts of a setup are reported in the Status
// instead (see Status.Problems).
func (w *Worker) Status(ctx context.Context) (Status, error) {
	source, err := connect(ctx, w.cfg.SourceURL)
	if err != nil {
		return Status{}, scrubError(fmt.Errorf("connect to source: %w", err), w.cfg.SourceURL)
	}
	defer closeConn(source)

	st, err := readSourceStatus(ctx, source, w.cfg)
	if err != nil {
		return Status{}, scrubError(err, w.cfg.SourceURL)
	}
	if !st.SetupFound && !st.Slot.Found && !st.Publication.Found {
		return st, fmt.Errorf("status of database %q: %w: no bemi.config table, no publication %q and no replication slot %q: run bemi setup",
			st.Database, ErrSetupNotFound, w.cfg.Publication, w.cfg.Slot)
	}

	dest := source
	if w.cfg.DestinationURL != w.cfg.SourceURL {
		dest, err = connect(ctx, w.cfg.DestinationURL)
		if err != nil {
			return st, scrubError(fmt.Errorf("connect to destination: %w", err), w.cfg.DestinationURL)
		}
		defer closeConn(dest)
	}

	table := pgx.Identifier{w.cfg.DestinationSchema, "changes"}.Sanitize()
	if err := dest.QueryRow(ctx, "SELECT to_regclass($1) IS NOT NULL", table).Scan(&st.ChangesTableFound); err != nil {
		return st, fmt.Errorf("look up %s in the destination: %w", table, err)
	}
	st.Checkpoint, st.CheckpointFound, err = ReadCheckpoint(ctx, dest, w.cfg.Slot, st.Database)
	if err != nil {
		return st, err
	}
	if st.CheckpointFound {
		st.SinceLastChange = max(st.SourceTime.Sub(st.Checkpoint.CommittedAt), 0)
	}

	return st, nil
}
