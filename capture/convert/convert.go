package convert

import (
	"errors"
	"sync"
	"sync/atomic"
)

// Registry converts values by the type OID that pgoutput sends with them.
// Built-in types need no setup. Load reads user-defined types (enums,
// domains, composites, ranges and arrays of them) from the catalog.
//
// Type OIDs are local to a database, so use one Registry per source
// database. A Registry is safe for concurrent use, and its zero value is
// ready to use.
type Registry struct {
	mu    sync.Mutex              // serializes Load and Reload
	types atomic.Pointer[typeSet] // replaced whole by Load and Reload
}

// typeSet is an immutable snapshot of the types read from the catalog.
type typeSet struct {
	rows  map[uint32]catalogType // as read, to link them again after Reload
	byOID map[uint32]*typeInfo
}

// NewRegistry returns a Registry of the built-in types. Load adds the
// user-defined types of a database.
func NewRegistry() *Registry { return &Registry{} }

var errBoolSyntax = errors.New(`invalid boolean text; want "t" or "f"`)
var errVectorSyntax = errors.New("invalid vector text")

// AppendValue appends the JSON form of one non-NULL column value, given in
// PostgreSQL's text output format, to dst and returns the extended buffer.
// It allocates only to grow dst and to return an error.
//
// The JSON is what to_jsonb returns for the value (see the package
// documentation for the exceptions). Types that are neither built in nor
// loaded become JSON strings. The text must come from a session with the
// settings of SessionSettings.
//
// When the text does not parse as its type, AppendValue appends it as a
// JSON string instead and returns a *ValueError, so dst always holds valid
// JSON.
func (r *Registry) AppendValue(dst []byte, typeOID uint32, text []byte) ([]byte, error) {
	t := r.lookup(typeOID)

	start := len(dst)
	out, err := appendTyped(dst, t, text)
	if err == nil {
		return out, nil
	}

	out, _ = appendString(out[:start], text)

	return out, &ValueError{TypeOID: typeOID, Type: typeName(t, typeOID), Err: err}
}

// lookup returns the typeInfo for a type OID, without locking.
func (r *Registry) lookup(oid uint32) *typeInfo {
	if t := builtin(oid); t != nil {
		return t
	}
	if set := r.types.Load(); set != nil {
		if t, ok := set.byOID[oid]; ok {
			return t
		}
	}

	return unknownType
}

// appendTyped appends the JSON form of s by its type. On error dst may hold
// part of the value; AppendValue cuts it off.
func appendTyped(dst []byte, t *typeInfo, s []byte) ([]byte, error) {
	switch t.kind {
	case kindBool:
		return appendBool(dst, s)
	case kindInteger:
		return appendInteger(dst, s)
	case kindNumber:
		if isSpecialNumber(s) {
			return appendQuoted(dst, s), nil
		}

		return appendNumber(dst, s)
	case kindJSON:
		return appendJSONText(dst, s)
	case kindJSONB:
		return appendJSONB(dst, s)
	case kindDate:
		return appendDate(dst, s)
	case kindTimestamp:
		return appendTimestamp(dst, s)
	case kindTimestampTZ:
		return appendTimestampTZ(dst, s)
	case kindBytea:
		return appendBytea(dst, s)
	case kindInt2Vector, kindOIDVector:
		return appendVector(dst, t.kind, s)
	case kindArray:
		return appendArray(dst, t, s)
	case kindComposite:
		return appendComposite(dst, t, s)
	default:
		return appendString(dst, s)
	}
}

// appendFromScratch converts the unescaped text that the caller wrote at
// dst[scratch:], then moves the result over it. This keeps the conversion
// of quoted array elements and composite fields free of allocations: the
// text stays intact while the result is appended behind it, because an
// append either writes past it or copies the buffer.
func appendFromScratch(dst []byte, scratch int, t *typeInfo) ([]byte, error) {
	end := len(dst)
	out, err := appendTyped(dst, t, dst[scratch:end])
	if err != nil {
		return out[:scratch], err
	}
	n := copy(out[scratch:], out[end:])

	return out[:scratch+n], nil
}

func appendBool(dst, s []byte) ([]byte, error) {
	if len(s) == 1 {
		switch s[0] {
		case 't':
			return append(dst, "true"...), nil
		case 'f':
			return append(dst, "false"...), nil
		}
	}

	return dst, errBoolSyntax
}

// isSpecialNumber reports whether s is one of the numeric and float values
// that JSON has no number for; to_jsonb writes them as strings.
func isSpecialNumber(s []byte) bool {
	switch string(s) {
	case "NaN", "Infinity", "-Infinity":
		return true
	}

	return false
}

// appendJSONB copies jsonb text unchanged, because jsonb_out always prints
// valid JSON with numbers in numeric's form. Only the first byte is checked,
// which catches empty text and text of another type.
func appendJSONB(dst, s []byte) ([]byte, error) {
	if len(s) == 0 {
		return dst, errJSONSyntax
	}
	switch c := s[0]; {
	case c == '{', c == '[', c == '"', c == 't', c == 'f', c == 'n', c == '-', isDigit(c):
		return append(dst, s...), nil
	}

	return dst, errJSONSyntax
}

// appendVector appends an int2vector or oidvector, whose text is the
// elements separated by spaces, as a JSON array: of numbers for int2vector
// and of strings for oidvector, as to_jsonb does.
func appendVector(dst []byte, k kind, s []byte) ([]byte, error) {
	dst = append(dst, '[')
	for i := 0; i < len(s); {
		if i > 0 {
			dst = append(dst, ',')
		}

		j := i
		for j < len(s) && s[j] != ' ' {
			j++
		}
		elem := s[i:j]
		if len(elem) == 0 {
			return dst, errVectorSyntax
		}

		var err error
		if k == kindInt2Vector {
			dst, err = appendInteger(dst, elem)
		} else {
			dst, err = appendOID(dst, elem)
		}
		if err != nil {
			return dst, err
		}

		i = j + 1
		if j == len(s)-1 {
			return dst, errVectorSyntax // a trailing space
		}
	}

	return append(dst, ']'), nil
}

func appendOID(dst, s []byte) ([]byte, error) {
	for _, c := range s {
		if !isDigit(c) {
			return dst, errVectorSyntax
		}
	}

	return appendQuoted(dst, s), nil
}
