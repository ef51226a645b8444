package history

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/bemi-go/bemi/capture"
	"github.com/bemi-go/bemi/capture/convert"
)

// maskedJSON is the JSON the capture worker stores for a masked value.
var maskedJSON = []byte(`"` + capture.MaskedValue + `"`)

// rowConverter turns rows read in text format into the JSON objects that
// the capture worker stores, so that a current row and a captured row
// compare equal when the row has not changed. The text must come from a
// session with convert.SessionSettings, as on the worker's connection.
type rowConverter struct {
	registry *convert.Registry
	table    *tableInfo

	// columns are the columns read: every column but generated ones.
	// Excluded columns are read too, because a primary key column may be
	// excluded from before and after while primary_key still holds it.
	columns []columnInfo
	keys    []int // indexes into columns of the primary key, in key order
}

// newRowConverter loads the column types of t into registry and prepares
// the conversion.
func newRowConverter(ctx context.Context, q convert.Querier, registry *convert.Registry, t *tableInfo) (*rowConverter, error) {
	rc := &rowConverter{registry: registry, table: t}
	oids := make([]uint32, 0, len(t.columns))
	for _, c := range t.columns {
		if c.generated {
			continue
		}
		rc.columns = append(rc.columns, c)
		oids = append(oids, c.typeOID)
	}
	for _, k := range t.keyColumns {
		i := -1
		for j, c := range rc.columns {
			if c.name == k {
				i = j
			}
		}
		if i < 0 {
			return nil, fmt.Errorf("read %s: primary key column %s is generated, which capture does not store", t, k)
		}
		rc.keys = append(rc.keys, i)
	}
	if err := registry.Load(ctx, q, oids); err != nil {
		return nil, fmt.Errorf("load column types of %s: %w", t, err)
	}

	return rc, nil
}

// selectList returns the quoted columns to read, qualified by alias.
func (rc *rowConverter) selectList(alias string) string {
	parts := make([]string, len(rc.columns))
	for i, c := range rc.columns {
		parts[i] = alias + "." + pgx.Identifier{c.name}.Sanitize()
	}

	return strings.Join(parts, ", ")
}

// appendRow appends the row as the worker's JSON object: excluded columns
// left out, masked non-NULL values replaced by capture.MaskedValue, NULL
// as null, every other value converted by its type. values[i] is the text
// of column i, nil for NULL.
func (rc *rowConverter) appendRow(dst []byte, values [][]byte) ([]byte, error) {
	if len(values) != len(rc.columns) {
		return dst, fmt.Errorf("read %s: got %d values for %d columns", rc.table, len(values), len(rc.columns))
	}

	dst = append(dst, '{')
	first := true
	for i, c := range rc.columns {
		if c.excluded {
			continue
		}
		if !first {
			dst = append(dst, ',')
		}
		first = false
		name, _ := json.Marshal(c.name) // a string always encodes
		dst = append(dst, name...)
		dst = append(dst, ':')

		switch {
		case values[i] == nil:
			dst = append(dst, "null"...)
		case c.masked:
			dst = append(dst, maskedJSON...)
		default:
			var err error
			dst, err = rc.registry.AppendValue(dst, c.typeOID, values[i])
			// A value that does not parse as its type is kept as a JSON
			// string, as the capture worker keeps it.
			var valueErr *convert.ValueError
			if err != nil && !errors.As(err, &valueErr) {
				return dst, fmt.Errorf("convert %s.%s (type %d): %w", rc.table, c.name, c.typeOID, err)
			}
		}
	}

	return append(dst, '}'), nil
}

// primaryKey returns the row's primary_key text, in the capture worker's
// form: the value's text for a one-column key, and a JSON array of the
// values' texts (null for NULL) in key order for a composite key. It is
// empty and false for a table without a primary key.
func (rc *rowConverter) primaryKey(values [][]byte) (string, bool) {
	if len(rc.keys) == 0 {
		return "", false
	}
	if len(rc.keys) == 1 {
		return string(values[rc.keys[0]]), true
	}

	parts := make([]*string, len(rc.keys))
	for i, k := range rc.keys {
		if values[k] != nil {
			s := string(values[k])
			parts[i] = &s
		}
	}

	return encodeKey(parts), true
}

// encodeKey encodes a composite key's parts as a JSON array without HTML
// escaping, the form the capture worker stores.
func encodeKey(parts []*string) string {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(parts) // strings and nulls always encode

	return string(bytes.TrimSuffix(buf.Bytes(), []byte("\n")))
}
