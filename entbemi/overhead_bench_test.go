package entbemi

import (
	"context"
	"testing"
)

// BenchmarkSessionVarsNone measures the per-statement lookup of
// entsql.WithVar variables for a context that has none, the common case on
// the setting path.
func BenchmarkSessionVarsNone(b *testing.B) {
	var r sessionVarsDB
	ctx := context.Background()

	b.ReportAllocs()
	for b.Loop() {
		vars, err := r.sessionVars(ctx)
		if err != nil || vars != nil {
			b.Fatalf("sessionVars = %v, %v; want none", vars, err)
		}
	}
}
