package capture

import (
	"time"

	"github.com/bemi-go/bemi/core"
)

// Metrics receives the worker's events. The worker calls its methods from
// its own goroutine, one at a time, so an implementation must return quickly
// and must not block. The methods take structs so fields can be added later
// without breaking implementations.
type Metrics interface {
	// Change is called for each change decoded and stitched.
	Change(ChangeEvent)

	// Flush is called after each destination commit.
	Flush(FlushEvent)

	// Reconnect is called before each reconnect attempt.
	Reconnect(ReconnectEvent)
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

	// Checkpoint is the position stored with the commit.
	Checkpoint Checkpoint

	// Duration is the time the destination took for the commit, including
	// the last COPY.
	Duration time.Duration
}

// ReconnectEvent describes a reconnect attempt after an error.
type ReconnectEvent struct {
	Attempt int
	Delay   time.Duration
	Err     error
}

// noMetrics drops every event.
type noMetrics struct{}

func (noMetrics) Change(ChangeEvent)       {}
func (noMetrics) Flush(FlushEvent)         {}
func (noMetrics) Reconnect(ReconnectEvent) {}
