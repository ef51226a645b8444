package pgxsql

import (
	"context"
	"slices"
	"sync"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// maxDescriptions bounds the statements that a DescriptionCache records.
// When it is full, it clears them all, and each statement is described
// again on its next run.
const maxDescriptions = 1024

// DescriptionCache records, per statement text, the server's description
// of the statement: its parameter types and result columns. Callers use it
// to decide, before they send a statement in a batch, whether ReadRows
// reads its result exactly (see Exact), and to send it with the result
// formats of pgx's database/sql driver (see StdlibResultFormats). It is
// safe for concurrent use. The zero value is an empty cache.
type DescriptionCache struct {
	mu     sync.Mutex
	byText map[string]*pgconn.StatementDescription
}

// Describe returns the description of query. The first call for a
// statement text prepares it as the unnamed statement on conn, in one
// round trip that leaves no prepared statement behind. Later calls return
// the recorded description. A statement that fails to parse returns the
// server's *pgconn.PgError, as pgx's database/sql driver does, which also
// prepares a statement before it runs it. Callers must not modify the
// returned description.
func (c *DescriptionCache) Describe(ctx context.Context, conn *pgx.Conn, query string) (*pgconn.StatementDescription, error) {
	if sd := c.lookup(query); sd != nil {
		return sd, nil
	}

	sd, err := conn.Prepare(ctx, "", query)
	if err != nil {
		return nil, err
	}
	c.store(sd)

	return sd, nil
}

// SetFields records fields as the result columns of query, as a run of the
// statement reported them after its table changed. The parameter types
// stay as described. SetFields does nothing when query is not recorded.
func (c *DescriptionCache) SetFields(query string, fields []pgconn.FieldDescription) {
	c.mu.Lock()
	defer c.mu.Unlock()

	old, ok := c.byText[query]
	if !ok {
		return
	}
	// A new description, because callers may still read the old one.
	c.byText[query] = &pgconn.StatementDescription{
		Name:      old.Name,
		SQL:       old.SQL,
		ParamOIDs: old.ParamOIDs,
		Fields:    slices.Clone(fields),
	}
}

// Forget removes query, so that the next Describe prepares it again.
func (c *DescriptionCache) Forget(query string) {
	c.mu.Lock()
	defer c.mu.Unlock()

	delete(c.byText, query)
}

func (c *DescriptionCache) lookup(query string) *pgconn.StatementDescription {
	c.mu.Lock()
	defer c.mu.Unlock()

	return c.byText[query]
}

func (c *DescriptionCache) store(sd *pgconn.StatementDescription) {
	c.mu.Lock()
	defer c.mu.Unlock()

	if _, present := c.byText[sd.SQL]; !present && len(c.byText) >= maxDescriptions || c.byText == nil {
		c.byText = make(map[string]*pgconn.StatementDescription)
	}
	c.byText[sd.SQL] = sd
}
