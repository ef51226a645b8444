// Package sqlcdb is the sqlc-generated code of the todo table's queries
// (query.sql, over schema.sql).
package sqlcdb

//go:generate go run github.com/sqlc-dev/sqlc/cmd/sqlc@v1.31.1 generate
