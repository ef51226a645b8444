package monitor_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/bemi-go/bemi/capture"
	"github.com/bemi-go/bemi/capture/monitor"
	"github.com/bemi-go/bemi/capture/setup"
	"github.com/bemi-go/bemi/core/pgtest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Run(m)) }

// clock is a settable time for Options.Now.
type clock struct{ now time.Time }

func (c *clock) Now() time.Time { return c.now }

func newMonitor(t *testing.T, opts monitor.Options) (*monitor.Monitor, *prometheus.Registry) {
	t.Helper()

	reg := prometheus.NewPedanticRegistry()
	mon, err := monitor.New(reg, opts)
	if err != nil {
		t.Fatal(err)
	}

	return mon, reg
}

func TestReadyFollowsConnectionAndActivity(t *testing.T) {
	t.Parallel()
	c := &clock{now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	mon, _ := newMonitor(t, monitor.Options{ReadyMaxAge: time.Minute, Now: c.Now})

	var notReady *monitor.NotReadyError
	if err := mon.Ready(); !errors.As(err, &notReady) || !strings.Contains(err.Error(), "not connected") {
		t.Fatalf("Ready before Connected = %v, want not connected", err)
	}

	mon.Connected(capture.ConnectedEvent{Slot: "bemi"})
	if err := mon.Ready(); err != nil {
		t.Fatalf("Ready after Connected = %v, want nil", err)
	}

	c.now = c.now.Add(61 * time.Second)
	if err := mon.Ready(); err == nil || !strings.Contains(err.Error(), "stalled") {
		t.Fatalf("Ready after 61s without activity = %v, want stalled", err)
	}

	mon.Position(capture.PositionEvent{Time: c.now})
	if err := mon.Ready(); err != nil {
		t.Fatalf("Ready after a position event = %v, want nil", err)
	}

	c.now = c.now.Add(30 * time.Second)
	mon.Flush(capture.FlushEvent{Rows: 1, Transactions: 1})
	c.now = c.now.Add(45 * time.Second)
	if err := mon.Ready(); err != nil {
		t.Fatalf("Ready 45s after a flush = %v, want nil", err)
	}

	lost := errors.New("connect to source: connection refused")
	mon.Disconnected(capture.DisconnectedEvent{Err: lost})
	err := mon.Ready()
	if !errors.Is(err, lost) {
		t.Fatalf("Ready after Disconnected = %v, want it to wrap the last error", err)
	}
}

func TestPositionSetsLag(t *testing.T) {
	t.Parallel()
	mon, reg := newMonitor(t, monitor.Options{})

	mon.Position(capture.PositionEvent{ServerWALEnd: 0x3000, Confirmed: 0x1000, Time: time.Now()})
	if got := gaugeValue(t, reg, "bemi_capture_replication_lag_bytes"); got != 0x2000 {
		t.Errorf("lag = %v, want %d", got, 0x2000)
	}

	// A confirmed position ahead of the last WAL reading is no lag.
	mon.Position(capture.PositionEvent{ServerWALEnd: 0x3000, Confirmed: 0x4000, Time: time.Now()})
	if got := gaugeValue(t, reg, "bemi_capture_replication_lag_bytes"); got != 0 {
		t.Errorf("lag = %v, want 0", got)
	}
}

func TestFlushCountsRejectedRows(t *testing.T) {
	t.Parallel()
	mon, reg := newMonitor(t, monitor.Options{})

	mon.Flush(capture.FlushEvent{Rows: 5, Transactions: 2, Created: 5, Rejected: 2})
	mon.Flush(capture.FlushEvent{Rows: 1, Transactions: 1, Created: 1})

	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]*dto.MetricFamily{}
	for _, f := range families {
		byName[f.GetName()] = f
	}
	if got := value(byName, "bemi_capture_rejected_rows_total"); got != 2 {
		t.Errorf("rejected_rows_total = %v, want 2", got)
	}
	if got := value(byName, `bemi_capture_changes_total{operation="CREATE"}`); got != 6 {
		t.Errorf("changes_total{CREATE} = %v, want 6: rejected rows are stored too", got)
	}
}

func TestNewRejectsDuplicateRegistration(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	if _, err := monitor.New(reg, monitor.Options{}); err != nil {
		t.Fatal(err)
	}
	if _, err := monitor.New(reg, monitor.Options{}); err == nil {
		t.Error("a second Monitor on the same registry registered, want an error")
	}
	if _, err := monitor.New(nil, monitor.Options{}); err == nil {
		t.Error("New(nil) succeeded, want an error")
	}
}

func TestHandlerHealthEndpoints(t *testing.T) {
	t.Parallel()
	mon, reg := newMonitor(t, monitor.Options{})
	srv := httptest.NewServer(mon.Handler(reg))
	t.Cleanup(srv.Close)

	if code, _ := get(t, srv.URL+"/healthz"); code != http.StatusOK {
		t.Errorf("/healthz = %d, want 200", code)
	}
	if code, body := get(t, srv.URL+"/readyz"); code != http.StatusServiceUnavailable || !strings.Contains(body, "not connected") {
		t.Errorf("/readyz before Connected = %d %q, want 503 and the reason", code, body)
	}
	mon.Connected(capture.ConnectedEvent{})
	if code, _ := get(t, srv.URL+"/readyz"); code != http.StatusOK {
		t.Errorf("/readyz after Connected = %d, want 200", code)
	}
	resp, err := http.Post(srv.URL+"/readyz", "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST /readyz = %d, want 405", resp.StatusCode)
	}
}

// TestWorkerMetricsScraped runs a real worker with a Monitor, makes
// changes with and without context, and scrapes the endpoint.
func TestWorkerMetricsScraped(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	dbURL := pgtest.NewDatabase(t)
	conn := connect(t, dbURL)
	exec(t, conn, "CREATE TABLE items (id int PRIMARY KEY, name text)")
	slot := "m_" + databaseName(t, dbURL)
	if _, err := setup.Run(ctx, conn, setup.Config{Slot: slot}); err != nil {
		t.Fatal(err)
	}

	mon, reg := newMonitor(t, monitor.Options{ReadyMaxAge: 2 * time.Second})
	w, err := capture.New(capture.Config{SourceURL: dbURL, Slot: slot, StatusInterval: 200 * time.Millisecond},
		capture.WithMetrics(mon))
	if err != nil {
		t.Fatal(err)
	}
	runCtx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(runCtx) }()
	t.Cleanup(cancel)

	srv := httptest.NewServer(mon.Handler(reg))
	t.Cleanup(srv.Close)

	// Three creates with context in one transaction, an update without
	// context, a delete with context after an invalid payload, and a
	// truncate.
	exec(t, conn, `INSERT INTO items VALUES (1, 'a'), (2, 'b'), (3, 'c') /*Bemi {"userId":1} Bemi*/`)
	exec(t, conn, "UPDATE items SET name = 'z' WHERE id = 1")
	exec(t, conn, `BEGIN; SELECT pg_logical_emit_message(true, '_bemi', 'not json'); DELETE FROM items WHERE id = 2; COMMIT`)
	exec(t, conn, `TRUNCATE items /*Bemi {"job":"reset"} Bemi*/`)
	waitRows(t, conn, 6)

	// The counters follow the Flush event, which the worker sends after
	// the commit that the test saw: poll briefly.
	want := map[string]float64{
		`bemi_capture_changes_total{operation="CREATE"}`:   3,
		`bemi_capture_changes_total{operation="UPDATE"}`:   1,
		`bemi_capture_changes_total{operation="DELETE"}`:   1,
		`bemi_capture_changes_total{operation="TRUNCATE"}`: 1,
		"bemi_capture_changes_with_context_total":          5,
		"bemi_capture_changes_without_context_total":       1,
		"bemi_capture_changes_decoded_total":               6,
		"bemi_capture_invalid_context_payloads_total":      1,
		"bemi_capture_rejected_rows_total":                 0,
		"bemi_capture_transactions_total":                  4,
		"bemi_capture_connected":                           1,
		"bemi_capture_reconnects_total":                    0,
	}
	var scraped map[string]*dto.MetricFamily
	deadline := time.Now().Add(10 * time.Second)
	for {
		scraped = scrape(t, srv.URL)
		if mismatch := compare(scraped, want); mismatch == "" {
			break
		} else if time.Now().After(deadline) {
			t.Fatalf("scraped metrics differ: %s", mismatch)
		}
		time.Sleep(50 * time.Millisecond)
	}

	batches := scraped["bemi_capture_batch_rows"].GetMetric()[0].GetHistogram()
	if batches.GetSampleCount() < 1 || batches.GetSampleSum() != 6 {
		t.Errorf("batch_rows: %d commits with %v rows, want at least 1 commit and 6 rows", batches.GetSampleCount(), batches.GetSampleSum())
	}
	if n := scraped["bemi_capture_flush_duration_seconds"].GetMetric()[0].GetHistogram().GetSampleCount(); n != batches.GetSampleCount() {
		t.Errorf("flush_duration_seconds has %d samples, want one per commit (%d)", n, batches.GetSampleCount())
	}
	cp, ok := w.Checkpoint()
	if !ok {
		t.Fatal("worker has no checkpoint")
	}
	if got := value(scraped, "bemi_capture_checkpoint_lsn"); pglogrepl.LSN(got) != cp.CommitLSN {
		t.Errorf("checkpoint_lsn = %s, want the worker's checkpoint %s", pglogrepl.LSN(got), cp.CommitLSN)
	}
	if got, want := value(scraped, "bemi_capture_checkpoint_commit_timestamp_seconds"), float64(cp.CommittedAt.Unix()); got < want || got > want+1 {
		t.Errorf("checkpoint_commit_timestamp_seconds = %v, want %v", got, want)
	}
	if _, ok := scraped["bemi_capture_replication_lag_bytes"]; !ok {
		t.Error("replication_lag_bytes is missing")
	}

	// Idle for longer than ReadyMaxAge: the status updates keep it ready.
	time.Sleep(2500 * time.Millisecond)
	if code, body := get(t, srv.URL+"/readyz"); code != http.StatusOK {
		t.Errorf("/readyz while idle = %d %q, want 200", code, body)
	}

	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run = %v", err)
	}
	if code, _ := get(t, srv.URL+"/readyz"); code != http.StatusServiceUnavailable {
		t.Errorf("/readyz after the worker stopped = %d, want 503", code)
	}
	if code, _ := get(t, srv.URL+"/healthz"); code != http.StatusOK {
		t.Errorf("/healthz = %d, want 200", code)
	}
	if got := value(scrape(t, srv.URL), "bemi_capture_connected"); got != 0 {
		t.Errorf("connected after stop = %v, want 0", got)
	}
}

// scrape reads /metrics in the text format.
func scrape(t *testing.T, base string) map[string]*dto.MetricFamily {
	t.Helper()

	code, body := get(t, base+"/metrics")
	if code != http.StatusOK {
		t.Fatalf("/metrics = %d: %s", code, body)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("parse /metrics: %v\n%s", err, body)
	}

	return families
}

// compare returns the first metric whose value differs from want, or "".
// A key is a metric name, optionally with one label as name{label="value"}.
func compare(families map[string]*dto.MetricFamily, want map[string]float64) string {
	for key, w := range want {
		if got := value(families, key); got != w {
			return fmt.Sprintf("%s = %v, want %v", key, got, w)
		}
	}

	return ""
}

// value returns a counter or gauge value, or -1 when it is missing.
func value(families map[string]*dto.MetricFamily, key string) float64 {
	name, label, _ := strings.Cut(strings.TrimSuffix(key, "}"), "{")
	f, ok := families[name]
	if !ok {
		return -1
	}
	for _, m := range f.GetMetric() {
		if label != "" && !hasLabel(m, label) {
			continue
		}
		switch {
		case m.GetCounter() != nil:
			return m.GetCounter().GetValue()
		case m.GetGauge() != nil:
			return m.GetGauge().GetValue()
		}
	}

	return -1
}

func hasLabel(m *dto.Metric, label string) bool {
	name, quoted, _ := strings.Cut(label, "=")
	for _, l := range m.GetLabel() {
		if l.GetName() == name && `"`+l.GetValue()+`"` == quoted {
			return true
		}
	}

	return false
}

func gaugeValue(t *testing.T, reg prometheus.Gatherer, name string) float64 {
	t.Helper()

	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() == name {
			return f.GetMetric()[0].GetGauge().GetValue()
		}
	}
	t.Fatalf("metric %s not gathered", name)

	return 0
}

func get(t *testing.T, u string) (int, string) {
	t.Helper()

	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}

	return resp.StatusCode, string(body)
}

func connect(t *testing.T, dbURL string) *pgx.Conn {
	t.Helper()

	conn, err := pgx.Connect(context.Background(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })

	return conn
}

func exec(t *testing.T, conn *pgx.Conn, sql string) {
	t.Helper()

	if _, err := conn.Exec(context.Background(), sql); err != nil {
		t.Fatalf("exec %q: %v", sql, err)
	}
}

// waitRows waits until the changes table holds n rows.
func waitRows(t *testing.T, conn *pgx.Conn, n int) {
	t.Helper()

	deadline := time.Now().Add(60 * time.Second)
	for {
		var count int
		err := conn.QueryRow(context.Background(), "SELECT count(*) FROM changes").Scan(&count)
		if err == nil && count >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("changes table holds %d rows after a minute (%v), want %d", count, err, n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func databaseName(t *testing.T, dbURL string) string {
	t.Helper()

	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}

	return strings.TrimPrefix(u.Path, "/")
}
