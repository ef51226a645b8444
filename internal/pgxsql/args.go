package pgxsql

import "github.com/jackc/pgx/v5"

// Batchable reports whether args can go into a pgx batch as statement
// arguments. pgx reads query options from the first argument of a query:
// a QueryExecMode or result formats, which a batch would send as
// statement arguments, and a QueryRewriter such as pgx.NamedArgs, which
// changes the text that DescriptionCache.Describe would describe.
func Batchable(args []any) bool {
	if len(args) == 0 {
		return true
	}
	switch args[0].(type) {
	case pgx.QueryExecMode, pgx.QueryResultFormats, pgx.QueryResultFormatsByOID, pgx.QueryRewriter:
		return false
	}

	return true
}
