package gormbemi_test

import (
	"context"
	"os"

	"github.com/bemi-go/bemi/core"
	"github.com/bemi-go/bemi/gormbemi"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
)

// Todo is the model of the examples.
type Todo struct {
	ID   int64
	Task string
	Done bool
}

func ExampleNew() {
	db, err := gorm.Open(postgres.Open(os.Getenv("DATABASE_URL")), &gorm.Config{})
	if err != nil {
		panic(err)
	}
	if err := db.Use(gormbemi.New()); err != nil {
		panic(err)
	}

	// An HTTP middleware usually attaches the context once per request.
	ctx := core.With(context.Background(), core.Fields{"userId": 187234, "endpoint": "/todo/{id}"})

	todo := Todo{Task: "write docs"}
	db.WithContext(ctx).Create(&todo)
	db.WithContext(ctx).Model(&todo).Update("done", true)
}

func ExampleWithTables() {
	db, err := gorm.Open(postgres.Open(os.Getenv("DATABASE_URL")), &gorm.Config{})
	if err != nil {
		panic(err)
	}

	// Only writes to todos carry the context; raw Exec and Raw always do.
	if err := db.Use(gormbemi.New(gormbemi.WithTables("todos"), gormbemi.WithSQL("SQL"))); err != nil {
		panic(err)
	}
}
