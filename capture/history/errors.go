package history

import (
	"fmt"
	"strings"
	"time"
)

// HistoryError reports that the changes table and the snapshots do not
// reach back to the requested time, so the state then is unknown. As-of
// queries return it rather than a guess.
type HistoryError struct {
	// Table is "schema.table" and PrimaryKey the record's key; PrimaryKey is
	// empty for a whole-table query.
	Table      string
	PrimaryKey string
	At         time.Time

	// Reason is the missing piece of history.
	Reason string
}

func (e *HistoryError) Error() string {
	what := e.Table
	if e.PrimaryKey != "" {
		what += " record " + e.PrimaryKey
	}

	return fmt.Sprintf("history of %s does not reach back to %s: %s", what, e.At.UTC().Format(time.RFC3339Nano), e.Reason)
}

// NoPrimaryKeyError reports a table without a primary key. Its changes have
// no primary_key, so as-of and revert cannot tell its rows apart.
type NoPrimaryKeyError struct {
	Table string // "schema.table"
}

func (e *NoPrimaryKeyError) Error() string {
	return fmt.Sprintf("table %s has no primary key, so its rows cannot be addressed: add a primary key to track it by record", e.Table)
}

// ConflictError is returned by Revert when rows changed after the changes
// being reverted, and the revert was not forced.
type ConflictError struct {
	Conflicts []Conflict
}

func (e *ConflictError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "revert rejected: %d row(s) changed after the changes being reverted (use force to revert anyway)", len(e.Conflicts))
	for i, c := range e.Conflicts {
		if i == 10 {
			fmt.Fprintf(&b, "; and %d more", len(e.Conflicts)-i)

			break
		}
		b.WriteString("; ")
		b.WriteString(c.String())
	}

	return b.String()
}
