package core

import (
	"bytes"
	"strings"
)

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
	// set_config(SettingName, payload, true) before a statement and clears it
	// with set_config(SettingName, '', true) after, in the same round trip.
	SettingName = "bemi.context"

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

// ParseComment returns the payload of the last Bemi comment in sql, the same
// rule the database trigger applies. The comment counts only when nothing but
// whitespace, semicolons and other complete comments follows it: this keeps a
// string literal that merely looks like a Bemi comment from being taken as
// context, while a tracing comment appended after it (sqlcommenter,
// OpenTelemetry) does not hide it.
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

// onlyTrivia reports whether s holds only whitespace, semicolons and complete
// comments. Block comments nest, as in PostgreSQL.
func onlyTrivia(s string) bool {
	for len(s) > 0 {
		switch {
		case s[0] == ' ' || s[0] == '\t' || s[0] == '\n' || s[0] == '\r' || s[0] == '\f' || s[0] == '\v' || s[0] == ';':
			s = s[1:]
		case strings.HasPrefix(s, "--"):
			nl := strings.IndexByte(s, '\n')
			if nl < 0 {
				return true
			}
			s = s[nl+1:]
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

// containsCommentDelimiter reports whether payload could end or open a block
// comment. Encoder output never does.
func containsCommentDelimiter(payload []byte) bool {
	return bytes.Contains(payload, []byte("*/")) || bytes.Contains(payload, []byte("/*"))
}
