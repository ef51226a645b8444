package core

import "context"

// Annotator decides whether a statement carries the application context and
// produces what the adapter sends with it: the statement with the context
// comment appended, or the payload for the transaction-local setting
// SettingName. Every adapter makes this decision through an Annotator, so
// they all annotate the same statements. The zero value annotates writes
// with the default Encoder. An Annotator is safe for concurrent use.
type Annotator struct {
	// Encoder encodes the fields. Nil means the zero Encoder: a 1 MiB limit
	// and truncation warnings on slog.Default().
	Encoder *Encoder

	// AllStatements annotates every statement, not only those IsWrite
	// reports, for applications that write through functions called from
	// SELECT. Annotated reads do not change the WAL, but a unique statement
	// text per request defeats prepared-statement caches.
	AllStatements bool
}

// Comment returns sql with the context comment of ctx appended when ctx
// carries fields and the statement is a write (or AllStatements is set), and
// sql unchanged otherwise. The fields are encoded once per context (see
// Payload). On an encoding error Comment returns sql unchanged with the
// error, so the adapter chooses whether to run the statement without context.
func (a *Annotator) Comment(ctx context.Context, sql string) (string, error) {
	payload, ok, err := a.Payload(ctx, sql)
	if err != nil || !ok {
		return sql, err
	}

	return AppendComment(sql, payload), nil
}

// Payload returns the payload to send through the setting SettingName before
// sql, and true, when Comment would annotate sql. It returns false when sql
// goes without context. The returned slice must not be modified.
func (a *Annotator) Payload(ctx context.Context, sql string) ([]byte, bool, error) {
	if !hasFields(ctx) {
		return nil, false, nil
	}
	if !a.AllStatements && !IsWrite(sql) {
		return nil, false, nil
	}

	return Payload(ctx, a.Encoder)
}
