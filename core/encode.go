package core

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// DefaultMaxPayloadSize is the default limit for an encoded context: 1 MiB.
const DefaultMaxPayloadSize = 1 << 20

// TruncatedKey is the key that marks a context cut down to fit the size
// limit. Its value is an object with the original size in bytes and the sorted
// names of the keys that were dropped.
const TruncatedKey = "_bemiTruncated"

// truncatedValueSize is the largest encoded top-level value that survives
// truncation, so scalar facts such as userId and endpoint stay readable.
const truncatedValueSize = 1024

// Encoder turns Fields into the payload of a Bemi comment or logical message.
// The zero value is ready to use with the default size limit. An Encoder is
// safe for concurrent use.
type Encoder struct {
	// MaxSize is the largest payload in bytes. Zero means
	// DefaultMaxPayloadSize; a negative value disables the limit.
	MaxSize int

	// Logger receives a warning whenever a context is truncated. Nil means
	// slog.Default(), because a truncated audit context must never go
	// unnoticed.
	Logger *slog.Logger
}

// Encode returns the JSON encoding of fields in the safe wire form:
//
//   - every '/' inside a string is written as "\/", so no value can end or
//     open a SQL block comment, and the JSON still decodes to the same value;
//   - the escape \u0000, unpaired UTF-16 surrogate escapes such as \ud800 and
//     invalid UTF-8 bytes become U+FFFD, because PostgreSQL's jsonb rejects
//     them;
//   - a payload over MaxSize keeps, in key order, the top-level entries whose
//     encoded value is at most 1 KiB while the total fits, and records the
//     dropped keys and the original size under TruncatedKey. When even that
//     does not fit, only the TruncatedKey entry remains. Each truncation is
//     logged as a warning.
//
// Encode returns an error only when a value cannot be encoded as JSON (a
// channel or function, for example); the error names the key.
func (e *Encoder) Encode(fields Fields) ([]byte, error) {
	raw := make(map[string][]byte, len(fields))
	keys := make([]string, 0, len(fields))
	for k, v := range fields {
		b, err := marshal(v)
		if err != nil {
			return nil, fmt.Errorf("bemi: encode context value %q: %w", k, err)
		}
		raw[k] = b
		keys = append(keys, k)
	}
	slices.Sort(keys)

	out := encodeObject(keys, raw)
	limit := e.maxSize()
	if limit < 0 || len(out) <= limit {
		return out, nil
	}

	return e.truncate(keys, raw, len(out), limit), nil
}

func (e *Encoder) maxSize() int {
	if e == nil || e.MaxSize == 0 {
		return DefaultMaxPayloadSize
	}

	return e.MaxSize
}

func (e *Encoder) logger() *slog.Logger {
	if e == nil || e.Logger == nil {
		return slog.Default()
	}

	return e.Logger
}

func (e *Encoder) truncate(keys []string, raw map[string][]byte, size, limit int) []byte {
	var kept, dropped []string
	for _, k := range keys {
		if len(raw[k]) <= truncatedValueSize {
			kept = append(kept, k)
		} else {
			dropped = append(dropped, k)
		}
	}

	out := withMarker(kept, dropped, raw, size)
	for len(out) > limit && len(kept) > 0 {
		last := kept[len(kept)-1]
		kept = kept[:len(kept)-1]
		dropped = append(dropped, last)
		slices.Sort(dropped)
		out = withMarker(kept, dropped, raw, size)
	}
	if len(out) > limit {
		out = []byte(`{"` + TruncatedKey + `":{"originalSize":` + strconv.Itoa(size) + `}}`)
	}

	e.logger().Warn("bemi: context over the size limit was truncated",
		slog.Int("size", size), slog.Int("limit", limit), slog.Any("droppedKeys", dropped))

	return out
}

func withMarker(kept, dropped []string, raw map[string][]byte, size int) []byte {
	marker, _ := json.Marshal(map[string]any{"originalSize": size, "droppedKeys": dropped})
	all := make(map[string][]byte, len(kept)+1)
	for _, k := range kept {
		all[k] = raw[k]
	}
	all[TruncatedKey] = sanitize(marker)

	names := append(slices.Clone(kept), TruncatedKey)
	slices.Sort(names)

	return encodeObject(names, all)
}

// marshal encodes one value in the safe wire form.
func marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}

	return sanitize(bytes.TrimRight(buf.Bytes(), "\n")), nil
}

func encodeObject(keys []string, raw map[string][]byte) []byte {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(',')
		}
		name, _ := marshal(k)
		b.Write(name)
		b.WriteByte(':')
		b.Write(raw[k])
	}
	b.WriteByte('}')

	return b.Bytes()
}

// Sanitize rewrites valid JSON into the safe wire form described at
// Encoder.Encode: '/' escaped inside strings, and \u0000, unpaired surrogate
// escapes and invalid UTF-8 replaced by U+FFFD. The capture worker applies it
// to payloads written by other libraries before storing them as jsonb.
func Sanitize(doc []byte) []byte {
	return sanitize(doc)
}

const replacement = `\ufffd`

func sanitize(in []byte) []byte {
	out := make([]byte, 0, len(in)+8)
	inString := false
	for i := 0; i < len(in); {
		c := in[i]
		if !inString {
			if c == '"' {
				inString = true
			}
			out = append(out, c)
			i++

			continue
		}

		switch {
		case c == '"':
			inString = false
			out = append(out, c)
			i++
		case c == '/':
			out = append(out, '\\', '/')
			i++
		case c == '\\' && i+1 < len(in) && in[i+1] == 'u':
			n, esc := sanitizeUnicodeEscape(in[i:])
			out = append(out, esc...)
			i += n
		case c == '\\' && i+1 < len(in):
			out = append(out, c, in[i+1])
			i += 2
		case c < utf8.RuneSelf:
			out = append(out, c)
			i++
		default:
			r, size := utf8.DecodeRune(in[i:])
			if r == utf8.RuneError && size <= 1 {
				out = append(out, replacement...)
				i++

				continue
			}
			out = append(out, in[i:i+size]...)
			i += size
		}
	}

	return out
}

// sanitizeUnicodeEscape reads the \uXXXX escape (or surrogate pair) at the
// start of s and returns how many bytes it used and what to write instead.
func sanitizeUnicodeEscape(s []byte) (int, []byte) {
	r, ok := hex4(s)
	if !ok {
		return 2, s[:2]
	}

	switch {
	case r == 0:
		return 6, []byte(replacement)
	case utf16.IsSurrogate(r) && r < 0xdc00:
		if low, ok := hex4(s[6:]); ok && len(s) >= 12 && s[6] == '\\' && low >= 0xdc00 && low <= 0xdfff {
			return 12, s[:12]
		}

		return 6, []byte(replacement)
	case utf16.IsSurrogate(r):
		return 6, []byte(replacement)
	default:
		return 6, s[:6]
	}
}

// hex4 decodes the four hex digits of a \uXXXX escape at the start of s.
func hex4(s []byte) (rune, bool) {
	if len(s) < 6 || s[0] != '\\' || s[1] != 'u' {
		return 0, false
	}
	v, err := strconv.ParseUint(string(s[2:6]), 16, 32)
	if err != nil {
		return 0, false
	}

	return rune(v), true
}
