package core

import "strings"

// Wire-format constants shared by the adapters, the database trigger and the
// capture worker. They are compatible with Bemi's libraries for other
// languages.
const (
	// MessagePrefix is the prefix of the transactional logical decoding
	// message that carries a statement's context in the WAL.
	MessagePrefix = "_bemi"

	// CommentStart and CommentEnd enclose the context JSON in the SQL comment
	// appended to a statement: /*Bemi {"userId":1} Bemi*/.
	CommentStart = "/*Bemi "
	CommentEnd   = " Bemi*/"

	// SettingName is the transaction-local setting that the trigger reads
	// before it looks at the statement's comment. An adapter sets it with
	// SetContextSQL before a statement and clears it with ClearContextSQL,
	// in the same round trip as the statement.
	SettingName = "bemi.context"

	// SetContextSQL sets SettingName to the parameter $1 until the end of
	// the transaction. It returns a boolean instead of the value that
	// set_config returns, so a large context does not travel back to the
	// client.
	SetContextSQL = "SELECT pg_catalog.set_config('" + SettingName + "', $1, true) IS NULL"

	// ClearContextSQL sets SettingName to the empty string until the end of
	// the transaction, which means no context.
	ClearContextSQL = "SELECT pg_catalog.set_config('" + SettingName + "', '', true) IS NULL"

	// ResetPayload is the message content that the trigger emits when a
	// statement without context follows one with context in the same
	// transaction, so that the later statement's changes do not inherit the
	// earlier context.
	ResetPayload = "{}"
)

// AppendComment returns sql with the context comment appended. The payload
// must come from Encoder.Encode, which guarantees that it cannot end or nest
// the comment. A trailing semicolon stays valid SQL after the comment.
func AppendComment(sql string, payload []byte) string {
	var b strings.Builder
	b.Grow(len(sql) + len(CommentStart) + len(payload) + len(CommentEnd) + 1)
	b.WriteString(sql)
	b.WriteByte(' ')
	b.WriteString(CommentStart)
	b.Write(payload)
	b.WriteString(CommentEnd)

	return b.String()
}

// ParseComment returns the payload of the last Bemi comment in sql, the rule
// the database trigger applies: the payload runs from the last CommentStart
// to the first CommentEnd after it. The comment counts only when nothing
// follows it but whitespace, semicolons, complete block comments (which nest,
// as in PostgreSQL) and line comments without quote characters (', " and $).
// So a tracing comment appended after ours (sqlcommenter, OpenTelemetry) does
// not hide it. In a statement that PostgreSQL accepts, a string literal or
// quoted identifier that merely looks like a Bemi comment is never taken as
// context. Its closing quote follows the fake comment, and a line comment
// that would hide that quote contains it.
func ParseComment(sql string) ([]byte, bool) {
	start := strings.LastIndex(sql, CommentStart)
	if start < 0 {
		return nil, false
	}

	body := sql[start+len(CommentStart):]
	end := strings.Index(body, CommentEnd)
	if end < 0 {
		return nil, false
	}
	if !onlyTrivia(body[end+len(CommentEnd):]) {
		return nil, false
	}

	return []byte(body[:end]), true
}

// onlyTrivia reports whether s holds only whitespace, semicolons, complete
// block comments and line comments without quote characters. A line comment
// ends at a newline or carriage return, as in PostgreSQL.
func onlyTrivia(s string) bool {
	for len(s) > 0 {
		switch {
		case isSpace(s[0]) || s[0] == ';':
			s = s[1:]
		case strings.HasPrefix(s, "--"):
			n := strings.IndexAny(s, "\n\r")
			if n < 0 {
				n = len(s)
			}
			if strings.ContainsAny(s[:n], `'"$`) {
				return false
			}
			s = s[n:]
		case strings.HasPrefix(s, "/*"):
			n := blockCommentLen(s)
			if n < 0 {
				return false
			}
			s = s[n:]
		default:
			return false
		}
	}

	return true
}

// isSpace reports whether c is whitespace to PostgreSQL's SQL scanner.
func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'
}

// blockCommentLen returns the length of the nested block comment at the start
// of s, or -1 when it is not closed.
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
