package capture

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/bemi-go/bemi/core"
)

// RejectedKey is the key of the object that replaces a value the
// destination rejected: {"_bemiRejected": {"column", "error", "size",
// "text"}}. text holds the start of the value's JSON text, at most
// RejectedTextLimit bytes, and size its full length in bytes.
const RejectedKey = "_bemiRejected"

// RejectedTextLimit is the maximum number of bytes of a rejected value's
// JSON text kept under RejectedKey. The text is cut at a character boundary.
const RejectedTextLimit = 64 << 10

// jsonbColumns are the indexes in a change row of the jsonb columns that
// may be stored in degraded form, in the order they are tried: the context
// comes from any session, while before and after come from table rows.
var jsonbColumns = []int{columnContext, columnAfter, columnBefore}

// rejectionError is a COPY into the changes table that the destination
// rejected because of a row's values. through is the position of the
// batch's last row: the rejected row is at or before it.
type rejectionError struct {
	through pglogrepl.LSN
	err     error
}

func (e *rejectionError) Error() string { return e.err.Error() }
func (e *rejectionError) Unwrap() error { return e.err }

// dataError returns the PostgreSQL error in err when it is a data exception
// (SQLSTATE class 22) or a program limit exceeded (class 54). The values of
// a row cause these, so copying the same row fails again.
func dataError(err error) (*pgconn.PgError, bool) {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || len(pgErr.Code) != 5 {
		return nil, false
	}
	class := pgErr.Code[:2]

	return pgErr, class == "22" || class == "54"
}

// rejectedRow describes a change stored in degraded form, for the log.
type rejectedRow struct {
	xid      int64
	position pglogrepl.LSN
	ordinal  int32
	table    string
	sqlstate string
	columns  []string

	// keyDropped is set when primary_key was stored as NULL, and asciiOnly
	// when the replacements keep only ASCII text.
	keyDropped bool
	asciiOnly  bool
}

// careful reports whether rows must be copied under savepoints, because the
// session restreams after a rejection and rows start at or before the
// rejected batch.
func (w *writer) careful(rows [][]any) bool {
	return w.carefulThrough != 0 && rowPosition(rows[0]) <= w.carefulThrough
}

// copyCarefully copies rows under a savepoint. When the destination rejects
// the batch with a data error, it copies the rows one at a time, and stores
// each rejected row in degraded form.
func (w *writer) copyCarefully(rows [][]any) error {
	err := w.underSavepoint(func(ctx context.Context) error {
		return w.copyRows(ctx, rows)
	})
	pgErr, ok := dataError(err)
	if !ok {
		return err
	}

	w.log.Warn("destination rejected a batch: copying its rows one at a time",
		"rows", len(rows), "position", rowPosition(rows[0]), "sqlstate", pgErr.Code)
	for _, row := range rows {
		err := w.underSavepoint(func(ctx context.Context) error {
			return w.copyRows(ctx, [][]any{row})
		})
		pgErr, ok := dataError(err)
		if !ok {
			if err != nil {
				return err
			}

			continue
		}
		if err := w.storeDegraded(row, pgErr); err != nil {
			return err
		}
	}

	return nil
}

// copyRows copies rows into the open destination transaction.
func (w *writer) copyRows(ctx context.Context, rows [][]any) error {
	n, err := w.tx.CopyFrom(ctx, w.table, changeColumns, pgx.CopyFromRows(rows))
	if err != nil {
		return fmt.Errorf("copy %d rows into %s: %w", len(rows), w.table.Sanitize(), err)
	}
	if int(n) != len(rows) {
		return fmt.Errorf("copy into %s: stored %d of %d rows", w.table.Sanitize(), n, len(rows))
	}

	return nil
}

// degradedForm is one way to store a rejected row: the jsonb columns to
// replace, each with the error to record, whether primary_key is dropped, and
// whether the replacements keep only ASCII text.
type degradedForm struct {
	columns map[int]*pgconn.PgError
	dropKey bool
	ascii   bool
}

// storeDegraded stores a row that the destination rejected with rowErr in
// the first of these forms that it accepts:
//
//  1. the jsonb columns that jsonb input rejects on their own replaced;
//  2. those and one more of context, after and before replaced, which covers
//     a rejection by a trigger, constraint or index;
//  3. all three replaced;
//  4. all three replaced and primary_key NULL, for a key too large for the
//     index;
//  5. as 4, with only ASCII text, for a destination whose encoding cannot
//     hold the text.
//
// It returns an error when the destination rejects every form.
func (w *writer) storeDegraded(row []any, rowErr *pgconn.PgError) error {
	rejected := map[int]*pgconn.PgError{}
	for _, col := range jsonbColumns {
		pgErr, err := w.probeJSONB(row[col].([]byte))
		if err != nil {
			return err
		}
		if pgErr != nil {
			rejected[col] = pgErr
		}
	}

	var forms []degradedForm
	if len(rejected) > 0 {
		forms = append(forms, degradedForm{columns: rejected})
	}
	for _, col := range jsonbColumns {
		if rejected[col] == nil {
			forms = append(forms, degradedForm{columns: withColumn(rejected, col, rowErr)})
		}
	}
	all := rejected
	for _, col := range jsonbColumns {
		all = withColumn(all, col, rowErr)
	}
	forms = append(forms,
		degradedForm{columns: all},
		degradedForm{columns: all, dropKey: true},
		degradedForm{columns: all, dropKey: true, ascii: true},
	)

	var lastErr error = rowErr
	for _, form := range forms {
		degraded := degradeRow(row, form)
		err := w.underSavepoint(func(ctx context.Context) error {
			return w.copyRows(ctx, [][]any{degraded})
		})
		if err == nil {
			w.rejected = append(w.rejected, describeRejected(row, rowErr, form))

			return nil
		}
		// Only the row's values may push it to a more degraded form. Any
		// other error, a timeout or a lost connection, ends the attempt,
		// and the worker streams the batch again.
		if _, ok := dataError(err); !ok {
			return err
		}
		lastErr = err
	}

	return fmt.Errorf("store change %d of transaction %d at %s in degraded form: every form was rejected: %w",
		row[columnOrdinal], row[columnTransactionID], rowPosition(row), lastErr)
}

// probeJSONB returns the error of jsonb input for value on the destination,
// or nil when it accepts the value. The second result is any other error,
// such as a lost connection or a statement timeout, which is not caused by
// the value.
func (w *writer) probeJSONB(value []byte) (*pgconn.PgError, error) {
	err := w.underSavepoint(func(ctx context.Context) error {
		var isNull bool

		return w.tx.QueryRow(ctx, "SELECT $1::jsonb IS NULL", value).Scan(&isNull)
	})
	if err == nil {
		return nil, nil
	}
	if pgErr, ok := dataError(err); ok {
		return pgErr, nil
	}

	return nil, err
}

// underSavepoint runs fn in the open destination transaction under a
// savepoint, which it releases after fn, or rolls back to and releases when
// fn fails, so the transaction goes on either way and no savepoints pile up.
func (w *writer) underSavepoint(fn func(ctx context.Context) error) error {
	ctx, cancel := context.WithTimeout(context.Background(), writeTimeout)
	defer cancel()

	if _, err := w.tx.Exec(ctx, "SAVEPOINT bemi_careful"); err != nil {
		return fmt.Errorf("create savepoint: %w", err)
	}
	fnErr := fn(ctx)
	if fnErr != nil {
		if _, err := w.tx.Exec(ctx, "ROLLBACK TO SAVEPOINT bemi_careful"); err != nil {
			return fmt.Errorf("roll back to savepoint after %w: %w", fnErr, err)
		}
	}
	if _, err := w.tx.Exec(ctx, "RELEASE SAVEPOINT bemi_careful"); err != nil {
		return fmt.Errorf("release savepoint: %w", err)
	}

	return fnErr
}

// withColumn returns a copy of columns with col set to pgErr, unless col is
// there already.
func withColumn(columns map[int]*pgconn.PgError, col int, pgErr *pgconn.PgError) map[int]*pgconn.PgError {
	out := make(map[int]*pgconn.PgError, len(columns)+1)
	for k, v := range columns {
		out[k] = v
	}
	if out[col] == nil {
		out[col] = pgErr
	}

	return out
}

// degradeRow returns a copy of row in the degraded form.
func degradeRow(row []any, form degradedForm) []any {
	out := append([]any(nil), row...)
	for col, pgErr := range form.columns {
		out[col] = rejectedValue(changeColumns[col], pgErr, row[col].([]byte), form.ascii)
	}
	if form.dropKey {
		out[columnPrimaryKey] = (*string)(nil)
	}

	return out
}

// rejectedValue returns the object that replaces a rejected value. Its text
// is in the safe wire form of package core, so jsonb accepts it: no \u0000,
// and invalid UTF-8 becomes U+FFFD. With ascii, every other character
// becomes '?' as well.
func rejectedValue(column string, pgErr *pgconn.PgError, value []byte, ascii bool) []byte {
	text := value
	if len(text) > RejectedTextLimit {
		cut := RejectedTextLimit
		for cut > 0 && !utf8.RuneStart(text[cut]) {
			cut--
		}
		text = text[:cut]
	}

	message := pgErr.Code + ": " + pgErr.Message
	textString := string(text)
	if ascii {
		message = replaceNonASCII(message)
		textString = replaceNonASCII(textString)
	}

	type rejection struct {
		Column string `json:"column"`
		Error  string `json:"error"`
		Size   int    `json:"size"`
		Text   string `json:"text"`
	}
	b, err := json.Marshal(map[string]rejection{RejectedKey: {Column: column, Error: message, Size: len(value), Text: textString}})
	if err != nil {
		// json.Marshal fails only for unsupported types and values, such
		// as channels or NaN, and rejection has none.
		panic(fmt.Sprintf("encode rejected value: %v", err))
	}

	return core.Sanitize(b)
}

// replaceNonASCII replaces every character of s outside ASCII with '?'.
func replaceNonASCII(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= utf8.RuneSelf {
			return '?'
		}

		return r
	}, s)
}

// describeRejected returns the log record of a row stored in form.
func describeRejected(row []any, rowErr *pgconn.PgError, form degradedForm) rejectedRow {
	r := rejectedRow{
		xid:        row[columnTransactionID].(int64),
		position:   rowPosition(row),
		ordinal:    row[columnOrdinal].(int32),
		table:      row[columnSchema].(string) + "." + row[columnTable].(string),
		sqlstate:   rowErr.Code,
		keyDropped: form.dropKey && row[columnPrimaryKey].(*string) != nil,
		asciiOnly:  form.ascii,
	}
	for _, col := range jsonbColumns {
		if form.columns[col] != nil {
			r.columns = append(r.columns, changeColumns[col])
		}
	}

	return r
}

// logRejected logs the rows stored in degraded form by the transaction just
// committed.
func (w *writer) logRejected() {
	for _, r := range w.rejected {
		w.log.Error("destination rejected a change: stored it in degraded form",
			"xid", r.xid, "position", r.position, "ordinal", r.ordinal, "table", r.table,
			"sqlstate", r.sqlstate, "columns", strings.Join(r.columns, ","),
			"primary_key_dropped", r.keyDropped, "ascii_only", r.asciiOnly)
	}
}

// rowPosition returns the commit LSN of the source transaction of a change
// row.
func rowPosition(row []any) pglogrepl.LSN {
	return pglogrepl.LSN(row[columnPosition].(int64))
}
