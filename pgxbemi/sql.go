package pgxbemi

import (
	"strings"
	"unicode/utf8"

	"github.com/bemi-go/bemi/core"
)

// The statements that set and clear the transaction-local setting that the
// trigger reads. Their text never changes, so pgx prepares each once per
// connection and caches it like any other statement.
const (
	setSQL   = core.SetContextSQL
	clearSQL = core.ClearContextSQL
)

// settingPrefix returns a simple-protocol statement that sets the setting to
// value, followed by a semicolon and a newline, to run in front of sql in
// the same query string.
func settingPrefix(value []byte) string {
	return settingStatement(value) + ";\n"
}

// settingStatement returns the statement that sets the setting to value,
// with value as a string constant in the text.
func settingStatement(value []byte) string {
	var b strings.Builder
	b.Grow(len(value) + 64)
	b.WriteString("SELECT pg_catalog.set_config('")
	b.WriteString(core.SettingName)
	b.WriteString("', ")
	writeLiteral(&b, value)
	b.WriteString(", true)")

	return b.String()
}

// writeLiteral writes value as a string constant. The E” form with doubled
// backslashes and quotes reads the same under either value of
// standard_conforming_strings. Encoder output contains no NUL byte, which a
// constant cannot hold.
func writeLiteral(b *strings.Builder, value []byte) {
	b.WriteString("E'")
	for _, c := range value {
		switch c {
		case '\'':
			b.WriteString("''")
		case '\\':
			b.WriteString(`\\`)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('\'')
}

// runeCount returns the number of characters in s, the unit of
// pgconn.PgError.Position.
func runeCount(s string) int32 {
	return int32(utf8.RuneCountInString(s))
}

// firstKeyword returns the first word of sql after whitespace, comments and
// opening parentheses, or "" when sql starts with something else.
func firstKeyword(sql string) string {
	i := 0
	for i < len(sql) {
		c := sql[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v' || c == '(':
			i++
		case strings.HasPrefix(sql[i:], "--"):
			end := strings.IndexAny(sql[i:], "\r\n")
			if end < 0 {
				return ""
			}
			i += end
		case strings.HasPrefix(sql[i:], "/*"):
			n := blockCommentLen(sql[i:])
			if n < 0 {
				return ""
			}
			i += n
		default:
			start := i
			for i < len(sql) && isLetter(sql[i]) {
				i++
			}

			return sql[start:i]
		}
	}

	return ""
}

// blockCommentLen returns the length of the nested block comment at the
// start of s, or -1 when it is not closed.
func blockCommentLen(s string) int {
	depth := 0
	for i := 0; i+1 < len(s); {
		switch {
		case s[i] == '/' && s[i+1] == '*':
			depth++
			i += 2
		case s[i] == '*' && s[i+1] == '/':
			depth--
			i += 2
			if depth == 0 {
				return i
			}
		default:
			i++
		}
	}

	return -1
}

func isLetter(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c == '_'
}

// changesSetting reports whether sql may start or end a transaction or
// change settings, so that the value of the setting afterwards is unknown.
// The statements are BEGIN, START, COMMIT, END, ROLLBACK, ABORT, PREPARE
// (TRANSACTION), SET, RESET and DISCARD. ROLLBACK TO SAVEPOINT undoes the
// set_config calls made after the savepoint.
func changesSetting(sql string) bool {
	return keywordIn(firstKeyword(sql),
		"BEGIN", "START", "COMMIT", "END", "ROLLBACK", "ABORT", "PREPARE", "SET", "RESET", "DISCARD")
}

// startsTransaction reports whether sql is BEGIN or START TRANSACTION.
func startsTransaction(sql string) bool {
	return keywordIn(firstKeyword(sql), "BEGIN", "START")
}

// keywordIn reports whether word equals one of keywords in any case.
func keywordIn(word string, keywords ...string) bool {
	for _, k := range keywords {
		if strings.EqualFold(word, k) {
			return true
		}
	}

	return false
}

// isCall reports whether sql is a CALL statement.
func isCall(sql string) bool {
	return strings.EqualFold(firstKeyword(sql), "CALL")
}

// mayBeStatementName reports whether sql could be the name of a prepared
// statement rather than SQL text: pgx runs a prepared statement when the text
// equals its name. Names seldom contain white space, and SQL statements
// without white space (COMMIT, CHECKPOINT) never write tracked rows, so such
// text is never changed.
func mayBeStatementName(sql string) bool {
	return !strings.ContainsAny(sql, " \t\n\r\f\v")
}
