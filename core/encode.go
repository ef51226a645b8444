package core

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
)

// DefaultMaxPayloadSize is the default limit for an encoded context: 1 MiB.
const DefaultMaxPayloadSize = 1 << 20

// Encoder turns Fields into the payload of a Bemi comment or logical message.
// The zero value is ready to use with the default size limit. An Encoder is
// safe for concurrent use; do not change its fields after first use, because
// Payload caches results per size limit.
type Encoder struct {
	// MaxSize is the largest payload in bytes. Zero means
	// DefaultMaxPayloadSize, and a negative value disables the limit.
	MaxSize int

	// Logger receives a warning whenever a context is truncated. Nil means
	// slog.Default(): unlike other messages of a library, a truncated audit
	// context must not go unnoticed.
	Logger *slog.Logger
}

// Encode returns the JSON encoding of fields in the safe wire form. Keys are
// sorted, HTML characters are not escaped, and inside JSON strings:
//
//   - every '/' is written as "\/", and a '*' right after it as "\u002a", so
//     the payload contains neither "*/" nor "/*" and cannot end or nest the
//     SQL comment, while it still decodes to the same value;
//   - the escape \u0000, unpaired UTF-16 surrogate escapes such as \ud800 (in
//     json.RawMessage values), the byte 0x00 and bytes that are not valid
//     UTF-8 become U+FFFD, because PostgreSQL's jsonb rejects them. Keys that
//     become equal this way all stay in the object, in the byte order of the
//     original keys. Decoders, jsonb among them, keep the last one.
//
// A payload longer than MaxSize is truncated by this rule, and each
// truncation is logged as a warning:
//
//  1. Top-level entries whose encoded value is longer than 1 KiB are dropped,
//     and so is a field named TruncatedKey.
//  2. The entry TruncatedKey is added: {"originalSize": <bytes before
//     truncation>, "droppedKeys": [<dropped keys in byte order>]}.
//  3. While the payload is still too long, the remaining entries are dropped
//     from the end of the key order.
//  4. When even the marker alone does not fit, the payload is
//     {"_bemiTruncated":{"originalSize":<bytes>}}, also when that is longer
//     than a very small MaxSize.
//
// Encode returns an error only when a value cannot be encoded as JSON (a
// channel or a function, for example); the error names the key.
func (e *Encoder) Encode(fields Fields) ([]byte, error) {
	keys := make([]string, 0, len(fields))
	for k := range fields {
		keys = append(keys, k)
	}
	slices.Sort(keys)

	var values valueEncoder
	spans := make([]entrySpan, 0, len(keys))
	out := make([]byte, 0, 32*len(keys)+2)
	out = append(out, '{')
	for i, k := range keys {
		if i > 0 {
			out = append(out, ',')
		}
		span := entrySpan{start: len(out)}
		out = appendString(out, k)
		span.keyEnd = len(out)
		out = append(out, ':')

		var err error
		out, err = values.append(out, fields[k])
		if err != nil {
			return nil, fmt.Errorf("bemi: encode context field %q: %w", k, err)
		}
		span.end = len(out)
		spans = append(spans, span)
	}
	out = append(out, '}')

	limit := e.maxSize()
	if limit < 0 || len(out) <= limit {
		return out, nil
	}

	return e.truncate(out, keys, spans, limit), nil
}

// maxSize returns the effective size limit, -1 for none.
func (e *Encoder) maxSize() int {
	switch {
	case e == nil || e.MaxSize == 0:
		return DefaultMaxPayloadSize
	case e.MaxSize < 0:
		return -1
	default:
		return e.MaxSize
	}
}

func (e *Encoder) logger() *slog.Logger {
	if e == nil || e.Logger == nil {
		return slog.Default()
	}

	return e.Logger
}

// maxDirectDepth is the nesting depth up to which valueEncoder writes maps
// and slices itself. Deeper values go through encoding/json, which reports a
// map that contains itself as an error instead of recursing forever.
const maxDirectDepth = 32

// valueEncoder appends values in the safe wire form. Common types are
// written directly; everything else goes through encoding/json, created on
// first use, whose output is then rewritten by appendSanitized.
type valueEncoder struct {
	buf bytes.Buffer
	enc *json.Encoder
}

func (v *valueEncoder) append(dst []byte, value any) ([]byte, error) {
	return v.appendDepth(dst, value, 0)
}

func (v *valueEncoder) appendDepth(dst []byte, value any, depth int) ([]byte, error) {
	switch x := value.(type) {
	case nil:
		return append(dst, "null"...), nil
	case string:
		return appendString(dst, x), nil
	case bool:
		return strconv.AppendBool(dst, x), nil
	case int:
		return strconv.AppendInt(dst, int64(x), 10), nil
	case int32:
		return strconv.AppendInt(dst, int64(x), 10), nil
	case int64:
		return strconv.AppendInt(dst, x, 10), nil
	case uint:
		return strconv.AppendUint(dst, uint64(x), 10), nil
	case uint32:
		return strconv.AppendUint(dst, uint64(x), 10), nil
	case uint64:
		return strconv.AppendUint(dst, x, 10), nil
	case map[string]any:
		if depth < maxDirectDepth {
			return v.appendObject(dst, x, depth+1)
		}
	case Fields:
		if depth < maxDirectDepth {
			return v.appendObject(dst, x, depth+1)
		}
	case []any:
		if depth < maxDirectDepth {
			return v.appendArray(dst, x, depth+1)
		}
	}

	if v.enc == nil {
		v.enc = json.NewEncoder(&v.buf)
		v.enc.SetEscapeHTML(false)
	}
	v.buf.Reset()
	if err := v.enc.Encode(value); err != nil {
		return dst, err
	}

	// json.Encoder ends each value with a newline.
	return appendSanitized(dst, bytes.TrimSuffix(v.buf.Bytes(), []byte{'\n'})), nil
}

// appendObject writes m with its keys sorted, as encoding/json does.
func (v *valueEncoder) appendObject(dst []byte, m map[string]any, depth int) ([]byte, error) {
	if m == nil {
		return append(dst, "null"...), nil
	}

	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)

	dst = append(dst, '{')
	for i, k := range keys {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendString(dst, k)
		dst = append(dst, ':')

		var err error
		if dst, err = v.appendDepth(dst, m[k], depth); err != nil {
			return dst, err
		}
	}

	return append(dst, '}'), nil
}

func (v *valueEncoder) appendArray(dst []byte, list []any, depth int) ([]byte, error) {
	if list == nil {
		return append(dst, "null"...), nil
	}

	dst = append(dst, '[')
	for i, item := range list {
		if i > 0 {
			dst = append(dst, ',')
		}

		var err error
		if dst, err = v.appendDepth(dst, item, depth); err != nil {
			return dst, err
		}
	}

	return append(dst, ']'), nil
}
