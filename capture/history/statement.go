package history

import (
	"fmt"
	"strconv"
	"strings"
)

// Statement is one SQL statement of a revert, with its parameters. Values
// always travel as parameters ($1, $2, ...), so no value can change what
// the SQL does.
type Statement struct {
	SQL  string `json:"sql"`
	Args []any  `json:"args,omitempty"`
}

// String returns the statement with each parameter written as a quoted
// literal, to read or to run in psql. Parameters are strings (JSON text)
// or numbers.
func (s Statement) String() string {
	var b strings.Builder
	sql := s.SQL
	for i := 0; i < len(sql); i++ {
		c := sql[i]
		switch {
		case c == '"' || c == '\'':
			end := closingQuote(sql, i)
			b.WriteString(sql[i:end])
			i = end - 1
		case c == '$' && i+1 < len(sql) && sql[i+1] >= '0' && sql[i+1] <= '9':
			j := i + 1
			for j < len(sql) && sql[j] >= '0' && sql[j] <= '9' {
				j++
			}
			n, _ := strconv.Atoi(sql[i+1 : j])
			if n < 1 || n > len(s.Args) {
				b.WriteString(sql[i:j])
			} else {
				b.WriteString(literal(s.Args[n-1]))
			}
			i = j - 1
		default:
			b.WriteByte(c)
		}
	}

	return b.String()
}

// closingQuote returns the index after the quoted identifier or string
// literal that starts at sql[start]; a doubled quote stays inside.
func closingQuote(sql string, start int) int {
	q := sql[start]
	for i := start + 1; i < len(sql); i++ {
		if sql[i] != q {
			continue
		}
		if i+1 < len(sql) && sql[i+1] == q {
			i++

			continue
		}

		return i + 1
	}

	return len(sql)
}

func literal(v any) string {
	switch v := v.(type) {
	case nil:
		return "NULL"
	case string:
		return quoteLiteral(v)
	case int, int32, int64:
		return fmt.Sprint(v)
	case bool:
		return strconv.FormatBool(v)
	default:
		return quoteLiteral(fmt.Sprint(v))
	}
}
