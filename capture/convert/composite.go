package convert

import (
	"errors"
	"fmt"
)

var errCompositeSyntax = errors.New("invalid composite text")

// appendComposite appends a composite value, given in record_out's text
// form "(1,,\"a b\")", as a JSON object keyed by attribute name, as
// to_jsonb does. An empty field is NULL, and "" is the empty string. Each
// field is converted by its attribute's type.
//
// A value with more or fewer fields than the type had when it was loaded
// returns an error wrapping ErrTypeChanged.
func appendComposite(dst []byte, t *typeInfo, s []byte) ([]byte, error) {
	if len(s) < 2 || s[0] != '(' || s[len(s)-1] != ')' {
		return dst, errCompositeSyntax
	}

	dst = append(dst, '{')
	i := 1
	for n := range t.fields {
		f := &t.fields[n]
		if n > 0 {
			if s[i] != ',' {
				return dst, fieldCountError(t, "fewer")
			}
			i++
			dst = append(dst, ',')
		}
		dst = append(dst, f.key...)

		end, plain, ok := scanField(s, i)
		if !ok {
			return dst, errCompositeSyntax
		}

		var err error
		switch {
		case end == i:
			dst = append(dst, "null"...)
		case plain:
			dst, err = appendTyped(dst, f.typ, s[i:end])
		default:
			scratch := len(dst)
			dst = appendUnquotedField(dst, s[i:end])
			dst, err = appendFromScratch(dst, scratch, f.typ)
		}
		if err != nil {
			return dst, err
		}
		i = end
	}

	if i != len(s)-1 {
		return dst, fieldCountError(t, "more")
	}

	return append(dst, '}'), nil
}

func fieldCountError(t *typeInfo, moreOrFewer string) error {
	return fmt.Errorf("composite value has %s fields than the %d attributes of type %s: %w",
		moreOrFewer, len(t.fields), t.name, ErrTypeChanged)
}

// scanField finds the end of the field that starts at s[i]: the comma or
// closing parenthesis after it, outside double quotes. plain reports that
// the field holds neither quotes nor backslashes, so it is its own value.
func scanField(s []byte, i int) (end int, plain, ok bool) {
	plain = true
	inQuotes := false
	last := len(s) - 1 // the closing parenthesis
	for i < last {
		switch c := s[i]; {
		case c == '\\':
			plain = false
			i += 2
		case c == '"':
			plain = false
			if inQuotes && i+1 < last && s[i+1] == '"' {
				i += 2
			} else {
				inQuotes = !inQuotes
				i++
			}
		case !inQuotes && c == ',':
			return i, plain, true
		default:
			i++
		}
	}
	if inQuotes || i > last {
		return i, plain, false
	}

	return last, plain, true
}

// appendUnquotedField appends the value of a field that contains quotes or
// backslashes, as record_in reads it: quotes delimit, a backslash escapes
// the next byte, and "" inside quotes is one quote.
func appendUnquotedField(dst, s []byte) []byte {
	inQuotes := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\' && i+1 < len(s):
			i++
			dst = append(dst, s[i])
		case c == '"' && inQuotes && i+1 < len(s) && s[i+1] == '"':
			i++
			dst = append(dst, '"')
		case c == '"':
			inQuotes = !inQuotes
		default:
			dst = append(dst, c)
		}
	}

	return dst
}
