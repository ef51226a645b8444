package convert

import (
	"errors"
	"unicode/utf8"
)

// maxJSONDepth bounds the nesting of a json value, so that hostile text
// cannot exhaust the stack. PostgreSQL's own limit depends on
// max_stack_depth and is lower for its default of 2MB.
const maxJSONDepth = 10000

var (
	errJSONSyntax = errors.New("invalid json text")
	errJSONDepth  = errors.New("json value is nested too deeply")
)

// appendJSONText appends the text of a json value, as jsonb would store it
// where jsonb can. It drops insignificant whitespace and writes numbers as
// numeric prints them (1e2 becomes 100). Object keys keep their order and
// duplicates, which jsonb would sort and collapse to the last one, so the
// value decodes to the same thing. Two escapes that the json type accepts
// but jsonb rejects, \u0000 and unpaired UTF-16 surrogates like \ud800,
// are kept as literal text (the JSON string "\\u0000"), so the value still
// fits into a jsonb column.
func appendJSONText(dst, s []byte) ([]byte, error) {
	p := jsonParser{s: s}
	p.skipSpace()

	dst, err := p.value(dst, 0)
	if err != nil {
		return dst, err
	}

	p.skipSpace()
	if p.i != len(s) {
		return dst, errJSONSyntax
	}

	return dst, nil
}

type jsonParser struct {
	s []byte
	i int
}

func (p *jsonParser) skipSpace() {
	for p.i < len(p.s) {
		switch p.s[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

func (p *jsonParser) value(dst []byte, depth int) ([]byte, error) {
	if p.i >= len(p.s) {
		return dst, errJSONSyntax
	}

	switch c := p.s[p.i]; {
	case c == '{':
		return p.object(dst, depth+1)
	case c == '[':
		return p.array(dst, depth+1)
	case c == '"':
		return p.str(dst)
	case c == '-' || isDigit(c):
		return p.number(dst)
	default:
		return p.literal(dst)
	}
}

func (p *jsonParser) object(dst []byte, depth int) ([]byte, error) {
	if depth > maxJSONDepth {
		return dst, errJSONDepth
	}
	p.i++
	dst = append(dst, '{')

	p.skipSpace()
	if p.i < len(p.s) && p.s[p.i] == '}' {
		p.i++

		return append(dst, '}'), nil
	}

	for {
		var err error
		if p.i >= len(p.s) || p.s[p.i] != '"' {
			return dst, errJSONSyntax
		}
		if dst, err = p.str(dst); err != nil {
			return dst, err
		}

		p.skipSpace()
		if p.i >= len(p.s) || p.s[p.i] != ':' {
			return dst, errJSONSyntax
		}
		p.i++
		dst = append(dst, ':')

		p.skipSpace()
		if dst, err = p.value(dst, depth); err != nil {
			return dst, err
		}

		p.skipSpace()
		if p.i >= len(p.s) {
			return dst, errJSONSyntax
		}
		switch p.s[p.i] {
		case ',':
			p.i++
			dst = append(dst, ',')
			p.skipSpace()
		case '}':
			p.i++

			return append(dst, '}'), nil
		default:
			return dst, errJSONSyntax
		}
	}
}

func (p *jsonParser) array(dst []byte, depth int) ([]byte, error) {
	if depth > maxJSONDepth {
		return dst, errJSONDepth
	}
	p.i++
	dst = append(dst, '[')

	p.skipSpace()
	if p.i < len(p.s) && p.s[p.i] == ']' {
		p.i++

		return append(dst, ']'), nil
	}

	for {
		var err error
		if dst, err = p.value(dst, depth); err != nil {
			return dst, err
		}

		p.skipSpace()
		if p.i >= len(p.s) {
			return dst, errJSONSyntax
		}
		switch p.s[p.i] {
		case ',':
			p.i++
			dst = append(dst, ',')
			p.skipSpace()
		case ']':
			p.i++

			return append(dst, ']'), nil
		default:
			return dst, errJSONSyntax
		}
	}
}

func (p *jsonParser) number(dst []byte) ([]byte, error) {
	start := p.i
	for p.i < len(p.s) {
		c := p.s[p.i]
		if !isDigit(c) && c != '-' && c != '+' && c != '.' && c != 'e' && c != 'E' {
			break
		}
		p.i++
	}

	return appendNumber(dst, p.s[start:p.i])
}

func (p *jsonParser) literal(dst []byte) ([]byte, error) {
	for _, word := range [...]string{"true", "false", "null"} {
		if len(p.s)-p.i >= len(word) && string(p.s[p.i:p.i+len(word)]) == word {
			p.i += len(word)

			return append(dst, word...), nil
		}
	}

	return dst, errJSONSyntax
}

// str copies a JSON string, checking its escapes and its UTF-8, and turns
// the escapes that jsonb rejects into literal text.
func (p *jsonParser) str(dst []byte) ([]byte, error) {
	p.i++ // the opening quote
	dst = append(dst, '"')
	start := p.i

	for p.i < len(p.s) {
		c := p.s[p.i]
		switch {
		case c == '"':
			dst = append(dst, p.s[start:p.i]...)
			p.i++

			return append(dst, '"'), nil
		case c < 0x20:
			return dst, errJSONSyntax
		case c >= 0x80:
			r, size := utf8.DecodeRune(p.s[p.i:])
			if r == utf8.RuneError && size == 1 {
				return dst, errInvalidUTF8
			}
			p.i += size
		case c != '\\':
			p.i++
		default:
			dst = append(dst, p.s[start:p.i]...)
			var err error
			if dst, err = p.escape(dst); err != nil {
				return dst, err
			}
			start = p.i
		}
	}

	return dst, errJSONSyntax
}

// escape copies the escape sequence at p.i.
func (p *jsonParser) escape(dst []byte) ([]byte, error) {
	if p.i+1 >= len(p.s) {
		return dst, errJSONSyntax
	}

	switch p.s[p.i+1] {
	case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
		dst = append(dst, p.s[p.i:p.i+2]...)
		p.i += 2

		return dst, nil
	case 'u':
	default:
		return dst, errJSONSyntax
	}

	code, ok := hex4(p.s, p.i+2)
	if !ok {
		return dst, errJSONSyntax
	}
	seq := p.s[p.i : p.i+6]
	p.i += 6

	switch {
	case code == 0:
		return append(append(dst, '\\'), seq...), nil
	case code >= 0xd800 && code <= 0xdbff:
		low, ok := hex4(p.s, p.i+2)
		if ok && p.s[p.i] == '\\' && p.s[p.i+1] == 'u' && low >= 0xdc00 && low <= 0xdfff {
			dst = append(dst, seq...)
			dst = append(dst, p.s[p.i:p.i+6]...)
			p.i += 6

			return dst, nil
		}

		return append(append(dst, '\\'), seq...), nil
	case code >= 0xdc00 && code <= 0xdfff:
		return append(append(dst, '\\'), seq...), nil
	}

	return append(dst, seq...), nil
}

// hex4 reads four hex digits at s[i:].
func hex4(s []byte, i int) (rune, bool) {
	if i < 0 || len(s)-i < 4 {
		return 0, false
	}

	var r rune
	for _, c := range s[i : i+4] {
		var v byte
		switch {
		case isDigit(c):
			v = c - '0'
		case c >= 'a' && c <= 'f':
			v = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			v = c - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(v)
	}

	return r, true
}
