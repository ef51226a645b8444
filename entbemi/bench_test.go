package entbemi_test

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"
	"github.com/jackc/pgx/v5"

	"github.com/bemi-go/bemi/capture/setup"
	"github.com/bemi-go/bemi/core"
	"github.com/bemi-go/bemi/core/pgtest"
	"github.com/bemi-go/bemi/entbemi"
	"github.com/bemi-go/bemi/entbemi/internal/todoapp/ent"
)

// The benchmarks compare, on one durable cluster (fsync and
// synchronous_commit on) and through the same ent client code and a pool of
// one connection, writes to:
//
//   - untracked: the todos table without trigger, default replica identity;
//   - floor: the tracked table (trigger, REPLICA IDENTITY FULL), no context;
//   - setting: the tracked table, context through entbemi's setting batch;
//   - comment: the tracked table, context as a per-request comment with
//     pgx's default statement cache (entbemi's fallback mechanism).
//
// Every annotated write carries a context unique to its request, as an
// HTTP middleware would attach, built inside the timed loop.

// benchCluster is the durable cluster shared by the benchmarks of one run.
var benchCluster struct {
	once      sync.Once
	cluster   *pgtest.Cluster
	tracked   string
	untracked string
	err       error
}

func stopBenchCluster() {
	if benchCluster.cluster != nil {
		_ = benchCluster.cluster.Stop()
	}
}

// benchDatabases returns the URLs of the tracked and the untracked
// database, each with the todo schema.
func benchDatabases(b *testing.B) (tracked, untracked string) {
	b.Helper()

	benchCluster.once.Do(func() {
		c, err := pgtest.Start(pgtest.Options{Durable: true})
		if err != nil {
			benchCluster.err = err

			return
		}
		benchCluster.cluster = c
		for _, db := range []struct {
			name  string
			url   *string
			setup bool
		}{
			{"bench_tracked", &benchCluster.tracked, true},
			{"bench_untracked", &benchCluster.untracked, false},
		} {
			if benchCluster.err != nil {
				return
			}
			*db.url, benchCluster.err = c.CreateDatabase(db.name)
			if benchCluster.err == nil {
				benchCluster.err = prepareBenchDatabase(*db.url, db.setup)
			}
		}
	})
	if benchCluster.err != nil {
		b.Fatal(benchCluster.err)
	}

	return benchCluster.tracked, benchCluster.untracked
}

// prepareBenchDatabase creates the todo schema and, when track is set,
// installs change tracking on it.
func prepareBenchDatabase(dbURL string, track bool) error {
	ctx := context.Background()

	db, err := sql.Open("pgx", dbURL)
	if err != nil {
		return err
	}
	client := ent.NewClient(ent.Driver(entsql.OpenDB(dialect.Postgres, db)))
	defer client.Close()
	if err := client.Schema.Create(ctx); err != nil {
		return fmt.Errorf("create schema: %w", err)
	}
	if !track {
		return nil
	}

	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	// No replication slot: it would keep the benchmark's WAL.
	_, err = setup.Run(ctx, conn, setup.Config{SkipSlot: true})

	return err
}

// benchVariant is one column of the comparison.
type benchVariant struct {
	name     string
	tracked  bool
	context  bool
	opaque   bool // hide the ent driver, so entbemi uses the comment
	wantMech entbemi.Mechanism
}

var benchVariants = []benchVariant{
	{name: "untracked", wantMech: entbemi.MechanismSetting},
	{name: "floor", tracked: true, wantMech: entbemi.MechanismSetting},
	{name: "setting", tracked: true, context: true, wantMech: entbemi.MechanismSetting},
	{name: "comment", tracked: true, context: true, opaque: true, wantMech: entbemi.MechanismComment},
}

// benchClient returns a client for v on a pool of one connection.
func benchClient(b *testing.B, v benchVariant) *ent.Client {
	b.Helper()

	tracked, untracked := benchDatabases(b)
	dbURL := untracked
	if v.tracked {
		dbURL = tracked
	}
	db, err := sql.Open("pgx", dbURL)
	if err != nil {
		b.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	b.Cleanup(func() { db.Close() })

	var inner dialect.Driver = entsql.OpenDB(dialect.Postgres, db)
	if v.opaque {
		inner = opaqueDriver{inner}
	}
	drv := entbemi.NewDriver(inner, entbemi.Config{})
	if drv.Mechanism() != v.wantMech {
		b.Fatalf("Mechanism() = %v, want %v", drv.Mechanism(), v.wantMech)
	}
	client := ent.NewClient(ent.Driver(drv))
	client.Todo.Delete().ExecX(context.Background())

	return client
}

// requestCtx returns the context of request i.
func requestCtx(v benchVariant, i int) context.Context {
	if !v.context {
		return context.Background()
	}

	return core.With(context.Background(), core.Fields{"userId": 187234, "requestId": i, "endpoint": "/todos/{id}"})
}

// benchOp is a write to compare. prepare runs before each timed write,
// outside the measurement, and may be nil.
type benchOp struct {
	prepare func(b *testing.B, variant int, client *ent.Client)
	write   func(b *testing.B, variant int, client *ent.Client, ctx context.Context)
}

// compareVariants runs op once per variant in every iteration, in an order
// that rotates, and reports the median latency of each variant in
// microseconds and the overhead of the setting mechanism. Interleaving
// keeps the comparison fair on a machine whose load changes during the run;
// ns/op is the time of one write per variant together.
func compareVariants(b *testing.B, op benchOp) {
	clients := make([]*ent.Client, len(benchVariants))
	for k, v := range benchVariants {
		clients[k] = benchClient(b, v)
	}
	samples := make([][]time.Duration, len(benchVariants))

	b.ReportAllocs()
	i := 0
	for b.Loop() {
		for j := range benchVariants {
			k := (i + j) % len(benchVariants)
			if op.prepare != nil {
				b.StopTimer()
				op.prepare(b, k, clients[k])
				b.StartTimer()
			}
			ctx := requestCtx(benchVariants[k], i)
			start := time.Now()
			op.write(b, k, clients[k], ctx)
			samples[k] = append(samples[k], time.Since(start))
		}
		i++
	}

	medians := make(map[string]float64, len(benchVariants))
	for k, v := range benchVariants {
		medians[v.name] = median(samples[k])
		b.ReportMetric(medians[v.name], v.name+"-us")
	}
	b.ReportMetric(100*(medians["setting"]/medians["untracked"]-1), "setting-vs-untracked-%")
	b.ReportMetric(100*(medians["setting"]/medians["floor"]-1), "setting-vs-floor-%")
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

// createTodos inserts n todos without context and returns their ids.
func createTodos(b *testing.B, client *ent.Client, n int) []int {
	b.Helper()

	ids := make([]int, 0, n)
	for start := 0; start < n; start += 1000 {
		size := min(1000, n-start)
		builders := make([]*ent.TodoCreate, size)
		for i := range builders {
			builders[i] = client.Todo.Create().SetTitle("seed")
		}
		for _, t := range client.Todo.CreateBulk(builders...).SaveX(context.Background()) {
			ids = append(ids, t.ID)
		}
	}

	return ids
}

func BenchmarkInsert(b *testing.B) {
	compareVariants(b, benchOp{
		write: func(_ *testing.B, _ int, client *ent.Client, ctx context.Context) {
			client.Todo.Create().SetTitle("bench").SaveX(ctx)
		},
	})
}

// BenchmarkUpdate runs UpdateOne, for which ent sends UPDATE and a SELECT
// of the updated row inside a transaction that it opens.
func BenchmarkUpdate(b *testing.B) {
	ids := make([]int, len(benchVariants))
	done := false
	compareVariants(b, benchOp{
		prepare: func(b *testing.B, k int, client *ent.Client) {
			if ids[k] == 0 {
				ids[k] = createTodos(b, client, 1)[0]
			}
		},
		write: func(_ *testing.B, k int, client *ent.Client, ctx context.Context) {
			done = !done
			client.Todo.UpdateOneID(ids[k]).SetDone(done).ExecX(ctx)
		},
	})
}

func BenchmarkDelete(b *testing.B) {
	ids := make([][]int, len(benchVariants))
	compareVariants(b, benchOp{
		prepare: func(b *testing.B, k int, client *ent.Client) {
			if len(ids[k]) == 0 {
				ids[k] = createTodos(b, client, 2000)
			}
		},
		write: func(_ *testing.B, k int, client *ent.Client, ctx context.Context) {
			client.Todo.DeleteOneID(ids[k][0]).ExecX(ctx)
			ids[k] = ids[k][1:]
		},
	})
}

func BenchmarkInsert1000(b *testing.B) {
	builders := make([]*ent.TodoCreate, 1000)
	compareVariants(b, benchOp{
		prepare: func(_ *testing.B, _ int, client *ent.Client) {
			for j := range builders {
				builders[j] = client.Todo.Create().SetTitle("bench")
			}
		},
		write: func(_ *testing.B, _ int, client *ent.Client, ctx context.Context) {
			client.Todo.CreateBulk(builders...).SaveX(ctx)
		},
	})
}

// BenchmarkTxInsert3 runs a transaction of three inserts under one context,
// for which the setting mechanism sends one set_config.
func BenchmarkTxInsert3(b *testing.B) {
	compareVariants(b, benchOp{
		write: func(b *testing.B, _ int, client *ent.Client, ctx context.Context) {
			tx, err := client.Tx(ctx)
			if err != nil {
				b.Fatal(err)
			}
			for range 3 {
				tx.Todo.Create().SetTitle("bench").SaveX(ctx)
			}
			if err := tx.Commit(); err != nil {
				b.Fatal(err)
			}
		},
	})
}

// BenchmarkInsertReturningTime runs a raw INSERT ... RETURNING of a time
// column, which the setting mechanism sends in a pipeline with the stdlib
// driver's result formats rather than in a batch.
func BenchmarkInsertReturningTime(b *testing.B) {
	compareVariants(b, benchOp{
		write: func(b *testing.B, _ int, client *ent.Client, ctx context.Context) {
			rows, err := client.QueryContext(ctx,
				`INSERT INTO todos (title, done) VALUES ($1, false) RETURNING id, '12:00:00.5'::time`, "bench")
			if err != nil {
				b.Fatal(err)
			}
			var id int
			var at string
			for rows.Next() {
				if err := rows.Scan(&id, &at); err != nil {
					b.Fatal(err)
				}
			}
			if err := rows.Close(); err != nil || at != "12:00:00.5" {
				b.Fatalf("at = %q, close error %v", at, err)
			}
		},
	})
}
