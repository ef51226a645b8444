package pgxbemi_test

import (
	"context"
	"log"
	"os"

	"github.com/bemi-go/bemi/core"
	"github.com/bemi-go/bemi/pgxbemi"
	"github.com/bemi-go/bemi/pgxbemi/internal/sqlctest"
	"github.com/jackc/pgx/v5/pgxpool"
)

// The package sqlctest holds code that sqlc generated for pgx/v5; any
// sqlc-generated package works the same way.
func ExampleNew() {
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, os.Getenv("DATABASE_URL"))
	if err != nil {
		log.Fatal(err)
	}
	defer pool.Close()

	queries := sqlctest.New(pgxbemi.New(pool, pgxbemi.Config{}))

	// A middleware usually attaches the fields to the request's context.
	ctx = core.With(ctx, core.Fields{"userId": 187234, "endpoint": "/todos"})
	if _, err := queries.CreateTodo(ctx, "write docs"); err != nil {
		log.Fatal(err)
	}
}

func ExampleDB_Begin() {
	ctx := core.With(context.Background(), core.Fields{"job": "nightly-cleanup"})
	pool, err := pgxpool.New(ctx, os.Getenv("DATABASE_URL"))
	if err != nil {
		log.Fatal(err)
	}
	defer pool.Close()

	db := pgxbemi.New(pool, pgxbemi.Config{})
	tx, err := db.Begin(ctx)
	if err != nil {
		log.Fatal(err)
	}
	defer tx.Rollback(ctx)

	// WithTx takes the *pgxbemi.Tx as a pgx.Tx and keeps sending the context.
	queries := sqlctest.New(db).WithTx(tx)
	if _, err := queries.DeleteDoneTodos(ctx); err != nil {
		log.Fatal(err)
	}
	if _, err := queries.CopyTodos(ctx, []sqlctest.CopyTodosParams{{Title: "from the archive"}}); err != nil {
		log.Fatal(err)
	}
	if err := tx.Commit(ctx); err != nil {
		log.Fatal(err)
	}
}
