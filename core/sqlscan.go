package core

import "strings"

// sqlScanner splits SQL text into the few token kinds that IsWrite needs,
// following PostgreSQL's lexical rules for comments, string literals, quoted
// identifiers and dollar-quoted strings. It does not allocate.
type sqlScanner struct {
	src string
	pos int
}

// tokenKind is the kind of a token returned by sqlScanner.next.
type tokenKind int

const (
	tokenEOF    tokenKind = iota
	tokenWord             // a keyword or unquoted identifier
	tokenQuoted           // a string literal, quoted identifier or dollar-quoted string
	tokenPunct            // one of ( ) , ;
	tokenOther            // a number, operator, parameter or other symbol
)

// next skips whitespace and comments and returns the next token. The text is
// set for words and punctuation only.
func (s *sqlScanner) next() (tokenKind, string) {
	s.skipSpace()
	if s.pos >= len(s.src) {
		return tokenEOF, ""
	}

	start := s.pos
	c := s.src[start]
	switch {
	case c == '\'':
		s.pos = skipQuoted(s.src, start+1, '\'', isEscapeStringPrefix(s.src, start))

		return tokenQuoted, ""
	case c == '"':
		s.pos = skipQuoted(s.src, start+1, '"', false)

		return tokenQuoted, ""
	case c == '$':
		if n := dollarTagLen(s.src[start:]); n > 0 && !followsIdentPart(s.src, start) {
			s.pos = skipDollarQuoted(s.src, start, n)

			return tokenQuoted, ""
		}
		// A parameter such as $1, or a '$' that is invalid here.
		s.pos++
		for s.pos < len(s.src) && isDigit(s.src[s.pos]) {
			s.pos++
		}

		return tokenOther, ""
	case isIdentStart(c):
		s.pos++
		for s.pos < len(s.src) && isIdentPart(s.src[s.pos]) {
			s.pos++
		}

		return tokenWord, s.src[start:s.pos]
	case isDigit(c):
		s.pos++
		for s.pos < len(s.src) && (isIdentPart(s.src[s.pos]) || s.src[s.pos] == '.') && s.src[s.pos] != '$' {
			s.pos++
		}

		return tokenOther, ""
	case c == '(' || c == ')' || c == ',' || c == ';':
		s.pos++

		return tokenPunct, s.src[start:s.pos]
	default:
		s.pos++

		return tokenOther, ""
	}
}

// skipSpace skips whitespace, line comments and nested block comments. An
// unclosed block comment runs to the end of the text.
func (s *sqlScanner) skipSpace() {
	for s.pos < len(s.src) {
		rest := s.src[s.pos:]
		switch {
		case isSpace(rest[0]):
			s.pos++
		case strings.HasPrefix(rest, "--"):
			n := strings.IndexAny(rest, "\n\r")
			if n < 0 {
				n = len(rest)
			}
			s.pos += n
		case strings.HasPrefix(rest, "/*"):
			n := blockCommentLen(rest)
			if n < 0 {
				n = len(rest)
			}
			s.pos += n
		default:
			return
		}
	}
}

// skipQuoted returns the position just after the literal or quoted
// identifier whose content starts at pos, or the end of s when it is not
// closed. A doubled quote stands for one quote; with backslash set (E'...'
// strings), a backslash escapes the next byte.
func skipQuoted(s string, pos int, quote byte, backslash bool) int {
	for pos < len(s) {
		c := s[pos]
		switch {
		case backslash && c == '\\':
			pos += 2
		case c == quote && pos+1 < len(s) && s[pos+1] == quote:
			pos += 2
		case c == quote:
			return pos + 1
		default:
			pos++
		}
	}

	return len(s)
}

// dollarTagLen returns the length of the dollar-quote delimiter ($$ or
// $tag$) at the start of s, or 0 when s does not start with one.
func dollarTagLen(s string) int {
	if len(s) < 2 || s[0] != '$' {
		return 0
	}
	if s[1] == '$' {
		return 2
	}
	if !isIdentStart(s[1]) {
		return 0
	}

	for i := 2; i < len(s); i++ {
		switch {
		case s[i] == '$':
			return i + 1
		case isIdentStart(s[i]) || isDigit(s[i]):
		default:
			return 0
		}
	}

	return 0
}

// skipDollarQuoted returns the position just after the dollar-quoted string
// that starts at pos with a delimiter of n bytes, or the end of s when it is
// not closed.
func skipDollarQuoted(s string, pos, n int) int {
	tag := s[pos : pos+n]
	end := strings.Index(s[pos+n:], tag)
	if end < 0 {
		return len(s)
	}

	return pos + n + end + n
}

// isEscapeStringPrefix reports whether the quote at pos opens an E'...'
// string: it follows a lone E or e, not the end of a longer word such as be
// in be'x'.
func isEscapeStringPrefix(src string, pos int) bool {
	if pos == 0 || (src[pos-1] != 'e' && src[pos-1] != 'E') {
		return false
	}

	return pos == 1 || !isIdentPart(src[pos-2])
}

// followsIdentPart reports whether the byte before pos can be part of an
// identifier. A '$' there continues the identifier (a$$b is one name) and
// never opens a dollar-quoted string. In valid SQL nothing else puts a '$'
// right after such a byte.
func followsIdentPart(src string, pos int) bool {
	return pos > 0 && isIdentPart(src[pos-1])
}

// isIdentStart reports whether c can start an unquoted identifier: a letter,
// an underscore or any byte of a non-ASCII character.
func isIdentStart(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c == '_' || c >= 0x80
}

// isIdentPart reports whether c can continue an unquoted identifier.
func isIdentPart(c byte) bool {
	return isIdentStart(c) || isDigit(c) || c == '$'
}

func isDigit(c byte) bool {
	return '0' <= c && c <= '9'
}
