package history

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/big"
)

// decodeObject decodes a JSON object into its members, keeping each value's
// text.
func decodeObject(doc json.RawMessage) (map[string]json.RawMessage, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(doc, &m); err != nil {
		return nil, fmt.Errorf("decode row %.80q: %w", doc, err)
	}
	if m == nil {
		m = map[string]json.RawMessage{}
	}

	return m, nil
}

// encodeObject encodes members as a JSON object with sorted keys and
// without HTML escaping.
func encodeObject(m map[string]json.RawMessage) json.RawMessage {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(m) // values are valid JSON taken from decoded documents

	return json.RawMessage(bytes.TrimSuffix(buf.Bytes(), []byte("\n")))
}

// equalJSON reports whether two JSON values are equal as jsonb compares
// them: objects by members regardless of order, arrays by elements, and
// numbers by value, so 1.50 equals 1.5. Invalid JSON equals nothing.
func equalJSON(a, b json.RawMessage) bool {
	if bytes.Equal(a, b) {
		return json.Valid(a)
	}

	va, err := decodeValue(a)
	if err != nil {
		return false
	}
	vb, err := decodeValue(b)
	if err != nil {
		return false
	}

	return equalValue(va, vb)
}

func decodeValue(doc json.RawMessage) (any, error) {
	d := json.NewDecoder(bytes.NewReader(doc))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, err
	}

	return v, nil
}

func equalValue(a, b any) bool {
	switch a := a.(type) {
	case map[string]any:
		b, ok := b.(map[string]any)
		if !ok || len(a) != len(b) {
			return false
		}
		for k, va := range a {
			vb, ok := b[k]
			if !ok || !equalValue(va, vb) {
				return false
			}
		}

		return true
	case []any:
		b, ok := b.([]any)
		if !ok || len(a) != len(b) {
			return false
		}
		for i := range a {
			if !equalValue(a[i], b[i]) {
				return false
			}
		}

		return true
	case json.Number:
		b, ok := b.(json.Number)
		if !ok {
			return false
		}
		if a == b {
			return true
		}
		ra, okA := new(big.Rat).SetString(string(a))
		rb, okB := new(big.Rat).SetString(string(b))

		return okA && okB && ra.Cmp(rb) == 0
	default:
		return a == b
	}
}
