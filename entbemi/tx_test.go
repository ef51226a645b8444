package entbemi_test

import (
	"context"
	"database/sql"
	"strings"
	"testing"
	"time"

	"github.com/bemi-go/bemi/core"
	"github.com/bemi-go/bemi/entbemi"
)

func TestTxDifferentContexts(t *testing.T) {
	for _, m := range mechanisms {
		t.Run(m.name, func(t *testing.T) {
			e := newEnv(t, m.opts)

			tx, err := e.client.Tx(context.Background())
			if err != nil {
				t.Fatalf("begin: %v", err)
			}
			a := tx.Todo.Create().SetTitle("a").SaveX(userCtx(1))
			tx.Todo.Create().SetTitle("b").SaveX(userCtx(1))
			tx.Todo.UpdateOne(a).SetDone(true).ExecX(userCtx(2))
			// Without context after a statement with context: the
			// trigger must emit the reset.
			tx.Todo.Create().SetTitle("c").SaveX(context.Background())
			tx.Todo.Create().SetTitle("d").SaveX(context.Background())
			tx.Todo.DeleteOne(a).ExecX(userCtx(1))
			if err := tx.Commit(); err != nil {
				t.Fatalf("commit: %v", err)
			}

			txs := e.wal(t)
			if len(txs) != 1 {
				t.Fatalf("wrote %d transactions, want 1", len(txs))
			}
			equalLines(t, summary(txs[0].Changes), []string{
				`INSERT public.todos {"userId":1}`,
				`INSERT public.todos {"userId":1}`,
				`UPDATE public.todos {"userId":2}`,
				`INSERT public.todos `,
				`INSERT public.todos `,
				`DELETE public.todos {"userId":1}`,
			})
			equalLines(t, txs[0].Messages, []string{`{"userId":1}`, `{"userId":2}`, `{}`, `{"userId":1}`})
		})
	}
}

func TestTxBeginTxOptions(t *testing.T) {
	for _, m := range mechanisms {
		t.Run(m.name, func(t *testing.T) {
			e := newEnv(t, m.opts)
			ctx := userCtx(1)

			tx, err := e.client.BeginTx(ctx, &sql.TxOptions{Isolation: sql.LevelSerializable})
			if err != nil {
				t.Fatalf("begin: %v", err)
			}
			var level string
			rows, err := tx.QueryContext(ctx, "SHOW transaction_isolation")
			if err != nil {
				t.Fatalf("show isolation: %v", err)
			}
			for rows.Next() {
				if err := rows.Scan(&level); err != nil {
					t.Fatal(err)
				}
			}
			rows.Close()
			if level != "serializable" {
				t.Fatalf("transaction_isolation = %q, want serializable", level)
			}
			tx.Todo.Create().SetTitle("a").SaveX(ctx)
			if err := tx.Commit(); err != nil {
				t.Fatalf("commit: %v", err)
			}

			equalLines(t, summary(changes(e.wal(t))), []string{`INSERT public.todos {"userId":1}`})
		})
	}
}

func TestTxRollback(t *testing.T) {
	e := newEnv(t, envOptions{})

	tx, err := e.client.Tx(context.Background())
	if err != nil {
		t.Fatalf("begin: %v", err)
	}
	tx.Todo.Create().SetTitle("a").SaveX(userCtx(1))
	if err := tx.Rollback(); err != nil {
		t.Fatalf("rollback: %v", err)
	}
	e.client.Todo.Create().SetTitle("b").SaveX(userCtx(2))

	equalLines(t, summary(changes(e.wal(t))), []string{`INSERT public.todos {"userId":2}`})
}

// TestTxRollbackToSavepoint checks that a ROLLBACK TO SAVEPOINT, which
// undoes set_config, does not leave Tx believing that the setting still
// holds the later context.
func TestTxRollbackToSavepoint(t *testing.T) {
	for _, m := range mechanisms {
		t.Run(m.name, func(t *testing.T) {
			e := newEnv(t, m.opts)

			tx, err := e.client.Tx(context.Background())
			if err != nil {
				t.Fatalf("begin: %v", err)
			}
			tx.Todo.Create().SetTitle("a").SaveX(userCtx(1))
			tx.ExecContext(context.Background(), "SAVEPOINT s")
			tx.Todo.Create().SetTitle("b").SaveX(userCtx(2))
			if _, err := tx.ExecContext(context.Background(), "ROLLBACK TO SAVEPOINT s"); err != nil {
				t.Fatalf("rollback to savepoint: %v", err)
			}
			tx.Todo.Create().SetTitle("c").SaveX(userCtx(2))
			tx.Todo.Create().SetTitle("d").SaveX(context.Background())
			if err := tx.Commit(); err != nil {
				t.Fatalf("commit: %v", err)
			}

			equalLines(t, summary(changes(e.wal(t))), []string{
				`INSERT public.todos {"userId":1}`,
				`INSERT public.todos {"userId":2}`,
				`INSERT public.todos `,
			})
		})
	}
}

func TestTxRawExecContext(t *testing.T) {
	for _, m := range mechanisms {
		t.Run(m.name, func(t *testing.T) {
			e := newEnv(t, m.opts)
			ctx := userCtx(1)

			tx, err := e.client.Tx(ctx)
			if err != nil {
				t.Fatalf("begin: %v", err)
			}
			res, err := tx.ExecContext(ctx, "INSERT INTO todos (title, done) VALUES ($1, false), ($2, false)", "a", "b")
			if err != nil {
				t.Fatalf("insert: %v", err)
			}
			if n, _ := res.RowsAffected(); n != 2 {
				t.Fatalf("RowsAffected = %d, want 2", n)
			}
			rows, err := tx.QueryContext(userCtx(2), "UPDATE todos SET done = true WHERE title = $1 RETURNING title", "a")
			if err != nil {
				t.Fatalf("update returning: %v", err)
			}
			var titles []string
			for rows.Next() {
				var s string
				if err := rows.Scan(&s); err != nil {
					t.Fatal(err)
				}
				titles = append(titles, s)
			}
			rows.Close()
			if len(titles) != 1 || titles[0] != "a" {
				t.Fatalf("RETURNING gave %q, want [a]", titles)
			}
			if err := tx.Commit(); err != nil {
				t.Fatalf("commit: %v", err)
			}

			equalLines(t, summary(changes(e.wal(t))), []string{
				`INSERT public.todos {"userId":1}`,
				`INSERT public.todos {"userId":1}`,
				`UPDATE public.todos {"userId":2}`,
			})
		})
	}
}

// TestTxSetsSettingOncePerContext counts the set_config statements that
// reach pgx in a transaction: three writes under one context need one, and
// a write without context after them one more to clear the setting.
func TestTxSetsSettingOncePerContext(t *testing.T) {
	tracer := &sqlTracer{}
	e := newEnv(t, envOptions{tracer: tracer})
	if e.driver.Mechanism() != entbemi.MechanismSetting {
		t.Fatal("the test needs the setting mechanism")
	}

	ctx := userCtx(1)
	tx, err := e.client.Tx(ctx)
	if err != nil {
		t.Fatalf("begin: %v", err)
	}
	tracer.take()
	for _, title := range []string{"a", "b", "c"} {
		tx.Todo.Create().SetTitle(title).SaveX(ctx)
	}
	tx.Todo.Create().SetTitle("d").SaveX(context.Background())
	tx.Todo.Create().SetTitle("e").SaveX(context.Background())
	if err := tx.Commit(); err != nil {
		t.Fatalf("commit: %v", err)
	}

	queries := tracer.take()
	var sets, clears, inserts int
	for _, q := range queries {
		switch {
		case strings.Contains(q, "set_config('"+core.SettingName+"', $1"):
			sets++
		case strings.Contains(q, "set_config('"+core.SettingName+"', ''"):
			clears++
		case strings.HasPrefix(q, "INSERT"):
			inserts++
		}
	}
	if sets != 1 || clears != 1 || inserts != 5 {
		t.Fatalf("the transaction sent %d set_config, %d clears and %d inserts, want 1, 1 and 5:\n%s",
			sets, clears, inserts, strings.Join(queries, "\n"))
	}
	equalLines(t, summary(changes(e.wal(t))), []string{
		`INSERT public.todos {"userId":1}`,
		`INSERT public.todos {"userId":1}`,
		`INSERT public.todos {"userId":1}`,
		`INSERT public.todos `,
		`INSERT public.todos `,
	})
}

// TestTxContextDoneReleasesConnection cancels the context of a transaction
// that is never committed and checks that its connection returns to a pool
// of one.
func TestTxContextDoneReleasesConnection(t *testing.T) {
	for _, m := range mechanisms {
		t.Run(m.name, func(t *testing.T) {
			e := newEnv(t, m.opts)
			e.db.SetMaxOpenConns(1)

			ctx, cancel := context.WithCancel(userCtx(1))
			tx, err := e.client.Tx(ctx)
			if err != nil {
				t.Fatalf("begin: %v", err)
			}
			tx.Todo.Create().SetTitle("a").SaveX(ctx)
			cancel()

			wait, stop := context.WithTimeout(context.Background(), 10*time.Second)
			defer stop()
			if _, err := e.client.Todo.Create().SetTitle("b").Save(core.With(wait, core.Fields{"userId": 2})); err != nil {
				t.Fatalf("create after the canceled transaction: %v", err)
			}
			equalLines(t, summary(changes(e.wal(t))), []string{`INSERT public.todos {"userId":2}`})
		})
	}
}
