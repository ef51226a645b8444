// Package core is the shared part of Bemi for Go: it carries application
// context (who made a change, from which endpoint, with which parameters)
// through context.Context, encodes it in the wire format that Bemi's database
// trigger and capture worker understand, and stitches captured row changes to
// the context of the statement that made them.
//
// # Attaching context
//
// An HTTP middleware, a job runner or the application itself attaches fields
// to a request's context.Context:
//
//	ctx = core.With(ctx, core.Fields{"userId": 187234, "endpoint": "/todo/{id}"})
//
// Every write that an adapter (gormbemi, entbemi, pgxbemi) sends with that
// context carries the fields into the WAL. With merges: a later call adds keys
// and replaces keys of the same name. The fields are immutable once attached,
// so nothing leaks between requests or goroutines.
//
// # Wire format
//
// The context travels as a JSON object, either in a SQL comment appended to the
// statement (/*Bemi {"userId":187234} Bemi*/) or in the transaction-local
// setting bemi.context. A statement-level trigger turns it into a
// transactional logical decoding message with the prefix _bemi, placed in the
// WAL right before the statement's row changes. Encoder.Encode writes every
// '/' inside JSON strings as "\/", so no value can end or nest the comment.
// See Encoder.Encode for the replacement rules and the size limit.
//
// # Limits
//
// One simple-query string that holds several statements carries one context:
// the last Bemi comment in the string. A deferred constraint trigger that
// fires at COMMIT runs after the statement and gets no context.
package core
