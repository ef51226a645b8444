// Package entbemi attaches the application context of Bemi change tracking
// to the writes of an ent client: a dialect.Driver wrapper that sends each
// write's context (see core.With) to the database trigger that bemi setup
// installs, and an ent hook that adds ent's own facts, the schema type and
// the operation, to that context.
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
// Create, CreateBulk, Update, UpdateOne, Delete, DeleteOne, upserts, the
// extra statements that ent sends for edges, writes inside client.Tx and
// client.BeginTx, and raw SQL through the generated ExecContext and
// QueryContext (ent's sql/execquery feature) all carry the context of the
// ctx they run with. Reads and writes whose ctx has no fields go to the
// wrapped driver unchanged.
//
// # How the context travels, and why
//
// A Driver picks one of two mechanisms when it is created (see Mechanism):
//
//   - MechanismSetting, when the wrapped driver is an *entsql.Driver over a
//     *sql.DB of the pgx stdlib driver. Outside a transaction, the Driver
//     takes a connection from that *sql.DB (sql.Conn.Raw) and sends
//     SELECT set_config('bemi.context', $1, true) and the statement as one
//     pgx batch. The batch is one round trip and one implicit transaction,
//     so the setting lasts exactly for the statement, and the statement text
//     stays the same for every request, so pgx's statement cache keeps
//     working. Rows of an annotated INSERT ... RETURNING are read into
//     memory and handed back as *sql.Rows holding the values that the pgx
//     stdlib driver would give. Inside a transaction, which database/sql
//     owns, set_config is a statement of its own, sent only when the
//     context differs from the one set last in that transaction; a write
//     without context after one with context clears the setting first, so
//     the trigger emits its reset message.
//   - MechanismComment for any other wrapped driver (lib/pq, or a tracing
//     wrapper that hides the *sql.DB): the context is appended to the
//     statement as /*Bemi <json> Bemi*/.
//
// Measured through ent on PostgreSQL 15 with fsync on, one connection over
// loopback (go test -bench . in this package, medians of interleaved
// runs): a single-row Create takes 292 us untracked, 299 us on the tracked
// table without context, 330 us with the setting and 514 us with the
// comment, because pgx's default statement cache prepares every new comment
// text anew. See docs/benchmarks.md for all operations.
//
// # Transactions
//
// Driver.Tx and Driver.BeginTx return a *Tx over the wrapped driver's
// transaction. A transaction that writes under one context pays one
// set_config. ROLLBACK TO SAVEPOINT undoes set_config, so after a statement
// that starts with ROLLBACK the Tx sets or clears the setting again before
// the next write.
//
// # Limits
//
//   - With MechanismSetting, an annotated statement outside a transaction
//     runs on a connection of the wrapped *sql.DB that entbemi takes itself,
//     so a database/sql or ent tracing wrapper around that *sql.DB does not
//     see it. Its rows are in memory before Query returns: a raw
//     UPDATE ... RETURNING over millions of rows needs the memory for them.
//   - The session variables of entsql.WithVar are honored: they are sent in
//     the same batch, before and after the statement.
//   - Inside a transaction, a SELECT that calls a function that writes sees
//     the setting of the transaction's last annotated write, unless
//     Config.AllStatements annotates it with its own context.
//   - Config.AllStatements annotates every statement; with the comment, a
//     per-request statement text defeats pgx's statement cache for reads too.
//   - A context that encoding/json cannot encode (a channel, a function)
//     makes the write fail with an error that names the field, rather than
//     run without its context.
package entbemi
