package entbemi_test

import (
	"context"
	"database/sql"
	"log"
	"os"

	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"
	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/bemi-go/bemi/core"
	"github.com/bemi-go/bemi/entbemi"
	"github.com/bemi-go/bemi/entbemi/internal/todoapp/ent"
)

// The example opens the application's *sql.DB with the pgx stdlib driver,
// wraps ent's SQL driver, and creates a todo whose INSERT carries the
// request's context and ent's facts.
func Example() {
	db, err := sql.Open("pgx", os.Getenv("DATABASE_URL"))
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()

	drv := entbemi.NewDriver(entsql.OpenDB(dialect.Postgres, db), entbemi.Config{})
	client := ent.NewClient(ent.Driver(drv))
	client.Use(entbemi.Hook(entbemi.HookConfig{}))

	ctx := core.With(context.Background(), core.Fields{"userId": 187234, "endpoint": "/todos"})
	if _, err := client.Todo.Create().SetTitle("buy milk").Save(ctx); err != nil {
		log.Fatal(err)
	}
}
