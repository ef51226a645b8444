package history

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/bemi-go/bemi/capture"
	"github.com/bemi-go/bemi/capture/convert"
	"github.com/bemi-go/bemi/core"
)

// DefaultMaxRevertChanges is the largest set of changes that Revert undoes
// when RevertOptions.MaxChanges is zero.
const DefaultMaxRevertChanges = 10000

// RevertKey is the context key under which a revert records what it
// reverted: {"bemiRevert": {"filter": ..., "changes": 3, ...}}.
const RevertKey = "bemiRevert"

// RevertOptions configures Revert. The zero value checks for conflicts,
// rejects the revert when there are any, and writes.
type RevertOptions struct {
	// Force reverts even when rows changed after the changes being
	// reverted: each row is set back to its state before them, and later
	// changes to it are lost.
	Force bool

	// DryRun checks for conflicts and returns the statements without
	// running them.
	DryRun bool

	// Columns are the capture worker's column rules (capture.Config.Columns).
	// Masked and excluded columns have no real values in the changes, so
	// they are never written back. The rows read for the conflict check
	// are masked and cut the same way, so they cause no false conflict.
	Columns map[string]capture.ColumnRule

	// FillMissingColumns lets a revert insert a deleted row again although
	// some of its columns are unknown (masked, excluded, or added to the
	// table later): they take their defaults. Without it such a revert is
	// rejected.
	FillMissingColumns bool

	// MaxChanges bounds the number of changes reverted at once. Zero means
	// DefaultMaxRevertChanges; values above MaxLimit mean MaxLimit.
	MaxChanges int

	// By names who reverts, recorded in the revert's context as
	// bemiRevert.by.
	By string
}

// RevertResult is the outcome of Revert: the changes, conflicts and statements.
type RevertResult struct {
	// Changes are the changes being reverted, in commit order.
	Changes []core.Change

	// Conflicts are the rows that changed after the changes being
	// reverted.
	Conflicts []Conflict

	// Statements are the statements of the revert transaction, in order:
	// the session settings, the revert's context, then one statement per
	// inverse operation. Empty when conflicts stopped the revert.
	Statements []Statement

	// Context is the revert's own context, which its changes carry.
	Context json.RawMessage

	// Warnings name what the revert could not restore, such as masked
	// columns.
	Warnings []string

	// Applied reports whether the revert transaction committed.
	Applied bool
}

// Conflict is a row that is not in the state the reverted changes left it.
type Conflict struct {
	Table      string `json:"table"`
	PrimaryKey string `json:"primary_key"`
	Reason     string `json:"reason"`

	// Expected is the row as the reverted changes left it and Actual the
	// row now; nil means no row.
	Expected json.RawMessage `json:"expected,omitempty"`
	Actual   json.RawMessage `json:"actual,omitempty"`
}

func (c Conflict) String() string { return c.Table + " " + c.PrimaryKey + ": " + c.Reason }

// Revert undoes the changes that f selects in the source database. One
// transaction applies the inverse operations in reverse commit order: a
// CREATE is deleted, an UPDATE is set back to its before row, and a DELETE
// is inserted again. reader reads the changes table; source is a
// connection to the source database, not inside a transaction.
//
// Before writing, Revert locks each row and checks that it is still as the
// changes left it, comparing values as the capture worker converted them,
// and that no other change touched it between the changes being reverted.
// Otherwise it returns a *ConflictError listing the rows, unless
// opts.Force is set. TRUNCATE changes and tables without a primary key are
// rejected. With opts.DryRun it returns the statements without running
// them.
//
// The revert carries its own context through the transaction-local setting
// bemi.context: the fields of ctx (core.FieldsFrom) plus RevertKey with the
// filter, the number of changes, their transactions and opts.By, so the
// capture worker records who reverted what.
func Revert(ctx context.Context, source *pgx.Conn, reader *Reader, f Filter, opts RevertOptions) (*RevertResult, error) {
	if f.IsZero() {
		return nil, errors.New("revert: empty filter: select the changes by position, transaction id, context, table or time")
	}
	if source.PgConn().TxStatus() != 'I' {
		return nil, errors.New("revert: the source connection is inside a transaction: pass an idle connection")
	}
	if opts.MaxChanges <= 0 {
		opts.MaxChanges = DefaultMaxRevertChanges
	}

	var database string
	if err := source.QueryRow(ctx, "SELECT current_database()").Scan(&database); err != nil {
		return nil, fmt.Errorf("revert: read source database name: %w", err)
	}
	if f.Database != "" && f.Database != database {
		return nil, fmt.Errorf("revert: the filter selects database %s, but the source connection is to %s", f.Database, database)
	}
	f.Database = database

	changes, err := reader.All(ctx, f, opts.MaxChanges)
	if err != nil {
		return nil, fmt.Errorf("revert: %w", err)
	}
	if len(changes) == 0 {
		return nil, errors.New("revert: no change matches the filter")
	}
	slices.SortFunc(changes, func(a, b core.Change) int {
		return cmp.Or(cmp.Compare(a.Position, b.Position), cmp.Compare(a.Ordinal, b.Ordinal))
	})
	for _, c := range changes {
		if c.Operation == core.OperationTruncate {
			return nil, fmt.Errorf("revert: change %s is a TRUNCATE of %s.%s at position %d, which cannot be reverted: the changes table does not hold the truncated rows; narrow the filter to leave it out",
				c.ID, c.Schema, c.Table, c.Position)
		}
		if c.PrimaryKey == nil {
			return nil, &NoPrimaryKeyError{Table: c.Schema + "." + c.Table}
		}
	}

	result := &RevertResult{Changes: changes}
	result.Context, err = revertContext(ctx, f, changes, opts)
	if err != nil {
		return nil, err
	}

	interleaved, err := interleavedChanges(ctx, reader, changes)
	if err != nil {
		return nil, fmt.Errorf("revert: %w", err)
	}

	tx, err := source.Begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("revert: begin source transaction: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // a no-op after Commit

	if err := runRevert(ctx, tx, changes, interleaved, opts, result); err != nil {
		return result, err
	}
	if opts.DryRun {
		return result, nil
	}

	if err := tx.Commit(ctx); err != nil {
		return result, fmt.Errorf("revert: commit: %w", err)
	}
	result.Applied = true

	return result, nil
}

// runRevert plans the revert inside tx, checks for conflicts, and runs the
// statements unless it is a dry run.
func runRevert(ctx context.Context, tx pgx.Tx, changes []core.Change, interleaved []Conflict, opts RevertOptions, result *RevertResult) error {
	settings := settingStatements(result.Context)
	for _, s := range settings {
		if _, err := tx.Exec(ctx, s.SQL, s.Args...); err != nil {
			return fmt.Errorf("revert: %s: %w", s.String(), err)
		}
	}

	p, err := newPlanner(ctx, tx, changes, opts)
	if err != nil {
		return fmt.Errorf("revert: %w", err)
	}
	if err := p.readCurrent(ctx, tx); err != nil {
		return fmt.Errorf("revert: %w", err)
	}

	result.Conflicts = append(p.conflicts(), interleaved...)
	if len(result.Conflicts) > 0 && !opts.Force {
		return &ConflictError{Conflicts: result.Conflicts}
	}

	statements, err := p.inverse()
	if err != nil {
		return fmt.Errorf("revert: %w", err)
	}
	result.Warnings = p.warnings
	result.Statements = append(settings, statements...)
	if opts.DryRun {
		return nil
	}

	for _, s := range statements {
		tag, err := tx.Exec(ctx, s.SQL, s.Args...)
		if err != nil {
			return fmt.Errorf("revert: %s: %w", s.String(), err)
		}
		if tag.RowsAffected() != 1 {
			return fmt.Errorf("revert: %s changed %d rows, expected 1: the row changed during the revert; try again", s.String(), tag.RowsAffected())
		}
	}

	return nil
}

// settingStatements pin the session settings that the conversion of values
// depends on, for this transaction, and set the revert's context.
func settingStatements(context json.RawMessage) []Statement {
	settings := convert.SessionSettings()
	names := slices.Sorted(maps.Keys(settings))
	out := make([]Statement, 0, len(names)+1)
	for _, name := range names {
		out = append(out, Statement{SQL: "SELECT set_config($1, $2, true)", Args: []any{name, settings[name]}})
	}

	return append(out, Statement{SQL: "SELECT set_config($1, $2, true)", Args: []any{core.SettingName, string(context)}})
}

// revertContext builds the revert's context: the caller's fields with
// RevertKey added.
func revertContext(ctx context.Context, f Filter, changes []core.Change, opts RevertOptions) (json.RawMessage, error) {
	var positions []int64
	for _, c := range changes {
		if len(positions) == 0 || positions[len(positions)-1] != c.Position {
			positions = append(positions, c.Position)
		}
	}

	info := map[string]any{
		"filter":  filterFields(f),
		"changes": len(changes),
	}
	// Transactions are named by commit LSN. A long list is left out to keep
	// the context small, and the filter still records what was chosen.
	if len(positions) <= 100 {
		info["transactions"] = positions
	}
	if opts.By != "" {
		info["by"] = opts.By
	}
	if opts.Force {
		info["forced"] = true
	}

	fields := core.FieldsFrom(ctx)
	if fields == nil {
		fields = core.Fields{}
	}
	fields[RevertKey] = info

	payload, err := (&core.Encoder{MaxSize: -1}).Encode(fields)
	if err != nil {
		return nil, fmt.Errorf("revert: encode revert context: %w", err)
	}

	return payload, nil
}

// filterFields returns the fields of f that are set, for the revert's
// context.
func filterFields(f Filter) map[string]any {
	m := map[string]any{"database": f.Database}
	set := func(key string, value any, ok bool) {
		if ok {
			m[key] = value
		}
	}
	set("schema", f.Schema, f.Schema != "")
	set("table", f.Table, f.Table != "")
	set("primaryKeys", f.PrimaryKeys, len(f.PrimaryKeys) > 0)
	set("operations", f.Operations, len(f.Operations) > 0)
	set("since", f.Since.UTC().Format(time.RFC3339Nano), !f.Since.IsZero())
	set("until", f.Until.UTC().Format(time.RFC3339Nano), !f.Until.IsZero())
	set("position", f.Position, f.Position != 0)
	set("transactionId", f.TransactionID, f.TransactionID != 0)
	set("context", f.Context, len(f.Context) > 0)

	return m
}
