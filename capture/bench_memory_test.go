package capture_test

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/bemi-go/bemi/core/pgtest"
)

// BenchmarkPeakMemory runs bemi capture as a child process while it
// captures one transaction of 2,000,000 inserted rows, and reports the
// child's peak resident set size (VmHWM in /proc/<pid>/status) as
// peak-rss-MB, the highest Go heap in use seen on its /metrics endpoint
// every 50 ms as peak-heap-MB, and the end-to-end rate as rows/s.
func BenchmarkPeakMemory(b *testing.B) {
	bin := buildBemi(b)
	cluster, err := pgtest.Start(pgtest.Options{IgnoreEnv: true, Durable: true})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = cluster.Stop() })
	url, err := cluster.CreateDatabase("memory")
	if err != nil {
		b.Fatal(err)
	}
	conn := connect(b, url)
	benchExec(b, conn, `
CREATE TABLE items (id int PRIMARY KEY, name text, price numeric, at timestamptz);
ALTER TABLE items REPLICA IDENTITY FULL;
CREATE PUBLICATION bemi FOR TABLE items WITH (publish_via_partition_root = true)`)
	benchExec(b, conn, "SELECT pg_create_logical_replication_slot('memory', 'pgoutput')")

	rows := benchSize(b, 2000000)
	var peakRSS, peakHeap float64
	var elapsed time.Duration
	b.ResetTimer()
	for i := range b.N {
		b.StopTimer()
		start := time.Now()
		benchExec(b, conn, fmt.Sprintf(`BEGIN;
SELECT pg_logical_emit_message(true, '_bemi', '{"job":"import","run":%d}');
INSERT INTO items SELECT g, 'item ' || g, g * 1.5, now() FROM generate_series(%d, %d) g;
COMMIT`, i, i*rows+1, (i+1)*rows))
		b.Logf("wrote one transaction of %d rows in %s", rows, time.Since(start).Round(time.Millisecond))
		b.StartTimer()

		run := measureCapture(b, bin, url, (i+1)*rows)
		elapsed += run.elapsed
		peakRSS = max(peakRSS, run.rssMB)
		peakHeap = max(peakHeap, run.heapMB)
	}
	b.StopTimer()

	b.ReportMetric(peakRSS, "peak-rss-MB")
	b.ReportMetric(peakHeap, "peak-heap-MB")
	b.ReportMetric(float64(rows*b.N)/elapsed.Seconds(), "rows/s")
}

// captureRun is what measureCapture observed.
type captureRun struct {
	elapsed time.Duration
	rssMB   float64
	heapMB  float64
}

// measureCapture starts bemi capture and samples its memory until its
// metrics count want stored changes, then stops it with SIGTERM.
func measureCapture(b *testing.B, bin, url string, want int) captureRun {
	b.Helper()

	cmd := exec.Command(bin, "capture", "--slot", "memory", "--listen", "127.0.0.1:0")
	cmd.Env = append(os.Environ(), "DATABASE_URL="+url, "BEMI_DESTINATION_URL=")
	logs := &lockedBuffer{}
	cmd.Stderr = logs
	start := time.Now()
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		if err := cmd.Wait(); err != nil {
			b.Errorf("bemi capture: %v\n%s", err, logs)
		}
	}()

	addr := waitListenAddress(b, logs)
	var run captureRun
	deadline := time.Now().Add(15 * time.Minute)
	for {
		metrics := scrapeText(b, "http://"+addr+"/metrics")
		run.heapMB = max(run.heapMB, metricValue(metrics, "go_memstats_heap_inuse_bytes")/(1<<20))
		if metricValue(metrics, `bemi_capture_changes_total{operation="CREATE"}`) >= float64(want) {
			run.elapsed = time.Since(start)

			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("bemi capture did not store %d changes in 15 minutes:\n%s", want, logs)
		}
		time.Sleep(50 * time.Millisecond)
	}

	run.rssMB = vmHWM(b, cmd.Process.Pid) / 1024

	return run
}

// buildBemi builds the bemi command into a temporary directory.
func buildBemi(b *testing.B) string {
	b.Helper()

	goTool := filepath.Join(runtime.GOROOT(), "bin", "go")
	path := filepath.Join(b.TempDir(), "bemi")
	out, err := exec.Command(goTool, "build", "-o", path, "./cmd/bemi").CombinedOutput()
	if err != nil {
		b.Fatalf("go build: %v\n%s", err, out)
	}

	return path
}

var listenAddress = regexp.MustCompile(`msg="serving metrics and health checks" addr=(\S+)`)

func waitListenAddress(b *testing.B, logs *lockedBuffer) string {
	b.Helper()

	deadline := time.Now().Add(30 * time.Second)
	for {
		if m := listenAddress.FindStringSubmatch(logs.String()); m != nil {
			return m[1]
		}
		if time.Now().After(deadline) {
			b.Fatalf("bemi capture logged no listen address:\n%s", logs)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func scrapeText(b *testing.B, url string) string {
	b.Helper()

	resp, err := http.Get(url)
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		b.Fatal(err)
	}

	return string(body)
}

// metricValue returns the value of the sample written exactly as name
// (with its labels) in the text format, or 0.
func metricValue(text, name string) float64 {
	for _, line := range strings.Split(text, "\n") {
		if value, ok := strings.CutPrefix(line, name+" "); ok {
			v, _ := strconv.ParseFloat(strings.TrimSpace(value), 64)

			return v
		}
	}

	return 0
}

// vmHWM returns the peak resident set size of a process in kB.
func vmHWM(b *testing.B, pid int) float64 {
	b.Helper()

	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()

	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
			if err != nil {
				b.Fatalf("parse VmHWM %q: %v", rest, err)
			}

			return kb
		}
	}
	b.Fatalf("no VmHWM in /proc/%d/status", pid)

	return 0
}

// lockedBuffer is a bytes.Buffer safe for concurrent use.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()

	return l.buf.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()

	return l.buf.String()
}
