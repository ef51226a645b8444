package core

import "strings"

// maxWithDepth bounds the nesting of WITH clauses that IsWrite follows.
// Deeper nesting counts as a write, because a missing context is worse than
// an unneeded comment.
const maxWithDepth = 32

// IsWrite reports whether sql may change table data, so that an adapter
// attaches the context to it. It is true when a statement in sql is INSERT,
// UPDATE, DELETE, MERGE, TRUNCATE, COPY ... FROM, CALL, DO or EXECUTE. The
// last three may run a procedure, an anonymous code block or a prepared
// write. It is also true for a WITH query in which a common table expression
// or the main statement is INSERT, UPDATE, DELETE or MERGE, and for EXPLAIN
// of any of these, because EXPLAIN ANALYZE runs the statement.
//
// Keywords match in any case, after whitespace, comments and opening
// parentheses. String literals (also E'...' strings with backslash escapes),
// quoted identifiers and dollar-quoted strings are skipped, so their content
// never counts. A plain SELECT, SELECT ... FOR UPDATE included, is not a
// write even when it calls a function that writes; use
// Annotator.AllStatements for that. Every statement of a multi-statement
// string is examined. A WITH clause that IsWrite cannot follow counts as a
// write.
//
// NOTE: backslashes in ordinary '...' literals are taken literally, as with
// standard_conforming_strings=on (the default since PostgreSQL 9.1).
//
// IsWrite does not allocate.
func IsWrite(sql string) bool {
	s := sqlScanner{src: sql}
	for {
		if s.statementWrites(0) {
			return true
		}
		if !s.skipStatement() {
			return false
		}
	}
}

// statementWrites reports whether the statement that starts at the scanner's
// position writes. It consumes the tokens it examines, except that it stops
// before a first token other than '(' that is not a word, such as the ';' of
// an empty statement.
func (s *sqlScanner) statementWrites(depth int) bool {
	if depth > maxWithDepth {
		return true
	}

	for {
		save := s.pos
		kind, text := s.next()
		if kind == tokenPunct && text == "(" {
			continue
		}
		if kind != tokenWord {
			s.pos = save

			return false
		}

		switch {
		case isKeyword(text, "INSERT"), isKeyword(text, "UPDATE"), isKeyword(text, "DELETE"),
			isKeyword(text, "MERGE"), isKeyword(text, "TRUNCATE"), isKeyword(text, "CALL"),
			isKeyword(text, "DO"), isKeyword(text, "EXECUTE"):
			return true
		case isKeyword(text, "COPY"):
			return s.copyFrom()
		case isKeyword(text, "WITH"):
			return s.withWrites(depth + 1)
		case isKeyword(text, "EXPLAIN"):
			s.skipExplainOptions()

			return s.statementWrites(depth + 1)
		default:
			return false
		}
	}
}

// copyFrom reports whether a COPY statement reads into a table: its first
// FROM or TO keyword outside parentheses decides.
func (s *sqlScanner) copyFrom() bool {
	depth := 0
	for {
		kind, text := s.next()
		switch {
		case kind == tokenEOF:
			return false
		case kind == tokenPunct && text == "(":
			depth++
		case kind == tokenPunct && text == ")":
			depth--
		case kind == tokenPunct && text == ";" && depth <= 0:
			return false
		case kind == tokenWord && depth <= 0 && isKeyword(text, "FROM"):
			return true
		case kind == tokenWord && depth <= 0 && isKeyword(text, "TO"):
			return false
		}
	}
}

// withWrites reports whether a query that starts with WITH (already
// consumed) modifies data in one of its common table expressions or in its
// main statement. The grammar it follows:
//
//	WITH [RECURSIVE] name [(columns)] AS [[NOT] MATERIALIZED] (statement)
//	    [SEARCH ... SET column] [CYCLE ... USING column] [, ...] statement
func (s *sqlScanner) withWrites(depth int) bool {
	save := s.pos
	if kind, text := s.next(); kind == tokenWord && isKeyword(text, "RECURSIVE") {
		afterRecursive := s.pos
		if kind, text := s.next(); kind == tokenWord && isKeyword(text, "AS") {
			// WITH recursive AS (...) names a CTE "recursive".
			s.pos = save
		} else {
			s.pos = afterRecursive
		}
	} else {
		s.pos = save
	}

	for {
		if kind, _ := s.next(); kind != tokenWord && kind != tokenQuoted {
			return true
		}

		kind, text := s.next()
		if kind == tokenPunct && text == "(" {
			s.skipGroup()
			kind, text = s.next()
		}
		if kind != tokenWord || !isKeyword(text, "AS") {
			return true
		}

		kind, text = s.next()
		if kind == tokenWord && isKeyword(text, "NOT") {
			kind, text = s.next()
		}
		if kind == tokenWord && isKeyword(text, "MATERIALIZED") {
			kind, text = s.next()
		}
		if kind != tokenPunct || text != "(" {
			return true
		}

		bodyStart := s.pos
		if s.statementWrites(depth) {
			return true
		}
		s.pos = bodyStart
		s.skipGroup()

		s.skipSearchAndCycle()
		save := s.pos
		if kind, text := s.next(); kind != tokenPunct || text != "," {
			s.pos = save

			break
		}
	}

	return s.statementWrites(depth)
}

// skipSearchAndCycle skips the optional SEARCH and CYCLE clauses after a
// common table expression.
func (s *sqlScanner) skipSearchAndCycle() {
	for {
		save := s.pos
		kind, text := s.next()
		var last string
		switch {
		case kind == tokenWord && isKeyword(text, "SEARCH"):
			last = "SET"
		case kind == tokenWord && isKeyword(text, "CYCLE"):
			last = "USING"
		default:
			s.pos = save

			return
		}

		for {
			kind, text := s.next()
			if kind == tokenEOF {
				return
			}
			if kind == tokenWord && isKeyword(text, last) {
				s.next() // the column name

				break
			}
		}
	}
}

// skipExplainOptions skips EXPLAIN's options: a parenthesized list or the
// keywords ANALYZE, ANALYSE and VERBOSE.
func (s *sqlScanner) skipExplainOptions() {
	save := s.pos
	if kind, text := s.next(); kind == tokenPunct && text == "(" {
		s.skipGroup()
	} else {
		s.pos = save
	}

	for {
		save := s.pos
		kind, text := s.next()
		if kind != tokenWord || !(isKeyword(text, "ANALYZE") || isKeyword(text, "ANALYSE") || isKeyword(text, "VERBOSE")) {
			s.pos = save

			return
		}
	}
}

// skipGroup skips to just after the parenthesis that closes the one already
// consumed.
func (s *sqlScanner) skipGroup() {
	depth := 1
	for depth > 0 {
		kind, text := s.next()
		switch {
		case kind == tokenEOF:
			return
		case kind == tokenPunct && text == "(":
			depth++
		case kind == tokenPunct && text == ")":
			depth--
		}
	}
}

// skipStatement skips to just after the next semicolon outside parentheses.
// It returns false when the text ends first. Only the bytes that can start a
// literal, a comment or a parenthesis matter here, so it jumps between them
// rather than reading every token.
func (s *sqlScanner) skipStatement() bool {
	depth := 0
	for {
		i := strings.IndexAny(s.src[s.pos:], `'"$-/();`)
		if i < 0 {
			s.pos = len(s.src)

			return false
		}
		s.pos += i

		switch s.src[s.pos] {
		case '\'':
			s.pos = skipQuoted(s.src, s.pos+1, '\'', isEscapeStringPrefix(s.src, s.pos))
		case '"':
			s.pos = skipQuoted(s.src, s.pos+1, '"', false)
		case '$':
			if n := dollarTagLen(s.src[s.pos:]); n > 0 && !followsIdentPart(s.src, s.pos) {
				s.pos = skipDollarQuoted(s.src, s.pos, n)
			} else {
				s.pos++
			}
		case '-', '/':
			start := s.pos
			s.skipSpace()
			if s.pos == start {
				s.pos++
			}
		case '(':
			depth++
			s.pos++
		case ')':
			depth = max(depth-1, 0)
			s.pos++
		case ';':
			s.pos++
			if depth == 0 {
				return true
			}
		}
	}
}

// isKeyword reports whether word equals the upper-case ASCII keyword in any
// case.
func isKeyword(word, keyword string) bool {
	if len(word) != len(keyword) {
		return false
	}
	for i := 0; i < len(word); i++ {
		c := word[i]
		if 'a' <= c && c <= 'z' {
			c -= 'a' - 'A'
		}
		if c != keyword[i] {
			return false
		}
	}

	return true
}
