package convert

import (
	"context"
	"fmt"
	"maps"

	"github.com/jackc/pgx/v5"
)

// Querier runs a query on a regular (not replication) connection to the
// source database. *pgx.Conn, *pgxpool.Pool and pgx.Tx satisfy it.
type Querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// catalogType is one row of pg_type as Load reads it.
type catalogType struct {
	oid      uint32
	name     string
	typtype  byte   // 'b' base, 'c' composite, 'd' domain, 'e' enum, 'r' range, 'm' multirange, 'p' pseudo; 0 if not found
	base     uint32 // typbasetype of a domain
	elem     uint32 // typelem of an array type, 0 for other types
	delim    byte
	attNames []string
	attTypes []uint32
}

// catalogQuery reads the given types and, recursively, the types they are
// built from: the base type of a domain, the element type of an array and
// the attribute types of a composite. Array types are the ones with an
// element type and a variable length, as in get_element_type before
// PostgreSQL 14; point and name have an element type but a fixed length.
const catalogQuery = `
WITH RECURSIVE needed(oid) AS (
	SELECT unnest($1::pg_catalog.oid[])
	UNION
	SELECT dep.oid
	FROM needed
	JOIN pg_catalog.pg_type t ON t.oid = needed.oid
	CROSS JOIN LATERAL (
		SELECT t.typbasetype WHERE t.typtype = 'd'
		UNION ALL
		SELECT t.typelem WHERE t.typelem <> 0 AND t.typlen = -1
		UNION ALL
		SELECT a.atttypid FROM pg_catalog.pg_attribute a
		WHERE t.typtype = 'c' AND a.attrelid = t.typrelid AND a.attnum > 0 AND NOT a.attisdropped
	) AS dep(oid)
)
SELECT t.oid,
	pg_catalog.format_type(t.oid, NULL),
	t.typtype::text,
	t.typbasetype,
	CASE WHEN t.typelem <> 0 AND t.typlen = -1 THEN t.typelem ELSE 0 END,
	t.typdelim::text,
	ARRAY(SELECT a.attname::text FROM pg_catalog.pg_attribute a
		WHERE t.typtype = 'c' AND a.attrelid = t.typrelid AND a.attnum > 0 AND NOT a.attisdropped
		ORDER BY a.attnum),
	ARRAY(SELECT a.atttypid FROM pg_catalog.pg_attribute a
		WHERE t.typtype = 'c' AND a.attrelid = t.typrelid AND a.attnum > 0 AND NOT a.attisdropped
		ORDER BY a.attnum)
FROM needed
JOIN pg_catalog.pg_type t ON t.oid = needed.oid`

// Load reads the types among oids that the registry has not loaded yet
// from the catalog, with the types they are built from. AppendValue then
// converts enums as strings, domains as their base type, composites as
// objects and arrays of them as arrays. Call it with the column type OIDs
// of each Relation message before converting its rows.
//
// Load runs one query when some types are new and none when all are known.
// A type that is not in the catalog (dropped meanwhile) is remembered as
// unknown, and its values become strings until Reload finds it.
func (r *Registry) Load(ctx context.Context, q Querier, oids []uint32) error {
	if r.knowsAll(oids) {
		return nil
	}

	r.mu.Lock()
	defer r.mu.Unlock()

	set := r.types.Load()
	var missing []uint32
	for _, oid := range oids {
		if !known(set, oid) {
			missing = append(missing, oid)
		}
	}
	if len(missing) == 0 {
		return nil
	}

	return r.load(ctx, q, missing)
}

// Reload reads the given types from the catalog again, whether or not the
// registry has loaded them, and relinks every loaded type that is built
// from them. Call it when a ValueError wraps ErrTypeChanged, or after DDL that
// changed a composite type.
func (r *Registry) Reload(ctx context.Context, q Querier, oids []uint32) error {
	r.mu.Lock()
	defer r.mu.Unlock()

	var want []uint32
	for _, oid := range oids {
		if builtin(oid) == nil {
			want = append(want, oid)
		}
	}
	if len(want) == 0 {
		return nil
	}

	return r.load(ctx, q, want)
}

func (r *Registry) knowsAll(oids []uint32) bool {
	set := r.types.Load()
	for _, oid := range oids {
		if !known(set, oid) {
			return false
		}
	}

	return true
}

func known(set *typeSet, oid uint32) bool {
	if builtin(oid) != nil {
		return true
	}
	if set == nil {
		return false
	}
	_, ok := set.rows[oid]

	return ok
}

// load queries the types and installs a new snapshot. r.mu must be held.
func (r *Registry) load(ctx context.Context, q Querier, oids []uint32) error {
	found, err := queryCatalog(ctx, q, oids)
	if err != nil {
		return fmt.Errorf("convert: load types %v from pg_type: %w", oids, err)
	}

	rows := make(map[uint32]catalogType)
	if old := r.types.Load(); old != nil {
		maps.Copy(rows, old.rows)
	}
	for _, oid := range oids {
		rows[oid] = catalogType{oid: oid}
	}
	for _, row := range found {
		rows[row.oid] = row
	}

	r.types.Store(&typeSet{rows: rows, byOID: link(rows)})

	return nil
}

func queryCatalog(ctx context.Context, q Querier, oids []uint32) ([]catalogType, error) {
	rows, err := q.Query(ctx, catalogQuery, oids)
	if err != nil {
		return nil, err
	}
	defer rows.Close()

	var found []catalogType
	for rows.Next() {
		var (
			row            catalogType
			typtype, delim string
		)
		err := rows.Scan(&row.oid, &row.name, &typtype, &row.base, &row.elem, &delim, &row.attNames, &row.attTypes)
		if err != nil {
			return nil, err
		}
		row.typtype = firstByte(typtype)
		row.delim = firstByte(delim)
		found = append(found, row)
	}

	return found, rows.Err()
}

func firstByte(s string) byte {
	if s == "" {
		return 0
	}

	return s[0]
}

// maxTypeDepth bounds how deep types may be built from other types, so
// that a corrupt catalog cannot recurse forever. PostgreSQL rejects cycles.
const maxTypeDepth = 64

// link builds the typeInfo of every catalog row, resolving the types each
// is built from among the rows and the built-in types.
func link(rows map[uint32]catalogType) map[uint32]*typeInfo {
	l := linker{rows: rows, out: make(map[uint32]*typeInfo, len(rows))}
	for oid := range rows {
		l.resolve(oid, 0)
	}

	return l.out
}

type linker struct {
	rows map[uint32]catalogType
	out  map[uint32]*typeInfo
}

func (l *linker) resolve(oid uint32, depth int) *typeInfo {
	if t := builtin(oid); t != nil {
		return t
	}
	if t, ok := l.out[oid]; ok {
		return t
	}
	row, ok := l.rows[oid]
	if !ok || row.typtype == 0 || depth > maxTypeDepth {
		return unknownType
	}

	delim := row.delim
	if delim == 0 {
		delim = ','
	}
	t := &typeInfo{oid: oid, name: row.name, kind: kindText, delim: delim}
	l.out[oid] = t

	switch {
	case row.typtype == 'd':
		base := l.resolve(row.base, depth+1)
		t.kind, t.elem, t.fields = base.kind, base.elem, base.fields
	case row.elem != 0:
		t.kind = kindArray
		t.elem = l.resolve(row.elem, depth+1)
	case row.typtype == 'c':
		t.kind = kindComposite
		t.fields = make([]field, len(row.attNames))
		for i, name := range row.attNames {
			var typ *typeInfo = unknownType
			if i < len(row.attTypes) {
				typ = l.resolve(row.attTypes[i], depth+1)
			}
			t.fields[i] = field{name: name, key: appendKey(nil, name), typ: typ}
		}
	}

	return t
}
