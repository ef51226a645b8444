package history

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/bemi-go/bemi/capture"
	"github.com/bemi-go/bemi/capture/convert"
	"github.com/bemi-go/bemi/core"
)

// planner computes a revert: the state the changes left each row in, the
// rows as they are now, and the inverse statements.
type planner struct {
	opts    RevertOptions
	changes []core.Change
	tables  map[string]*plannedTable // by "schema.table"

	// final is the state each touched row was left in by the changes, and
	// current its state now, both by key identity (see keyOf).
	final   map[string]*rowState
	current map[string]*rowState
	order   []string // key identities in the order first touched

	warnings []string
	warned   map[string]bool
}

type plannedTable struct {
	info *tableInfo
	rc   *rowConverter
	keys []json.RawMessage // key objects of the touched rows, for readCurrent
}

// rowState is a row's presence and content. The zero value is no row.
type rowState struct {
	table   *plannedTable
	pk      string // primary_key text, for messages
	present bool
	row     map[string]json.RawMessage
}

// newPlanner loads the tables of the changes from the source catalog and
// replays the changes to find the state they left each row in.
func newPlanner(ctx context.Context, tx pgx.Tx, changes []core.Change, opts RevertOptions) (*planner, error) {
	p := &planner{
		opts:    opts,
		changes: changes,
		tables:  make(map[string]*plannedTable),
		final:   make(map[string]*rowState),
		current: make(map[string]*rowState),
		warned:  make(map[string]bool),
	}

	registry := convert.NewRegistry()
	for _, c := range changes {
		name := c.Schema + "." + c.Table
		if _, ok := p.tables[name]; ok {
			continue
		}
		pt, err := loadPlannedTable(ctx, tx, registry, c.Schema, c.Table, opts.Columns)
		if err != nil {
			return nil, err
		}
		p.tables[name] = pt
	}

	for _, c := range changes {
		if err := p.replay(c); err != nil {
			return nil, err
		}
	}

	return p, nil
}

func loadPlannedTable(ctx context.Context, tx pgx.Tx, registry *convert.Registry, schema, name string, rules map[string]capture.ColumnRule) (*plannedTable, error) {
	t, err := loadTable(ctx, tx, schema, name, rules)
	if errors.Is(err, errTableNotFound) {
		return nil, fmt.Errorf("table %s.%s no longer exists in the source database, so its changes cannot be reverted", schema, name)
	}
	if err != nil {
		return nil, err
	}
	if len(t.keyColumns) == 0 {
		return nil, &NoPrimaryKeyError{Table: t.String()}
	}
	for _, k := range t.keyColumns {
		if c := t.column(k); c.excluded || c.masked {
			return nil, fmt.Errorf("primary key column %s of %s is excluded or masked in the changes, so its rows cannot be addressed", k, t)
		}
	}

	rc, err := newRowConverter(ctx, tx, registry, t)
	if err != nil {
		return nil, err
	}

	return &plannedTable{info: t, rc: rc}, nil
}

// replay applies one change to the final states.
func (p *planner) replay(c core.Change) error {
	pt := p.tables[c.Schema+"."+c.Table]
	before, after, err := decodeRows(c)
	if err != nil {
		return err
	}

	switch c.Operation {
	case core.OperationCreate:
		return p.setFinal(pt, *c.PrimaryKey, after, true)
	case core.OperationUpdate:
		if err := p.setFinal(pt, *c.PrimaryKey, before, false); err != nil {
			return err
		}

		return p.setFinal(pt, *c.PrimaryKey, after, true)
	case core.OperationDelete:
		return p.setFinal(pt, *c.PrimaryKey, before, false)
	}

	return fmt.Errorf("change %s has unknown operation %q", c.ID, c.Operation)
}

// setFinal records that the row with row's key is present with row, or
// absent, after the change.
func (p *planner) setFinal(pt *plannedTable, pk string, row map[string]json.RawMessage, present bool) error {
	id, keyObject, err := keyOf(pt, row)
	if err != nil {
		return err
	}

	s, ok := p.final[id]
	if !ok {
		s = &rowState{table: pt, pk: pk}
		p.final[id] = s
		p.order = append(p.order, id)
		pt.keys = append(pt.keys, keyObject)
	}
	if present {
		s.pk = pk
	}
	s.present = present
	s.row = nil
	if present {
		s.row = row
	}

	return nil
}

// readCurrent reads and locks the touched rows as they are now, converted
// as the capture worker converts them.
func (p *planner) readCurrent(ctx context.Context, tx pgx.Tx) error {
	for _, pt := range p.tables {
		t := pt.info
		sql := fmt.Sprintf("SELECT %s FROM %s AS t JOIN jsonb_populate_recordset(NULL::%s, $1::jsonb) AS k ON %s FOR UPDATE OF t",
			pt.rc.selectList("t"), t.quoted(), t.quoted(), keyMatch(t))
		keys, err := json.Marshal(pt.keys)
		if err != nil {
			return fmt.Errorf("encode keys of %s: %w", t, err)
		}
		rows, err := tx.Query(ctx, sql, pgx.QueryResultFormats{pgx.TextFormatCode}, string(keys))
		if err != nil {
			return fmt.Errorf("read current rows of %s: %w", t, err)
		}

		for rows.Next() {
			doc, err := pt.rc.appendRow(nil, rows.RawValues())
			if err != nil {
				rows.Close()

				return err
			}
			row, err := decodeObject(doc)
			if err != nil {
				rows.Close()

				return err
			}
			pk, _ := pt.rc.primaryKey(rows.RawValues())
			id, _, err := keyOf(pt, row)
			if err != nil {
				rows.Close()

				return err
			}
			p.current[id] = &rowState{table: pt, pk: pk, present: true, row: row}
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("read current rows of %s: %w", t, err)
		}
	}

	return nil
}

// conflicts compares the final states with the current rows. Columns that
// the final row lacks, such as excluded ones or ones added later, are not
// compared.
func (p *planner) conflicts() []Conflict {
	var out []Conflict
	for _, id := range p.order {
		want := p.final[id]
		have := p.current[id]
		if have == nil {
			have = &rowState{}
		}
		c := Conflict{Table: want.table.info.String(), PrimaryKey: want.pk}
		if want.present {
			c.Expected = encodeObject(want.row)
		}
		if have.present {
			c.Actual = encodeObject(have.row)
		}

		switch {
		case want.present && !have.present:
			c.Reason = "the row was deleted after the changes being reverted"
		case !want.present && have.present:
			c.PrimaryKey = have.pk
			c.Reason = "a row with this key was inserted after the changes being reverted"
		case want.present:
			var changed []string
			for col, v := range want.row {
				if now, ok := have.row[col]; !ok || !equalJSON(v, now) {
					changed = append(changed, col)
				}
			}
			if len(changed) == 0 {
				continue
			}
			slices.Sort(changed)
			c.Reason = "changed after the changes being reverted, in column(s) " + strings.Join(changed, ", ")
		default:
			continue
		}
		out = append(out, c)
	}

	return out
}

// keyOf returns the identity of a row's key, unique across tables, and the
// key as a JSON object of the key columns.
func keyOf(pt *plannedTable, row map[string]json.RawMessage) (string, json.RawMessage, error) {
	t := pt.info
	object := make(map[string]json.RawMessage, len(t.keyColumns))
	var id bytes.Buffer
	id.WriteString(t.String())
	for _, k := range t.keyColumns {
		v, ok := row[k]
		if !ok {
			return "", nil, fmt.Errorf("a row of %s lacks primary key column %s", t, k)
		}
		canonical, err := canonicalJSON(v)
		if err != nil {
			return "", nil, fmt.Errorf("primary key column %s of %s: %w", k, t, err)
		}
		id.WriteByte(0)
		id.Write(canonical)
		object[k] = canonical
	}

	return id.String(), encodeObject(object), nil
}

// canonicalJSON re-encodes a JSON value in one form, so that the same value
// read from jsonb and from the converter compares equal as text.
func canonicalJSON(v json.RawMessage) (json.RawMessage, error) {
	value, err := decodeValue(v)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(value); err != nil {
		return nil, err
	}

	return json.RawMessage(bytes.TrimSuffix(buf.Bytes(), []byte("\n"))), nil
}

func decodeRows(c core.Change) (before, after map[string]json.RawMessage, err error) {
	if before, err = decodeObject(c.Before); err != nil {
		return nil, nil, fmt.Errorf("change %s: %w", c.ID, err)
	}
	if after, err = decodeObject(c.After); err != nil {
		return nil, nil, fmt.Errorf("change %s: %w", c.ID, err)
	}

	return before, after, nil
}

// keyMatch is the join condition of the target row t and the key row k.
func keyMatch(t *tableInfo) string {
	parts := make([]string, len(t.keyColumns))
	for i, k := range t.keyColumns {
		q := pgx.Identifier{k}.Sanitize()
		parts[i] = "t." + q + " = k." + q
	}

	return strings.Join(parts, " AND ")
}
