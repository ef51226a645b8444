package capture

// WithDiscardedRows makes the worker decode, convert and stitch changes as
// usual, then drop the rows and checkpoints instead of writing them. The
// benchmarks use it to measure the worker without its destination. It
// also confirms positions to the slot, so use a slot of its own.
func WithDiscardedRows() Option {
	return func(w *Worker) { w.discard = true }
}
