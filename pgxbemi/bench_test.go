package pgxbemi_test

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bemi-go/bemi/capture/setup"
	"github.com/bemi-go/bemi/core"
	"github.com/bemi-go/bemi/core/pgtest"
	"github.com/bemi-go/bemi/pgxbemi"
	"github.com/bemi-go/bemi/pgxbemi/internal/sqlctest"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// The benchmarks compare writes through sqlc-generated code on one durable
// cluster (fsync and synchronous_commit on, no replication slot, so no
// worker runs). Every variant has a database of its own with the same
// schema, so table sizes and statement caches do not mix, and a pgxpool
// with pgx's default settings:
//
//   - untracked: no trigger, default replica identity, plain pool.
//   - tracked: Bemi installed, pgxbemi.DB over the pool, and a context that
//     differs per request, built and encoded per request.
//   - floor: Bemi installed, plain pool, no context: what the database side
//     costs on its own.
//   - comment: Bemi installed, a Bemi comment that differs per request
//     appended to each statement, in pgx's default statement cache mode:
//     the approach that pgxbemi avoids.
//   - comment-fixed: the same comment text for every request, which pgx
//     prepares once: what emitting a context costs the database through
//     any mechanism.
//   - comment-exec: the per-request comment, each statement sent unprepared with
//     pgx.QueryExecModeExec.
//   - tracked-clear: pgxbemi.DB over a DBTX it does not recognize, which
//     clears the setting after every statement it sets it for.
//   - per-row: the design of Bemi's own per-row trigger, for reference: a
//     FOR EACH ROW trigger that reads the per-request comment and emits one
//     message per row, REPLICA IDENTITY FULL, and the comment per request in
//     pgx's default cache mode.

// benchEnv is the durable cluster and a pool per variant.
type benchEnv struct {
	cluster *pgtest.Cluster
	pools   map[string]*pgxpool.Pool
}

var bench struct {
	once sync.Once
	env  *benchEnv
	err  error
}

// benchSetup starts the durable cluster on first use.
func benchSetup(b *testing.B) *benchEnv {
	b.Helper()

	bench.once.Do(func() { bench.env, bench.err = startBench() })
	if bench.err != nil {
		b.Fatal(bench.err)
	}

	return bench.env
}

func startBench() (*benchEnv, error) {
	// BEMI_BENCH_FSYNC=off runs the same benchmarks without fsync, which
	// shows the client and server time that fsync otherwise hides.
	durable := os.Getenv("BEMI_BENCH_FSYNC") != "off"
	cluster, err := pgtest.Start(pgtest.Options{Durable: durable})
	if err != nil {
		return nil, err
	}
	env := &benchEnv{cluster: cluster, pools: map[string]*pgxpool.Pool{}}

	ctx := context.Background()
	for _, v := range benchVariants {
		url, err := cluster.CreateDatabase("bench_" + strings.ReplaceAll(v.name, "-", "_"))
		if err != nil {
			return env, err
		}
		if err := cluster.Exec(url, sqlctest.Schema); err != nil {
			return env, err
		}
		if v.name == "per-row" {
			if err := cluster.Exec(url, perRowTriggerSQL); err != nil {
				return env, err
			}
		} else if v.name != "untracked" {
			conn, err := pgx.Connect(ctx, url)
			if err != nil {
				return env, err
			}
			_, err = setup.Run(ctx, conn, setup.Config{SkipSlot: true})
			conn.Close(ctx)
			if err != nil {
				return env, err
			}
		}
		if env.pools[v.name], err = pgxpool.New(ctx, url); err != nil {
			return env, err
		}
	}

	return env, nil
}

// perRowTriggerSQL installs, on every table of schema public, a row-level
// trigger that emits the statement's Bemi comment once per row, the way
// Bemi's trigger for its other libraries works, so the benchmark can show
// what a statement-level trigger saves.
const perRowTriggerSQL = `
CREATE FUNCTION per_row_context() RETURNS trigger LANGUAGE plpgsql AS $f$
DECLARE
    payload text := split_part(split_part(current_query(), '/*Bemi ', 2), ' Bemi*/', 1);
BEGIN
    IF payload <> '' THEN
        PERFORM pg_logical_emit_message(true, '_bemi', payload);
    END IF;
    IF TG_OP = 'DELETE' THEN
        RETURN OLD;
    END IF;
    RETURN NEW;
END
$f$;
DO $d$
DECLARE
    t text;
BEGIN
    FOR t IN SELECT quote_ident(tablename) FROM pg_tables WHERE schemaname = 'public' LOOP
        EXECUTE 'ALTER TABLE ' || t || ' REPLICA IDENTITY FULL';
        EXECUTE 'CREATE TRIGGER per_row_context BEFORE INSERT OR UPDATE OR DELETE ON ' || t
            || ' FOR EACH ROW EXECUTE FUNCTION per_row_context()';
    END LOOP;
END
$d$;
`

// stopBench closes the pools and stops the durable cluster, if a benchmark
// started it.
func stopBench() {
	env := bench.env
	if env == nil {
		return
	}
	for _, p := range env.pools {
		p.Close()
	}
	if err := env.cluster.Stop(); err != nil {
		fmt.Println(err)
	}
}

// commentDB appends the Bemi comment of each call's context to the
// statement text, the reference that pgxbemi is measured against. With
// unprepared set, it sends each statement with pgx.QueryExecModeExec.
type commentDB struct {
	*pgxpool.Pool
	annotator  core.Annotator
	unprepared bool
}

func (c commentDB) annotate(ctx context.Context, sql string, args []any) (string, []any) {
	sql, _ = c.annotator.Comment(ctx, sql)
	if c.unprepared {
		args = append([]any{pgx.QueryExecModeExec}, args...)
	}

	return sql, args
}

func (c commentDB) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	sql, args = c.annotate(ctx, sql, args)

	return c.Pool.Exec(ctx, sql, args...)
}

func (c commentDB) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	sql, args = c.annotate(ctx, sql, args)

	return c.Pool.Query(ctx, sql, args...)
}

func (c commentDB) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	sql, args = c.annotate(ctx, sql, args)

	return c.Pool.QueryRow(ctx, sql, args...)
}

// benchVariant is one way of writing.
type benchVariant struct {
	name string
	db   func(*pgxpool.Pool) sqlctest.DBTX

	// context returns the context of request i; nil means no context.
	context func(i int) context.Context
}

// requestCtx returns the context of request i for v.
func (v benchVariant) requestCtx(i int) context.Context {
	if v.context == nil {
		return context.Background()
	}

	return v.context(i)
}

// sameContext is the context of every request in the comment-fixed
// variant.
var sameContext = requestContext(0)

func plainPool(p *pgxpool.Pool) sqlctest.DBTX { return p }

var benchVariants = []benchVariant{
	{name: "untracked", db: plainPool},
	{
		name:    "tracked",
		db:      func(p *pgxpool.Pool) sqlctest.DBTX { return pgxbemi.New(p, pgxbemi.Config{}) },
		context: requestContext,
	},
	{name: "floor", db: plainPool},
	{
		name:    "comment",
		db:      func(p *pgxpool.Pool) sqlctest.DBTX { return commentDB{Pool: p} },
		context: requestContext,
	},
	{
		name:    "comment-fixed",
		db:      func(p *pgxpool.Pool) sqlctest.DBTX { return commentDB{Pool: p} },
		context: func(int) context.Context { return sameContext },
	},
	{
		name:    "comment-exec",
		db:      func(p *pgxpool.Pool) sqlctest.DBTX { return commentDB{Pool: p, unprepared: true} },
		context: requestContext,
	},
	{
		name:    "per-row",
		db:      func(p *pgxpool.Pool) sqlctest.DBTX { return commentDB{Pool: p} },
		context: requestContext,
	},
	{
		name:    "tracked-clear",
		db:      func(p *pgxpool.Pool) sqlctest.DBTX { return pgxbemi.New(otherDB{p}, pgxbemi.Config{}) },
		context: requestContext,
	},
}

// requestContext returns the context of request i: a typical context of an
// HTTP request, different for every request.
func requestContext(i int) context.Context {
	return core.With(context.Background(), core.Fields{
		"userId":    1000 + i,
		"endpoint":  "/todos/{id}",
		"method":    "PUT",
		"requestId": fmt.Sprintf("req-%08d", i),
	})
}

// runVariants runs op in every variant, with variants selected by name.
func runVariants(b *testing.B, names []string, prepare func(b *testing.B, pool *pgxpool.Pool) []int64,
	op func(q *sqlctest.Queries, ctx context.Context, i int, ids []int64) error) {
	env := benchSetup(b)
	for _, v := range benchVariants {
		if names != nil && !contains(names, v.name) {
			continue
		}
		b.Run(v.name, func(b *testing.B) {
			pool := env.pools[v.name]
			if _, err := pool.Exec(context.Background(), "TRUNCATE todos"); err != nil {
				b.Fatal(err)
			}
			var ids []int64
			if prepare != nil {
				ids = prepare(b, pool)
			}
			q := sqlctest.New(v.db(pool))

			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				if err := op(q, v.requestCtx(i), i, ids); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}

	return false
}

// prepareRows copies n todos into the table and returns their ids.
func prepareRows(n int) func(b *testing.B, pool *pgxpool.Pool) []int64 {
	return func(b *testing.B, pool *pgxpool.Pool) []int64 {
		ctx := context.Background()
		rows := make([]sqlctest.CopyTodosParams, n)
		for i := range rows {
			rows[i] = sqlctest.CopyTodosParams{Title: fmt.Sprintf("todo %d", i)}
		}
		if _, err := sqlctest.New(pool).CopyTodos(ctx, rows); err != nil {
			b.Fatal(err)
		}

		r, _ := pool.Query(ctx, "SELECT id FROM todos ORDER BY id")
		ids, err := pgx.CollectRows(r, pgx.RowTo[int64])
		if err != nil {
			b.Fatal(err)
		}

		return ids
	}
}

func BenchmarkInsert(b *testing.B) {
	runVariants(b, nil, nil, func(q *sqlctest.Queries, ctx context.Context, _ int, _ []int64) error {
		_, err := q.CreateTodo(ctx, "benchmark")
		return err
	})
}

func BenchmarkUpdate(b *testing.B) {
	runVariants(b, nil, prepareRows(1000), func(q *sqlctest.Queries, ctx context.Context, i int, ids []int64) error {
		return q.SetTodoDone(ctx, sqlctest.SetTodoDoneParams{ID: ids[i%len(ids)], Done: i%2 == 0})
	})
}

func BenchmarkDelete(b *testing.B) {
	prepare := func(b *testing.B, pool *pgxpool.Pool) []int64 { return prepareRows(b.N)(b, pool) }
	runVariants(b, nil, prepare, func(q *sqlctest.Queries, ctx context.Context, i int, ids []int64) error {
		return q.DeleteTodo(ctx, ids[i])
	})
}

// BenchmarkInsert1000 inserts 1,000 rows with one INSERT statement.
func BenchmarkInsert1000(b *testing.B) {
	titles := make([]string, 1000)
	for i := range titles {
		titles[i] = fmt.Sprintf("bulk %d", i)
	}
	runVariants(b, nil, nil, func(q *sqlctest.Queries, ctx context.Context, _ int, _ []int64) error {
		_, err := q.InsertManyTodos(ctx, titles)
		return err
	})
}

// BenchmarkCopy1000 copies 1,000 rows with CopyFrom, which pgxbemi sends
// with the context in a comment on the COPY statement.
func BenchmarkCopy1000(b *testing.B) {
	rows := make([]sqlctest.CopyTodosParams, 1000)
	for i := range rows {
		rows[i] = sqlctest.CopyTodosParams{Title: fmt.Sprintf("copied %d", i)}
	}
	runVariants(b, []string{"untracked", "tracked", "floor", "tracked-clear"}, nil,
		func(q *sqlctest.Queries, ctx context.Context, _ int, _ []int64) error {
			_, err := q.CopyTodos(ctx, rows)
			return err
		})
}

// insertInTx inserts 5 rows in a transaction begun on db.
func insertInTx(ctx context.Context, db sqlctest.DBTX, q *sqlctest.Queries) error {
	beginner, ok := db.(interface {
		Begin(context.Context) (pgx.Tx, error)
	})
	if !ok {
		return fmt.Errorf("%T cannot begin a transaction", db)
	}

	tx, err := beginner.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx)

	qtx := q.WithTx(tx)
	for range 5 {
		if _, err := qtx.CreateTodo(ctx, "in transaction"); err != nil {
			return err
		}
	}

	return tx.Commit(ctx)
}

// overheadOp is one operation of BenchmarkOverhead.
type overheadOp struct {
	name     string
	variants []string
	rows     func(n int) int // rows each variant needs before it starts
	op       func(db sqlctest.DBTX, q *sqlctest.Queries, ctx context.Context, i int, ids []int64) error
}

// BenchmarkOverhead runs the variants of each operation in turn, request by
// request, so that load from other processes on the machine hits every
// variant alike. It reports the median latency of each variant in
// microseconds (us/<variant>) and the overhead of the tracked variant and
// of the floor over the untracked one in percent.
func BenchmarkOverhead(b *testing.B) {
	titles := make([]string, 1000)
	copyRows := make([]sqlctest.CopyTodosParams, 1000)
	for i := range titles {
		titles[i] = fmt.Sprintf("bulk %d", i)
		copyRows[i] = sqlctest.CopyTodosParams{Title: titles[i]}
	}
	all := []string{"untracked", "tracked", "floor", "comment", "comment-fixed", "comment-exec", "tracked-clear", "per-row"}
	ops := []overheadOp{
		{name: "Insert", variants: all, op: func(_ sqlctest.DBTX, q *sqlctest.Queries, ctx context.Context, _ int, _ []int64) error {
			_, err := q.CreateTodo(ctx, "benchmark")
			return err
		}},
		{name: "Update", variants: all, rows: func(int) int { return 1000 }, op: func(_ sqlctest.DBTX, q *sqlctest.Queries, ctx context.Context, i int, ids []int64) error {
			return q.SetTodoDone(ctx, sqlctest.SetTodoDoneParams{ID: ids[i%len(ids)], Done: i%2 == 0})
		}},
		{name: "Delete", variants: all, rows: func(n int) int { return n }, op: func(_ sqlctest.DBTX, q *sqlctest.Queries, ctx context.Context, i int, ids []int64) error {
			return q.DeleteTodo(ctx, ids[i])
		}},
		{name: "Insert1000", variants: all, op: func(_ sqlctest.DBTX, q *sqlctest.Queries, ctx context.Context, _ int, _ []int64) error {
			_, err := q.InsertManyTodos(ctx, titles)
			return err
		}},
		{name: "Copy1000", variants: []string{"untracked", "tracked", "floor", "tracked-clear"}, op: func(_ sqlctest.DBTX, q *sqlctest.Queries, ctx context.Context, _ int, _ []int64) error {
			_, err := q.CopyTodos(ctx, copyRows)
			return err
		}},
		// Five inserts in a transaction: pgxbemi sets the context with the
		// first insert only.
		{name: "TxInsert5", variants: []string{"untracked", "tracked", "floor"}, op: func(db sqlctest.DBTX, q *sqlctest.Queries, ctx context.Context, _ int, _ []int64) error {
			return insertInTx(ctx, db, q)
		}},
	}

	env := benchSetup(b)
	for _, o := range ops {
		b.Run(o.name, func(b *testing.B) { runInterleaved(b, env, o) })
	}
}

func runInterleaved(b *testing.B, env *benchEnv, o overheadOp) {
	ctx := context.Background()
	for _, name := range o.variants {
		if _, err := env.pools[name].Exec(ctx, "TRUNCATE todos"); err != nil {
			b.Fatal(err)
		}
	}

	type runner struct {
		v     benchVariant
		db    sqlctest.DBTX
		q     *sqlctest.Queries
		ids   []int64
		times []time.Duration
	}
	var runners []*runner
	for _, v := range benchVariants {
		if !contains(o.variants, v.name) {
			continue
		}
		pool := env.pools[v.name]
		db := v.db(pool)
		r := &runner{v: v, db: db, q: sqlctest.New(db), times: make([]time.Duration, 0, b.N)}
		if o.rows != nil {
			r.ids = prepareRows(o.rows(b.N))(b, pool)
		}
		runners = append(runners, r)
	}

	b.ResetTimer()
	for i := range b.N {
		for k := range runners {
			r := runners[(i+k)%len(runners)]
			reqCtx := r.v.requestCtx(i)
			start := time.Now()
			if err := o.op(r.db, r.q, reqCtx, i, r.ids); err != nil {
				b.Fatalf("%s: %v", r.v.name, err)
			}
			r.times = append(r.times, time.Since(start))
		}
	}
	b.StopTimer()

	medians := map[string]float64{}
	for _, r := range runners {
		slices.Sort(r.times)
		medians[r.v.name] = float64(r.times[len(r.times)/2].Nanoseconds()) / 1e3
		b.ReportMetric(medians[r.v.name], "us/"+r.v.name)
	}
	if base := medians["untracked"]; base > 0 {
		b.ReportMetric(100*(medians["tracked"]-base)/base, "%tracked")
		b.ReportMetric(100*(medians["floor"]-base)/base, "%floor")
	}
}
