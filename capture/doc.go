// Package capture is the Bemi capture worker. It streams a PostgreSQL
// database's row changes from the write-ahead log and stitches each change
// to the application context of the statement that made it. The result is
// stored in a changes table, exactly once.
//
// # Running a worker
//
// The source database needs a publication and a logical replication slot
// (plugin pgoutput), which bemi setup creates. Then:
//
//	w, err := capture.New(capture.Config{
//		SourceURL: "postgres://app@db/app",
//	}, capture.WithLogger(slog.Default()))
//	if err != nil {
//		return err
//	}
//	return w.Run(ctx) // until ctx is canceled
//
// The bemi capture command runs the same worker, configured by flags and
// the DATABASE_URL and BEMI_DESTINATION_URL environment variables.
//
// # How it works
//
// Run reads the slot with the pgoutput protocol (version 1, with logical
// decoding messages) on a replication connection whose DateStyle, TimeZone,
// IntervalStyle, extra_float_digits and lc_monetary are pinned, so values
// arrive in one text form whatever the server's defaults. pgoutput sends
// each committed transaction whole, in commit order.
//
// Within a transaction, each change takes the context of the nearest
// preceding logical decoding message with prefix "_bemi" (core.Stitcher);
// the reset message {} ends a context. Messages with other prefixes and
// non-transactional messages are ignored. A payload that is not a JSON
// object, or is one that PostgreSQL's jsonb input rejects (too deeply
// nested, a number outside numeric's range, too large), is kept as text
// under core.InvalidContextKey and logged as a warning with its xid and
// LSN, never with its content.
//
// Change rows are copied (COPY) into the destination in batches of at most
// Config.MaxBatchRows rows or Config.MaxBatchBytes bytes, so a large source
// transaction never sits whole in memory. A writer goroutine does the
// copies and commits while the worker decodes the next changes; at most two
// commits and the batches queued before them are in flight. The
// destination transaction also
// updates the checkpoint row in bemi.checkpoints and commits when a source
// transaction is complete and Config.FlushInterval has passed since the
// first uncommitted one ended, or a batch limit is reached. Small source
// transactions thus share one destination transaction. Only after that
// commit is the position confirmed to the slot. After a crash, transactions
// whose commit LSN is at or below the checkpoint are skipped, so each
// change is stored once. A change is identified by its transaction's commit
// LSN (position) and its place in the transaction (ordinal), which stay
// distinct when one statement changes many rows.
//
// When the destination rejects a COPY with a data error (SQLSTATE class 22)
// or a program limit (class 54), the worker restreams from the checkpoint
// and copies the batches up to the rejected one under savepoints. A batch
// rejected again is copied row by row, and each rejected row is stored with
// its rejected values replaced by {RejectedKey: {...}}, so one row never
// stops the stream. Each such row is logged as an error and counted in
// FlushEvent.Rejected.
//
// While nothing received is waiting to be stored, the worker confirms the
// WAL position of the server's keepalive messages, so the slot does not
// retain WAL while captured tables are quiet and other tables are busy.
//
// A lost connection to the source or the destination is retried with
// exponential backoff from Config.ReconnectMinDelay to
// Config.ReconnectMaxDelay. Errors that a retry cannot fix end Run: a
// missing or invalidated slot (*SlotError), a failed authentication, a
// missing database, or a change that cannot be stored. The worker never
// creates a slot, because a new slot starts at the current position and
// would silently skip every change made since the old one stopped.
//
// When ctx is canceled, Run reads on until the source transaction in
// progress is complete (at most Config.DrainTimeout), commits and confirms
// what it has, and returns nil.
//
// # Status and metrics
//
// Worker.Status reads the slot, its lag and retained WAL, the published
// tables whose replica identity or trigger is broken, and the checkpoint,
// on connections of its own; bemi status prints it. WithMetrics passes the
// worker's events to a Metrics, and optionally to SessionMetrics,
// PositionMetrics and InvalidContextMetrics; package
// github.com/bemi-go/bemi/capture/monitor turns them into Prometheus
// metrics and health endpoints.
//
// # The changes table
//
// Migrate (run by Run at start) creates the changes table in
// Config.DestinationSchema, and bemi.migrations and bemi.checkpoints. Each
// row has:
//
//   - database, schema, table: the source table. A change to a partition
//     names its partitioned root table when the publication sets
//     publish_via_partition_root, as bemi setup does.
//   - operation: CREATE, UPDATE, DELETE or TRUNCATE.
//   - before and after: the row as a JSON object. before is {} for CREATE,
//     after is {} for DELETE, both are {} for TRUNCATE. An unchanged TOAST
//     value that pgoutput does not resend is taken from the old row, which
//     REPLICA IDENTITY FULL provides.
//   - primary_key: the primary key from the catalog (not a column named id):
//     the value as text for a one-column key, a JSON array of the values as
//     strings in key order for a composite key (["ann","acme"]), NULL for
//     TRUNCATE and tables without a primary key. An UPDATE that changes the
//     key stores the new key; the old one is in before.
//   - context: the stitched context, {} when the statement had none.
//   - committed_at, transaction_id (the xid, informational because xids
//     wrap), position (the commit LSN) and ordinal; unique on (position,
//     ordinal, database).
//
// Config.Columns excludes columns from before and after, or masks their
// values as MaskedValue. primary_key always holds the real key, because it
// identifies the row.
//
// # Limits
//
// A Relation message from pgoutput precedes the first change of a table
// and every change after an ALTER TABLE, so added and dropped columns are
// handled. The primary key is read from the catalog when that message
// arrives, so a key changed while older changes are still being read
// applies to them too. One worker reads one slot; a slot belongs to one
// database. The checkpoint is keyed by slot and database name, so
// destinations shared by several source servers need distinct slot names.
// pgoutput does not send generated columns (before PostgreSQL 18), unlogged
// or temporary tables, sequences or large objects, so those are never
// captured.
package capture
