package store_test

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/bemi-go/bemi/capture/setup"
	"github.com/bemi-go/bemi/core"
	"github.com/bemi-go/bemi/core/pgtest"
	"github.com/bemi-go/bemi/examples/todo/internal/store"
	"github.com/jackc/pgx/v5"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Run(m)) }

// TestStoresSendContextWithWritesOnly runs each store's operations with and
// without context and reads the WAL through a test_decoding slot: each
// write with context is preceded by a _bemi message with that context, a
// write without context by none (or the reset {}), and reads add nothing.
func TestStoresSendContextWithWritesOnly(t *testing.T) {
	for _, name := range store.Names() {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			url := pgtest.NewDatabase(t)
			conn, err := pgx.Connect(ctx, url)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close(ctx)

			if err := store.Migrate(ctx, conn); err != nil {
				t.Fatal(err)
			}
			if _, err := setup.Run(ctx, conn, setup.Config{SkipSlot: true}); err != nil {
				t.Fatal(err)
			}
			slot := "store_" + name
			if _, err := conn.Exec(ctx, "SELECT pg_create_logical_replication_slot($1, 'test_decoding')", slot); err != nil {
				t.Fatal(err)
			}

			s, err := store.Open(ctx, name, url)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()

			withUser := core.With(ctx, core.Fields{"userId": 7})
			todo, err := s.Create(withUser, "Sleep")
			if err != nil {
				t.Fatal(err)
			}
			if _, err := s.List(withUser); err != nil {
				t.Fatal(err)
			}
			if _, err := s.Complete(ctx, todo.ID); err != nil {
				t.Fatal(err)
			}
			if err := s.Delete(core.With(ctx, core.Fields{"userId": 8}), todo.ID); err != nil {
				t.Fatal(err)
			}

			rows, err := conn.Query(ctx, "SELECT data FROM pg_logical_slot_get_changes($1, NULL, NULL)", slot)
			if err != nil {
				t.Fatal(err)
			}
			lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
			if err != nil {
				t.Fatal(err)
			}

			var got []string
			for _, line := range lines {
				switch {
				case strings.HasPrefix(line, "message:"):
					got = append(got, "message "+line[strings.Index(line, "content:")+len("content:"):])
				case strings.HasPrefix(line, "table public.todo:"):
					got = append(got, strings.Fields(line)[2])
				}
			}
			want := []string{
				`message {"userId":7}`, "INSERT:",
				"UPDATE:",
				`message {"userId":8}`, "DELETE:",
			}
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Errorf("WAL:\n%s\nwant:\n%s\nfull:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"), strings.Join(lines, "\n"))
			}
		})
	}
}

func TestOpenUnknownStore(t *testing.T) {
	_, err := store.Open(context.Background(), "mongo", "postgres://unused")
	if err == nil || !strings.Contains(err.Error(), `unknown store "mongo": use one of`) {
		t.Errorf("err = %v, want the unknown store and the choices", err)
	}
}
