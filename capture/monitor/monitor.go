package monitor

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/bemi-go/bemi/capture"
	"github.com/bemi-go/bemi/core"
)

// DefaultReadyMaxAge is the default of Options.ReadyMaxAge. It is six
// times capture.DefaultStatusInterval, the period of the worker's status
// updates, each of which counts as activity.
const DefaultReadyMaxAge = time.Minute

// Options configures a Monitor. The zero value works.
type Options struct {
	// ReadyMaxAge is the longest time since the worker's last destination
	// commit, standby status update or received keepalive for which Ready
	// reports the worker ready. Keep it above the worker's
	// Config.StatusInterval. Default DefaultReadyMaxAge.
	ReadyMaxAge time.Duration

	// Now returns the current time. Default time.Now; tests set it.
	Now func() time.Time
}

// Monitor receives a capture worker's events as a capture.Metrics (and
// its optional interfaces), keeps Prometheus collectors up to date and
// tracks whether the worker is ready. Create one per worker with New and
// pass it to capture.WithMetrics. Its methods are safe for concurrent use.
type Monitor struct {
	maxAge time.Duration
	now    func() time.Time

	decoded        prometheus.Counter
	written        map[core.Operation]prometheus.Counter
	withContext    prometheus.Counter
	withoutContext prometheus.Counter
	invalidContext prometheus.Counter
	rejectedRows   prometheus.Counter
	valueErrors    prometheus.Counter
	transactions   prometheus.Counter
	batchRows      prometheus.Histogram
	flushDuration  prometheus.Histogram
	lag            prometheus.Gauge
	checkpointLSN  prometheus.Gauge
	checkpointTime prometheus.Gauge
	reconnects     prometheus.Counter
	connected      prometheus.Gauge

	mu          sync.Mutex
	isConnected bool
	lastActive  time.Time
	lastError   error
}

var (
	_ capture.Metrics               = (*Monitor)(nil)
	_ capture.SessionMetrics        = (*Monitor)(nil)
	_ capture.PositionMetrics       = (*Monitor)(nil)
	_ capture.InvalidContextMetrics = (*Monitor)(nil)
	_ capture.ValueErrorMetrics     = (*Monitor)(nil)
)

// New returns a Monitor whose collectors are registered with reg, such as
// a prometheus.NewRegistry() of the worker's own. It never touches
// prometheus.DefaultRegisterer. To tell several workers apart in one
// registry, wrap reg with prometheus.WrapRegistererWith and a slot label.
func New(reg prometheus.Registerer, opts Options) (*Monitor, error) {
	if reg == nil {
		return nil, errors.New("new monitor: missing registerer: pass prometheus.NewRegistry()")
	}
	if opts.ReadyMaxAge <= 0 {
		opts.ReadyMaxAge = DefaultReadyMaxAge
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}

	m := &Monitor{maxAge: opts.ReadyMaxAge, now: opts.Now}
	counter := func(name, help string) prometheus.Counter {
		return prometheus.NewCounter(prometheus.CounterOpts{Namespace: "bemi", Subsystem: "capture", Name: name, Help: help})
	}
	gauge := func(name, help string) prometheus.Gauge {
		return prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "bemi", Subsystem: "capture", Name: name, Help: help})
	}

	written := prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "bemi", Subsystem: "capture", Name: "changes_total",
		Help: "Changes committed to the changes table, by operation.",
	}, []string{"operation"})
	m.written = make(map[core.Operation]prometheus.Counter)
	for _, op := range []core.Operation{core.OperationCreate, core.OperationUpdate, core.OperationDelete, core.OperationTruncate} {
		m.written[op] = written.WithLabelValues(string(op))
	}

	m.decoded = counter("changes_decoded_total", "Changes decoded and stitched, including changes decoded again after a reconnect.")
	m.withContext = counter("changes_with_context_total", "Changes committed with an application context.")
	m.withoutContext = counter("changes_without_context_total", "Changes committed with the empty context {}.")
	m.invalidContext = counter("invalid_context_payloads_total", "Context messages whose payload is not a JSON object, or is one that jsonb rejects.")
	m.rejectedRows = counter("rejected_rows_total", "Changes committed in degraded form because the destination rejected their values.")
	m.valueErrors = counter("value_errors_total", "Column values stored as JSON strings because they did not parse as their type.")
	m.transactions = counter("transactions_total", "Source transactions committed to the changes table.")
	m.reconnects = counter("reconnects_total", "Reconnect attempts after a lost connection.")
	m.lag = gauge("replication_lag_bytes", "WAL bytes between the source's current position and the position confirmed to the slot.")
	m.checkpointLSN = gauge("checkpoint_lsn", "Commit LSN of the last stored source transaction, as a number.")
	m.checkpointTime = gauge("checkpoint_commit_timestamp_seconds", "Source commit time of the last stored transaction, in Unix seconds.")
	m.connected = gauge("connected", "1 while the worker streams from the slot with both connections up, else 0.")
	m.batchRows = prometheus.NewHistogram(prometheus.HistogramOpts{
		Namespace: "bemi", Subsystem: "capture", Name: "batch_rows",
		Help:    "Change rows per destination commit.",
		Buckets: prometheus.ExponentialBuckets(1, 4, 10), // 1 to 262,144
	})
	m.flushDuration = prometheus.NewHistogram(prometheus.HistogramOpts{
		Namespace: "bemi", Subsystem: "capture", Name: "flush_duration_seconds",
		Help:    "Time of each destination commit, including its last COPY.",
		Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16), // 0.5 ms to 16 s
	})

	for _, c := range []prometheus.Collector{
		written, m.decoded, m.withContext, m.withoutContext, m.invalidContext, m.rejectedRows, m.valueErrors, m.transactions,
		m.batchRows, m.flushDuration, m.lag, m.checkpointLSN, m.checkpointTime, m.reconnects, m.connected,
	} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register capture metrics: %w", err)
		}
	}

	return m, nil
}

// Change counts a decoded change.
func (m *Monitor) Change(capture.ChangeEvent) {
	m.decoded.Inc()
}

// Flush counts the committed rows and transactions and records the
// checkpoint.
func (m *Monitor) Flush(ev capture.FlushEvent) {
	m.written[core.OperationCreate].Add(float64(ev.Created))
	m.written[core.OperationUpdate].Add(float64(ev.Updated))
	m.written[core.OperationDelete].Add(float64(ev.Deleted))
	m.written[core.OperationTruncate].Add(float64(ev.Truncated))
	m.withContext.Add(float64(ev.WithContext))
	m.withoutContext.Add(float64(ev.Rows - ev.WithContext))
	m.rejectedRows.Add(float64(ev.Rejected))
	m.transactions.Add(float64(ev.Transactions))
	m.batchRows.Observe(float64(ev.Rows))
	m.flushDuration.Observe(ev.Duration.Seconds())
	// NOTE: a float64 holds LSNs exactly up to 2^53, which is 8 PiB of WAL.
	m.checkpointLSN.Set(float64(ev.Checkpoint.CommitLSN))
	if !ev.Checkpoint.CommittedAt.IsZero() {
		m.checkpointTime.Set(float64(ev.Checkpoint.CommittedAt.UnixNano()) / 1e9)
	}

	m.active(m.now())
}

// Reconnect counts a reconnect attempt.
func (m *Monitor) Reconnect(ev capture.ReconnectEvent) {
	m.reconnects.Inc()

	m.mu.Lock()
	m.lastError = ev.Err
	m.mu.Unlock()
}

// Connected marks the worker as streaming.
func (m *Monitor) Connected(capture.ConnectedEvent) {
	m.connected.Set(1)

	m.mu.Lock()
	m.isConnected = true
	m.lastActive = m.now()
	m.lastError = nil
	m.mu.Unlock()
}

// Disconnected marks the worker as not streaming.
func (m *Monitor) Disconnected(ev capture.DisconnectedEvent) {
	m.connected.Set(0)

	m.mu.Lock()
	m.isConnected = false
	if ev.Err != nil {
		m.lastError = ev.Err
	}
	m.mu.Unlock()
}

// Position updates the lag gauge and counts as activity.
func (m *Monitor) Position(ev capture.PositionEvent) {
	if ev.ServerWALEnd != 0 {
		m.lag.Set(float64(ev.Lag()))
	}

	m.active(ev.Time)
}

// InvalidContext counts a context payload kept as text.
func (m *Monitor) InvalidContext(capture.InvalidContextEvent) {
	m.invalidContext.Inc()
}

// ValueError counts a column value that did not parse as its type.
func (m *Monitor) ValueError(capture.ValueErrorEvent) {
	m.valueErrors.Inc()
}

func (m *Monitor) active(at time.Time) {
	m.mu.Lock()
	if at.After(m.lastActive) {
		m.lastActive = at
	}
	m.mu.Unlock()
}
