// Package entbemi attaches the application context of Bemi change tracking
// to the writes of an ent client. A dialect.Driver wrapper sends each
// write's context (see core.With) to the database trigger that bemi setup
// installs, and an optional ent hook adds ent's own facts, the schema type
// and the operation, to that context.
//
// # A first client
//
//	import (
//		"database/sql"
//
//		"entgo.io/ent/dialect"
//		entsql "entgo.io/ent/dialect/sql"
//		_ "github.com/jackc/pgx/v5/stdlib"
//
//		"github.com/bemi-go/bemi/core"
//		"github.com/bemi-go/bemi/entbemi"
//		"example.com/app/ent"
//	)
//
//	db, err := sql.Open("pgx", os.Getenv("DATABASE_URL"))
//	if err != nil {
//		return err
//	}
//	drv := entbemi.NewDriver(entsql.OpenDB(dialect.Postgres, db), entbemi.Config{})
//	client := ent.NewClient(ent.Driver(drv))
//	client.Use(entbemi.Hook(entbemi.HookConfig{})) // optional: adds entType and entOp
//
//	ctx = core.With(ctx, core.Fields{"userId": 187234, "endpoint": "/todos/{id}"})
//	todo, err := client.Todo.Create().SetTitle("buy milk").Save(ctx)
//
// The INSERT's row change reaches the changes table with the context
// {"endpoint":"/todos/{id}","entOp":"Create","entType":"Todo","userId":187234}.
// Every write carries the context of the ctx it runs with: Create,
// CreateBulk, Update, UpdateOne, Delete and DeleteOne, the extra statements
// that ent sends for edges, and writes inside client.Tx and client.BeginTx.
// So does raw SQL through the ExecContext and QueryContext methods that
// ent generates with its sql/execquery feature. Reads, and writes whose ctx
// carries no fields, go to the wrapped driver unchanged.
//
// # How the context travels, and why
//
// A Driver picks one of two mechanisms when it is created (see Mechanism):
//
//   - MechanismSetting, when the wrapped driver is an *entsql.Driver over a
//     *sql.DB of the pgx stdlib driver. The Driver takes a connection from
//     that *sql.DB, reaches its *pgx.Conn through sql.Conn.Raw, and sends
//     SELECT set_config('bemi.context', $1, true) and the statement as one
//     pgx batch. Outside a transaction the batch is one implicit
//     transaction, so the setting lasts exactly for the statement. The
//     statement text is the same for every request, so pgx's statement
//     cache keeps working. Rows of an annotated INSERT ... RETURNING are
//     read into memory and returned as *sql.Rows that hold the values the
//     pgx stdlib driver returns (see below). Transactions run on a
//     connection that the Tx holds, and send set_config only when the
//     context changes (see Tx). The SET and RESET statements of
//     entsql.WithVar go into the same batch.
//   - MechanismComment for any other wrapped driver, such as lib/pq or a
//     tracing wrapper that hides the *sql.DB: the context is appended to the
//     statement as /*Bemi <json> Bemi*/.
//
// The setting is the default because the comment defeats pgx's statement
// cache: each request's statement text is new, so pgx prepares it again.
// Measured through ent on PostgreSQL 15 with fsync on, one connection over
// loopback, on a shared 2-core machine (medians of interleaved runs, see
// bench_test.go): a single-row Create takes 327 us untracked, 340 us on the
// tracked table without context, 372 us with the setting and 525 us with
// the comment. A 1,000-row CreateBulk takes 6.5 ms untracked, 6.9 ms with
// the setting and 9.1 ms with the comment. docs/benchmarks.md has every
// operation. Of the setting's cost, the Go side (reading WithVar variables,
// buffering RETURNING rows) is about 1.5 us per statement; the rest is the
// set_config statement and the logical message in the database.
//
// # Writes that return rows
//
// The pgx stdlib driver requests binary results for a few types (bool,
// bytea, integers, floats, oid, xid, cid, date, timestamp and
// timestamptz) and text for all others. So for a time it returns the
// server's "12:00:00.5", and for a two-dimensional array the server's
// "{{1,2},{3,4}}". A pgx batch cannot choose result formats. It receives
// binary for every type that pgx can decode, and pgx's own text form of
// some of those values differs from the server's. So with
// MechanismSetting, the Driver describes each text of an annotated
// statement that returns rows once, and then sends it one of two ways:
//
//   - When every result column has a type for which a batch gives the
//     driver's values (those above, and numeric, uuid, text types, json,
//     jsonb, xml, enums and other types that pgx receives as text), in
//     the batch described above. An ent Create is one round trip.
//   - Otherwise, as in RETURNING a time, an interval, an array, a range
//     or row(...), in a pgconn pipeline that holds the same statements as
//     the batch and requests the driver's result formats. That is one
//     round trip and one implicit transaction too. In pgx's default
//     cache_statement mode, set_config and the statement run as named
//     prepared statements that the pipeline prepares the first time a
//     connection needs them. Each connection keeps at most as many as its
//     pgx statement cache holds (StatementCacheCapacity, 512 by default
//     in pgx v5.13), and deallocates the least recently used. In the
//     cache_describe and describe_exec modes they run as the unnamed
//     statement, so the server parses them on every run.
//
// In pgx's exec and simple_protocol modes the driver receives every
// column as text, as a batch does, so every statement goes in the batch
// without a description.
//
// These cost an extra round trip:
//
//   - The first run of each statement text that returns rows, to describe
//     it (a Prepare of the unnamed statement). A Driver records up to
//     1,024 texts and then starts again with none.
//   - The next run of a statement that went in the pipeline and failed,
//     which describes it again in case its table changed.
//   - A pipeline whose named statements DEALLOCATE ALL or DISCARD ALL
//     removed from the connection. Outside a transaction it runs again
//     and prepares them. Inside one, the write fails with SQLSTATE 26000
//     and aborts the transaction.
//   - A write whose arguments start with a pgx query option (an exec mode,
//     result formats, or a query rewriter such as pgx.NamedArgs), which a
//     batch cannot carry. Outside a transaction it goes with the comment,
//     in pgx's describe_exec mode so that no statement cache fills with
//     commented texts, which takes two round trips. In a transaction the
//     Tx sends set_config in a statement of its own when the context
//     changes.
//
// As with the stdlib driver, pgx also prepares each new statement text
// once per connection for its statement cache.
//
// # Transactions
//
// Driver.Tx and Driver.BeginTx return a *Tx. With MechanismSetting it runs
// a database/sql transaction on a connection that it holds, so a write
// whose context differs from the last one goes out in one batch with its
// set_config, and a transaction that writes under one context pays one
// set_config. A write without context after one with context clears the
// setting, so the trigger emits its reset message. ROLLBACK TO SAVEPOINT
// undoes set_config, so after a statement that starts with ROLLBACK the Tx
// sets or clears the setting again before the next write. As with
// database/sql, the transaction rolls back when the context of BeginTx is
// done, and its connection then returns to the pool.
//
// # Limits
//
//   - With MechanismSetting, the batches and the transactions run on
//     connections that entbemi takes from the *sql.DB itself, so a
//     *dialect.DebugDriver between the Driver and the *entsql.Driver does
//     not log them. A pgx tracer (pgx.ConnConfig.Tracer) sees every batch.
//   - The rows of an annotated statement are in memory before Query
//     returns, so a raw UPDATE ... RETURNING over millions of rows needs
//     the memory for all of them.
//   - The stdlib driver returns the rows before an error that the server
//     reports after the first row, and the error from rows.Next. For an
//     annotated statement, Query and QueryContext return the error alone.
//   - Inside a transaction, a SELECT that calls a function that writes sees
//     the setting of the transaction's last annotated write, unless
//     Config.AllStatements annotates it with its own context.
//   - Config.AllStatements annotates every statement. With the comment, the
//     per-request statement text then defeats pgx's statement cache for
//     reads too.
//   - A context that encoding/json cannot encode (a channel, a function)
//     makes the write fail with an error that names the field, rather than
//     run without its context.
//   - Contexts reach the WAL only for tables that bemi setup tracks: other
//     tables have no trigger, and their writes still get the batch.
package entbemi
