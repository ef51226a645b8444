package store

import (
	"context"
	"database/sql"
	"fmt"

	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"
	"github.com/bemi-go/bemi/entbemi"
	"github.com/bemi-go/bemi/examples/todo/internal/store/ent"
	"github.com/bemi-go/bemi/examples/todo/internal/store/ent/todo"

	// The pgx driver for database/sql, under the name "pgx".
	_ "github.com/jackc/pgx/v5/stdlib"
)

// Ent is the name of the store built on ent with the entbemi driver.
const Ent = "ent"

// entStore writes through an ent client whose driver is wrapped by entbemi,
// which sends the Bemi context of each operation's ctx with every write.
type entStore struct {
	client *ent.Client
}

// OpenEnt opens the ent store. It leaves out entbemi.Hook, which would add
// entType and entOp to the context, so the changes look the same as those
// of the other stores.
func OpenEnt(ctx context.Context, databaseURL string) (Store, error) {
	db, err := sql.Open("pgx", databaseURL)
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}

	drv := entbemi.NewDriver(entsql.OpenDB(dialect.Postgres, db), entbemi.Config{})

	return &entStore{client: ent.NewClient(ent.Driver(drv))}, nil
}

func fromEnt(t *ent.Todo) Todo {
	return Todo{ID: t.ID, Task: t.Task, IsCompleted: t.IsCompleted}
}

func (s *entStore) Create(ctx context.Context, task string) (Todo, error) {
	t, err := s.client.Todo.Create().SetTask(task).Save(ctx)
	if err != nil {
		return Todo{}, fmt.Errorf("insert todo: %w", err)
	}

	return fromEnt(t), nil
}

func (s *entStore) List(ctx context.Context) ([]Todo, error) {
	rows, err := s.client.Todo.Query().Order(ent.Asc(todo.FieldID)).All(ctx)
	if err != nil {
		return nil, fmt.Errorf("select todos: %w", err)
	}

	todos := make([]Todo, 0, len(rows))
	for _, t := range rows {
		todos = append(todos, fromEnt(t))
	}

	return todos, nil
}

func (s *entStore) Complete(ctx context.Context, id int64) (Todo, error) {
	t, err := s.client.Todo.UpdateOneID(id).SetIsCompleted(true).Save(ctx)
	if ent.IsNotFound(err) {
		return Todo{}, fmt.Errorf("complete todo %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return Todo{}, fmt.Errorf("complete todo %d: %w", id, err)
	}

	return fromEnt(t), nil
}

func (s *entStore) Delete(ctx context.Context, id int64) error {
	err := s.client.Todo.DeleteOneID(id).Exec(ctx)
	if ent.IsNotFound(err) {
		return fmt.Errorf("delete todo %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("delete todo %d: %w", id, err)
	}

	return nil
}

func (s *entStore) Close() error {
	return s.client.Close()
}
