package pgxsql_test

import (
	"context"
	"errors"
	"reflect"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/bemi-go/bemi/core/pgtest"
	"github.com/bemi-go/bemi/internal/pgxsql"
)

// prepareCounter counts the statements that pgx prepares. pgx takes a
// tracer as a pgx.QueryTracer, so it traces queries too, and ignores them.
type prepareCounter struct {
	mu sync.Mutex
	n  int
}

func (c *prepareCounter) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	return ctx
}

func (c *prepareCounter) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

func (c *prepareCounter) TracePrepareStart(ctx context.Context, _ *pgx.Conn, _ pgx.TracePrepareStartData) context.Context {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n++

	return ctx
}

func (c *prepareCounter) TracePrepareEnd(context.Context, *pgx.Conn, pgx.TracePrepareEndData) {}

func (c *prepareCounter) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()

	return c.n
}

// TestDescriptionCache describes statements through a DescriptionCache and
// counts how often it prepares them.
func TestDescriptionCache(t *testing.T) {
	ctx := context.Background()
	cfg, err := pgx.ParseConfig(pgtest.NewDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	var prepares prepareCounter
	cfg.Tracer = &prepares
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)

	var cache pgxsql.DescriptionCache
	const query = `SELECT $1::int8 AS n, '12:00'::time AS at`
	for range 2 {
		sd, err := cache.Describe(ctx, conn, query)
		if err != nil {
			t.Fatal(err)
		}
		if len(sd.Fields) != 2 || sd.Fields[1].DataTypeOID != pgtype.TimeOID {
			t.Fatalf("fields %+v, want n and at of type time", sd.Fields)
		}
		if !reflect.DeepEqual(sd.ParamOIDs, []uint32{pgtype.Int8OID}) {
			t.Fatalf("parameter types %v, want [int8]", sd.ParamOIDs)
		}
	}
	if n := prepares.count(); n != 1 {
		t.Errorf("prepared %d times for two Describe calls, want 1", n)
	}

	var count int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM pg_prepared_statements`).Scan(&count); err != nil {
		t.Fatal(err)
	}
	if count != 1 {
		// Describe uses the unnamed statement, which the view does not
		// list. The one listed is the count query in pgx's cache.
		t.Errorf("%d prepared statements on the connection, want only pgx's cached count query", count)
	}

	cache.SetFields(query, []pgconn.FieldDescription{{Name: "n", DataTypeOID: pgtype.Int8OID}})
	sd, err := cache.Describe(ctx, conn, query)
	if err != nil {
		t.Fatal(err)
	}
	if len(sd.Fields) != 1 || !reflect.DeepEqual(sd.ParamOIDs, []uint32{pgtype.Int8OID}) {
		t.Errorf("after SetFields: fields %+v and parameter types %v, want n only and [int8]", sd.Fields, sd.ParamOIDs)
	}

	cache.Forget(query)
	if _, err := cache.Describe(ctx, conn, query); err != nil {
		t.Fatal(err)
	}
	before := prepares.count()
	for range 2 {
		_, err := cache.Describe(ctx, conn, `SELEC 1`)
		var pgErr *pgconn.PgError
		if !errors.As(err, &pgErr) || pgErr.Code != "42601" {
			t.Fatalf("Describe of a syntax error returned %v, want a *pgconn.PgError with SQLSTATE 42601", err)
		}
	}
	if n := prepares.count() - before; n != 2 {
		t.Errorf("prepared a failing statement %d times in two calls, want 2: failures must not be cached", n)
	}
}

func TestBatchable(t *testing.T) {
	cases := []struct {
		args []any
		want bool
	}{
		{nil, true},
		{[]any{"a", 1}, true},
		{[]any{pgx.QueryExecModeExec, "a"}, false},
		{[]any{pgx.QueryResultFormats{1}}, false},
		{[]any{pgx.QueryResultFormatsByOID{pgtype.Int8OID: 1}}, false},
		{[]any{pgx.NamedArgs{"a": 1}}, false},
	}
	for _, c := range cases {
		if got := pgxsql.Batchable(c.args); got != c.want {
			t.Errorf("Batchable(%#v) = %v, want %v", c.args, got, c.want)
		}
	}
}
