package capture

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"

	"github.com/bemi-go/bemi/capture/convert"
)

// relation is a published table as described by pgoutput's last Relation
// message for its id, with its primary key from the catalog.
type relation struct {
	id     uint32
	schema string
	table  string

	columns []column

	// keyColumns are the indexes into columns of the primary key, in key
	// order; empty when the table has no primary key.
	keyColumns []int

	// own marks the worker's own tables, whose changes are never stored.
	own bool
}

type column struct {
	name string

	// quotedName is the name encoded as a JSON string, with the colon.
	quotedName []byte
	typeOID    uint32

	// replicaKey is pgoutput's key flag: part of the replica identity. With
	// REPLICA IDENTITY FULL every column has it, so it is used only to read
	// key-only old tuples, never as the primary key.
	replicaKey bool

	excluded bool
	masked   bool
}

// relations caches relations by id. It is used by one goroutine.
type relations struct {
	catalog  *pgx.Conn
	registry *convert.Registry
	rules    map[string]ColumnRule
	byID     map[uint32]*relation
}

func newRelations(catalog *pgx.Conn, registry *convert.Registry, rules map[string]ColumnRule) *relations {
	return &relations{catalog: catalog, registry: registry, rules: rules, byID: make(map[uint32]*relation)}
}

// update replaces the cached relation with the one in m, and looks up its
// primary key and column types again, because a Relation message follows
// every schema change of the table.
func (r *relations) update(ctx context.Context, m *pglogrepl.RelationMessage) (*relation, error) {
	ctx, cancel := context.WithTimeout(ctx, writeTimeout)
	defer cancel()

	rel := &relation{id: m.RelationID, schema: m.Namespace, table: m.RelationName}
	rule := r.rules[m.Namespace+"."+m.RelationName]

	oids := make([]uint32, 0, len(m.Columns))
	for _, c := range m.Columns {
		name, err := json.Marshal(c.Name)
		if err != nil {
			return nil, fmt.Errorf("encode column name %q: %w", c.Name, err)
		}
		rel.columns = append(rel.columns, column{
			name:       c.Name,
			quotedName: append(name, ':'),
			typeOID:    c.DataType,
			replicaKey: c.Flags&1 != 0,
			excluded:   slices.Contains(rule.Exclude, c.Name),
			masked:     slices.Contains(rule.Mask, c.Name),
		})
		oids = append(oids, c.DataType)
	}

	keys, err := primaryKeyColumns(ctx, r.catalog, m.RelationID)
	if err != nil {
		return nil, err
	}
	for _, k := range keys {
		i := slices.IndexFunc(rel.columns, func(c column) bool { return c.name == k })
		if i < 0 {
			// The catalog is newer than the message: the key column was
			// dropped or renamed since. Without all key columns there is no
			// usable key.
			rel.keyColumns = nil

			break
		}
		rel.keyColumns = append(rel.keyColumns, i)
	}

	if err := r.registry.Load(ctx, r.catalog, oids); err != nil {
		return nil, fmt.Errorf("load column types of %s.%s: %w", rel.schema, rel.table, err)
	}

	r.byID[rel.id] = rel

	return rel, nil
}

func (r *relations) get(id uint32) (*relation, error) {
	rel, ok := r.byID[id]
	if !ok {
		return nil, fmt.Errorf("decode change: unknown relation id %d: pgoutput sent no Relation message for it", id)
	}

	return rel, nil
}

// primaryKeyColumns returns the names of the primary key columns of a table
// in key order, or none when it has no primary key.
//
// NOTE: the catalog is read as it is now, not as it was when the change was
// made. A primary key changed while older changes are still being read
// applies to those changes too.
func primaryKeyColumns(ctx context.Context, conn *pgx.Conn, relid uint32) ([]string, error) {
	rows, err := conn.Query(ctx, `
SELECT a.attname
FROM pg_index i
CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, n)
JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
WHERE i.indrelid = $1 AND i.indisprimary
ORDER BY k.n`, relid)
	if err != nil {
		return nil, fmt.Errorf("look up primary key of relation %d: %w", relid, err)
	}

	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("look up primary key of relation %d: %w", relid, err)
	}

	return names, nil
}
