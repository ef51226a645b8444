package pgxbemi

import (
	"context"
	"fmt"
	"testing"

	"github.com/bemi-go/bemi/core"
)

// BenchmarkClientSide measures what pgxbemi does in the application before
// a write leaves for the server: attach a typical request context, encode
// it, plan the statement and build the batch. It needs no database.
func BenchmarkClientSide(b *testing.B) {
	const sql = "-- name: CreateTodo :one\nINSERT INTO todos (title) VALUES ($1) RETURNING id, title, done\n"
	r := &runner{opts: newOptions(Config{}), kind: kindPool}
	bg := context.Background()

	b.Run("context", func(b *testing.B) {
		b.ReportAllocs()
		for i := range b.N {
			ctx := core.With(bg, core.Fields{"userId": 1000 + i, "endpoint": "/todos/{id}", "method": "PUT", "requestId": fmt.Sprintf("req-%08d", i)})
			if _, ok, err := core.Payload(ctx, nil); !ok || err != nil {
				b.Fatal(ok, err)
			}
		}
	})

	b.Run("plan and batch", func(b *testing.B) {
		ctx := core.With(bg, core.Fields{"userId": 1000, "endpoint": "/todos/{id}", "method": "PUT", "requestId": "req-00000001"})
		args := []any{"write docs"}
		b.ReportAllocs()
		for range b.N {
			s, err := r.planRoute(ctx, routePipelined, sql)
			if err != nil {
				b.Fatal(err)
			}
			if !s.set {
				b.Fatal("the write is planned without a set")
			}
			if bt := r.batch(s, sql, args); bt.Len() != 2 {
				b.Fatalf("batch has %d statements, want 2", bt.Len())
			}
		}
	})
}
