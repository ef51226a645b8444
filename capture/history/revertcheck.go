package history

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/bemi-go/bemi/core"
)

// keysPerQuery bounds the primary keys in one query of interleavedChanges.
const keysPerQuery = 500

// interleavedChanges returns a conflict for each change outside the set
// that touched a record between the set's first and last change of that
// record: undoing the set would silently undo it too.
func interleavedChanges(ctx context.Context, reader *Reader, changes []core.Change) ([]Conflict, error) {
	type span struct{ first, last core.Change }
	type tableKey struct{ database, schema, table string }

	inSet := make(map[string]bool, len(changes))
	spans := make(map[tableKey]map[string]*span)
	for _, c := range changes {
		inSet[c.ID] = true
		tk := tableKey{c.Database, c.Schema, c.Table}
		if spans[tk] == nil {
			spans[tk] = make(map[string]*span)
		}
		if s, ok := spans[tk][*c.PrimaryKey]; ok {
			s.last = c
		} else {
			spans[tk][*c.PrimaryKey] = &span{first: c, last: c}
		}
	}

	var out []Conflict
	for tk, byKey := range spans {
		var keys []string
		var since, until time.Time
		for k, s := range byKey {
			if s.first.ID == s.last.ID {
				continue // one change cannot have another inside its span
			}
			keys = append(keys, k)
			if since.IsZero() || s.first.CommittedAt.Before(since) {
				since = s.first.CommittedAt
			}
			if s.last.CommittedAt.After(until) {
				until = s.last.CommittedAt
			}
		}
		slices.Sort(keys)

		for chunk := range slices.Chunk(keys, keysPerQuery) {
			others, err := reader.All(ctx, Filter{
				Database: tk.database, Schema: tk.schema, Table: tk.table, PrimaryKeys: chunk,
				Since: since, Until: until.Add(time.Microsecond),
			}, MaxLimit)
			if err != nil {
				return nil, fmt.Errorf("look for other changes of %s.%s: %w", tk.schema, tk.table, err)
			}
			for _, o := range others {
				s := byKey[*o.PrimaryKey]
				if inSet[o.ID] || s == nil || !between(o, s.first, s.last) {
					continue
				}
				out = append(out, Conflict{
					Table:      tk.schema + "." + tk.table,
					PrimaryKey: *o.PrimaryKey,
					Reason: fmt.Sprintf("changed by another %s at position %d (%s) between the changes being reverted, with context %s",
						o.Operation, o.Position, o.CommittedAt.Format(time.RFC3339Nano), o.Context),
				})
			}
		}
	}
	slices.SortFunc(out, func(a, b Conflict) int {
		return cmp.Or(cmp.Compare(a.Table, b.Table), cmp.Compare(a.PrimaryKey, b.PrimaryKey))
	})

	return out, nil
}

// between reports whether c comes after first and before last in commit
// order.
func between(c, first, last core.Change) bool {
	after := cmp.Or(cmp.Compare(c.Position, first.Position), cmp.Compare(c.Ordinal, first.Ordinal)) > 0
	before := cmp.Or(cmp.Compare(c.Position, last.Position), cmp.Compare(c.Ordinal, last.Ordinal)) < 0

	return after && before
}
