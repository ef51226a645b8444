package entbemi

import (
	"container/list"
	"crypto/sha256"
	"encoding/hex"

	"github.com/jackc/pgx/v5"
)

// connStateKey is the key of a connection's connState in
// pgconn.PgConn.CustomData.
const connStateKey = "github.com/bemi-go/bemi/entbemi.connState"

// connState is the per-connection state of a Driver's pipelines. It lives
// in the connection's pgconn.PgConn.CustomData, so it goes away with the
// connection. A connection runs one statement at a time, so connState
// needs no lock.
type connState struct {
	// mode is the connection's pgx.ConnConfig.DefaultQueryExecMode, and
	// tracer its Tracer when that is a pgx.BatchTracer. They are read once
	// because pgx.Conn.Config copies the whole configuration.
	mode   pgx.QueryExecMode
	tracer pgx.BatchTracer

	// prepared records the statements that queryPipeline prepared on the
	// connection, or is nil when pipelines send the unnamed statement.
	prepared *preparedStatements
}

// stateOf returns the connState of pc, creating it on first use.
func stateOf(pc *pgx.Conn) *connState {
	data := pc.PgConn().CustomData()
	if s, ok := data[connStateKey].(*connState); ok {
		return s
	}

	cfg := pc.Config()
	s := &connState{mode: cfg.DefaultQueryExecMode}
	s.tracer, _ = cfg.Tracer.(pgx.BatchTracer)
	// Only the cache_statement mode keeps named prepared statements, as
	// pgx's statement cache does in that mode. The other modes leave none
	// on the server, as for a connection pooler that does not support
	// them.
	if s.mode == pgx.QueryExecModeCacheStatement && cfg.StatementCacheCapacity >= namedStepsMax {
		s.prepared = &preparedStatements{capacity: cfg.StatementCacheCapacity, byText: map[string]*list.Element{}}
	}
	data[connStateKey] = s

	return s
}

// namedStepsMax is the number of statements of one pipeline that run as
// named prepared statements, set_config and the write. A connection whose
// capacity is smaller sends the unnamed statement, so that makeRoom never
// evicts a statement that the same pipeline runs.
const namedStepsMax = 2

// preparedStatements records named prepared statements of one connection
// by statement text, least recently used first. It holds at most capacity
// statements, as many as pgx's statement cache on the same connection.
type preparedStatements struct {
	capacity int
	byText   map[string]*list.Element
	order    list.List // of statement texts, least recently used first
}

// statementName returns the name under which sql is prepared: "bemi_" and
// the first 24 bytes of its SHA-256 in hex, 53 characters in all, within
// PostgreSQL's 63.
func statementName(sql string) string {
	digest := sha256.Sum256([]byte(sql))

	return "bemi_" + hex.EncodeToString(digest[:24])
}

// has reports whether sql is recorded as prepared, and marks it used.
func (p *preparedStatements) has(sql string) bool {
	e, ok := p.byText[sql]
	if ok {
		p.order.MoveToBack(e)
	}

	return ok
}

// makeRoom removes the least recently used statements from the record
// until n more fit, and returns their texts for the caller to deallocate.
func (p *preparedStatements) makeRoom(n int) []string {
	var evicted []string
	for len(p.byText)+n > p.capacity && p.order.Len() > 0 {
		oldest := p.order.Front()
		sql := p.order.Remove(oldest).(string)
		delete(p.byText, sql)
		evicted = append(evicted, sql)
	}

	return evicted
}

// add records sql as prepared.
func (p *preparedStatements) add(sql string) {
	if p.has(sql) {
		return
	}
	p.byText[sql] = p.order.PushBack(sql)
}

// forget removes sql, so that the next pipeline prepares it again.
func (p *preparedStatements) forget(sql string) {
	if e, ok := p.byText[sql]; ok {
		p.order.Remove(e)
		delete(p.byText, sql)
	}
}

// len returns the number of recorded statements.
func (p *preparedStatements) len() int { return len(p.byText) }
