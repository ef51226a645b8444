// Package monitor exports a capture worker's state as Prometheus metrics
// and as health endpoints for a load balancer or an orchestrator.
//
// A Monitor implements capture.Metrics and its optional interfaces. Create
// one per worker, with a registry of the worker's own:
//
//	reg := prometheus.NewRegistry()
//	mon, err := monitor.New(reg, monitor.Options{})
//	if err != nil {
//		return err
//	}
//	w, err := capture.New(cfg, capture.WithMetrics(mon))
//	if err != nil {
//		return err
//	}
//	srv := &http.Server{Addr: "127.0.0.1:9187", Handler: mon.Handler(reg), ReadHeaderTimeout: 5 * time.Second}
//	go srv.ListenAndServe()
//	return w.Run(ctx)
//
// The bemi capture command does the same with --listen.
//
// # Metrics
//
// Every name starts with bemi_capture_:
//
//	changes_total{operation}             counter    changes committed to the changes table
//	changes_with_context_total           counter    of those, with an application context
//	changes_without_context_total        counter    of those, with the empty context {}
//	changes_decoded_total                counter    changes decoded, also again after a reconnect
//	invalid_context_payloads_total       counter    context messages kept as text: not JSON objects, or rejected by jsonb
//	rejected_rows_total                  counter    changes committed in degraded form after the destination rejected them
//	value_errors_total                   counter    column values stored as JSON strings because they did not parse as their type
//	transactions_total                   counter    source transactions committed
//	batch_rows                           histogram  change rows per destination commit
//	flush_duration_seconds               histogram  time of each destination commit
//	replication_lag_bytes                gauge      source WAL position minus the confirmed one
//	checkpoint_lsn                       gauge      commit LSN of the last stored transaction
//	checkpoint_commit_timestamp_seconds  gauge      its source commit time
//	reconnects_total                     counter    reconnect attempts
//	connected                            gauge      1 while streaming, else 0
//
// Changes per second are rate(bemi_capture_changes_total[1m]). The lag is
// read from the source (pg_current_wal_lsn) once per status interval of
// the worker, 10 seconds by default, so it lags by up to that interval.
//
// # Health
//
// /healthz returns 200 while the process runs. /readyz returns 200 while
// the worker streams from its slot, which it then holds as the active
// consumer, with both connections up, and its last destination commit,
// status update or keepalive is recent (Options.ReadyMaxAge). Otherwise it
// returns 503 with the reason and the last connection error.
//
// # Limits
//
// New registers nothing globally; add the Go and process collectors
// (prometheus/collectors) to the registry yourself if you want them. The
// counters start at zero with each process.
package monitor
