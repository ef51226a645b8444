// Package sqlctest holds the code that sqlc generates from schema.sql and
// query.sql with sqlc.yaml, for the tests and benchmarks of pgxbemi. Run
// sqlc generate in this directory after changing either file.
package sqlctest

import _ "embed"

// Schema is the SQL text of schema.sql, which creates the tables and
// functions that the queries use.
//
//go:embed schema.sql
var Schema string
