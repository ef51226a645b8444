package capture_test

import (
	"context"
	"fmt"
	"os/exec"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/bemi-go/bemi/capture"
	"github.com/bemi-go/bemi/core/pgtest"
)

// benchWriteSQL creates the benchmark table and a procedure that commits
// n single-row inserts and then n single-row updates, each transaction
// with a context message as the trigger would emit it.
const benchWriteSQL = `
CREATE TABLE items (id int PRIMARY KEY, name text, price numeric, at timestamptz);
ALTER TABLE items REPLICA IDENTITY FULL;
CREATE PUBLICATION bemi FOR TABLE items WITH (publish_via_partition_root = true);
CREATE PROCEDURE bench_write(n int) LANGUAGE plpgsql AS $$
BEGIN
	FOR i IN 1..n LOOP
		PERFORM pg_logical_emit_message(true, '_bemi', '{"userId":' || i || ',"endpoint":"/items"}');
		INSERT INTO items VALUES (i, 'item ' || i, i * 1.5, now());
		COMMIT;
	END LOOP;
	FOR i IN 1..n LOOP
		PERFORM pg_logical_emit_message(true, '_bemi', '{"userId":' || i || ',"endpoint":"/items/{id}"}');
		UPDATE items SET price = price + 1 WHERE id = i;
		COMMIT;
	END LOOP;
END $$`

// BenchmarkSameWAL writes 200,000 one-row transactions (100,000 inserts,
// then updates of the same rows) on a durable cluster, then reads the same
// WAL four times, each time through a fresh copy of a slot created before
// the writes:
//
//   - recvlogical: pg_recvlogical with the worker's pgoutput options, to
//     /dev/null, until it passes the last commit.
//   - decode: the worker with its rows and checkpoints dropped: decoding,
//     conversion to JSON and stitching, without the destination.
//   - e2e-same: the worker storing into a changes table in the source
//     database.
//   - e2e-other: the same, with the changes table in another database.
//
// It reports each median rate over the iterations in transactions (one
// change each) per second, and the worker's rates as percentages of
// pg_recvlogical's. Run it with -benchtime=1x, or 3x for medians.
func BenchmarkSameWAL(b *testing.B) {
	cluster, err := pgtest.Start(pgtest.Options{IgnoreEnv: true, Durable: true})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = cluster.Stop() })
	sourceURL, err := cluster.CreateDatabase("source")
	if err != nil {
		b.Fatal(err)
	}
	otherURL, err := cluster.CreateDatabase("destination")
	if err != nil {
		b.Fatal(err)
	}

	conn := connect(b, sourceURL)
	benchExec(b, conn, benchWriteSQL)
	benchExec(b, conn, "SELECT pg_create_logical_replication_slot('template', 'pgoutput')")

	n := benchSize(b, 100000)
	transactions := 2 * n
	start := time.Now()
	benchExec(b, conn, "SET synchronous_commit = off")
	benchExec(b, conn, fmt.Sprintf("CALL bench_write(%d)", n))
	var endpos string
	if err := conn.QueryRow(context.Background(), "SELECT pg_current_wal_insert_lsn()::text").Scan(&endpos); err != nil {
		b.Fatal(err)
	}
	benchExec(b, conn, "CHECKPOINT")
	b.Logf("wrote %d transactions in %s; WAL ends at %s", transactions, time.Since(start).Round(time.Millisecond), endpos)

	// Each iteration reads the WAL once per reader, in turn, so a change in
	// the machine's load affects all four alike; the medians are reported.
	var recv, decode, same, other []time.Duration
	b.ResetTimer()
	for i := range b.N {
		recv = append(recv, timeRecvlogical(b, cluster, conn, sourceURL, fmt.Sprintf("recv_%d", i), endpos))
		decode = append(decode, timeWorker(b, conn, capture.Config{SourceURL: sourceURL, Slot: fmt.Sprintf("decode_%d", i)},
			transactions, capture.WithDiscardedRows()))
		same = append(same, timeWorker(b, conn, capture.Config{SourceURL: sourceURL, Slot: fmt.Sprintf("same_%d", i),
			DestinationSchema: fmt.Sprintf("same_%d", i)}, transactions))
		other = append(other, timeWorker(b, conn, capture.Config{SourceURL: sourceURL, Slot: fmt.Sprintf("other_%d", i),
			DestinationURL: otherURL, DestinationSchema: fmt.Sprintf("other_%d", i)}, transactions))
	}
	b.StopTimer()

	rate := func(d []time.Duration) float64 {
		slices.Sort(d)

		return float64(transactions) / d[len(d)/2].Seconds()
	}
	recvRate := rate(recv)
	b.ReportMetric(recvRate, "recvlogical-tx/s")
	b.ReportMetric(rate(decode), "decode-tx/s")
	b.ReportMetric(rate(same), "e2e-same-tx/s")
	b.ReportMetric(rate(other), "e2e-other-tx/s")
	b.ReportMetric(100*rate(decode)/recvRate, "decode-%")
	b.ReportMetric(100*rate(same)/recvRate, "e2e-same-%")
	b.ReportMetric(100*rate(other)/recvRate, "e2e-other-%")
}

// copySlot copies the template slot, so each reader starts before the
// benchmark's writes, and drops the copy when the benchmark ends.
func copySlot(b *testing.B, conn *pgx.Conn, slot string) {
	b.Helper()

	benchExec(b, conn, "SELECT pg_copy_logical_replication_slot('template', $1)", slot)
	b.Cleanup(func() {
		_, _ = conn.Exec(context.Background(), "SELECT pg_drop_replication_slot($1)", slot)
	})
}

// timeRecvlogical runs pg_recvlogical on a copy of the template slot until
// it reaches endpos and returns its run time.
func timeRecvlogical(b *testing.B, cluster *pgtest.Cluster, conn *pgx.Conn, url, slot, endpos string) time.Duration {
	b.Helper()

	b.StopTimer()
	copySlot(b, conn, slot)
	cmd := exec.Command(cluster.Bin("pg_recvlogical"), "--dbname", url, "--slot", slot, "--start",
		"--endpos", endpos, "--no-loop", "--file", "/dev/null",
		"--option", "proto_version=1", "--option", "publication_names=bemi", "--option", "messages=true")
	b.StartTimer()

	start := time.Now()
	out, err := cmd.CombinedOutput()
	elapsed := time.Since(start)
	if err != nil {
		b.Fatalf("pg_recvlogical: %v\n%s", err, out)
	}

	return elapsed
}

// timeWorker runs a worker on a copy of the template slot until it has
// committed the given number of source transactions, and returns the time
// from the start of streaming, after the worker's connections, migrations
// and slot check, as pg_recvlogical's run has none of those.
func timeWorker(b *testing.B, conn *pgx.Conn, cfg capture.Config, transactions int, opts ...capture.Option) time.Duration {
	b.Helper()

	b.StopTimer()
	copySlot(b, conn, cfg.Slot)
	counter := &flushCounter{want: transactions, done: make(chan struct{})}
	w, err := capture.New(cfg, append(opts, capture.WithMetrics(counter))...)
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	result := make(chan error, 1)
	b.StartTimer()

	go func() { result <- w.Run(ctx) }()
	select {
	case <-counter.done:
	case err := <-result:
		cancel()
		b.Fatalf("worker on slot %s stopped early: %v", cfg.Slot, err)
	case <-time.After(10 * time.Minute):
		cancel()
		b.Fatalf("worker on slot %s committed %d of %d transactions in 10 minutes", cfg.Slot, counter.count(), transactions)
	}
	elapsed := time.Since(counter.streaming())
	b.Logf("slot %s: %s, %d destination commits took %s", cfg.Slot, elapsed.Round(time.Millisecond), counter.flushes, counter.flushTime.Round(time.Millisecond))

	b.StopTimer()
	cancel()
	if err := <-result; err != nil {
		b.Fatal(err)
	}
	b.StartTimer()

	return elapsed
}

// flushCounter closes done when the committed source transactions reach
// want, and records when streaming started.
type flushCounter struct {
	mu           sync.Mutex
	started      time.Time
	transactions int
	flushTime    time.Duration
	flushes      int
	want         int
	done         chan struct{}
}

func (c *flushCounter) Change(capture.ChangeEvent)       {}
func (c *flushCounter) Reconnect(capture.ReconnectEvent) {}

func (c *flushCounter) Flush(ev capture.FlushEvent) {
	c.mu.Lock()
	defer c.mu.Unlock()

	before := c.transactions
	c.transactions += ev.Transactions
	c.flushTime += ev.Duration
	c.flushes++
	if before < c.want && c.transactions >= c.want {
		close(c.done)
	}
}

func (c *flushCounter) Connected(capture.ConnectedEvent) {
	c.mu.Lock()
	defer c.mu.Unlock()

	if c.started.IsZero() {
		c.started = time.Now()
	}
}

func (c *flushCounter) Disconnected(capture.DisconnectedEvent) {}

func (c *flushCounter) streaming() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()

	return c.started
}

func (c *flushCounter) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()

	return c.transactions
}

func benchExec(b *testing.B, conn *pgx.Conn, sql string, args ...any) {
	b.Helper()

	if _, err := conn.Exec(context.Background(), sql, args...); err != nil {
		b.Fatalf("exec %q: %v", sql, err)
	}
}
