package core

import (
	"context"
	"encoding/json"
	"maps"
	"slices"
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
// fields. The entry caches its encoded form for one size limit, because every
// statement of a request reuses it.
type entry struct {
	fields Fields

	once    sync.Once
	limit   int // effective Encoder.MaxSize of the cached payload
	payload []byte
	err     error
}

// With returns a copy of ctx that carries fields merged over the fields
// already in ctx: a key in fields replaces the same key from an earlier call.
// Neither ctx nor fields is modified, and With(ctx, nil) returns ctx.
//
// Values of the types Fields, map[string]any, []any, map[string]string,
// []string and json.RawMessage are copied deeply, so later changes to them do
// not affect the returned context. Other values, such as pointers, structs
// that contain maps, or url.Values, are shared and must not be modified
// afterwards.
func With(ctx context.Context, fields Fields) context.Context {
	if len(fields) == 0 {
		return ctx
	}

	var merged Fields
	if prev := entryFrom(ctx); prev != nil && len(prev.fields) > 0 {
		merged = make(Fields, len(prev.fields)+len(fields))
		maps.Copy(merged, prev.fields)
	} else {
		merged = make(Fields, len(fields))
	}
	for k, v := range fields {
		merged[k] = cloneValue(v)
	}

	return context.WithValue(ctx, contextKey{}, &entry{fields: merged})
}

// Replace returns a copy of ctx that carries exactly fields, dropping any
// fields set earlier. Replace(ctx, nil) removes the application context.
// Values are copied as With copies them.
func Replace(ctx context.Context, fields Fields) context.Context {
	return context.WithValue(ctx, contextKey{}, &entry{fields: cloneFields(fields)})
}

// FieldsFrom returns a copy of the fields attached to ctx, or nil when none
// are attached. Values are copied as With copies them, so changing the
// returned map or the maps and slices in it does not change ctx.
func FieldsFrom(ctx context.Context) Fields {
	e := entryFrom(ctx)
	if e == nil || len(e.fields) == 0 {
		return nil
	}

	return cloneFields(e.fields)
}

// Payload returns the wire-format encoding of the fields attached to ctx, as
// produced by enc.Encode (nil enc means the zero Encoder), and false when ctx
// carries no fields. The result is cached per context value and size limit,
// so a request that runs many statements encodes its fields once, and a
// truncation warning goes to the logger of the encoder that encoded first.
// The returned slice must not be modified.
func Payload(ctx context.Context, enc *Encoder) ([]byte, bool, error) {
	e := entryFrom(ctx)
	if e == nil || len(e.fields) == 0 {
		return nil, false, nil
	}

	limit := enc.maxSize()
	e.once.Do(func() {
		e.limit = limit
		e.payload, e.err = enc.Encode(e.fields)
	})
	if e.limit != limit {
		// The cache holds the encoding for another size limit.
		p, err := enc.Encode(e.fields)
		if err != nil {
			return nil, false, err
		}

		return p, true, nil
	}
	if e.err != nil {
		return nil, false, e.err
	}

	return e.payload, true, nil
}

func entryFrom(ctx context.Context) *entry {
	e, _ := ctx.Value(contextKey{}).(*entry)

	return e
}

// hasFields reports whether ctx carries at least one field, without copying
// or encoding them.
func hasFields(ctx context.Context) bool {
	e := entryFrom(ctx)

	return e != nil && len(e.fields) > 0
}

func cloneFields(fields Fields) Fields {
	if fields == nil {
		return nil
	}

	out := make(Fields, len(fields))
	for k, v := range fields {
		out[k] = cloneValue(v)
	}

	return out
}

// cloneValue copies the JSON-shaped containers that applications commonly
// put into Fields. Other values are returned as they are.
func cloneValue(v any) any {
	switch x := v.(type) {
	case Fields:
		return cloneFields(x)
	case map[string]any:
		if x == nil {
			return x
		}
		out := make(map[string]any, len(x))
		for k, v := range x {
			out[k] = cloneValue(v)
		}

		return out
	case []any:
		if x == nil {
			return x
		}
		out := make([]any, len(x))
		for i, v := range x {
			out[i] = cloneValue(v)
		}

		return out
	case map[string]string:
		return maps.Clone(x)
	case []string:
		return slices.Clone(x)
	case json.RawMessage:
		return slices.Clone(x)
	default:
		return v
	}
}
