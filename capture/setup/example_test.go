package setup_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"

	"github.com/bemi-go/bemi/capture/setup"
	"github.com/jackc/pgx/v5"
)

func ExampleRun() {
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, os.Getenv("DATABASE_URL"))
	if err != nil {
		log.Fatal(err)
	}
	defer conn.Close(ctx)

	report, err := setup.Run(ctx, conn, setup.Config{
		ExcludeTables: []string{"schema_migrations"},
	})
	var owner *setup.OwnershipError
	if errors.As(err, &owner) {
		log.Fatalf("run setup as the owner of %v", owner.Tables)
	}
	if err != nil {
		log.Fatal(err)
	}

	if report.NothingToDo() {
		fmt.Println("nothing to do")
	}
	for _, action := range report.Actions {
		fmt.Println(action)
	}
	for _, warning := range report.Warnings {
		fmt.Println("warning:", warning)
	}
}

func ExampleSQL() {
	script, err := setup.SQL(setup.Config{Tables: []string{"app.*"}})
	if err != nil {
		log.Fatal(err)
	}

	// Write script.Setup as a regular migration, and script.Slot as one that
	// runs outside a transaction (goose: -- +goose NO TRANSACTION).
	if err := os.WriteFile("001_bemi.sql", []byte(script.Setup), 0o644); err != nil {
		log.Fatal(err)
	}
	if err := os.WriteFile("002_bemi_slot.sql", []byte(script.Slot), 0o644); err != nil {
		log.Fatal(err)
	}
}
