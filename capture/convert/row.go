package convert

import (
	"errors"
	"fmt"
)

// Column is one column of a table, with the name and type OID that a
// pgoutput Relation message carries for it.
type Column struct {
	Name    string
	TypeOID uint32
}

// Columns is the column list of a table, prepared for AppendRow: the JSON
// keys are escaped once, when the list is built. A Columns is immutable and
// safe for concurrent use.
type Columns struct {
	cols []Column
	keys []byte // the keys, each a JSON string and a colon, one after another
	ends []int  // ends[i] is the end of column i's key in keys
}

// NewColumns prepares a column list for AppendRow. Build it once per
// Relation message, not per row.
func NewColumns(cols []Column) *Columns {
	c := &Columns{cols: append([]Column(nil), cols...), ends: make([]int, len(cols))}
	for i, col := range cols {
		c.keys = appendKey(c.keys, col.Name)
		c.ends[i] = len(c.keys)
	}

	return c
}

// Len returns the number of columns.
func (c *Columns) Len() int { return len(c.cols) }

// Column returns column i.
func (c *Columns) Column(i int) Column { return c.cols[i] }

// AppendRow appends a row as one JSON object, like to_jsonb(row): one
// member per column, in column order. values[i] is the text of column i,
// and nil for SQL NULL (an empty non-nil slice is the empty string).
// Unchanged TOASTed values must be filled in by the caller beforehand.
//
// Like AppendValue, AppendRow allocates only to grow dst and to return an
// error, and a value that does not parse as its type is appended as a JSON
// string.
// AppendRow converts every column and then returns the *ValueError of the
// first such value, with its Column set.
func (r *Registry) AppendRow(dst []byte, cols *Columns, values [][]byte) ([]byte, error) {
	if len(values) != len(cols.cols) {
		return dst, fmt.Errorf("convert: append row: got %d values for %d columns; build Columns from the same Relation message as the row", len(values), len(cols.cols))
	}

	var firstErr error
	dst = append(dst, '{')
	keyStart := 0
	for i, v := range values {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, cols.keys[keyStart:cols.ends[i]]...)
		keyStart = cols.ends[i]

		if v == nil {
			dst = append(dst, "null"...)

			continue
		}

		var err error
		dst, err = r.AppendValue(dst, cols.cols[i].TypeOID, v)
		if err != nil && firstErr == nil {
			var valueErr *ValueError
			if errors.As(err, &valueErr) {
				valueErr.Column = cols.cols[i].Name
			}
			firstErr = err
		}
	}

	return append(dst, '}'), firstErr
}
