package history

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/bemi-go/bemi/core"
)

// Filter selects changes. Every field left at its zero value matches all
// changes; the fields that are set must all match.
type Filter struct {
	// Database is the source database. Empty means the Reader's
	// Config.Database.
	Database string

	// Schema and Table name the source table, as the changes table stores
	// them (the partitioned root for partitions).
	Schema string
	Table  string

	// PrimaryKeys selects records by their primary_key text: the value for
	// a one-column key, a JSON array of the values as strings for a
	// composite key, such as ["acme","42"]. Use it with Table.
	PrimaryKeys []string

	// Operations selects CREATE, UPDATE, DELETE or TRUNCATE changes.
	Operations []core.Operation

	// Since and Until bound the commit time: Since <= committed_at < Until.
	// A zero time is no bound.
	Since time.Time
	Until time.Time

	// Position selects the changes of one source transaction by its commit
	// LSN, and TransactionID by its xid. Zero is no filter. An xid can
	// repeat after wraparound, so a position is the exact way to name a
	// transaction.
	Position      int64
	TransactionID int64

	// Context selects changes whose context contains these fields, as
	// jsonb's @> operator defines containment: {"userId": 187234} matches
	// {"userId": 187234, "endpoint": "/todo"}. Nested objects match by
	// containment too.
	Context core.Fields
}

// IsZero reports whether the filter selects every change.
func (f Filter) IsZero() bool {
	return f.Database == "" && f.Schema == "" && f.Table == "" && len(f.PrimaryKeys) == 0 &&
		len(f.Operations) == 0 && f.Since.IsZero() && f.Until.IsZero() &&
		f.Position == 0 && f.TransactionID == 0 && len(f.Context) == 0
}

// whereBuilder collects SQL conditions and their parameters. Values always
// travel as parameters, never inside the SQL text.
type whereBuilder struct {
	conds []string
	args  []any
}

// arg adds a parameter and returns its placeholder.
func (w *whereBuilder) arg(v any) string {
	w.args = append(w.args, v)

	return "$" + strconv.Itoa(len(w.args))
}

func (w *whereBuilder) add(format string, values ...any) {
	placeholders := make([]any, len(values))
	for i, v := range values {
		placeholders[i] = w.arg(v)
	}
	w.conds = append(w.conds, fmt.Sprintf(format, placeholders...))
}

func (w *whereBuilder) sql() string {
	if len(w.conds) == 0 {
		return "TRUE"
	}

	return strings.Join(w.conds, " AND ")
}

// apply adds the conditions of f. The column order follows the index on
// ("table", primary_key, committed_at), so the planner can use it.
func (w *whereBuilder) apply(f Filter, defaultDatabase string) error {
	if f.Table != "" {
		w.add(`"table" = %s`, f.Table)
	}
	switch len(f.PrimaryKeys) {
	case 0:
	case 1:
		w.add("primary_key = %s", f.PrimaryKeys[0])
	default:
		w.add("primary_key = ANY(%s)", f.PrimaryKeys)
	}
	if f.Schema != "" {
		w.add("schema = %s", f.Schema)
	}
	database := f.Database
	if database == "" {
		database = defaultDatabase
	}
	if database != "" {
		w.add("database = %s", database)
	}
	if len(f.Operations) > 0 {
		ops := make([]string, len(f.Operations))
		for i, op := range f.Operations {
			if !validOperation(op) {
				return fmt.Errorf("invalid operation %q: use CREATE, UPDATE, DELETE or TRUNCATE", op)
			}
			ops[i] = string(op)
		}
		w.add("operation = ANY(%s)", ops)
	}
	if !f.Since.IsZero() {
		w.add("committed_at >= %s", f.Since)
	}
	if !f.Until.IsZero() {
		w.add("committed_at < %s", f.Until)
	}
	if f.Position != 0 {
		w.add("position = %s", f.Position)
	}
	if f.TransactionID != 0 {
		w.add("transaction_id = %s", f.TransactionID)
	}
	if len(f.Context) > 0 {
		doc, err := json.Marshal(f.Context)
		if err != nil {
			return fmt.Errorf("encode context filter: %w", err)
		}
		w.add("context @> %s::jsonb", string(doc))
	}

	return nil
}

func validOperation(op core.Operation) bool {
	switch op {
	case core.OperationCreate, core.OperationUpdate, core.OperationDelete, core.OperationTruncate:
		return true
	}

	return false
}
