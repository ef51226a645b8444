package capture_test

import (
	"context"
	"fmt"
	"math"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/bemi-go/bemi/capture"
	"github.com/bemi-go/bemi/core/pgtest"
)

// The benchmarks in this package measure fixed workloads, scaled by
// $BEMI_BENCH_SCALE (default 1; 0.05 for a quick check). Each iteration
// repeats the whole workload, so run them with -benchtime=1x, as make bench
// does.

// benchSize returns n scaled by $BEMI_BENCH_SCALE, at least 1.
func benchSize(b *testing.B, n int) int {
	b.Helper()

	scale := 1.0
	if s := os.Getenv("BEMI_BENCH_SCALE"); s != "" {
		v, err := strconv.ParseFloat(s, 64)
		if err != nil || v <= 0 {
			b.Fatalf("invalid BEMI_BENCH_SCALE %q: want a positive number such as 0.1", s)
		}
		scale = v
	}

	return max(1, int(math.Round(float64(n)*scale)))
}

// BenchmarkCommitToRowLatency writes 3,000 one-row transactions per
// iteration at 1,000 transactions per second and reports the time from
// each source commit to the commit of its changes row, as p50-ms and
// p99-ms. Both commit times come from the same server
// (track_commit_timestamp), so no clocks are compared.
func BenchmarkCommitToRowLatency(b *testing.B) {
	cluster, err := pgtest.Start(pgtest.Options{
		IgnoreEnv: true,
		Durable:   true,
		Settings:  map[string]string{"track_commit_timestamp": "on"},
	})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = cluster.Stop() })
	url, err := cluster.CreateDatabase("latency")
	if err != nil {
		b.Fatal(err)
	}

	conn := connect(b, url)
	for _, sql := range []string{
		"CREATE TABLE items (id int PRIMARY KEY)",
		"ALTER TABLE items REPLICA IDENTITY FULL",
		"CREATE PUBLICATION bemi FOR TABLE items",
		"SELECT pg_create_logical_replication_slot('latency', 'pgoutput')",
	} {
		if _, err := conn.Exec(context.Background(), sql); err != nil {
			b.Fatal(err)
		}
	}

	// Migrate first, so no write waits for the worker's start.
	if err := capture.Migrate(context.Background(), conn, "public"); err != nil {
		b.Fatal(err)
	}

	w, err := capture.New(capture.Config{SourceURL: url, Slot: "latency"})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			b.Error(err)
		}
	}()

	// Four connections share the ticks, so one slow commit does not lower
	// the rate.
	const writers = 4
	ticks := make(chan int)
	var wg sync.WaitGroup
	for range writers {
		writer := connect(b, url)
		wg.Go(func() {
			for id := range ticks {
				if _, err := writer.Exec(context.Background(), "INSERT INTO items VALUES ($1)", id); err != nil {
					b.Error(err)
				}
			}
		})
	}

	perIteration := benchSize(b, 3000)
	total := perIteration * b.N
	b.ResetTimer()
	ticker := time.NewTicker(time.Millisecond)
	for i := range total {
		<-ticker.C
		ticks <- i
	}
	ticker.Stop()
	close(ticks)
	wg.Wait()
	b.StopTimer()

	waitChangesCount(b, conn, total)

	var p50, p99 float64
	err = conn.QueryRow(context.Background(), `
SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY ms), percentile_cont(0.99) WITHIN GROUP (ORDER BY ms)
FROM (SELECT extract(epoch FROM pg_xact_commit_timestamp(xmin) - committed_at) * 1000 AS ms FROM changes) l`).Scan(&p50, &p99)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(p50, "p50-ms")
	b.ReportMetric(p99, "p99-ms")
	b.ReportMetric(float64(total), "transactions")
}

// waitChangesCount polls until the changes table holds n rows.
func waitChangesCount(b *testing.B, conn *pgx.Conn, n int) {
	b.Helper()

	deadline := time.Now().Add(10 * time.Minute)
	for {
		var count int
		err := conn.QueryRow(context.Background(), "SELECT count(*) FROM changes").Scan(&count)
		if err != nil {
			b.Fatal(err)
		}
		if count >= n {
			return
		}
		if time.Now().After(deadline) {
			b.Fatalf("changes table holds %d rows after 10 minutes, want %d", count, n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// BenchmarkLargeTransaction stores one transaction of 200,000 inserted rows
// per iteration and reports the end-to-end rate from the source commit
// until the last changes row is committed, as rows/s.
func BenchmarkLargeTransaction(b *testing.B) {
	url := pgtest.NewDatabase(b)
	conn := connect(b, url)
	slot := "bench_large_" + fmt.Sprint(time.Now().UnixNano()%1e9)
	for _, sql := range []string{
		"CREATE TABLE items (id int PRIMARY KEY, name text, price numeric, at timestamptz DEFAULT now())",
		"ALTER TABLE items REPLICA IDENTITY FULL",
		"CREATE PUBLICATION bemi FOR TABLE items",
		"SELECT pg_create_logical_replication_slot('" + slot + "', 'pgoutput')",
	} {
		if _, err := conn.Exec(context.Background(), sql); err != nil {
			b.Fatal(err)
		}
	}
	b.Cleanup(func() {
		_, _ = conn.Exec(context.Background(), "SELECT pg_drop_replication_slot($1)", slot)
	})
	if err := capture.Migrate(context.Background(), conn, "public"); err != nil {
		b.Fatal(err)
	}

	w, err := capture.New(capture.Config{SourceURL: url, Slot: slot})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			b.Error(err)
		}
	}()

	rows := benchSize(b, 200000)
	var elapsed time.Duration
	b.ResetTimer()
	for i := range b.N {
		b.StopTimer()
		_, err = conn.Exec(context.Background(), "INSERT INTO items (id, name, price) SELECT g, 'item ' || g, g * 1.5 FROM generate_series($1::int, $2::int) g",
			i*rows+1, (i+1)*rows)
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()

		start := time.Now()
		waitChangesCount(b, conn, (i+1)*rows)
		elapsed += time.Since(start)
	}
	b.ReportMetric(float64(rows*b.N)/elapsed.Seconds(), "rows/s")
}
