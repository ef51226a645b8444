package setup

import (
	"fmt"
	"regexp"
	"strings"
)

// Default names used when the Config fields are empty.
const (
	DefaultPublication      = "bemi"
	DefaultSlot             = "bemi"
	DefaultDestinationTable = "public.changes"
)

// maxIdentifierLength is PostgreSQL's NAMEDATALEN-1: longer identifiers are
// silently truncated by the server, so they are rejected here instead.
const maxIdentifierLength = 63

// Config selects what setup installs. The zero value tracks every table of
// every non-system schema except public.changes, with publication and slot
// "bemi".
type Config struct {
	// Publication is the name of the publication that lists the tracked
	// tables. Empty means "bemi". Setup owns this publication's table list.
	Publication string

	// Slot is the name of the logical replication slot (plugin pgoutput)
	// that the capture worker reads. Empty means "bemi". Slot names may
	// contain only lower case letters, digits and underscores.
	Slot string

	// SkipSlot leaves the replication slot alone: Run does not create it,
	// needs no REPLICATION attribute, and Teardown does not drop it. Use it
	// when the setup role is not the replication role.
	SkipSlot bool

	// Tables is the include list. Empty means every table. Each entry is
	// "schema.table", "table" (in schema public) or "schema.*" (every table
	// in the schema). Unquoted names are folded to lower case as PostgreSQL
	// does; double-quote a name to keep its case or to use dots and spaces:
	// `app."Order Items"`. An entry names a top-level table; partitions
	// follow their partitioned table.
	Tables []string

	// ExcludeTables is the exclude list, in the same form as Tables. It wins
	// over Tables.
	ExcludeTables []string

	// DestinationTable is the table that the capture worker writes changes
	// to, which is never tracked. Empty means "public.changes". It need not
	// exist yet.
	DestinationTable string
}

// tableName is a parsed include or exclude entry. An empty table matches
// every table of the schema.
type tableName struct {
	schema string
	table  string
}

func (n tableName) String() string {
	if n.table == "" {
		return displayIdent(n.schema) + ".*"
	}

	return displayIdent(n.schema) + "." + displayIdent(n.table)
}

// resolved is a validated Config with defaults applied.
type resolved struct {
	publication string
	slot        string
	skipSlot    bool
	include     []tableName
	exclude     []tableName
	destination tableName
}

var slotName = regexp.MustCompile(`^[a-z0-9_]{1,63}$`)

func (c Config) resolve() (resolved, error) {
	r := resolved{
		publication: c.Publication,
		slot:        c.Slot,
		skipSlot:    c.SkipSlot,
	}
	if r.publication == "" {
		r.publication = DefaultPublication
	}
	if r.slot == "" {
		r.slot = DefaultSlot
	}
	if err := checkIdentifier(r.publication); err != nil {
		return resolved{}, fmt.Errorf("invalid publication name %q: %w", r.publication, err)
	}
	if !slotName.MatchString(r.slot) {
		return resolved{}, fmt.Errorf("invalid slot name %q: use 1 to 63 lower case letters, digits and underscores", r.slot)
	}

	var err error
	if r.include, err = parseTableNames(c.Tables); err != nil {
		return resolved{}, fmt.Errorf("invalid include list: %w", err)
	}
	if r.exclude, err = parseTableNames(c.ExcludeTables); err != nil {
		return resolved{}, fmt.Errorf("invalid exclude list: %w", err)
	}

	dest := c.DestinationTable
	if dest == "" {
		dest = DefaultDestinationTable
	}
	if r.destination, err = parseTableName(dest); err != nil {
		return resolved{}, fmt.Errorf("invalid destination table: %w", err)
	}
	if r.destination.table == "" {
		return resolved{}, fmt.Errorf("invalid destination table %q: name one table, not a pattern", dest)
	}

	return r, nil
}

func parseTableNames(entries []string) ([]tableName, error) {
	names := make([]tableName, 0, len(entries))
	for _, e := range entries {
		n, err := parseTableName(e)
		if err != nil {
			return nil, err
		}
		names = append(names, n)
	}

	return names, nil
}

// parseTableName parses "schema.table", "table" (schema public) or
// "schema.*" with PostgreSQL's identifier rules: unquoted parts fold to lower
// case, double-quoted parts keep their text, and "" inside quotes is one
// quote character.
func parseTableName(s string) (tableName, error) {
	parts, quoted, err := splitIdentifier(strings.TrimSpace(s))
	if err != nil {
		return tableName{}, fmt.Errorf("table name %q: %w", s, err)
	}

	var n tableName
	switch len(parts) {
	case 1:
		n = tableName{schema: "public", table: parts[0]}
	case 2:
		n = tableName{schema: parts[0], table: parts[1]}
	default:
		return tableName{}, fmt.Errorf("table name %q: use schema.table, table or schema.*", s)
	}
	if n.table == "*" && !quoted[len(parts)-1] {
		n.table = ""
	}
	if n.schema == "*" && !quoted[0] && len(parts) == 2 {
		return tableName{}, fmt.Errorf("table name %q: the schema cannot be a pattern", s)
	}

	return n, nil
}

// splitIdentifier splits a dotted, possibly quoted identifier into its parts
// and reports which parts were quoted.
func splitIdentifier(s string) ([]string, []bool, error) {
	var parts []string
	var quoted []bool
	for {
		var part string
		var isQuoted bool
		if strings.HasPrefix(s, `"`) {
			var b strings.Builder
			i := 1
			for {
				if i >= len(s) {
					return nil, nil, fmt.Errorf("unterminated double quote")
				}
				if s[i] == '"' {
					if i+1 < len(s) && s[i+1] == '"' {
						b.WriteByte('"')
						i += 2

						continue
					}
					i++

					break
				}
				b.WriteByte(s[i])
				i++
			}
			part, isQuoted, s = b.String(), true, s[i:]
		} else {
			end := strings.IndexAny(s, `."`)
			if end < 0 {
				end = len(s)
			}
			part, s = strings.ToLower(s[:end]), s[end:]
			if strings.ContainsAny(part, " \t\n\r") {
				return nil, nil, fmt.Errorf("unquoted name %q contains white space: double-quote it", part)
			}
		}
		if part == "" {
			return nil, nil, fmt.Errorf("empty name")
		}
		if err := checkIdentifier(part); err != nil {
			return nil, nil, err
		}
		parts = append(parts, part)
		quoted = append(quoted, isQuoted)

		if s == "" {
			return parts, quoted, nil
		}
		if s[0] != '.' {
			return nil, nil, fmt.Errorf("unexpected %q after name %q", s[:1], part)
		}
		s = s[1:]
	}
}

// checkIdentifier rejects names that PostgreSQL would truncate or cannot
// store.
func checkIdentifier(s string) error {
	if len(s) > maxIdentifierLength {
		return fmt.Errorf("name %q is %d bytes long, but PostgreSQL allows at most %d", s, len(s), maxIdentifierLength)
	}
	if strings.ContainsRune(s, 0) {
		return fmt.Errorf("name %q contains a NUL byte", s)
	}

	return nil
}

// quoteIdent quotes an identifier for SQL text.
func quoteIdent(s string) string {
	return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
}

var plainIdent = regexp.MustCompile(`^[a-z_][a-z0-9_$]*$`)

// displayIdent quotes an identifier for messages the way PostgreSQL's
// quote_ident does, except that it leaves key words such as "user" unquoted.
func displayIdent(s string) string {
	if plainIdent.MatchString(s) {
		return s
	}

	return quoteIdent(s)
}

// quoteLiteral quotes a string constant for SQL text. The E'...' form keeps
// backslashes literal under either value of standard_conforming_strings.
func quoteLiteral(s string) string {
	s = strings.ReplaceAll(s, `'`, `''`)
	if strings.Contains(s, `\`) {
		return `E'` + strings.ReplaceAll(s, `\`, `\\`) + `'`
	}

	return `'` + s + `'`
}
