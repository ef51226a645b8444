package entbemi_test

import (
	"context"
	"fmt"
	"regexp"
	"sync"
	"testing"

	"github.com/bemi-go/bemi/core"
)

// TestDriverConcurrentContexts writes from 100 goroutines, each with its own
// context, through a pool of 10 connections, and checks that every change
// carries the context of the goroutine that made it.
func TestDriverConcurrentContexts(t *testing.T) {
	for _, m := range mechanisms {
		t.Run(m.name, func(t *testing.T) {
			e := newEnv(t, m.opts)
			e.db.SetMaxOpenConns(10)

			const goroutines, writes = 100, 5
			var wg sync.WaitGroup
			errs := make(chan error, goroutines)
			for g := range goroutines {
				wg.Go(func() {
					ctx := core.With(context.Background(), core.Fields{"worker": g})
					for i := range writes {
						title := fmt.Sprintf("g%d-%d", g, i)
						if i%2 == 1 {
							// Every other write goes through a transaction.
							if err := createInTx(ctx, e, title); err != nil {
								errs <- err

								return
							}

							continue
						}
						if _, err := e.client.Todo.Create().SetTitle(title).Save(ctx); err != nil {
							errs <- err

							return
						}
					}
				})
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Fatalf("write: %v", err)
			}

			title := regexp.MustCompile(`title\[character varying\]:'g(\d+)-\d+'`)
			cs := changes(e.wal(t))
			if len(cs) != goroutines*writes {
				t.Fatalf("read %d changes, want %d", len(cs), goroutines*writes)
			}
			for _, c := range cs {
				m := title.FindStringSubmatch(c.Row)
				if m == nil {
					t.Fatalf("change without a title: %q", c.Row)
				}
				if want := `{"worker":` + m[1] + `}`; c.Context != want {
					t.Fatalf("change %q has context %q, want %q", c.Row, c.Context, want)
				}
			}
		})
	}
}

func createInTx(ctx context.Context, e *env, title string) error {
	tx, err := e.client.Tx(ctx)
	if err != nil {
		return err
	}
	if _, err := tx.Todo.Create().SetTitle(title).Save(ctx); err != nil {
		_ = tx.Rollback()

		return err
	}

	return tx.Commit()
}
