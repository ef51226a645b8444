package pgxsql

import (
	"database/sql/driver"
	"testing"
)

// BenchmarkSQLRows measures turning the buffered RETURNING row of an
// INSERT into *sql.Rows and scanning it.
func BenchmarkSQLRows(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		r := &Rows{columns: []string{"id"}, typeNames: []string{"INT8"}, values: [][]driver.Value{{int64(42)}}}
		rows, err := r.SQLRows()
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

// BenchmarkSQLRow measures the same for *sql.Row.
func BenchmarkSQLRow(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		r := &Rows{columns: []string{"id"}, typeNames: []string{"INT8"}, values: [][]driver.Value{{int64(42)}}}
		var id int64
		if err := r.SQLRow().Scan(&id); err != nil || id != 42 {
			b.Fatalf("id = %d, error %v", id, err)
		}
	}
}
