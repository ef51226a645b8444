package history

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/bemi-go/bemi/core"
)

// FieldChange is one changed column of a row: its old and new JSON values.
// Old is nil for a column that the change added, and New is nil for one it
// removed. A SQL NULL is the JSON null, not nil.
type FieldChange struct {
	Column string          `json:"column"`
	Old    json.RawMessage `json:"old,omitempty"`
	New    json.RawMessage `json:"new,omitempty"`
}

// Added reports whether the column is in the new row only: every column of
// a CREATE, or a column added to the table before an UPDATE.
func (f FieldChange) Added() bool { return f.Old == nil && f.New != nil }

// Removed reports whether the column is in the old row only: every column
// of a DELETE, or a column dropped before an UPDATE.
func (f FieldChange) Removed() bool { return f.Old != nil && f.New == nil }

// Diff returns the columns whose values differ between c.Before and c.After,
// sorted by column name. Values are compared as jsonb compares them, so a
// number written 1.50 in one row and 1.5 in the other is unchanged. A
// CREATE lists every column as added, a DELETE every column as removed,
// and a TRUNCATE nothing. A masked column always shows the same value, so
// it never appears.
func Diff(c core.Change) ([]FieldChange, error) {
	before, err := decodeObject(c.Before)
	if err != nil {
		return nil, fmt.Errorf("diff change %s: before: %w", c.ID, err)
	}
	after, err := decodeObject(c.After)
	if err != nil {
		return nil, fmt.Errorf("diff change %s: after: %w", c.ID, err)
	}

	return diffRows(before, after), nil
}

func diffRows(before, after map[string]json.RawMessage) []FieldChange {
	var out []FieldChange
	for k, old := range before {
		nv, ok := after[k]
		switch {
		case !ok:
			out = append(out, FieldChange{Column: k, Old: old})
		case !equalJSON(old, nv):
			out = append(out, FieldChange{Column: k, Old: old, New: nv})
		}
	}
	for k, nv := range after {
		if _, ok := before[k]; !ok {
			out = append(out, FieldChange{Column: k, New: nv})
		}
	}
	slices.SortFunc(out, func(a, b FieldChange) int { return strings.Compare(a.Column, b.Column) })

	return out
}
