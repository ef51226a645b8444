package core

import (
	"unicode/utf16"
	"unicode/utf8"
)

// The safe wire form is JSON text that can sit inside a PostgreSQL block
// comment and that jsonb accepts. Inside JSON strings:
//
//   - '/' is written as "\/", and a '*' that directly follows it as "\u002a",
//     so the text contains neither "*/" nor "/*" (PostgreSQL block comments
//     nest, so either would change where the comment ends);
//   - the escape \u0000, unpaired UTF-16 surrogate escapes such as \ud800, the
//     byte 0x00 and every byte that is not part of valid UTF-8 become U+FFFD,
//     written as "\ufffd", because jsonb rejects them.
//
// Outside strings valid JSON contains no '/' and no '*', so the rules never
// change a document's structure.

const (
	replacementEscape = `\ufffd`
	asteriskEscape    = `\u002a`
)

// Sanitize returns a copy of the valid JSON document doc in the safe wire
// form described at Encoder.Encode. The capture worker applies it to payloads
// written by other libraries before storing them as jsonb. The result of
// invalid JSON is unspecified.
func Sanitize(doc []byte) []byte {
	return appendSanitized(make([]byte, 0, len(doc)+8), doc)
}

// appendSanitized appends the valid JSON document src to dst in the safe wire
// form.
func appendSanitized(dst, src []byte) []byte {
	inString := false
	for i := 0; i < len(src); {
		c := src[i]
		if !inString {
			if c == '"' {
				inString = true
			}
			dst = append(dst, c)
			i++

			continue
		}

		switch {
		case c == '"':
			inString = false
			dst = append(dst, c)
			i++
		case c == '/':
			dst = append(dst, '\\', '/')
			i++
		case c == '*' && endsWithSlash(dst):
			dst = append(dst, asteriskEscape...)
			i++
		case c == '\\' && i+1 < len(src) && src[i+1] == 'u':
			n, esc := unicodeEscape(src[i:])
			dst = append(dst, esc...)
			i += n
		case c == '\\' && i+1 < len(src):
			dst = append(dst, c, src[i+1])
			i += 2
		case c == 0:
			dst = append(dst, replacementEscape...)
			i++
		case c < utf8.RuneSelf:
			dst = append(dst, c)
			i++
		default:
			r, size := utf8.DecodeRune(src[i:])
			if r == utf8.RuneError && size == 1 {
				dst = append(dst, replacementEscape...)
				i++

				continue
			}
			dst = append(dst, src[i:i+size]...)
			i += size
		}
	}

	return dst
}

// appendString appends s to dst as a JSON string in the safe wire form.
func appendString(dst []byte, s string) []byte {
	const hexDigits = "0123456789abcdef"

	dst = append(dst, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c >= utf8.RuneSelf {
			r, size := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && size == 1 {
				dst = append(dst, replacementEscape...)
			} else {
				dst = append(dst, s[i:i+size]...)
			}
			i += size

			continue
		}

		switch {
		case c == '"' || c == '\\':
			dst = append(dst, '\\', c)
		case c == '/':
			dst = append(dst, '\\', '/')
		case c == '*' && endsWithSlash(dst):
			dst = append(dst, asteriskEscape...)
		case c == 0:
			dst = append(dst, replacementEscape...)
		case c == '\n':
			dst = append(dst, '\\', 'n')
		case c == '\r':
			dst = append(dst, '\\', 'r')
		case c == '\t':
			dst = append(dst, '\\', 't')
		case c < 0x20:
			dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		default:
			dst = append(dst, c)
		}
		i++
	}

	return append(dst, '"')
}

func endsWithSlash(b []byte) bool {
	return len(b) > 0 && b[len(b)-1] == '/'
}

// unicodeEscape reads the \uXXXX escape (or surrogate pair) at the start of s
// and returns how many bytes it used and what to write instead.
func unicodeEscape(s []byte) (int, []byte) {
	r, ok := hex4(s)
	if !ok {
		// Not a complete escape: invalid JSON, copied as it is.
		return 2, s[:2]
	}

	switch {
	case r == 0:
		return 6, []byte(replacementEscape)
	case utf16.IsSurrogate(r) && r < 0xdc00:
		if low, ok := hex4(s[6:]); ok && low >= 0xdc00 && low <= 0xdfff {
			return 12, s[:12]
		}

		return 6, []byte(replacementEscape)
	case utf16.IsSurrogate(r):
		return 6, []byte(replacementEscape)
	default:
		return 6, s[:6]
	}
}

// hex4 decodes the \uXXXX escape at the start of s.
func hex4(s []byte) (rune, bool) {
	if len(s) < 6 || s[0] != '\\' || s[1] != 'u' {
		return 0, false
	}

	var r rune
	for _, c := range s[2:6] {
		switch {
		case c >= '0' && c <= '9':
			r = r<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}

	return r, true
}
