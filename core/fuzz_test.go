package core_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/bemi-go/bemi/core"
)

// FuzzCommentRoundTrip checks the wire format for arbitrary keys and values.
// The encoded payload survives AppendComment and ParseComment unchanged and
// never contains a comment delimiter. The statement before it stays
// unchanged, jsonb accepts it, and it decodes to the input after the
// documented replacements. The model below computes the expectation
// independently of the code under test.
func FuzzCommentRoundTrip(f *testing.F) {
	f.Add("userId", "1", "params", []byte(`{"id":"1"}`), "INSERT INTO todo (task) VALUES ($1)")

	f.Fuzz(func(t *testing.T, key1, value1, key2 string, raw []byte, stmt string) {
		fields := core.Fields{key1: value1}
		if json.Valid(raw) {
			fields[key2] = json.RawMessage(raw)
		} else {
			fields[key2] = string(raw)
		}

		payload, err := (&core.Encoder{MaxSize: -1}).Encode(fields)
		if err != nil {
			t.Fatalf("Encode(%q): %v", fields, err)
		}

		if bytes.Contains(payload, []byte("*/")) || bytes.Contains(payload, []byte("/*")) {
			t.Fatalf("payload %q contains a comment delimiter", payload)
		}
		if err := checkJSONB(payload); err != nil {
			t.Fatalf("payload %q: %v", payload, err)
		}

		annotated := core.AppendComment(stmt, payload)
		if !strings.HasPrefix(annotated, stmt) {
			t.Fatalf("AppendComment changed the statement %q: %q", stmt, annotated)
		}
		if rest := annotated[len(stmt):]; rest != " "+core.CommentStart+string(payload)+core.CommentEnd {
			t.Fatalf("AppendComment appended %q", rest)
		}
		parsed, ok := core.ParseComment(annotated)
		if !ok || !bytes.Equal(parsed, payload) {
			t.Fatalf("ParseComment(%q) = %q, %v, want %q", annotated, parsed, ok, payload)
		}

		got, err := decodeJSON(payload)
		if err != nil {
			t.Fatalf("decode payload %q: %v", payload, err)
		}
		want, err := expectedFields(fields)
		if err != nil {
			t.Fatalf("model: %v", err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("payload %q decodes to\n%#v\nwant\n%#v", payload, got, want)
		}
	})
}

// expectedFields is the model of Encode: the JSON value fields should decode
// to. Strings lose 0x00 and invalid UTF-8 bytes to U+FFFD, and top-level keys
// are applied in byte order, so of two keys that become equal the later wins.
func expectedFields(fields core.Fields) (map[string]any, error) {
	keys := make([]string, 0, len(fields))
	for k := range fields {
		keys = append(keys, k)
	}
	slices.Sort(keys)

	out := map[string]any{}
	for _, k := range keys {
		switch v := fields[k].(type) {
		case string:
			out[expectedString(k)] = expectedString(v)
		case json.RawMessage:
			value, err := expectedJSON(v)
			if err != nil {
				return nil, err
			}
			out[expectedString(k)] = value
		default:
			return nil, fmt.Errorf("model has no rule for %T", v)
		}
	}

	return out, nil
}

// expectedString replaces 0x00 and each byte that is not part of valid UTF-8
// by U+FFFD.
func expectedString(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == 0 || (r == utf8.RuneError && size == 1) {
			b.WriteRune(utf8.RuneError)
		} else {
			b.WriteString(s[i : i+size])
		}
		i += size
	}

	return b.String()
}

// expectedJSON decodes raw token by token, applying expectedString to every
// key and string in document order. encoding/json already replaces unpaired
// surrogate escapes and invalid UTF-8 by U+FFFD when it decodes a string.
func expectedJSON(raw []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()

	return expectedValue(dec)
}

func expectedValue(dec *json.Decoder) (any, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}

	switch v := tok.(type) {
	case json.Delim:
		if v == '[' {
			list := []any{}
			for dec.More() {
				item, err := expectedValue(dec)
				if err != nil {
					return nil, err
				}
				list = append(list, item)
			}
			_, err := dec.Token()

			return list, err
		}

		object := map[string]any{}
		for dec.More() {
			keyTok, err := dec.Token()
			if err != nil {
				return nil, err
			}
			value, err := expectedValue(dec)
			if err != nil {
				return nil, err
			}
			object[expectedString(keyTok.(string))] = value
		}
		_, err := dec.Token()

		return object, err
	case string:
		return expectedString(v), nil
	default:
		return v, nil
	}
}

// decodeJSON decodes b with numbers kept as json.Number.
func decodeJSON(b []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, fmt.Errorf("data after the JSON value")
	}

	return v, nil
}

// checkJSONB returns an error for text that PostgreSQL's jsonb rejects while
// encoding/json accepts it: invalid UTF-8, a raw NUL byte, the escape \u0000
// and unpaired surrogate escapes. A backslash occurs only inside strings in
// valid JSON, so escapes are found without tracking strings.
func checkJSONB(b []byte) error {
	if !utf8.Valid(b) {
		return fmt.Errorf("invalid UTF-8")
	}
	if bytes.IndexByte(b, 0) >= 0 {
		return fmt.Errorf("NUL byte")
	}

	for i := 0; i < len(b); i++ {
		if b[i] != '\\' {
			continue
		}
		if i+1 >= len(b) || b[i+1] != 'u' {
			i++ // a two-byte escape such as \\ or \"

			continue
		}

		r, ok := parseHex4(b[i+2:])
		if !ok {
			return fmt.Errorf("malformed escape at byte %d", i)
		}
		switch {
		case r == 0:
			return fmt.Errorf(`\u0000 at byte %d`, i)
		case r >= 0xdc00 && r <= 0xdfff:
			return fmt.Errorf("unpaired low surrogate at byte %d", i)
		case r >= 0xd800 && r <= 0xdbff:
			low, ok := rune(0), false
			if i+11 < len(b) && b[i+6] == '\\' && b[i+7] == 'u' {
				low, ok = parseHex4(b[i+8:])
			}
			if !ok || low < 0xdc00 || low > 0xdfff {
				return fmt.Errorf("unpaired high surrogate at byte %d", i)
			}
			i += 11
		default:
			i += 5
		}
	}

	return nil
}

func parseHex4(b []byte) (rune, bool) {
	if len(b) < 4 {
		return 0, false
	}

	var r rune
	for _, c := range b[:4] {
		var d byte
		switch {
		case '0' <= c && c <= '9':
			d = c - '0'
		case 'a' <= c && c <= 'f':
			d = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			d = c - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(d)
	}

	return r, true
}
