package pgxbemi

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync/atomic"

	"github.com/bemi-go/bemi/core"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// copySettings are the options of copyCommented for one connection, taken
// from its configuration.
type copySettings struct {
	// supported is false for an exec mode that pgx's CopyFrom rejects: an
	// unknown mode, or a cache mode whose cache is disabled.
	supported bool

	// cached is set in the statement and description cache modes, where pgx
	// reuses a table's description. In the other modes pgx describes the
	// table on every call, and so does copyCommented.
	cached bool

	// cacheSize is the maximum number of descriptions kept per connection:
	// the capacity of pgx's cache for the mode.
	cacheSize int

	// tracer is the connection's tracer when it implements
	// pgx.CopyFromTracer, nil otherwise.
	tracer pgx.CopyFromTracer
}

func newCopySettings(cfg *pgx.ConnConfig) copySettings {
	s := copySettings{}
	s.tracer, _ = cfg.Tracer.(pgx.CopyFromTracer)

	switch cfg.DefaultQueryExecMode {
	case pgx.QueryExecModeCacheStatement:
		s.supported = cfg.StatementCacheCapacity > 0
		s.cached, s.cacheSize = true, cfg.StatementCacheCapacity
	case pgx.QueryExecModeCacheDescribe:
		s.supported = cfg.DescriptionCacheCapacity > 0
		s.cached, s.cacheSize = true, cfg.DescriptionCacheCapacity
	case pgx.QueryExecModeDescribeExec, pgx.QueryExecModeExec, pgx.QueryExecModeSimpleProtocol:
		s.supported = true
	}

	return s
}

// copyCommented runs CopyFrom outside a transaction in the round trips that
// pgx takes: one, once the table is described. pgx's own CopyFrom writes the
// COPY statement itself, so it cannot carry the context. copyCommented
// follows what pgx v5.13.0's Conn.CopyFrom does, and appends the Bemi
// comment of payload to the COPY statement. COPY goes over the simple
// protocol and is never prepared, so a comment that differs per call adds
// no entry to a statement cache.
//
// handled is false, with nothing sent, for a target that is not a pool or
// a connection.
func (r *runner) copyCommented(ctx context.Context, payload []byte, table pgx.Identifier, columns []string, src pgx.CopyFromSource) (n int64, handled bool, err error) {
	if r.kind != kindPool && r.kind != kindConn {
		return 0, false, nil
	}

	conn, release, err := r.acquireConn(ctx)
	if err != nil {
		return 0, true, err
	}
	defer release()
	if conn == nil {
		return 0, false, nil
	}

	state := copyStateOf(conn)
	if !state.settings.supported {
		// pgx v5.13.0's CopyFrom rejects the exec mode before it sends
		// anything, so this returns pgx's own error.
		n, err = conn.CopyFrom(ctx, table, columns, src)

		return n, true, err
	}
	n, err = copyOnConn(ctx, conn, state, payload, table, columns, src)

	return n, true, err
}

// copyOnConn runs the COPY on conn between the calls of the connection's
// CopyFromTracer.
//
// NOTE: pgx v5.13.0 does not call TraceCopyFromEnd when describing the
// table fails. copyOnConn calls it after every TraceCopyFromStart.
func copyOnConn(ctx context.Context, conn *pgx.Conn, state *copyState, payload []byte, table pgx.Identifier, columns []string, src pgx.CopyFromSource) (int64, error) {
	tracer := state.settings.tracer
	if tracer != nil {
		ctx = tracer.TraceCopyFromStart(ctx, conn, pgx.TraceCopyFromStartData{TableName: table, ColumnNames: columns})
	}

	tag, err := sendCopy(ctx, conn, state, payload, table, columns, src)

	if tracer != nil {
		tracer.TraceCopyFromEnd(ctx, conn, pgx.TraceCopyFromEndData{CommandTag: tag, Err: err})
	}

	return tag.RowsAffected(), err
}

// sendCopy describes the table for the column types, and sends the COPY
// statement with its comment and the rows in the binary format.
func sendCopy(ctx context.Context, conn *pgx.Conn, state *copyState, payload []byte, table pgx.Identifier, columns []string, src pgx.CopyFromSource) (pgconn.CommandTag, error) {
	quotedTable := table.Sanitize()
	quotedColumns := quoteColumns(columns)

	oids, err := state.describe(ctx, conn, "select "+quotedColumns+" from "+quotedTable, len(columns))
	if err != nil {
		// The words of pgx's CopyFrom, so that callers see its error.
		return pgconn.CommandTag{}, fmt.Errorf("statement description failed: %w", err)
	}

	// pgconn.PgConn.CopyFrom reads its io.Reader in a goroutine of its own
	// and, when the copy fails on the connection's side (a canceled ctx, a
	// closed connection), returns without waiting for it. The rows are
	// therefore encoded in a goroutine that writes into a pipe and that
	// sendCopy waits for, so src is never in use after CopyFrom returns, as
	// with pgx's CopyFrom.
	// The encoder stops before the next row once CopyFrom has returned, so
	// at most the row whose Next call is running is read in vain, as in
	// pgx's CopyFrom.
	rows := newCopyStream(conn.TypeMap(), oids, src)
	reader, writer := io.Pipe()
	encoded := make(chan struct{})
	go func() {
		defer close(encoded)
		_, err := io.Copy(writer, rows)
		writer.CloseWithError(err)
	}()

	tag, err := conn.PgConn().CopyFrom(ctx, reader, copyStatement(quotedTable, quotedColumns, payload))
	rows.stopped.Store(true)
	reader.Close() // ends a write the encoder still waits in
	<-encoded
	if err != nil {
		copyFailures.Add(1)
	}

	return tag, err
}

// copyStatement returns the COPY statement that pgx v5.13.0 sends, without
// its semicolon, with the Bemi comment of payload appended. payload comes
// from core.Encoder, whose output cannot end the comment, so no context
// changes the statement that runs.
func copyStatement(quotedTable, quotedColumns string, payload []byte) string {
	return core.AppendComment("copy "+quotedTable+" ( "+quotedColumns+" ) from stdin binary", payload)
}

// quoteColumns returns the column names as quoted identifiers separated by
// commas, as pgx writes them.
func quoteColumns(columns []string) string {
	var b strings.Builder
	for i, c := range columns {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteByte('"')
		b.WriteString(strings.ReplaceAll(c, `"`, `""`))
		b.WriteByte('"')
	}

	return b.String()
}

// copyFailures counts the COPY statements of copyCommented that failed, in
// the whole process. A description taken at an earlier count is not used
// again. A COPY fails when a column has changed its type since the table
// was described, so the next COPY into that table describes it again, on
// every connection of a pool.
var copyFailures atomic.Uint64

// copyKey is the key of a connection's copyState in
// pgconn.PgConn.CustomData.
const copyKey = "github.com/bemi-go/bemi/pgxbemi.copy"

// copyState is the settings and the description cache of copyCommented on
// one connection. It lives in the connection's CustomData, which serves one
// goroutine at a time, so it needs no lock.
type copyState struct {
	settings copySettings

	// descriptions are the descriptions kept in the cache modes, keyed by
	// the SELECT that describes them. It is nil in the other modes.
	descriptions map[string]copyDescription
}

// copyDescription is the column type OIDs of one COPY target, described
// when copyFailures was epoch.
type copyDescription struct {
	oids  []uint32
	epoch uint64
}

// copyStateOf returns the copyState of conn, creating it from the
// connection's configuration. When conn has no CustomData map, it returns
// a new copyState each time, which keeps no description.
func copyStateOf(conn *pgx.Conn) *copyState {
	data := conn.PgConn().CustomData()
	if s, ok := data[copyKey].(*copyState); ok {
		return s
	}

	s := &copyState{settings: newCopySettings(conn.Config())}
	if s.settings.cached {
		s.descriptions = map[string]copyDescription{}
	}
	if data != nil {
		data[copyKey] = s
	}

	return s
}

// describe returns the type OIDs of the columns that sql, a SELECT of the
// copied columns, returns. It describes sql as the unnamed statement, so it
// creates no prepared statement that a DEALLOCATE or a connection pooler
// could drop.
//
// NOTE: in the cache modes, a column may change to another type of the
// same binary size (int4 to float4, for example). Its values then take the
// old type's encoding without an error until the table is described again,
// as with pgx's own caches.
func (s *copyState) describe(ctx context.Context, conn *pgx.Conn, sql string, columns int) ([]uint32, error) {
	epoch := copyFailures.Load()
	if d, ok := s.descriptions[sql]; ok && d.epoch == epoch {
		return d.oids, nil
	}

	sd, err := conn.Prepare(ctx, "", sql)
	if err != nil {
		return nil, err
	}
	if len(sd.Fields) != columns {
		return nil, fmt.Errorf("describe %q: got %d columns, expected %d", sql, len(sd.Fields), columns)
	}
	oids := make([]uint32, len(sd.Fields))
	for i, f := range sd.Fields {
		oids[i] = f.DataTypeOID
	}

	if s.descriptions != nil {
		if len(s.descriptions) >= s.settings.cacheSize {
			clear(s.descriptions)
		}
		s.descriptions[sql] = copyDescription{oids: oids, epoch: epoch}
	}

	return oids, nil
}
