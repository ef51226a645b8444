package pgxbemi

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// isPreprocessingError reports whether err is pgx's error for a batch whose
// statements failed to prepare or whose arguments failed to encode, before
// any statement ran.
func isPreprocessingError(err error) bool {
	var pre pgx.ErrPreprocessingBatch

	return errors.As(err, &pre)
}

// statementError converts the error of a statement sent in a batch to the
// error that pgx returns for the statement sent on its own: a failed
// prepare is a *pgconn.PrepareError there, and an encoding error is not
// wrapped.
//
// pgx creates a *pgconn.PrepareError only when it prepares a statement
// itself, so outside a transaction statementError prepares the statement
// again, unnamed, to return pgx's own error. Inside a transaction that
// second prepare would fail on the aborted transaction instead.
//
// NOTE: a statement that fails to prepare inside a transaction returns the
// *pgconn.PgError that a *pgconn.PrepareError would wrap. Both have the same
// text, and errors.As finds the *pgconn.PgError in either.
func (r *runner) statementError(ctx context.Context, s step, sql string, err error) error {
	var pre pgx.ErrPreprocessingBatch
	if !errors.As(err, &pre) {
		return err
	}

	inner := pre.Unwrap()
	var pgErr *pgconn.PgError
	if s.mode != modeImplicit || pre.SQL() != sql || !errors.As(inner, &pgErr) {
		return inner
	}
	if prepareErr := r.prepareAgain(ctx, sql); prepareErr != nil {
		return prepareErr
	}

	return inner
}

// prepareAgain prepares sql as the unnamed statement on a connection of the
// target and returns the error. It returns nil when the target has no
// connection to prepare on, or when the statement now prepares.
func (r *runner) prepareAgain(ctx context.Context, sql string) error {
	conn, release, err := r.acquireConn(ctx)
	if err != nil || conn == nil {
		return nil
	}
	defer release()

	_, err = conn.Prepare(ctx, "", sql)

	return err
}

// shiftPosition moves the error position of a server error back by n
// characters, the length of what was sent in front of the caller's
// statement.
func shiftPosition(err error, n int32) {
	var pgErr *pgconn.PgError
	if n == 0 || !errors.As(err, &pgErr) {
		return
	}

	if pgErr.Position > n {
		pgErr.Position -= n
	}
}

// restorePosition moves the error position of a server error from a query
// string sent as prefix, the caller's statement of sqlLen characters, and a
// comment, back to the caller's statement. A position past the statement,
// such as that of a syntax error at the end of the input, moves to just
// after the statement, where it is without the comment.
func restorePosition(err error, prefix, sqlLen int32) {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Position == 0 {
		return
	}

	pos := pgErr.Position - prefix
	if pos > sqlLen+1 {
		pos = sqlLen + 1
	}
	if pos > 0 {
		pgErr.Position = pos
	}
}
