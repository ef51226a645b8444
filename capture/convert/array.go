package convert

import (
	"bytes"
	"errors"
)

// maxArrayDims is PostgreSQL's limit on array dimensions (MAXDIM).
const maxArrayDims = 6

var errArraySyntax = errors.New("invalid array text")

// appendArray appends an array, given in array_out's text form, as a JSON
// array. Like to_jsonb it nests one JSON array per dimension, drops
// explicit bounds ("[0:1]={1,2}" becomes [1,2]), writes NULL elements as
// null and converts each element by the element type. Elements are
// separated by the element type's delimiter, which is ';' for box.
func appendArray(dst []byte, t *typeInfo, s []byte) ([]byte, error) {
	if len(s) > 0 && s[0] == '[' {
		eq := bytes.IndexByte(s, '=')
		if eq < 0 {
			return dst, errArraySyntax
		}
		s = s[eq+1:]
	}
	if len(s) == 0 || s[0] != '{' {
		return dst, errArraySyntax
	}

	p := arrayParser{s: s, elem: t.elem, delim: t.elem.delim}
	dst, err := p.dimension(dst, 1)
	if err != nil {
		return dst, err
	}
	if p.i != len(s) {
		return dst, errArraySyntax
	}

	return dst, nil
}

type arrayParser struct {
	s     []byte
	i     int
	elem  *typeInfo
	delim byte
}

// dimension converts the braced list at p.i.
func (p *arrayParser) dimension(dst []byte, depth int) ([]byte, error) {
	if depth > maxArrayDims {
		return dst, errArraySyntax
	}
	p.i++ // the opening brace
	dst = append(dst, '[')

	if p.i < len(p.s) && p.s[p.i] == '}' {
		p.i++

		return append(dst, ']'), nil
	}

	for {
		if p.i >= len(p.s) {
			return dst, errArraySyntax
		}

		var err error
		switch p.s[p.i] {
		case '{':
			dst, err = p.dimension(dst, depth+1)
		case '"':
			dst, err = p.quoted(dst)
		default:
			dst, err = p.unquoted(dst)
		}
		if err != nil {
			return dst, err
		}

		if p.i >= len(p.s) {
			return dst, errArraySyntax
		}
		switch p.s[p.i] {
		case p.delim:
			p.i++
			dst = append(dst, ',')
		case '}':
			p.i++

			return append(dst, ']'), nil
		default:
			return dst, errArraySyntax
		}
	}
}

// unquoted converts an element that array_out wrote without quotes: NULL,
// or text without whitespace, quotes, braces, backslashes or delimiters.
func (p *arrayParser) unquoted(dst []byte) ([]byte, error) {
	start := p.i
	for p.i < len(p.s) {
		c := p.s[p.i]
		if c == p.delim || c == '}' {
			break
		}
		if c == '"' || c == '{' || c == '\\' {
			return dst, errArraySyntax
		}
		p.i++
	}

	elem := p.s[start:p.i]
	if len(elem) == 0 {
		return dst, errArraySyntax
	}
	if isNullWord(elem) {
		return append(dst, "null"...), nil
	}

	return appendTyped(dst, p.elem, elem)
}

// quoted converts an element in double quotes, inside which a backslash
// escapes the next byte.
func (p *arrayParser) quoted(dst []byte) ([]byte, error) {
	p.i++ // the opening quote
	start := p.i
	escaped := false
	for p.i < len(p.s) && p.s[p.i] != '"' {
		if p.s[p.i] == '\\' {
			escaped = true
			p.i++
		}
		p.i++
	}
	if p.i >= len(p.s) {
		return dst, errArraySyntax
	}

	raw := p.s[start:p.i]
	p.i++ // the closing quote
	if !escaped {
		return appendTyped(dst, p.elem, raw)
	}

	scratch := len(dst)
	for i := 0; i < len(raw); i++ {
		if raw[i] == '\\' {
			i++
		}
		dst = append(dst, raw[i])
	}

	return appendFromScratch(dst, scratch, p.elem)
}

// isNullWord reports whether an unquoted element is NULL, which array_in
// reads case-insensitively.
func isNullWord(s []byte) bool {
	return len(s) == 4 && (s[0]|0x20) == 'n' && (s[1]|0x20) == 'u' && (s[2]|0x20) == 'l' && (s[3]|0x20) == 'l'
}
