package pgxbemi

import (
	"context"
	"strings"

	"github.com/bemi-go/bemi/core"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// route is the way a statement's context reaches the trigger.
type route int

const (
	// routePipelined, the default: statements queued in one pgx batch with
	// the statement set (and where needed clear) the setting, so the
	// statement text and pgx's statement cache are unchanged and the call
	// costs the round trip it costs without tracking.
	routePipelined route = iota

	// routeSimple: Exec without arguments, which pgx sends over the simple
	// protocol, whose text no cache holds. The context goes in a comment. A
	// value left set by an earlier statement is changed by a statement in
	// front of it in the same query string.
	routeSimple

	// routeCommented: CALL, and calls with an explicit pgx.QueryExecMode or
	// result format option, which a pgx batch cannot carry. The context goes
	// in a comment. A value left set by an earlier statement is cleared
	// first, in a round trip of its own. A procedure that commits keeps its
	// context this way, because the comment outlives the transaction-local
	// setting.
	routeCommented
)

// routeOf returns the route of a statement sent with Exec (exec) or Query.
func (r *runner) routeOf(sql string, args []any, exec bool) route {
	switch {
	case exec && len(args) == 0:
		return routeSimple
	case hasExecOptions(args) || isCall(sql):
		return routeCommented
	default:
		return routePipelined
	}
}

// simpleProtocol reports whether the connection sends statements over the
// simple protocol by default.
func (r *runner) simpleProtocol() bool {
	m, ok := r.defaultMode()

	return ok && m == pgx.QueryExecModeSimpleProtocol
}

// planRoute plans a statement on route rt. It returns the error of a
// context that cannot be encoded.
func (r *runner) planRoute(ctx context.Context, rt route, sql string) (step, error) {
	payload, annotate, err := r.opts.payload(ctx, sql)
	if err != nil {
		return step{}, err
	}
	control := changesSetting(sql)

	var s step
	switch rt {
	case routeSimple:
		s = r.planComment(ctx, sql, payload, annotate, true)
		// A query string may hold several statements, ROLLBACK TO
		// SAVEPOINT among them.
		control = control || strings.Contains(sql, ";")
	case routeCommented:
		s = r.planComment(ctx, sql, payload, annotate, false)
	default:
		// A set in front of BEGIN would last into the transaction it opens.
		s = r.plan(ctx, payload, annotate && !control)
	}
	s.unknownAfter = control

	return s, nil
}

// exec runs Exec with the context of ctx.
func (r *runner) exec(ctx context.Context, sql string, args []any) (pgconn.CommandTag, error) {
	rt := r.routeOf(sql, args, true)
	s, err := r.planRoute(ctx, rt, sql)
	if err != nil {
		return pgconn.CommandTag{}, err
	}

	switch {
	case rt == routeSimple:
		return r.execSimple(ctx, s, sql, args)
	case rt == routeCommented:
		if err := r.clearFirst(ctx, s); err != nil {
			return pgconn.CommandTag{}, err
		}
		sql, args = r.commented(s, sql, args)
	case s.sends():
		return r.execPipelined(ctx, s, sql, args)
	}

	tag, err := r.target.Exec(ctx, sql, args...)
	r.finish(s, err)

	return tag, err
}

// execSimple sends the statement with the comment of s, after the
// statement that sets the value of s in the same query string.
func (r *runner) execSimple(ctx context.Context, s step, sql string, args []any) (pgconn.CommandTag, error) {
	text := sql
	prefix := ""
	if s.set {
		prefix = settingPrefix(s.value)
		text = prefix + sql
	}
	if s.comment {
		text = core.AppendComment(text, s.payload)
	}

	tag, err := r.target.Exec(ctx, text, args...)
	if text != sql {
		restorePosition(err, runeCount(prefix), runeCount(sql))
	}
	r.finish(s, err)

	return tag, err
}

// execPipelined sends the statement in a batch with the set_config
// statements of s.
func (r *runner) execPipelined(ctx context.Context, s step, sql string, args []any) (pgconn.CommandTag, error) {
	br := r.target.SendBatch(ctx, r.batch(s, sql, args))
	var err error
	if s.set {
		_, err = br.Exec()
	}
	var tag pgconn.CommandTag
	if err == nil {
		tag, err = br.Exec()
	}
	if closeErr := br.Close(); err == nil {
		err = closeErr
	}
	if err != nil {
		err = r.statementError(ctx, s, sql, err)
		shiftPosition(err, r.joinedPrefix(s))
	}
	r.finish(s, err)

	return tag, err
}

// clearFirst clears a value that an earlier statement left set, in a round
// trip of its own, so that the trigger reads the comment. On the commented
// route the value planned is always empty.
func (r *runner) clearFirst(ctx context.Context, s step) error {
	if !s.set {
		return nil
	}

	_, err := r.target.Exec(ctx, clearSQL)
	if err != nil {
		r.finish(s, err)
	}

	return err
}

// commented returns the statement text with the comment of s, and the
// arguments. A commented CALL runs as an unnamed prepared statement when
// the connection caches statements by text, because every context would
// otherwise add a cache entry.
func (r *runner) commented(s step, sql string, args []any) (string, []any) {
	if !s.comment {
		return sql, args
	}

	sql = core.AppendComment(sql, s.payload)
	if hasExecOptions(args) {
		return sql, args
	}
	if m, ok := r.defaultMode(); ok && (m == pgx.QueryExecModeCacheStatement || m == pgx.QueryExecModeCacheDescribe) {
		args = append([]any{pgx.QueryExecModeDescribeExec}, args...)
	}

	return sql, args
}

// query runs Query with the context of ctx.
func (r *runner) query(ctx context.Context, sql string, args []any) (pgx.Rows, error) {
	rt := r.routeOf(sql, args, false)
	s, err := r.planRoute(ctx, rt, sql)
	if err != nil {
		return errRows{err: err}, err
	}

	switch {
	case rt == routeCommented:
		if err := r.clearFirst(ctx, s); err != nil {
			return errRows{err: err}, err
		}
		sql, args = r.commented(s, sql, args)
	case s.sends():
		return r.queryPipelined(ctx, s, sql, args)
	}

	rows, err := r.target.Query(ctx, sql, args...)
	r.finish(s, err)

	return rows, err
}

// queryRow runs QueryRow with the context of ctx. A statement sent without
// set_config statements returns the target's own pgx.Row.
func (r *runner) queryRow(ctx context.Context, sql string, args []any) pgx.Row {
	rt := r.routeOf(sql, args, false)
	s, err := r.planRoute(ctx, rt, sql)
	if err != nil {
		return &row{rows: errRows{err: err}}
	}

	switch {
	case rt == routeCommented:
		if err := r.clearFirst(ctx, s); err != nil {
			return &row{rows: errRows{err: err}}
		}
		sql, args = r.commented(s, sql, args)
	case s.sends():
		rows, _ := r.queryPipelined(ctx, s, sql, args) // the error is in rows
		return &row{rows: rows}
	}

	row := r.target.QueryRow(ctx, sql, args...)
	r.finish(s, nil)

	return row
}

// queryPipelined sends the statement in a batch with the set_config
// statements of s and returns its rows, which close the batch when they
// close. As with Conn.Query, an error returned by the server while running
// the statement comes from the rows' Err, not from queryPipelined.
func (r *runner) queryPipelined(ctx context.Context, s step, sql string, args []any) (pgx.Rows, error) {
	br := r.target.SendBatch(ctx, r.batch(s, sql, args))
	var err error
	if s.set {
		_, err = br.Exec()
	}
	var rows pgx.Rows
	if err == nil {
		rows, err = br.Query()
	}
	if err == nil {
		return &pipelinedRows{Rows: rows, br: br, runner: r, step: s, shift: r.joinedPrefix(s)}, nil
	}

	_ = br.Close() // err is the error to return
	r.finish(s, err)
	// Over the extended protocol, Conn.Query returns only the failures
	// before the statement runs, which are preprocessing errors in a batch.
	// Over the simple protocol it returns every failure before the first
	// result.
	reported := isPreprocessingError(err) || r.simpleProtocol()
	err = r.statementError(ctx, s, sql, err)
	shiftPosition(err, r.joinedPrefix(s))
	if !reported {
		return errRows{err: err}, nil
	}

	return errRows{err: err}, err
}

// joinedPrefix returns the number of characters that the set statement of s
// adds in front of the statement when pgx joins a batch into one
// simple-protocol query string, and 0 when it does not.
func (r *runner) joinedPrefix(s step) int32 {
	if !s.set || !r.simpleProtocol() {
		return 0
	}

	// pgx joins the statements with "\n;".
	return runeCount(r.setStatement(s)) + 2
}

// batch returns a pgx batch with the statement between the set_config
// statements of s.
func (r *runner) batch(s step, sql string, args []any) *pgx.Batch {
	b := &pgx.Batch{QueuedQueries: make([]*pgx.QueuedQuery, 0, 3)}
	r.queueSet(b, s)
	b.Queue(sql, args...)
	if s.clear {
		b.Queue(clearSQL)
	}

	return b
}

// queueSet queues the set_config statement of s, if it has one. Over the
// simple protocol, which caches no statement text, the value is a string
// constant in the text. That way the text, and so the error positions after
// it, do not depend on how pgx quotes arguments.
func (r *runner) queueSet(b *pgx.Batch, s step) {
	switch {
	case !s.set:
	case len(s.value) == 0:
		b.Queue(clearSQL)
	case r.simpleProtocol():
		b.Queue(settingStatement(s.value))
	default:
		b.Queue(setSQL, string(s.value))
	}
}

// setStatement returns the text of the set_config statement that queueSet
// queues for s.
func (r *runner) setStatement(s step) string {
	switch {
	case len(s.value) == 0:
		return clearSQL
	case r.simpleProtocol():
		return settingStatement(s.value)
	default:
		return setSQL
	}
}

// hasExecOptions reports whether args starts with the pgx options that a
// batch cannot carry: a QueryExecMode or a result format. A QueryRewriter,
// such as pgx.NamedArgs, works in a batch.
func hasExecOptions(args []any) bool {
	for _, a := range args {
		switch a.(type) {
		case pgx.QueryExecMode, pgx.QueryResultFormats, pgx.QueryResultFormatsByOID:
			return true
		case pgx.QueryRewriter:
		default:
			return false
		}
	}

	return false
}
