package pgxbemi

import (
	"context"
	"errors"
	"strings"

	"github.com/bemi-go/bemi/core"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Statements take one of three routes:
//
//   - Pipelined: the default. The setting is set (and, where needed,
//     cleared) by statements queued in one pgx batch with the statement, so
//     the statement text and pgx's statement cache are unchanged and the
//     call costs the round trip it costs without tracking.
//   - Simple: Exec without arguments, which pgx sends over the simple
//     protocol, whose text no cache holds. The context goes in a comment.
//   - Commented: CALL, and calls with an explicit pgx.QueryExecMode or
//     result format option, which a pgx batch cannot carry. The context goes
//     in a comment. A procedure that commits keeps its context this way,
//     because the comment outlives the transaction-local setting.

// exec runs Exec with the context of ctx.
func (r *runner) exec(ctx context.Context, sql string, args []any) (pgconn.CommandTag, error) {
	if len(args) == 0 {
		return r.execSimple(ctx, sql)
	}

	s, commented := r.planStatement(ctx, sql, args)
	if commented {
		return r.execCommented(ctx, s, sql, args)
	}
	if !s.sends() {
		tag, err := r.target.Exec(ctx, sql, args...)
		r.finish(s, err)

		return tag, err
	}

	br := r.target.SendBatch(ctx, s.batch(sql, args))
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
	err = unwrapBatchError(err)
	r.finish(s, err)

	return tag, err
}

// execSimple runs Exec without arguments: pgx sends it over the simple
// protocol, so a comment changes no cache, and a statement that changes the
// setting can run in front of it in the same query string.
func (r *runner) execSimple(ctx context.Context, sql string) (pgconn.CommandTag, error) {
	payload, annotate := r.opts.payload(ctx, sql)
	s := r.planComment(ctx, sql, payload, annotate, true)
	// A query string may hold several statements, ROLLBACK TO SAVEPOINT
	// among them.
	s.unknownAfter = changesSetting(sql) || strings.Contains(sql, ";")

	text := sql
	prefix := ""
	if s.set {
		prefix = settingPrefix(s.value)
		text = prefix + sql
	}
	if s.comment {
		text = core.AppendComment(text, s.payload)
	}

	tag, err := r.target.Exec(ctx, text)
	if prefix != "" {
		shiftPosition(err, prefix)
	}
	r.finish(s, err)

	return tag, err
}

// planStatement plans a statement with arguments. commented reports that it
// takes the commented route.
func (r *runner) planStatement(ctx context.Context, sql string, args []any) (s step, commented bool) {
	payload, annotate := r.opts.payload(ctx, sql)
	if hasExecOptions(args) || isCall(sql) {
		s = r.planComment(ctx, sql, payload, annotate, false)
		s.unknownAfter = changesSetting(sql)

		return s, true
	}

	control := changesSetting(sql)
	s = r.plan(ctx, payload, annotate && !control)
	s.unknownAfter = control

	return s, false
}

// execCommented runs a statement on the commented route.
func (r *runner) execCommented(ctx context.Context, s step, sql string, args []any) (pgconn.CommandTag, error) {
	if err := r.prepareCommented(ctx, s); err != nil {
		return pgconn.CommandTag{}, err
	}

	sql, args = r.commented(s, sql, args)
	tag, err := r.target.Exec(ctx, sql, args...)
	r.finish(s, err)

	return tag, err
}

// prepareCommented clears a value that an earlier statement left set, in a
// round trip of its own, so that the trigger reads the comment. On the
// commented route the value planned is always empty.
func (r *runner) prepareCommented(ctx context.Context, s step) error {
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
	s, commented := r.planStatement(ctx, sql, args)
	if commented {
		if err := r.prepareCommented(ctx, s); err != nil {
			return errRows{err: err}, err
		}
		sql, args = r.commented(s, sql, args)
		rows, err := r.target.Query(ctx, sql, args...)
		r.finish(s, err)

		return rows, err
	}
	if !s.sends() {
		rows, err := r.target.Query(ctx, sql, args...)
		r.finish(s, err)

		return rows, err
	}

	return r.queryPipelined(ctx, s, sql, args)
}

// queryPipelined sends the statement in a batch with the set_config
// statements of s and returns its rows, which close the batch when they
// close.
func (r *runner) queryPipelined(ctx context.Context, s step, sql string, args []any) (pgx.Rows, error) {
	br := r.target.SendBatch(ctx, s.batch(sql, args))
	if s.set {
		if _, err := br.Exec(); err != nil {
			_ = br.Close() // err is the error to return
			err = unwrapBatchError(err)
			r.finish(s, err)

			return errRows{err: err}, err
		}
	}

	rows, err := br.Query()
	if err != nil {
		_ = br.Close() // err is the error to return
		err = unwrapBatchError(err)
		r.finish(s, err)

		return errRows{err: err}, err
	}

	return &pipelinedRows{Rows: rows, br: br, runner: r, step: s}, nil
}

// queryRow runs QueryRow with the context of ctx. A statement sent without
// set_config statements returns the target's own pgx.Row.
func (r *runner) queryRow(ctx context.Context, sql string, args []any) pgx.Row {
	s, commented := r.planStatement(ctx, sql, args)
	if commented {
		if err := r.prepareCommented(ctx, s); err != nil {
			return &row{rows: errRows{err: err}}
		}
		sql, args = r.commented(s, sql, args)
		row := r.target.QueryRow(ctx, sql, args...)
		r.finish(s, nil)

		return row
	}
	if !s.sends() {
		row := r.target.QueryRow(ctx, sql, args...)
		r.finish(s, nil)

		return row
	}

	rows, _ := r.queryPipelined(ctx, s, sql, args) // the error is in rows
	return &row{rows: rows}
}

// batch returns a pgx batch with the statement between the set_config
// statements of s.
func (s step) batch(sql string, args []any) *pgx.Batch {
	b := &pgx.Batch{QueuedQueries: make([]*pgx.QueuedQuery, 0, 3)}
	s.queueSet(b)
	b.Queue(sql, args...)
	if s.clear {
		b.Queue(clearSQL)
	}

	return b
}

// queueSet queues the set_config statement of s, if it has one.
func (s step) queueSet(b *pgx.Batch) {
	switch {
	case !s.set:
	case len(s.value) == 0:
		b.Queue(clearSQL)
	default:
		b.Queue(setSQL, string(s.value))
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

// shiftPosition moves the error position of a server error from the query
// string with prefix in front back to the statement the caller sent.
func shiftPosition(err error, prefix string) {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) {
		return
	}

	if n := runeCount(prefix); pgErr.Position > n {
		pgErr.Position -= n
	}
}

// unwrapBatchError returns the error inside a pgx.ErrPreprocessingBatch: the
// error that pgx returns when a statement sent on its own fails to prepare or
// its arguments fail to encode.
func unwrapBatchError(err error) error {
	var pre pgx.ErrPreprocessingBatch
	if errors.As(err, &pre) {
		return pre.Unwrap()
	}

	return err
}
