package history

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/jackc/pgx/v5"

	"github.com/bemi-go/bemi/capture"
)

// tableInfo is a source table as the catalog describes it now.
type tableInfo struct {
	schema, name string
	partitioned  bool

	// columns are the table's columns in attribute order, without dropped
	// ones.
	columns []columnInfo

	// keyColumns are the primary key's column names in key order; empty
	// when the table has no primary key.
	keyColumns []string
}

type columnInfo struct {
	name    string
	typeOID uint32

	// generated marks a generated column, which pgoutput does not send
	// (before PostgreSQL 18) and which cannot be written.
	generated bool

	// identityAlways marks GENERATED ALWAYS AS IDENTITY, which an INSERT
	// may set only with OVERRIDING SYSTEM VALUE.
	identityAlways bool

	excluded bool
	masked   bool
}

func (t *tableInfo) quoted() string { return pgx.Identifier{t.schema, t.name}.Sanitize() }

func (t *tableInfo) String() string { return t.schema + "." + t.name }

func (t *tableInfo) column(name string) *columnInfo {
	for i := range t.columns {
		if t.columns[i].name == name {
			return &t.columns[i]
		}
	}

	return nil
}

// errTableNotFound is wrapped by loadTable when the table does not exist.
var errTableNotFound = errors.New("table not found")

// loadTable reads a table's columns and primary key from the catalog and
// applies the worker's column rules to them.
func loadTable(ctx context.Context, q Querier, schema, name string, rules map[string]capture.ColumnRule) (*tableInfo, error) {
	t := &tableInfo{schema: schema, name: name}

	var relid uint32
	var kind string
	err := q.QueryRow(ctx, `
SELECT c.oid, c.relkind::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind IN ('r', 'p')`, schema, name).Scan(&relid, &kind)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("look up table %s: %w", t, errTableNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("look up table %s: %w", t, err)
	}
	t.partitioned = kind == "p"

	rows, err := q.Query(ctx, `
SELECT attname, atttypid, attgenerated <> '', attidentity = 'a'
FROM pg_attribute WHERE attrelid = $1 AND attnum > 0 AND NOT attisdropped ORDER BY attnum`, relid)
	if err != nil {
		return nil, fmt.Errorf("read columns of %s: %w", t, err)
	}
	rule := rules[schema+"."+name]
	for rows.Next() {
		var c columnInfo
		if err := rows.Scan(&c.name, &c.typeOID, &c.generated, &c.identityAlways); err != nil {
			rows.Close()

			return nil, fmt.Errorf("read columns of %s: %w", t, err)
		}
		c.excluded = slices.Contains(rule.Exclude, c.name)
		c.masked = slices.Contains(rule.Mask, c.name)
		t.columns = append(t.columns, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read columns of %s: %w", t, err)
	}

	keys, err := q.Query(ctx, `
SELECT a.attname FROM pg_index i
CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, n)
JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
WHERE i.indrelid = $1 AND i.indisprimary ORDER BY k.n`, relid)
	if err != nil {
		return nil, fmt.Errorf("read primary key of %s: %w", t, err)
	}
	t.keyColumns, err = pgx.CollectRows(keys, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("read primary key of %s: %w", t, err)
	}

	return t, nil
}

// publishedTables returns the tables of a publication as pgoutput names
// them: partitioned roots when the publication publishes through the root.
func publishedTables(ctx context.Context, q Querier, publication string) ([][2]string, error) {
	rows, err := q.Query(ctx, `SELECT schemaname::text, tablename::text FROM pg_publication_tables WHERE pubname = $1 ORDER BY 1, 2`, publication)
	if err != nil {
		return nil, fmt.Errorf("list tables of publication %s: %w", publication, err)
	}
	var out [][2]string
	for rows.Next() {
		var s, t string
		if err := rows.Scan(&s, &t); err != nil {
			rows.Close()

			return nil, fmt.Errorf("list tables of publication %s: %w", publication, err)
		}
		out = append(out, [2]string{s, t})
	}

	return out, rows.Err()
}
