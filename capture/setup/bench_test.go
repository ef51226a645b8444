package setup

import (
	"context"
	"testing"

	"github.com/bemi-go/bemi/core"
	"github.com/bemi-go/bemi/core/pgtest"
	"github.com/jackc/pgx/v5"
)

// BenchmarkTriggerOverhead measures a single-row INSERT in autocommit mode on
// a tracked table (no context, a comment context, the setting) and on the
// same table untracked, over one connection. Each tracked statement with
// context emits one _bemi message, because every autocommit statement starts
// a new transaction. Run with -benchtime=2s; compare ns/op of the pairs.
func BenchmarkTriggerOverhead(b *testing.B) {
	conn, payload := benchTables(b, "")
	ctx := context.Background()

	insert := func(table string) string { return "INSERT INTO " + table + " (title) VALUES ($1)" }
	plain := func(table string) func(*testing.B) {
		return func(b *testing.B) {
			sql := insert(table)
			for b.Loop() {
				if _, err := conn.Exec(ctx, sql, "task"); err != nil {
					b.Fatal(err)
				}
			}
		}
	}
	comment := func(table string) func(*testing.B) {
		return func(b *testing.B) {
			// The same comment every time, so pgx's statement cache still
			// hits: this measures the trigger, not a cache miss.
			sql := core.AppendComment(insert(table), payload)
			for b.Loop() {
				if _, err := conn.Exec(ctx, sql, "task"); err != nil {
					b.Fatal(err)
				}
			}
		}
	}
	setting := func(table string) func(*testing.B) {
		return func(b *testing.B) {
			sql := insert(table)
			for b.Loop() {
				batch := &pgx.Batch{}
				batch.Queue("SELECT set_config($1, $2, true)", core.SettingName, string(payload))
				batch.Queue(sql, "task")
				batch.Queue("SELECT set_config($1, '', true)", core.SettingName)
				if err := conn.SendBatch(ctx, batch).Close(); err != nil {
					b.Fatal(err)
				}
			}
		}
	}

	b.Run("untracked/no-context", plain("untracked"))
	b.Run("tracked/no-context", plain("tracked"))
	b.Run("untracked/comment", comment("untracked"))
	b.Run("tracked/comment", comment("tracked"))
	b.Run("untracked/setting", setting("untracked"))
	b.Run("tracked/setting", setting("tracked"))
}

// serverLoopSQL creates one procedure per table that inserts one row per
// transaction, n times, so BenchmarkTriggerServerSide measures the server's
// work without round trips. With mode 'setting' each transaction first sets
// the context, alternating between two values. With mode 'comment' the
// trigger finds the Bemi comment of the CALL statement, because
// current_query() returns the CALL inside a procedure.
const serverLoopSQL = `
CREATE PROCEDURE loop_tracked(n int, mode text, payload text) LANGUAGE plpgsql AS $$
BEGIN
    FOR i IN 1..n LOOP
        IF mode = 'setting' THEN
            PERFORM set_config('bemi.context', payload || repeat(' ', i % 2), true);
        END IF;
        INSERT INTO tracked (title) VALUES ('task');
        COMMIT;
    END LOOP;
END $$;
CREATE PROCEDURE loop_untracked(n int, mode text, payload text) LANGUAGE plpgsql AS $$
BEGIN
    FOR i IN 1..n LOOP
        IF mode = 'setting' THEN
            PERFORM set_config('bemi.context', payload || repeat(' ', i % 2), true);
        END IF;
        INSERT INTO untracked (title) VALUES ('task');
        COMMIT;
    END LOOP;
END $$;`

// BenchmarkTriggerServerSide measures what the trigger costs the server per
// single-row transaction, without the client and the network. A procedure
// runs b.N one-row transactions. Compare ns/op of tracked and untracked for
// each mode. Every transaction of the setting and comment modes emits one
// _bemi message.
func BenchmarkTriggerServerSide(b *testing.B) {
	conn, payload := benchTables(b, serverLoopSQL)
	ctx := context.Background()

	for _, mode := range []string{"no-context", "setting", "comment"} {
		for _, table := range []string{"untracked", "tracked"} {
			b.Run(table+"/"+mode, func(b *testing.B) {
				call := "CALL loop_" + table + "($1, $2, $3)"
				if mode == "comment" {
					call = core.AppendComment(call, payload)
				}
				b.ResetTimer()
				if _, err := conn.Exec(ctx, call, b.N, mode, string(payload)); err != nil {
					b.Fatal(err)
				}
			})
		}
	}
}

// benchTables creates the tables tracked and untracked, with the same
// columns, in a new database, runs extraSQL there and sets up tracking for
// tracked only. It returns a connection and the payload of a typical
// four-field context.
func benchTables(b *testing.B, extraSQL string) (*pgx.Conn, []byte) {
	b.Helper()

	dbURL := pgtest.NewDatabase(b)
	conn := connect(b, dbURL)
	mustExec(b, conn, `
CREATE TABLE tracked (id bigserial PRIMARY KEY, title text NOT NULL, done boolean NOT NULL DEFAULT false);
CREATE TABLE untracked (LIKE tracked INCLUDING ALL);`+extraSQL)
	cfg := testConfig(b, dbURL)
	cfg.SkipSlot = true
	cfg.ExcludeTables = []string{"untracked"}
	mustRun(b, conn, cfg)

	payload, err := (&core.Encoder{}).Encode(core.Fields{
		"userId": 187234, "endpoint": "/todos/{id}", "method": "POST", "traceId": "4bf92f3577b34da6a3ce929d0e0e4736",
	})
	if err != nil {
		b.Fatal(err)
	}

	return conn, payload
}
