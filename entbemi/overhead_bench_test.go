package entbemi

import (
	"context"
	"database/sql/driver"
	"testing"
)

// BenchmarkSessionVarsNone measures the per-statement lookup of
// entsql.WithVar variables for a context that has none, the common case on
// the setting path.
func BenchmarkSessionVarsNone(b *testing.B) {
	var r rowsDB
	ctx := context.Background()

	b.ReportAllocs()
	for b.Loop() {
		vars, err := r.sessionVars(ctx)
		if err != nil || vars != nil {
			b.Fatalf("sessionVars = %v, %v; want none", vars, err)
		}
	}
}

// BenchmarkBufferedRowsOpen measures turning the buffered RETURNING row of
// an annotated INSERT into *sql.Rows and scanning it.
func BenchmarkBufferedRowsOpen(b *testing.B) {
	var r rowsDB

	b.ReportAllocs()
	for b.Loop() {
		buf := &bufferedRows{columns: []string{"id"}, typeNames: []string{"INT8"}, values: [][]driver.Value{{int64(42)}}}
		rows, err := r.open(buf)
		if err != nil {
			b.Fatal(err)
		}
		var id int64
		for rows.Next() {
			if err := rows.Scan(&id); err != nil {
				b.Fatal(err)
			}
		}
		if err := rows.Close(); err != nil || id != 42 {
			b.Fatalf("id = %d, close error %v", id, err)
		}
	}
}
