package history

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/bemi-go/bemi/core"
)

// DefaultLimit is the page size of a Query whose Limit is zero, and
// MaxLimit the largest page size.
const (
	DefaultLimit = 50
	MaxLimit     = 10000
)

// Order is the order of a page of changes: by commit time, then by commit
// LSN, ordinal and database name, which make the order total.
type Order int

const (
	// Ascending returns the oldest change first.
	Ascending Order = iota
	// Descending returns the newest change first.
	Descending
)

// Query is one page request: a filter, an order and a keyset cursor.
type Query struct {
	Filter

	Order Order

	// Limit is the page size. Zero means DefaultLimit; at most MaxLimit.
	Limit int

	// After is the cursor returned as Page.Next, or made by Cursor: the
	// page starts after that change, in Order. Empty starts at the first
	// change.
	After string
}

// Page is one page of changes.
type Page struct {
	Changes []core.Change

	// Next is the cursor of the following page, empty when this page is
	// the last one at the time of the query. To pick up changes stored
	// later, keep the cursor of the last change (Cursor) and query again.
	Next string
}

// changeColumns is the select list that scanChange reads.
const changeColumns = `id::text, database, schema, "table", primary_key, operation,
	before::text, after::text, context::text, committed_at, queued_at, created_at,
	transaction_id, position, ordinal`

// Changes returns one page of the changes that q selects. Pages never
// overlap or skip a change that was stored before the first page was read,
// because the cursor names the last change returned, not an offset.
//
// NOTE: two transactions that commit at the same moment on different
// connections can store commit times that are out of commit LSN order by a
// few microseconds. Paging by commit time can then miss the later-stored
// one when it arrives after its page was read. Reading again from a Since
// bound a little in the past, and skipping known IDs, avoids that.
func (r *Reader) Changes(ctx context.Context, q Query) (Page, error) {
	sql, args, limit, err := r.pageSQL(q)
	if err != nil {
		return Page{}, err
	}

	rows, err := r.query(ctx, sql, args...)
	if err != nil {
		return Page{}, fmt.Errorf("query %s: %w", r.table, err)
	}
	changes, err := collectChanges(rows)
	if err != nil {
		return Page{}, fmt.Errorf("query %s: %w", r.table, err)
	}

	page := Page{Changes: changes}
	if len(changes) > limit {
		page.Changes = changes[:limit]
		page.Next = Cursor(page.Changes[limit-1])
	}

	return page, nil
}

// pageSQL builds the query of one page. The query selects one row more than
// the limit, to learn whether another page follows.
func (r *Reader) pageSQL(q Query) (string, []any, int, error) {
	limit := q.Limit
	if limit == 0 {
		limit = DefaultLimit
	}
	if limit < 0 || limit > MaxLimit {
		return "", nil, 0, fmt.Errorf("invalid page size %d: use 1 to %d", limit, MaxLimit)
	}

	var w whereBuilder
	if err := w.apply(q.Filter, r.database); err != nil {
		return "", nil, 0, err
	}

	direction, compare, bound := "ASC", ">", ">="
	if q.Order == Descending {
		direction, compare, bound = "DESC", "<", "<="
	}
	if q.After != "" {
		c, err := decodeCursor(q.After)
		if err != nil {
			return "", nil, 0, err
		}
		at := c.committedAt()
		// The plain bound on committed_at lets the planner use an index;
		// the row comparison makes the order total.
		w.add("committed_at "+bound+" %s", at)
		w.add("(committed_at, position, ordinal, database) "+compare+" (%s, %s, %s, %s)", at, c.Position, c.Ordinal, c.Database)
	}

	// The page is chosen by its sort key first and its rows read after, so
	// that the jsonb columns are turned into text for the rows of the page
	// only, not for every match that the sort reads.
	order := fmt.Sprintf("committed_at %[1]s, position %[1]s, ordinal %[1]s, database %[1]s", direction)
	sql := fmt.Sprintf(`SELECT %[1]s FROM %[2]s WHERE id IN (
	SELECT id FROM %[2]s WHERE %[3]s ORDER BY %[4]s LIMIT %[5]d
) ORDER BY %[4]s`, changeColumns, r.table, w.sql(), order, limit+1)

	return sql, w.args, limit, nil
}

// All returns every change that f selects in commit order (ascending), or
// an error when there are more than limit. A limit of zero, or above
// MaxLimit, means MaxLimit.
func (r *Reader) All(ctx context.Context, f Filter, limit int) ([]core.Change, error) {
	if limit <= 0 || limit > MaxLimit {
		limit = MaxLimit
	}

	var all []core.Change
	q := Query{Filter: f, Limit: min(limit, 1000)}
	for {
		page, err := r.Changes(ctx, q)
		if err != nil {
			return nil, err
		}
		all = append(all, page.Changes...)
		if len(all) > limit {
			return nil, fmt.Errorf("select changes: more than %d match: narrow the filter or raise the limit", limit)
		}
		if page.Next == "" {
			return all, nil
		}
		q.After = page.Next
	}
}

func collectChanges(rows pgx.Rows) ([]core.Change, error) {
	defer rows.Close()

	var out []core.Change
	for rows.Next() {
		c, err := scanChange(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}

	return out, rows.Err()
}

func scanChange(row pgx.Row) (core.Change, error) {
	var c core.Change
	var op, before, after, context string
	err := row.Scan(&c.ID, &c.Database, &c.Schema, &c.Table, &c.PrimaryKey, &op,
		&before, &after, &context, &c.CommittedAt, &c.QueuedAt, &c.CreatedAt,
		&c.TransactionID, &c.Position, &c.Ordinal)
	if err != nil {
		return core.Change{}, err
	}
	c.Operation = core.Operation(op)
	c.Before, c.After, c.Context = json.RawMessage(before), json.RawMessage(after), json.RawMessage(context)
	c.CommittedAt, c.QueuedAt, c.CreatedAt = c.CommittedAt.UTC(), c.QueuedAt.UTC(), c.CreatedAt.UTC()

	return c, nil
}
