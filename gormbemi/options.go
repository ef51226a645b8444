package gormbemi

import (
	"log/slog"
	"strings"
)

// Option configures a Plugin. The zero set of options annotates writes to
// every table with a context of at most core.DefaultMaxPayloadSize bytes.
type Option func(*config)

type config struct {
	sqlKey     string
	tables     map[string]bool
	logger     *slog.Logger
	maxPayload int
}

// WithSQL adds the text of each write statement to its context under key.
// Bemi's Prisma library uses the key "SQL". The text is the statement as
// GORM built it, with $1, $2 placeholders and without the argument values.
// Off by default, because the context then differs per statement, so the
// plugin encodes it for every statement and sends it even inside a
// transaction whose context did not change.
func WithSQL(key string) Option {
	return func(c *config) { c.sqlKey = key }
}

// WithTables limits the context to writes on the named tables. A name is
// the table name as GORM resolves it for the model (Statement.Table), with
// or without the schema "public.". Raw statements (Exec, Raw) have no
// table in GORM, so they carry the context whatever this list contains. A write
// to a table outside the list runs as a statement without context: it does
// not inherit the context of an earlier statement in its transaction.
// Without this option every table gets the context; the database side
// (bemi setup) decides which tables are captured.
func WithTables(names ...string) Option {
	return func(c *config) {
		if c.tables == nil {
			c.tables = make(map[string]bool, len(names))
		}
		for _, n := range names {
			c.tables[strings.TrimPrefix(n, "public.")] = true
		}
	}
}

// WithLogger sets the logger for warnings about truncated contexts (see
// core.Encoder) and debug messages about the mechanism chosen for a
// database. Nil, the default, means slog.Default() for truncation warnings,
// because a cut audit context must not go unnoticed, and no debug messages.
func WithLogger(logger *slog.Logger) Option {
	return func(c *config) { c.logger = logger }
}

// WithMaxPayloadSize sets the size limit of an encoded context in bytes,
// core.Encoder.MaxSize: zero means core.DefaultMaxPayloadSize (1 MiB) and
// a negative value disables the limit. A longer context is truncated by the
// rule documented at core.Encoder.Encode, and the write still succeeds.
func WithMaxPayloadSize(bytes int) Option {
	return func(c *config) { c.maxPayload = bytes }
}

// tracks reports whether a write on table carries the context.
func (c *config) tracks(table string) bool {
	if c.tables == nil || table == "" {
		return true
	}

	return c.tables[strings.TrimPrefix(table, "public.")]
}
