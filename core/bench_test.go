package core_test

import (
	"context"
	"testing"

	"github.com/bemi-go/bemi/core"
)

// typicalFields is the context a web request usually carries.
func typicalFields() core.Fields {
	return core.Fields{
		"userId":    187234,
		"endpoint":  "/todo/{id}",
		"method":    "PATCH",
		"params":    map[string]any{"id": "42", "task": "Buy milk", "done": true},
		"requestId": "0c7d5d52-6c0b-4c5e-9b7e-2f1f7c1f6a10",
		"traceId":   "4bf92f3577b34da6a3ce929d0e0e4736",
	}
}

func BenchmarkEncodeTypicalContext(b *testing.B) {
	enc := &core.Encoder{}
	fields := typicalFields()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := enc.Encode(fields); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPayloadCached measures what an adapter pays per statement after
// the first statement of a request has encoded the context.
func BenchmarkPayloadCached(b *testing.B) {
	ctx := core.With(context.Background(), typicalFields())
	if _, _, err := core.Payload(ctx, nil); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, ok, _ := core.Payload(ctx, nil); !ok {
			b.Fatal("no payload")
		}
	}
}

func BenchmarkIsWrite(b *testing.B) {
	statements := []struct {
		name string
		sql  string
	}{
		{name: "insert", sql: `INSERT INTO "todos" ("task","done","created_at") VALUES ($1,$2,$3) RETURNING "id"`},
		{name: "select", sql: `SELECT "todos"."id", "todos"."task", "todos"."done" FROM "todos" WHERE "todos"."user_id" = $1 AND "todos"."deleted_at" IS NULL ORDER BY "todos"."id" LIMIT 50`},
		{name: "with", sql: `WITH moved AS (DELETE FROM todos WHERE done RETURNING *) INSERT INTO archive SELECT * FROM moved`},
		{name: "leading comment", sql: "/* controller='todo',action='update' */ UPDATE todos SET done = $1 WHERE id = $2"},
	}
	for _, s := range statements {
		b.Run(s.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(s.sql)))
			for b.Loop() {
				core.IsWrite(s.sql)
			}
		})
	}
}

func BenchmarkAnnotatorComment(b *testing.B) {
	ctx := core.With(context.Background(), typicalFields())
	var annotator core.Annotator
	statements := []struct {
		name string
		sql  string
	}{
		{name: "write", sql: `UPDATE "todos" SET "done" = $1 WHERE "id" = $2`},
		{name: "read", sql: `SELECT "id", "task" FROM "todos" WHERE "id" = $1`},
	}
	for _, s := range statements {
		b.Run(s.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := annotator.Comment(ctx, s.sql); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkStitcherMessage measures what the capture worker pays for each
// _bemi message: the JSON object check, sanitizing and the jsonb limit checks.
func BenchmarkStitcherMessage(b *testing.B) {
	payload, err := (&core.Encoder{}).Encode(typicalFields())
	if err != nil {
		b.Fatal(err)
	}
	var s core.Stitcher
	s.Begin()
	b.ReportAllocs()
	b.SetBytes(int64(len(payload)))
	for b.Loop() {
		if s.Message(core.MessagePrefix, true, payload) != core.MessageApplied {
			b.Fatal("payload not applied")
		}
	}
}
