package core

import (
	"encoding/json"
	"time"
)

// Operation is the kind of row change, as stored in the changes table.
type Operation string

// Operations, spelled as in Bemi's changes table.
const (
	OperationCreate   Operation = "CREATE"
	OperationUpdate   Operation = "UPDATE"
	OperationDelete   Operation = "DELETE"
	OperationTruncate Operation = "TRUNCATE"
)

// Change is one captured row change with the context of the statement that
// made it: one row of the changes table.
type Change struct {
	// ID is a random UUID assigned when the change is captured.
	ID string `json:"id"`

	// Database, Schema and Table name the source table. A change to a
	// partition reports its partitioned root table.
	Database string `json:"database"`
	Schema   string `json:"schema"`
	Table    string `json:"table"`

	// PrimaryKey is the row's primary key in text form: the value itself for
	// a one-column key, a JSON array of the values in key order for a
	// composite key, and nil for TRUNCATE and for tables without a primary key.
	PrimaryKey *string `json:"primary_key"`

	Operation Operation `json:"operation"`

	// Before and After are the row as a JSON object before and after the
	// change; Before is {} for CREATE and After is {} for DELETE and TRUNCATE.
	Before json.RawMessage `json:"before"`
	After  json.RawMessage `json:"after"`

	// Context is the application context of the statement, {} when it had
	// none.
	Context json.RawMessage `json:"context"`

	// CommittedAt is the source transaction's commit time, QueuedAt the time
	// the worker decoded the change and CreatedAt the time it was stored.
	CommittedAt time.Time `json:"committed_at"`
	QueuedAt    time.Time `json:"queued_at"`
	CreatedAt   time.Time `json:"created_at"`

	// TransactionID is the source transaction id (xid). It is informational
	// only, because xids wrap around.
	TransactionID int64 `json:"transaction_id"`

	// Position is the commit LSN of the source transaction and Ordinal the
	// change's zero-based place within it. Together with Database they
	// identify a change uniquely, also when a COPY writes many rows at one LSN.
	Position int64 `json:"position"`
	Ordinal  int32 `json:"ordinal"`
}
