package monitor

import (
	"fmt"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// NotReadyError is the error of Ready: why the worker is not ready.
type NotReadyError struct {
	// Reason describes what is missing.
	Reason string

	// Err is the last connection error the worker reported, if any. Its
	// text has the passwords of the connection strings removed.
	Err error
}

func (e *NotReadyError) Error() string {
	if e.Err != nil {
		return e.Reason + ": last error: " + e.Err.Error()
	}

	return e.Reason
}

func (e *NotReadyError) Unwrap() error { return e.Err }

// Ready returns nil when the worker is streaming from its slot with both
// connections up, and its last destination commit, standby status update or
// received keepalive is at most Options.ReadyMaxAge old. Otherwise it
// returns a *NotReadyError.
func (m *Monitor) Ready() error {
	m.mu.Lock()
	defer m.mu.Unlock()

	if !m.isConnected {
		return &NotReadyError{Reason: "not streaming: the worker is not connected to the source and the destination", Err: m.lastError}
	}
	if age := m.now().Sub(m.lastActive); age > m.maxAge {
		return &NotReadyError{Reason: fmt.Sprintf("stalled: no destination commit, status update or keepalive for %s (limit %s)",
			age.Round(time.Millisecond), m.maxAge)}
	}

	return nil
}

// Handler returns an http.Handler that serves:
//
//   - GET /metrics: the metrics of gatherer (normally the registry passed
//     to New) in the Prometheus text format.
//   - GET /healthz: 200 while the process runs.
//   - GET /readyz: 200 when Ready returns nil, else 503 with the reason.
func (m *Monitor) Handler(gatherer prometheus.Gatherer) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(gatherer, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if err := m.Ready(); err != nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprintln(w, err)

			return
		}
		fmt.Fprintln(w, "ready")
	})

	return mux
}
