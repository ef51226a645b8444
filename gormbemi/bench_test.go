package gormbemi_test

import (
	"context"
	"database/sql"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bemi-go/bemi/capture/setup"
	"github.com/bemi-go/bemi/core"
	"github.com/bemi-go/bemi/core/pgtest"
	"github.com/bemi-go/bemi/gormbemi"
	"github.com/jackc/pgx/v5"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"
)

// The benchmarks compare tracked with untracked writes through the same
// GORM configuration and pool, on one durable cluster (fsync and
// synchronous_commit on) with no capture worker running.

// BenchRow is the row the benchmarks write. bench_tracked has the Bemi
// trigger and REPLICA IDENTITY FULL; bench_untracked has neither.
type BenchRow struct {
	ID   int64
	Name string
	Qty  int
}

var bench struct {
	once    sync.Once
	cluster *pgtest.Cluster
	url     string
	err     error
}

func stopBenchCluster() {
	if bench.cluster != nil {
		_ = bench.cluster.Stop()
	}
}

// benchURL starts the durable cluster on first use and returns a database
// with both tables, set up for tracking.
func benchURL(b *testing.B) string {
	b.Helper()
	bench.once.Do(func() {
		bench.cluster, bench.err = pgtest.Start(pgtest.Options{Durable: true})
		if bench.err != nil {
			return
		}
		bench.url, bench.err = bench.cluster.CreateDatabase("bench")
		if bench.err != nil {
			return
		}

		ctx := context.Background()
		conn, err := pgx.Connect(ctx, bench.url)
		if err != nil {
			bench.err = err

			return
		}
		defer conn.Close(ctx)
		for _, q := range []string{
			`CREATE TABLE bench_tracked (id bigserial PRIMARY KEY, name text NOT NULL, qty int NOT NULL)`,
			`CREATE TABLE bench_untracked (id bigserial PRIMARY KEY, name text NOT NULL, qty int NOT NULL)`,
		} {
			if _, err := conn.Exec(ctx, q); err != nil {
				bench.err = err

				return
			}
		}
		_, bench.err = setup.Run(ctx, conn, setup.Config{SkipSlot: true, ExcludeTables: []string{"bench_untracked"}})
	})
	if bench.err != nil {
		b.Fatal(bench.err)
	}

	return bench.url
}

// benchDB opens a *gorm.DB with one connection, so every variant runs on
// the same kind of pool and the numbers are latencies.
func benchDB(b *testing.B, cfg postgres.Config, gcfg gorm.Config, plugin bool) *gorm.DB {
	b.Helper()
	cfg.DSN = benchURL(b)
	gcfg.Logger = logger.Discard
	db, err := gorm.Open(postgres.New(cfg), &gcfg)
	if err != nil {
		b.Fatal(err)
	}
	sqlDB, err := db.DB()
	if err != nil {
		b.Fatal(err)
	}
	sqlDB.SetMaxOpenConns(1)
	sqlDB.SetMaxIdleConns(1)
	b.Cleanup(func() { sqlDB.Close() })
	if plugin {
		if err := db.Use(gormbemi.New()); err != nil {
			b.Fatal(err)
		}
	}

	return db
}

// benchVariant is one row of the comparison.
type benchVariant struct {
	name    string
	table   string
	context bool
	db      func(b *testing.B) *gorm.DB
}

func benchVariants() []benchVariant {
	plain := func(b *testing.B) *gorm.DB { return benchDB(b, postgres.Config{}, gorm.Config{}, false) }
	tracked := func(b *testing.B) *gorm.DB { return benchDB(b, postgres.Config{}, gorm.Config{}, true) }

	return []benchVariant{
		{name: "untracked", table: "bench_untracked", db: plain},
		{name: "floor", table: "bench_tracked", db: plain},
		{name: "tracked", table: "bench_tracked", context: true, db: tracked},
		{name: "setconfig-own-round-trip", table: "bench_tracked", context: true, db: func(b *testing.B) *gorm.DB {
			// A default transaction timeout makes the plugin leave BEGIN to
			// GORM, so set_config takes a round trip of its own.
			return benchDB(b, postgres.Config{}, gorm.Config{DefaultTransactionTimeout: time.Hour}, true)
		}},
		{name: "comment-cached", table: "bench_tracked", context: true, db: func(b *testing.B) *gorm.DB {
			db := plain(b)
			installComment(b, db)

			return db
		}},
	}
}

// requestContext is a typical context of one request.
func requestContext(i int) context.Context {
	return core.With(context.Background(), core.Fields{
		"userId":   i,
		"endpoint": "/todo/{id}",
		"method":   "POST",
	})
}

func (v benchVariant) ctx(i int) context.Context {
	if v.context {
		return requestContext(i)
	}

	return context.Background()
}

// The machine that runs the benchmarks may be shared, and fsync latency
// drifts with other load. So each benchmark runs its variants interleaved,
// one write of each per iteration in rotating order, and reports the median
// latency of each variant (us/op-<variant>) and the overhead of each
// tracked variant over the untracked one (%-<variant>). ns/op is the time
// of one write of every variant together.

// benchOp is one timed write of a variant; prepare, when set, runs untimed
// before each write, for example to refill the rows that deletes consume.
type benchOp struct {
	prepare func(b *testing.B, db *gorm.DB, v benchVariant)
	write   func(db *gorm.DB, v benchVariant, i int) error
}

func runInterleaved(b *testing.B, variants []benchVariant, op benchOp) {
	// BEMI_BENCH_VARIANTS=untracked,tracked runs only the named variants.
	if only := os.Getenv("BEMI_BENCH_VARIANTS"); only != "" {
		names := strings.Split(only, ",")
		variants = slices.DeleteFunc(slices.Clone(variants), func(v benchVariant) bool { return !slices.Contains(names, v.name) })
	}
	dbs := make([]*gorm.DB, len(variants))
	for k, v := range variants {
		dbs[k] = v.db(b)
	}
	latencies := make([][]time.Duration, len(variants))

	i := 0
	for b.Loop() {
		i++
		for n := range variants {
			k := (n + i) % len(variants)
			v := variants[k]
			if op.prepare != nil {
				b.StopTimer()
				op.prepare(b, dbs[k], v)
				b.StartTimer()
			}
			ctx := v.ctx(i)
			start := time.Now()
			if err := op.write(dbs[k].WithContext(ctx), v, i); err != nil {
				b.Fatalf("%s: %v", v.name, err)
			}
			latencies[k] = append(latencies[k], time.Since(start))
		}
	}

	medians := make([]float64, len(variants))
	for k, v := range variants {
		medians[k] = median(latencies[k])
		b.ReportMetric(medians[k], "us/op-"+v.name)
	}
	for k, v := range variants {
		if k > 0 && variants[0].name == "untracked" {
			b.ReportMetric((medians[k]/medians[0]-1)*100, "%-"+v.name)
		}
	}
}

// median returns the median of ds in microseconds.
func median(ds []time.Duration) float64 {
	if len(ds) == 0 {
		return 0
	}
	sorted := slices.Clone(ds)
	slices.Sort(sorted)

	return float64(sorted[len(sorted)/2]) / float64(time.Microsecond)
}

func BenchmarkInsert(b *testing.B) {
	runInterleaved(b, benchVariants(), benchOp{write: func(db *gorm.DB, v benchVariant, i int) error {
		return db.Table(v.table).Create(&BenchRow{Name: "row", Qty: i}).Error
	}})
}

func BenchmarkUpdate(b *testing.B) {
	ids := map[string]int64{}
	runInterleaved(b, benchVariants(), benchOp{
		prepare: func(b *testing.B, db *gorm.DB, v benchVariant) {
			if _, ok := ids[v.name]; !ok {
				ids[v.name] = insertRows(b, db, v.table, 1)[0]
			}
		},
		write: func(db *gorm.DB, v benchVariant, i int) error {
			return db.Table(v.table).Where("id = ?", ids[v.name]).Update("qty", i).Error
		},
	})
}

func BenchmarkDelete(b *testing.B) {
	victims := map[string][]int64{}
	runInterleaved(b, benchVariants(), benchOp{
		prepare: func(b *testing.B, db *gorm.DB, v benchVariant) {
			if len(victims[v.name]) == 0 {
				victims[v.name] = insertRows(b, db, v.table, 1000)
			}
		},
		write: func(db *gorm.DB, v benchVariant, _ int) error {
			id := victims[v.name][0]
			victims[v.name] = victims[v.name][1:]

			return db.Table(v.table).Where("id = ?", id).Delete(&BenchRow{}).Error
		},
	})
}

func BenchmarkInsert1000(b *testing.B) {
	rows := make([]BenchRow, 1000)
	runInterleaved(b, benchVariants(), benchOp{write: func(db *gorm.DB, v benchVariant, i int) error {
		for j := range rows {
			rows[j] = BenchRow{Name: "row", Qty: i}
		}

		return db.Table(v.table).Create(&rows).Error
	}})
}

// installComment makes db append the context comment to every write, the
// way a comment-based adapter would, as a reference for what the comment
// costs in pgx's default statement cache mode.
func installComment(b *testing.B, db *gorm.DB) {
	b.Helper()
	wrap := func(db *gorm.DB) { db.Statement.ConnPool = commentPool{db.Statement.ConnPool} }
	unwrapComment := func(db *gorm.DB) {
		if c, ok := db.Statement.ConnPool.(commentPool); ok {
			db.Statement.ConnPool = c.ConnPool
		}
	}
	cb := db.Callback()
	for _, err := range []error{
		cb.Create().Before("gorm:create").Register("test:comment", wrap),
		cb.Create().After("gorm:create").Before("gorm:save_after_associations").Register("test:uncomment", unwrapComment),
		cb.Update().Before("gorm:update").Register("test:comment", wrap),
		cb.Update().After("gorm:update").Before("gorm:save_after_associations").Register("test:uncomment", unwrapComment),
		cb.Delete().Before("gorm:delete").Register("test:comment", wrap),
		cb.Delete().After("gorm:delete").Before("gorm:after_delete").Register("test:uncomment", unwrapComment),
	} {
		if err != nil {
			b.Fatal(err)
		}
	}
}

type commentPool struct{ gorm.ConnPool }

func (c commentPool) comment(ctx context.Context, query string) string {
	payload, ok, err := core.Payload(ctx, nil)
	if err != nil || !ok {
		return query
	}

	return core.AppendComment(query, payload)
}

func (c commentPool) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	return c.ConnPool.ExecContext(ctx, c.comment(ctx, query), args...)
}

func (c commentPool) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	return c.ConnPool.QueryContext(ctx, c.comment(ctx, query), args...)
}

func (c commentPool) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	return c.ConnPool.QueryRowContext(ctx, c.comment(ctx, query), args...)
}

func (c commentPool) Commit() error   { return c.ConnPool.(gorm.TxCommitter).Commit() }
func (c commentPool) Rollback() error { return c.ConnPool.(gorm.TxCommitter).Rollback() }

// noTransactionVariants run without GORM's default transaction.
func noTransactionVariants() []benchVariant {
	skip := gorm.Config{SkipDefaultTransaction: true}
	plain := func(b *testing.B) *gorm.DB { return benchDB(b, postgres.Config{}, skip, false) }

	return []benchVariant{
		{name: "untracked", table: "bench_untracked", db: plain},
		{name: "floor", table: "bench_tracked", db: plain},
		{name: "tracked", table: "bench_tracked", context: true, db: func(b *testing.B) *gorm.DB {
			return benchDB(b, postgres.Config{}, skip, true)
		}},
	}
}

// BenchmarkInsertNoTransaction inserts with GORM's SkipDefaultTransaction.
// The INSERT has RETURNING, so it returns rows, which the plugin reads from
// one batch of set_config and the statement.
func BenchmarkInsertNoTransaction(b *testing.B) {
	runInterleaved(b, noTransactionVariants(), benchOp{write: func(db *gorm.DB, v benchVariant, i int) error {
		return db.Table(v.table).Create(&BenchRow{Name: "row", Qty: i}).Error
	}})
}

// BenchmarkExecNoTransaction runs a raw UPDATE outside a transaction, which
// the plugin sends as one batch of set_config and the statement.
func BenchmarkExecNoTransaction(b *testing.B) {
	ids := map[string]int64{}
	runInterleaved(b, noTransactionVariants(), benchOp{
		prepare: func(b *testing.B, db *gorm.DB, v benchVariant) {
			if _, ok := ids[v.name]; !ok {
				ids[v.name] = insertRows(b, db, v.table, 1)[0]
			}
		},
		write: func(db *gorm.DB, v benchVariant, i int) error {
			return db.Exec("UPDATE "+v.table+" SET qty = ? WHERE id = ?", i, ids[v.name]).Error
		},
	})
}

// insertRows inserts n rows into table and returns their ids.
func insertRows(b *testing.B, db *gorm.DB, table string, n int) []int64 {
	b.Helper()

	rows := make([]BenchRow, n)
	for j := range rows {
		rows[j] = BenchRow{Name: "victim"}
	}
	if err := db.Table(table).Create(&rows).Error; err != nil {
		b.Fatal(err)
	}
	ids := make([]int64, n)
	for j, r := range rows {
		ids[j] = r.ID
	}

	return ids
}
