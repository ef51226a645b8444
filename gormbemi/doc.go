// Package gormbemi is the GORM plugin of Bemi for Go. It attaches the
// application context of each statement's context.Context (who, from which
// endpoint, with which parameters) to the writes that GORM sends to
// PostgreSQL. The capture worker then stores every row change together
// with that context.
//
// # A first example
//
//	db, err := gorm.Open(postgres.Open(dsn), &gorm.Config{})
//	if err != nil {
//		return err
//	}
//	if err := db.Use(gormbemi.New()); err != nil {
//		return err
//	}
//
//	// Usually an HTTP middleware does this once per request.
//	ctx = core.With(ctx, core.Fields{"userId": 187234, "endpoint": "/todo/{id}"})
//
//	db.WithContext(ctx).Create(&todo)           // carries the context
//	db.WithContext(ctx).Model(&todo).Update("done", true)
//	db.WithContext(ctx).Delete(&todo)
//
// Every write carries the context: Create, CreateInBatches, Save, Update,
// Updates, UpdateColumn(s), Delete and soft delete, upserts with
// clause.OnConflict, association saves, Exec and Raw with writing SQL,
// inside Transaction and nested savepoints. A 1,000-row Create sends the
// context once, and the trigger emits it once for the statement, not once
// per row. Reads (Find, First, Count, Pluck, Raw SELECT) are never
// annotated. A write without fields in its context carries none. When it
// follows a write with context in the same transaction, the trigger emits
// the reset message {} for it, so it never inherits the earlier context. The database side comes
// from bemi setup (package github.com/bemi-go/bemi/capture/setup).
//
// # How the context reaches the database
//
// The trigger that bemi setup installs reads the context from the
// transaction-local setting bemi.context, or, when that is empty, from a
// /*Bemi ... Bemi*/ comment at the end of the statement. A comment that
// differs per request makes every statement new to the statement caches:
// pgx's (512 statements, least recently used) and, with PrepareStmt, GORM's,
// which has no size limit by default. So the plugin keeps the statement
// text unchanged wherever a cache could see it, and picks the cheapest way
// for each statement:
//
//   - GORM's default transaction (every Create, Update and Delete unless
//     SkipDefaultTransaction is set): the plugin begins the transaction
//     itself on a reserved connection and sends BEGIN and
//     set_config('bemi.context', $1, true) as one pgx batch, in the round
//     trip that BEGIN alone would take. GORM then runs the statement and
//     commits as usual.
//   - The application's transaction (db.Transaction, db.Begin): set_config
//     on the transaction before the first write, and again only when the
//     context changes. A write without context after one with context
//     clears the setting; after ROLLBACK TO SAVEPOINT, which undoes
//     set_config, the next write sets it again.
//   - Exec outside a transaction: set_config and the statement as one pgx
//     batch, which PostgreSQL runs in one implicit transaction, so the
//     setting lasts exactly for the statement.
//   - A write that returns rows outside a transaction (Create with
//     SkipDefaultTransaction, Raw("INSERT ... RETURNING id").Scan): the
//     same batch. The plugin reads the rows into memory and returns them
//     as *sql.Rows or *sql.Row with the values that pgx's database/sql
//     driver gives. Before the first run of a statement text, it describes
//     the statement in a round trip of its own to check that it returns
//     only column types it converts exactly, and remembers the result for
//     up to 1,024 statement texts. Those are the types that
//     database/sql receives in binary format, text types, uuid, numeric,
//     json, jsonb, xml, enums and other types unknown to pgx. A statement
//     that returns another type, such as time, interval, an array or a
//     range, gets the comment instead. It bypasses GORM's prepared
//     statement cache and runs in pgx's QueryExecModeDescribeExec, so it
//     never enters pgx's cache either, which takes a second round trip.
//   - pgx modes that cache nothing by text (postgres.Config
//     PreferSimpleProtocol, or default_query_exec_mode simple_protocol,
//     exec or describe_exec in the DSN) without GORM's PrepareStmt: the
//     comment, for every write. It is free there. With the simple protocol
//     pgx puts the arguments into the statement text, but only the comment
//     at the very end of the text counts, so data that looks like a Bemi
//     comment never becomes context.
//
// set_config always runs on the connection of the statement it is for: on
// the same *sql.Tx, on the plugin's reserved *sql.Conn, or in the same
// batch.
//
// Measured with this package's benchmarks (GORM defaults, one connection,
// PostgreSQL 15 on loopback with fsync on, a shared 2-vCPU machine), a
// tracked single-row write with context cost 7% (insert) to 11% to 19%
// (delete, update) more than the same write on an untracked table, of
// which the trigger alone takes 2% to 4%. With set_config in a round trip
// of its own it cost 22% to 26% more, and with a per-statement comment in
// pgx's default mode 40% to 53% more. A 1,000-row insert cost 2% more.
// docs/benchmarks.md has the figures and how they were taken.
//
// # Options
//
// WithTables limits the context to some tables, WithSQL adds each
// statement's text under a key (Bemi's Prisma library uses "SQL"),
// WithMaxPayloadSize sets the size limit of an encoded context and
// WithLogger the logger for truncation warnings. A context that cannot be
// encoded as JSON (a channel or a function in core.Fields) fails the write
// with an error that names the field: running it without its context would
// lose the audit trail without notice.
//
// # Limits
//
//   - PostgreSQL only: db.Use returns an error on any other dialect.
//   - The fast paths need pgx's database/sql driver (the postgres
//     dialector's default, or a pool from stdlib.OpenDB). On another driver,
//     or a pool wrapped by a tracing driver, GORM's default transaction
//     takes one more round trip for set_config, and writes outside a
//     transaction carry the comment.
//   - With DefaultTransactionTimeout or WithSQL, GORM begins its default
//     transaction itself and set_config takes a round trip of its own; with
//     WithSQL the setting changes with every statement.
//   - Inside a transaction the setting keeps the last write's context
//     until the next write. A SELECT that calls a function which writes is
//     a read to the plugin, so its changes get the context of the
//     transaction's previous write. Statements sent past GORM, on the
//     *sql.Tx itself, are not seen by the plugin at all.
//   - Writes that share one transaction from several goroutines are
//     serialized, each from its set_config to the end of its call, so none
//     runs under another's context.
//   - db.Transaction and db.Begin send BEGIN on their own, so the first
//     write with context in such a transaction takes one more round trip
//     for set_config.
//   - WithTables cannot apply to Exec and Raw, which have no model: they
//     always carry the context.
//   - Outside a transaction, the rows of a write with context are in
//     memory before QueryContext returns, so a write that returns many
//     rows holds them all at once. An error that the server reports after
//     the first row comes back from the query, not from rows.Err as on
//     pgx's driver.
package gormbemi
