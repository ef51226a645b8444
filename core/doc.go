// Package core is the shared part of Bemi for Go. It carries application
// context (who made a change, from which endpoint, with which parameters)
// through context.Context. It encodes that context in the wire format that
// Bemi's database trigger and capture worker read, and decides which
// statements carry it. The capture worker uses it to stitch row changes to
// the context of the statement that made them. It depends on the standard
// library only and keeps no package-level state.
//
// Applications use With, usually through an HTTP middleware; adapters
// (gormbemi, entbemi, pgxbemi) use Annotator; the capture worker uses
// Stitcher.
//
// # A first example
//
// A handler or job attaches fields to its context, and an adapter annotates
// every write it sends with that context:
//
//	ctx = core.With(ctx, core.Fields{"userId": 187234, "endpoint": "/todo/{id}"})
//
//	var annotator core.Annotator
//	sql, err := annotator.Comment(ctx, "UPDATE todo SET done = true WHERE id = $1")
//	// UPDATE todo SET done = true WHERE id = $1 /*Bemi {"endpoint":"\/todo\/{id}","userId":187234} Bemi*/
//
// # Attaching context
//
// With merges fields into those already in the context: a later call adds
// keys and replaces keys of the same name, in the returned context only.
// Replace drops the earlier fields, and FieldsFrom returns a copy. Each
// context value is immutable, so requests and goroutines never see each
// other's fields. With copies the common JSON-shaped values (Fields,
// map[string]any, []any, map[string]string, []string, json.RawMessage)
// deeply; other values, such as pointers, are shared and must not change
// afterwards. Jobs and workers without an HTTP request call With themselves
// (see the background job example).
//
// # Wire format
//
// The format matches Bemi's libraries for other languages. The context is a
// JSON object, sent either as a SQL comment appended to the statement,
//
//	INSERT INTO todo (task) VALUES ($1) /*Bemi {"userId":187234} Bemi*/
//
// or through the transaction-local setting bemi.context (SettingName), which
// an adapter sets before the statement and clears after it, so the statement
// text and prepared-statement caches stay unchanged. A statement-level
// trigger turns it into a transactional logical decoding message with the
// prefix _bemi (MessagePrefix), placed in the WAL before the statement's row
// changes, and emits {} (ResetPayload) when a statement without context
// follows one with context.
//
// Only the last Bemi comment of a statement counts, and only when nothing
// follows it but whitespace, semicolons, complete block comments and line
// comments without quote characters (ParseComment states the rule). So a
// tracing comment appended after it does not hide it, and a string literal
// that looks like a Bemi comment never becomes context.
//
// # Safe encoding
//
// Encoder.Encode writes the fields with sorted keys and without HTML
// escaping. Inside JSON strings it writes every '/' as "\/" and a '*' right
// after it as "\u002a", so the payload contains neither "*/" nor "/*" and no
// value can end or nest the comment (PostgreSQL block comments nest). The
// escape \u0000, unpaired surrogate escapes such as \ud800, NUL bytes and
// invalid UTF-8 become U+FFFD, because jsonb rejects them. Sanitize applies
// the same rules to JSON written by other libraries.
//
// # Size limit
//
// A payload over Encoder.MaxSize (1 MiB by default; negative disables the
// limit) is truncated, and a warning is logged on Encoder.Logger
// (slog.Default() when nil). Top-level values over 1 KiB are dropped first,
// then entries from the end of the key order until the payload fits. The key
// _bemiTruncated (TruncatedKey) records the original size and the dropped
// keys. Encoder.Encode gives the exact rule. Truncation never fails, so the
// application's write goes ahead.
//
// # Which statements carry context
//
// IsWrite reports INSERT, UPDATE, DELETE, MERGE, TRUNCATE, COPY ... FROM,
// CALL, DO, EXECUTE, data-modifying WITH queries and EXPLAIN of these, after
// comments and parentheses and skipping literals. A plain SELECT is not
// annotated, even when it calls a function that writes; set
// Annotator.AllStatements for applications that write that way. Payload
// encodes a context once and caches the result, so later statements of the
// request only look the payload up in their context.Context.
//
// # Limits
//
//   - One simple-query string that holds several statements carries one
//     context: the last Bemi comment in the string.
//   - A deferred constraint trigger that fires at COMMIT runs after the
//     statement and gets no context.
//   - A line comment with a quote character (', " or $) after the Bemi
//     comment hides the context, because it cannot be told apart from a
//     string literal that fakes one.
//   - IsWrite takes backslashes in ordinary '...' literals literally, as
//     PostgreSQL does with standard_conforming_strings=on, the default.
package core
