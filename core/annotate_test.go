package core_test

import (
	"context"
	"strings"
	"testing"

	"github.com/bemi-go/bemi/core"
)

func TestAnnotator(t *testing.T) {
	t.Parallel()

	withFields := core.With(context.Background(), core.Fields{"userId": 1, "endpoint": "/todo"})
	const comment = ` /*Bemi {"endpoint":"\/todo","userId":1} Bemi*/`

	tests := []struct {
		name      string
		annotator core.Annotator
		ctx       context.Context
		sql       string
		want      string
	}{
		{name: "write with fields", ctx: withFields, sql: "INSERT INTO t VALUES (1)", want: "INSERT INTO t VALUES (1)" + comment},
		{name: "write without fields", ctx: context.Background(), sql: "INSERT INTO t VALUES (1)", want: "INSERT INTO t VALUES (1)"},
		{name: "read with fields", ctx: withFields, sql: "SELECT * FROM t FOR UPDATE", want: "SELECT * FROM t FOR UPDATE"},
		{
			name:      "read with all statements",
			annotator: core.Annotator{AllStatements: true},
			ctx:       withFields,
			sql:       "SELECT archive()",
			want:      "SELECT archive()" + comment,
		},
		{
			name:      "all statements without fields",
			annotator: core.Annotator{AllStatements: true},
			ctx:       context.Background(),
			sql:       "SELECT archive()",
			want:      "SELECT archive()",
		},
		{
			name:      "write after replace with nil",
			annotator: core.Annotator{AllStatements: true},
			ctx:       core.Replace(withFields, nil),
			sql:       "DELETE FROM t",
			want:      "DELETE FROM t",
		},
		{
			name:      "encoder limit applies",
			annotator: core.Annotator{Encoder: &core.Encoder{MaxSize: 80, Logger: discardLogger()}},
			ctx:       core.With(context.Background(), core.Fields{"userId": 1, "params": strings.Repeat("x", 2000)}),
			sql:       "DELETE FROM t",
			want:      `DELETE FROM t /*Bemi {"_bemiTruncated":{"originalSize":2024,"droppedKeys":["params"]},"userId":1} Bemi*/`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			got, err := tt.annotator.Comment(tt.ctx, tt.sql)
			if err != nil {
				t.Fatalf("Comment: %v", err)
			}
			if got != tt.want {
				t.Errorf("Comment =\n%q\nwant\n%q", got, tt.want)
			}

			payload, ok, err := tt.annotator.Payload(tt.ctx, tt.sql)
			if err != nil {
				t.Fatalf("Payload: %v", err)
			}
			annotated := got != tt.sql
			if ok != annotated {
				t.Errorf("Payload ok = %v, but Comment annotated = %v", ok, annotated)
			}
			if ok && got != core.AppendComment(tt.sql, payload) {
				t.Errorf("Payload = %s does not match the comment in %q", payload, got)
			}
		})
	}
}

func TestAnnotatorZeroValue(t *testing.T) {
	t.Parallel()

	var a core.Annotator
	ctx := core.With(context.Background(), core.Fields{"job": "cleanup"})
	got, err := a.Comment(ctx, "DELETE FROM sessions")
	if err != nil {
		t.Fatal(err)
	}
	if want := `DELETE FROM sessions /*Bemi {"job":"cleanup"} Bemi*/`; got != want {
		t.Errorf("Comment = %q, want %q", got, want)
	}
}

func TestAnnotatorEncodesOncePerContext(t *testing.T) {
	t.Parallel()

	a := &core.Annotator{}
	ctx := core.With(context.Background(), core.Fields{"userId": 1})

	first, ok, err := a.Payload(ctx, "INSERT INTO t VALUES (1)")
	if err != nil || !ok {
		t.Fatalf("Payload = %v, %v", ok, err)
	}
	second, _, _ := a.Payload(ctx, "UPDATE t SET a = 2")
	cached, _, _ := core.Payload(ctx, nil)
	if &first[0] != &second[0] || &first[0] != &cached[0] {
		t.Error("Annotator.Payload encoded the same context more than once")
	}
}

func TestAnnotatorEncodingError(t *testing.T) {
	t.Parallel()

	a := &core.Annotator{}
	ctx := core.With(context.Background(), core.Fields{"userId": 1, "done": make(chan struct{})})
	const sql = "INSERT INTO t VALUES (1)"

	got, err := a.Comment(ctx, sql)
	if err == nil {
		t.Fatal("Comment returned no error for a channel value")
	}
	if !strings.Contains(err.Error(), `"done"`) {
		t.Errorf("error %q does not name the field", err)
	}
	if got != sql {
		t.Errorf("Comment = %q with an error, want the statement unchanged", got)
	}

	if _, ok, err := a.Payload(ctx, sql); err == nil || ok {
		t.Errorf("Payload = %v, %v, want false and an error", ok, err)
	}
	// A read is not encoded, so it does not fail.
	if _, err := a.Comment(ctx, "SELECT 1"); err != nil {
		t.Errorf("Comment on a read: %v", err)
	}
}
