package pgxbemi_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/bemi-go/bemi/core"
	"github.com/bemi-go/bemi/pgxbemi"
	"github.com/bemi-go/bemi/pgxbemi/internal/sqlctest"
	"github.com/jackc/pgx/v5/pgxpool"
)

// TestConcurrentContexts runs 100 goroutines on one pool of 10 connections,
// each writing its own todos under its own context, alone and in
// transactions, and checks that every change carries the context of the
// goroutine that wrote it.
func TestConcurrentContexts(t *testing.T) {
	t.Parallel()
	d := newTrackedDB(t)
	pool := d.pool(t, func(c *pgxpool.Config) { c.MaxConns = 10 })
	db := pgxbemi.New(pool, pgxbemi.Config{})
	q := sqlctest.New(db)
	bg := context.Background()

	const workers = 100
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Go(func() {
			ctx := core.With(bg, core.Fields{"worker": w})
			title := func(step string) string { return fmt.Sprintf("w%d %s", w, step) }

			todo, err := q.CreateTodo(ctx, title("created"))
			if err != nil {
				errs <- err
				return
			}
			if err := q.CompleteTodo(ctx, todo.ID); err != nil {
				errs <- err
				return
			}

			tx, err := db.Begin(ctx)
			if err != nil {
				errs <- err
				return
			}
			defer tx.Rollback(bg)
			qtx := q.WithTx(tx)
			if _, err := qtx.CreateTodo(ctx, title("in tx")); err != nil {
				errs <- err
				return
			}
			if _, err := qtx.CreateTodo(bg, title("in tx without context")); err != nil {
				errs <- err
				return
			}
			if err := qtx.DeleteTodo(ctx, todo.ID); err != nil {
				errs <- err
				return
			}
			if err := tx.Commit(bg); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}

	changes := d.changes(t, workers*5)
	if len(changes) != workers*5 {
		t.Fatalf("got %d changes, want %d", len(changes), workers*5)
	}
	for _, c := range changes {
		var worker int
		var step string
		if _, err := fmt.Sscanf(c.title, "w%d %s", &worker, &step); err != nil {
			t.Fatalf("unexpected title %q", c.title)
		}

		want := fields(t, core.Fields{"worker": worker})
		if c.title == fmt.Sprintf("w%d in tx without context", worker) {
			want = "{}"
		}
		if !sameJSON(t, c.context, want) {
			t.Errorf("%s of %q has context %s, want %s", c.op, c.title, c.context, want)
		}
	}
}
