package capture

import (
	"time"

	"github.com/jackc/pglogrepl"

	"github.com/bemi-go/bemi/core"
)

// Metrics receives the worker's events. The worker calls its methods from
// its own goroutine, one at a time, so an implementation must return quickly
// and must not block. The methods take structs so fields can be added later
// without breaking implementations.
//
// A Metrics may also implement SessionMetrics, PositionMetrics,
// InvalidContextMetrics and ValueErrorMetrics; New detects them once by
// type assertion. The
// package github.com/bemi-go/bemi/capture/monitor implements all of them
// with Prometheus collectors.
type Metrics interface {
	// Change is called for each change decoded and stitched. A change may be
	// decoded again after a reconnect, so count stored changes from Flush.
	Change(ChangeEvent)

	// Flush is called after each destination commit.
	Flush(FlushEvent)

	// Reconnect is called before each reconnect attempt.
	Reconnect(ReconnectEvent)
}

// SessionMetrics is an optional interface of a Metrics that follows the
// worker's connections.
type SessionMetrics interface {
	// Connected is called when the worker has connected to the source and
	// the destination and started streaming from the slot, which is then
	// active.
	Connected(ConnectedEvent)

	// Disconnected is called when that streaming session ends, after an
	// error or a stop.
	Disconnected(DisconnectedEvent)
}

// PositionMetrics is an optional interface of a Metrics that follows the
// replication positions. When a Metrics implements it, the worker reads the
// source's current WAL position once per Config.StatusInterval.
type PositionMetrics interface {
	// Position is called after each standby status update the worker sends
	// and each keepalive it receives.
	Position(PositionEvent)
}

// InvalidContextMetrics is an optional interface of a Metrics that counts
// context payloads that are not JSON objects, or that jsonb rejects.
type InvalidContextMetrics interface {
	// InvalidContext is called for each _bemi message whose payload is not
	// a JSON object, or is one that PostgreSQL's jsonb input rejects. Its
	// changes keep the payload as text under core.InvalidContextKey.
	InvalidContext(InvalidContextEvent)
}

// ValueErrorMetrics is an optional interface of a Metrics that counts
// column values that did not parse as their type.
type ValueErrorMetrics interface {
	// ValueError is called for each such value, which the change stores as
	// a JSON string. A change may be decoded again after a reconnect, so a
	// value may be counted more than once.
	ValueError(ValueErrorEvent)
}

// ChangeEvent describes one decoded change.
type ChangeEvent struct {
	Schema    string
	Table     string
	Operation core.Operation

	// HasContext is false when the change was stitched to {}.
	HasContext bool
}

// FlushEvent describes one destination commit.
type FlushEvent struct {
	// Rows is the number of change rows committed, and Transactions the
	// number of source transactions they came from.
	Rows         int
	Transactions int

	// Created, Updated, Deleted and Truncated count the committed rows by
	// operation, and WithContext the rows whose context is not {}.
	Created     int
	Updated     int
	Deleted     int
	Truncated   int
	WithContext int

	// Checkpoint is the position stored with the commit.
	Checkpoint Checkpoint

	// Duration is the time the destination took for the rows and the
	// commit: every COPY of the destination transaction, the checkpoint and
	// the commit.
	Duration time.Duration

	// Rejected counts the committed rows that the destination rejected and
	// that were stored in degraded form, with RejectedKey in place of the
	// rejected values. Rows counts them too.
	Rejected int
}

// ReconnectEvent describes a reconnect attempt after an error.
type ReconnectEvent struct {
	Attempt int
	Delay   time.Duration
	Err     error
}

// ConnectedEvent describes the start of a streaming session.
type ConnectedEvent struct {
	// Slot is the replication slot and Database the source database.
	Slot     string
	Database string

	// Start is the position streaming started from.
	Start pglogrepl.LSN
}

// DisconnectedEvent describes the end of a streaming session.
type DisconnectedEvent struct {
	// Err is the error that ended the session, nil after a clean stop.
	Err error
}

// PositionEvent describes the replication positions at one moment.
type PositionEvent struct {
	// ServerWALEnd is the highest WAL position known on the source: the
	// last pg_current_wal_lsn() the worker read, or a keepalive's position
	// when that is higher. It is zero until the first of them.
	ServerWALEnd pglogrepl.LSN

	// Confirmed is the position confirmed to the slot: every change before
	// it is stored.
	Confirmed pglogrepl.LSN

	// Time is when the position was observed.
	Time time.Time
}

// Lag returns the WAL in bytes between Confirmed and ServerWALEnd, or 0 when
// the confirmed position is ahead, as it is until the first reading.
func (e PositionEvent) Lag() uint64 {
	if e.ServerWALEnd <= e.Confirmed {
		return 0
	}

	return uint64(e.ServerWALEnd - e.Confirmed)
}

// InvalidContextEvent describes a _bemi message whose payload was kept as
// text. It carries the size and the reason, never the payload.
type InvalidContextEvent struct {
	TransactionID uint32
	LSN           pglogrepl.LSN
	Size          int

	// Reason is one of core's ErrContext errors, such as
	// core.ErrContextNotObject.
	Reason error
}

// ValueErrorEvent describes a column value that did not parse as its type.
// It names the column, never the value.
type ValueErrorEvent struct {
	Schema string
	Table  string
	Column string
}

// noMetrics drops every event.
type noMetrics struct{}

func (noMetrics) Change(ChangeEvent)       {}
func (noMetrics) Flush(FlushEvent)         {}
func (noMetrics) Reconnect(ReconnectEvent) {}
