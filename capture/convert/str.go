package convert

import (
	"encoding/binary"
	"errors"
	"unicode/utf8"
)

// errInvalidUTF8 reports text that is not valid UTF-8. It can only come from
// a database whose encoding is SQL_ASCII, which stores bytes unchecked.
var errInvalidUTF8 = errors.New("text is not valid UTF-8; each invalid byte became U+FFFD")

// safeASCII marks the ASCII bytes that a JSON string holds without escaping.
var safeASCII = func() [utf8.RuneSelf]bool {
	var safe [utf8.RuneSelf]bool
	for c := 0x20; c < utf8.RuneSelf; c++ {
		safe[c] = c != '"' && c != '\\'
	}

	return safe
}()

const hexDigits = "0123456789abcdef"

// Byte masks for plainASCII8.
const (
	ones  = 0x0101010101010101
	highs = 0x8080808080808080
)

// plainASCII8 reports whether the 8 bytes packed in x are all ASCII that a
// JSON string holds unescaped: none is 0x80 or above, below 0x20, a quote
// or a backslash. Each test is the exact "has a byte below n" bit trick,
// (x - n*ones) & ^x & highs, applied to x and to x XOR the byte.
func plainASCII8(x uint64) bool {
	control := (x - 0x20*ones) & ^x & highs
	quote := ((x ^ '"'*ones) - ones) & ^(x ^ '"'*ones) & highs
	backslash := ((x ^ '\\'*ones) - ones) & ^(x ^ '\\'*ones) & highs

	return (x&highs)|control|quote|backslash == 0
}

// appendString appends s as a JSON string. It escapes what JSON requires,
// keeps other characters as UTF-8, and replaces each byte that is not part
// of valid UTF-8 with U+FFFD, returning errInvalidUTF8 after doing so.
func appendString(dst, s []byte) ([]byte, error) {
	dst = append(dst, '"')

	var err error
	start := 0
	for i := 0; i < len(s); {
		for i+8 <= len(s) && plainASCII8(binary.LittleEndian.Uint64(s[i:])) {
			i += 8
		}
		if i >= len(s) {
			break
		}

		c := s[i]
		if c < utf8.RuneSelf {
			if safeASCII[c] {
				i++

				continue
			}
			dst = append(dst, s[start:i]...)
			dst = appendEscape(dst, c)
			i++
			start = i

			continue
		}

		r, size := utf8.DecodeRune(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			err = errInvalidUTF8
			i++
			start = i

			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)

	return append(dst, '"'), err
}

// appendEscape appends the JSON escape of an ASCII byte that JSON strings
// may not hold as is.
func appendEscape(dst []byte, c byte) []byte {
	switch c {
	case '"', '\\':
		return append(dst, '\\', c)
	case '\n':
		return append(dst, '\\', 'n')
	case '\r':
		return append(dst, '\\', 'r')
	case '\t':
		return append(dst, '\\', 't')
	case '\b':
		return append(dst, '\\', 'b')
	case '\f':
		return append(dst, '\\', 'f')
	}

	return append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
}

// appendKey appends name as a JSON object key followed by a colon.
func appendKey(dst []byte, name string) []byte {
	dst, _ = appendString(dst, []byte(name))

	return append(dst, ':')
}
