package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/bemi-go/bemi/examples/todo/internal/store/sqlcdb"
	"github.com/bemi-go/bemi/pgxbemi"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Sqlc is the name of the store built on sqlc-generated queries over a pgx
// pool wrapped by pgxbemi.
const Sqlc = "sqlc"

// sqlcStore runs the sqlc-generated queries through pgxbemi, which sends
// the Bemi context of each query's ctx with every write.
type sqlcStore struct {
	pool    *pgxpool.Pool
	queries *sqlcdb.Queries
}

// OpenSqlc opens the sqlc store.
func OpenSqlc(ctx context.Context, databaseURL string) (Store, error) {
	pool, err := pgxpool.New(ctx, databaseURL)
	if err != nil {
		return nil, fmt.Errorf("open database pool: %w", err)
	}

	return &sqlcStore{pool: pool, queries: sqlcdb.New(pgxbemi.New(pool, pgxbemi.Config{}))}, nil
}

func fromSqlc(t sqlcdb.Todo) Todo {
	return Todo{ID: t.ID, Task: t.Task, IsCompleted: t.IsCompleted}
}

func (s *sqlcStore) Create(ctx context.Context, task string) (Todo, error) {
	t, err := s.queries.CreateTodo(ctx, task)
	if err != nil {
		return Todo{}, fmt.Errorf("insert todo: %w", err)
	}

	return fromSqlc(t), nil
}

func (s *sqlcStore) List(ctx context.Context) ([]Todo, error) {
	rows, err := s.queries.ListTodos(ctx)
	if err != nil {
		return nil, fmt.Errorf("select todos: %w", err)
	}

	todos := make([]Todo, 0, len(rows))
	for _, t := range rows {
		todos = append(todos, fromSqlc(t))
	}

	return todos, nil
}

func (s *sqlcStore) Complete(ctx context.Context, id int64) (Todo, error) {
	t, err := s.queries.CompleteTodo(ctx, id)
	if errors.Is(err, pgx.ErrNoRows) {
		return Todo{}, fmt.Errorf("complete todo %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return Todo{}, fmt.Errorf("complete todo %d: %w", id, err)
	}

	return fromSqlc(t), nil
}

func (s *sqlcStore) Delete(ctx context.Context, id int64) error {
	n, err := s.queries.DeleteTodo(ctx, id)
	if err != nil {
		return fmt.Errorf("delete todo %d: %w", id, err)
	}
	if n == 0 {
		return fmt.Errorf("delete todo %d: %w", id, ErrNotFound)
	}

	return nil
}

func (s *sqlcStore) Close() error {
	s.pool.Close()

	return nil
}
