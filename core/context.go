package core

import (
	"context"
	"maps"
	"sync"
)

// Fields is the application context attached to database writes: a JSON object
// such as {"userId": 187234, "endpoint": "/todo/{id}"}. Values must be encodable
// by encoding/json.
type Fields map[string]any

// contextKey is the key under which the fields live in a context.Context.
type contextKey struct{}

// entry is the immutable value stored in a context.Context. It is never mutated
// after creation, so contexts derived from one request never see each other's
// fields. The encoded form is computed at most once per entry, because every
// statement of a request reuses it.
type entry struct {
	fields Fields

	once    sync.Once
	encoder *Encoder
	payload []byte
	err     error
}

// With returns a copy of ctx that carries fields merged over the fields
// already in ctx: a key in fields replaces the same key from an earlier call.
// Neither ctx nor fields is modified, and later changes to the fields map do
// not affect the returned context.
func With(ctx context.Context, fields Fields) context.Context {
	merged := make(Fields, len(fields))
	if prev, ok := ctx.Value(contextKey{}).(*entry); ok {
		maps.Copy(merged, prev.fields)
	}
	maps.Copy(merged, fields)

	return context.WithValue(ctx, contextKey{}, &entry{fields: merged})
}

// Replace returns a copy of ctx that carries exactly fields, dropping any
// fields set earlier. Replace(ctx, nil) removes the application context.
func Replace(ctx context.Context, fields Fields) context.Context {
	return context.WithValue(ctx, contextKey{}, &entry{fields: maps.Clone(fields)})
}

// FieldsFrom returns a copy of the fields attached to ctx, or nil when none
// are attached. Changing the returned map does not change ctx.
func FieldsFrom(ctx context.Context) Fields {
	e, ok := ctx.Value(contextKey{}).(*entry)
	if !ok || len(e.fields) == 0 {
		return nil
	}

	return maps.Clone(e.fields)
}

// Payload returns the wire-format encoding of the fields attached to ctx, as
// produced by enc.Encode, and false when ctx carries no fields. The result is
// cached per context value, so a request that runs many statements encodes its
// fields once. The returned slice must not be modified.
func Payload(ctx context.Context, enc *Encoder) ([]byte, bool, error) {
	e, ok := ctx.Value(contextKey{}).(*entry)
	if !ok || len(e.fields) == 0 {
		return nil, false, nil
	}

	e.once.Do(func() {
		e.encoder = enc
		e.payload, e.err = enc.Encode(e.fields)
	})
	if e.encoder != enc {
		// Another encoder configuration produced the cached value: encode anew.
		p, err := enc.Encode(e.fields)

		return p, err == nil, err
	}

	return e.payload, e.err == nil, e.err
}
