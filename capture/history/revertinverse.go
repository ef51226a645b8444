package history

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/bemi-go/bemi/capture"
	"github.com/bemi-go/bemi/core"
)

// inverse returns the statements that undo the changes, newest first. It
// starts from the rows as they are now and tracks them through each inverse
// step. An UPDATE sets only the columns that differ. In a forced revert, a
// row that is missing or present against expectation is inserted or
// updated instead, so each row still reaches its state before the changes.
func (p *planner) inverse() ([]Statement, error) {
	state := make(map[string]*rowState, len(p.current))
	for id, s := range p.current {
		state[id] = &rowState{table: s.table, pk: s.pk, present: true, row: maps.Clone(s.row)}
	}
	get := func(id string) *rowState {
		if s, ok := state[id]; ok {
			return s
		}
		s := &rowState{}
		state[id] = s

		return s
	}

	var out []Statement
	for i := len(p.changes) - 1; i >= 0; i-- {
		c := p.changes[i]
		pt := p.tables[c.Schema+"."+c.Table]
		before, after, err := decodeRows(c)
		if err != nil {
			return nil, err
		}

		// target is the row the change left; restore is the row to bring
		// back, nil for a CREATE.
		target, restore := after, before
		switch c.Operation {
		case core.OperationCreate:
			restore = nil
		case core.OperationDelete:
			target = before
		}

		targetID, targetKey, err := keyOf(pt, target)
		if err != nil {
			return nil, err
		}
		cur := get(targetID)

		if restore == nil {
			if !cur.present {
				p.warn(fmt.Sprintf("%s %s: the row created at position %d is already gone; nothing to delete", pt.info, *c.PrimaryKey, c.Position))

				continue
			}
			out = append(out, Statement{SQL: deleteSQL(pt.info), Args: []any{string(targetKey)}})
			*cur = rowState{}

			continue
		}

		restoreID, _, err := keyOf(pt, restore)
		if err != nil {
			return nil, err
		}
		if !cur.present && restoreID != targetID && get(restoreID).present {
			// Forced: the row is back under its old key already.
			targetID, cur = restoreID, get(restoreID)
			targetKey = mustKeyObject(pt, cur.row)
		}

		if cur.present {
			s, err := p.update(pt, c, cur.row, restore, targetKey)
			if err != nil {
				return nil, err
			}
			if s != nil {
				out = append(out, *s)
			}
			merged := maps.Clone(cur.row)
			maps.Copy(merged, restore)
			*cur = rowState{}
			*get(restoreID) = rowState{table: pt, pk: *c.PrimaryKey, present: true, row: merged}

			continue
		}

		s, err := p.insert(pt, c, restore)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
		*get(restoreID) = rowState{table: pt, pk: *c.PrimaryKey, present: true, row: maps.Clone(restore)}
	}

	return out, nil
}

// update returns the UPDATE that sets the row with key back to restore, or
// nil when no writable column differs.
func (p *planner) update(pt *plannedTable, c core.Change, current, restore map[string]json.RawMessage, key json.RawMessage) (*Statement, error) {
	values := make(map[string]json.RawMessage)
	for _, col := range slices.Sorted(maps.Keys(restore)) {
		v := restore[col]
		if info := pt.info.column(col); info != nil && info.masked {
			// A masked value reads the same before and after, so whether
			// it changed is unknown.
			p.warn(fmt.Sprintf("%s: masked column %s is not restored, because the changes hold no real value", pt.info, col))

			continue
		}
		if now, ok := current[col]; ok && equalJSON(now, v) {
			continue
		}
		ok, err := p.writable(pt, c, col, v)
		if err != nil {
			return nil, err
		}
		if ok {
			values[col] = v
		}
	}
	for _, col := range pt.info.columns {
		if col.excluded {
			p.warn(fmt.Sprintf("%s: excluded column %s is not restored, because the changes do not hold it", pt.info, col.name))
		}
	}
	if len(values) == 0 {
		return nil, nil
	}

	for col := range values {
		if pt.info.column(col).identityAlways {
			return nil, fmt.Errorf("%s %s: column %s is GENERATED ALWAYS AS IDENTITY, which an UPDATE cannot set back", pt.info, *c.PrimaryKey, col)
		}
	}

	return &Statement{SQL: updateSQL(pt.info, slices.Sorted(maps.Keys(values))), Args: []any{string(encodeObject(values)), string(key)}}, nil
}

// insert returns the INSERT that brings back a deleted row, or an error
// when columns of the table have no known value in it.
func (p *planner) insert(pt *plannedTable, c core.Change, restore map[string]json.RawMessage) (Statement, error) {
	values := make(map[string]json.RawMessage)
	var missing []string
	overriding := false
	for _, col := range pt.info.columns {
		if col.generated {
			continue
		}
		v, ok := restore[col.name]
		if !ok || col.excluded || col.masked {
			missing = append(missing, col.name)

			continue
		}
		if _, err := p.writable(pt, c, col.name, v); err != nil {
			return Statement{}, err
		}
		values[col.name] = v
		overriding = overriding || col.identityAlways
	}

	if len(missing) > 0 {
		if !p.opts.FillMissingColumns {
			return Statement{}, fmt.Errorf("%s %s: the row to insert again has no known value for column(s) %s (masked, excluded, or added after the change): set FillMissingColumns to insert it with their defaults",
				pt.info, *c.PrimaryKey, strings.Join(missing, ", "))
		}
		p.warn(fmt.Sprintf("%s %s: column(s) %s take their defaults in the row inserted again", pt.info, *c.PrimaryKey, strings.Join(missing, ", ")))
	}

	return Statement{SQL: insertSQL(pt.info, slices.Sorted(maps.Keys(values)), overriding), Args: []any{string(encodeObject(values))}}, nil
}

// writable reports whether a column's value from a change can be written
// back. Generated and masked columns cannot; a column dropped since is an
// error.
func (p *planner) writable(pt *plannedTable, c core.Change, col string, v json.RawMessage) (bool, error) {
	info := pt.info.column(col)
	switch {
	case info == nil:
		return false, fmt.Errorf("%s %s: column %s no longer exists, so its old value cannot be written back", pt.info, *c.PrimaryKey, col)
	case info.generated:
		return false, nil
	case info.masked:
		p.warn(fmt.Sprintf("%s: masked column %s is not restored, because the changes hold no real value", pt.info, col))

		return false, nil
	case string(v) == string(maskedJSON):
		return false, fmt.Errorf("%s %s: column %s has the value %q in the change: if the capture worker masks it, pass its column rules (RevertOptions.Columns) so the revert leaves it alone",
			pt.info, *c.PrimaryKey, col, capture.MaskedValue)
	}

	return true, nil
}

func (p *planner) warn(msg string) {
	if !p.warned[msg] {
		p.warned[msg] = true
		p.warnings = append(p.warnings, msg)
	}
}

// mustKeyObject returns the key object of a row that keyOf accepted before.
func mustKeyObject(pt *plannedTable, row map[string]json.RawMessage) json.RawMessage {
	_, key, _ := keyOf(pt, row)

	return key
}

func deleteSQL(t *tableInfo) string {
	return fmt.Sprintf("DELETE FROM %s AS t USING jsonb_populate_record(NULL::%s, $1::jsonb) AS k WHERE %s",
		t.quoted(), t.quoted(), keyMatch(t))
}

func updateSQL(t *tableInfo, columns []string) string {
	sets := make([]string, len(columns))
	for i, c := range columns {
		q := pgx.Identifier{c}.Sanitize()
		sets[i] = q + " = r." + q
	}

	return fmt.Sprintf("UPDATE %s AS t SET %s FROM jsonb_populate_record(NULL::%s, $1::jsonb) AS r, jsonb_populate_record(NULL::%s, $2::jsonb) AS k WHERE %s",
		t.quoted(), strings.Join(sets, ", "), t.quoted(), t.quoted(), keyMatch(t))
}

func insertSQL(t *tableInfo, columns []string, overriding bool) string {
	names := make([]string, len(columns))
	values := make([]string, len(columns))
	for i, c := range columns {
		q := pgx.Identifier{c}.Sanitize()
		names[i] = q
		values[i] = "r." + q
	}
	override := ""
	if overriding {
		override = " OVERRIDING SYSTEM VALUE"
	}

	return fmt.Sprintf("INSERT INTO %s (%s)%s SELECT %s FROM jsonb_populate_record(NULL::%s, $1::jsonb) AS r",
		t.quoted(), strings.Join(names, ", "), override, strings.Join(values, ", "), t.quoted())
}
