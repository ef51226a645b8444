package entbemi_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"entgo.io/ent/dialect"

	"github.com/bemi-go/bemi/entbemi"
)

// writingFunction creates touch(), which a plain SELECT can call to write:
// the only way a read reaches the trigger.
const writingFunction = `CREATE FUNCTION touch(t text) RETURNS bigint LANGUAGE sql AS
	$$ INSERT INTO todos (title, done) VALUES (t, false) RETURNING id $$`

// TestDriverReadsNotAnnotated runs ent queries and a SELECT that writes
// through a function, all with context, and checks that no read sends it.
func TestDriverReadsNotAnnotated(t *testing.T) {
	for _, m := range mechanisms {
		t.Run(m.name, func(t *testing.T) {
			var mu sync.Mutex
			var logged []string
			opts := m.opts
			inner := opts.wrap
			opts.wrap = func(d dialect.Driver) dialect.Driver {
				d = dialect.Debug(d, func(v ...any) {
					mu.Lock()
					defer mu.Unlock()
					logged = append(logged, fmt.Sprint(v...))
				})
				if inner != nil {
					d = inner(d)
				}

				return d
			}
			e := newEnv(t, opts)
			if e.driver.Mechanism() != m.want {
				t.Fatalf("Mechanism() = %v, want %v", e.driver.Mechanism(), m.want)
			}
			e.exec(t, writingFunction)
			ctx := userCtx(1)
			e.client.Todo.Create().SetTitle("a").SaveX(ctx)
			mu.Lock()
			logged = nil
			mu.Unlock()

			if n := e.client.Todo.Query().CountX(ctx); n != 1 {
				t.Fatalf("count = %d, want 1", n)
			}
			e.client.Todo.Query().WithOwner().WithTags().AllX(ctx)
			rows, err := e.client.QueryContext(ctx, "SELECT touch('b')")
			if err != nil {
				t.Fatalf("select touch: %v", err)
			}
			rows.Close()

			mu.Lock()
			defer mu.Unlock()
			if len(logged) < 4 {
				t.Fatalf("the wrapped driver saw %d reads, want at least 4: %q", len(logged), logged)
			}
			for _, line := range logged {
				if strings.Contains(line, "Bemi") || strings.Contains(line, "set_config") {
					t.Errorf("read sent with context: %s", line)
				}
			}
			equalLines(t, summary(changes(e.wal(t))), []string{
				`INSERT public.todos {"userId":1}`,
				`INSERT public.todos `,
			})
		})
	}
}

func TestDriverAllStatements(t *testing.T) {
	for _, m := range mechanisms {
		t.Run(m.name, func(t *testing.T) {
			opts := m.opts
			opts.config = entbemi.Config{AllStatements: true}
			e := newEnv(t, opts)
			e.exec(t, writingFunction)

			rows, err := e.client.QueryContext(userCtx(1), "SELECT touch('a')")
			if err != nil {
				t.Fatalf("select touch: %v", err)
			}
			var id int64
			for rows.Next() {
				if err := rows.Scan(&id); err != nil {
					t.Fatal(err)
				}
			}
			rows.Close()
			if id == 0 {
				t.Fatal("touch returned no id")
			}

			tx, err := e.client.Tx(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			rows, err = tx.QueryContext(userCtx(2), "SELECT touch('b')")
			if err != nil {
				t.Fatalf("select touch in a transaction: %v", err)
			}
			rows.Close()
			if err := tx.Commit(); err != nil {
				t.Fatal(err)
			}

			equalLines(t, summary(changes(e.wal(t))), []string{
				`INSERT public.todos {"userId":1}`,
				`INSERT public.todos {"userId":2}`,
			})
		})
	}
}
