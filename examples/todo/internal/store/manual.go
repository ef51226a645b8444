package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/bemi-go/bemi/core"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Manual is the name of the store that sends the Bemi context itself.
const Manual = "manual"

// manualStore writes through a pgx pool and sends the context the way the
// Bemi adapters do, by hand: a pgx batch of
//
//	SELECT set_config('bemi.context', <payload>, true)
//	<the write>
//
// A batch runs in one round trip and, outside an explicit transaction, in one
// implicit transaction, so the transaction-local setting lasts exactly as
// long as the write. The statement text stays the same for every request, so
// pgx's prepared-statement cache keeps working. It shows the mechanism for
// drivers that no Bemi adapter covers; applications on GORM, ent or pgx use
// the adapter instead.
type manualStore struct {
	pool      *pgxpool.Pool
	annotator core.Annotator
}

// OpenManual opens the manual store.
func OpenManual(ctx context.Context, databaseURL string) (Store, error) {
	pool, err := pgxpool.New(ctx, databaseURL)
	if err != nil {
		return nil, fmt.Errorf("open database pool: %w", err)
	}

	return &manualStore{pool: pool}, nil
}

const (
	insertTodo   = `INSERT INTO todo (task) VALUES ($1) RETURNING id, task, is_completed`
	selectTodos  = `SELECT id, task, is_completed FROM todo ORDER BY id`
	completeTodo = `UPDATE todo SET is_completed = true WHERE id = $1 RETURNING id, task, is_completed`
	deleteTodo   = `DELETE FROM todo WHERE id = $1`
	setContext   = `SELECT set_config('` + core.SettingName + `', $1, true)`
)

func (s *manualStore) Create(ctx context.Context, task string) (Todo, error) {
	var t Todo
	_, err := s.write(ctx, insertTodo, []any{task}, func(row pgx.Row) error {
		return row.Scan(&t.ID, &t.Task, &t.IsCompleted)
	})
	if err != nil {
		return Todo{}, fmt.Errorf("insert todo: %w", err)
	}

	return t, nil
}

func (s *manualStore) List(ctx context.Context) ([]Todo, error) {
	rows, err := s.pool.Query(ctx, selectTodos)
	if err != nil {
		return nil, fmt.Errorf("select todos: %w", err)
	}

	todos, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (Todo, error) {
		var t Todo
		err := row.Scan(&t.ID, &t.Task, &t.IsCompleted)

		return t, err
	})
	if err != nil {
		return nil, fmt.Errorf("select todos: %w", err)
	}

	return todos, nil
}

func (s *manualStore) Complete(ctx context.Context, id int64) (Todo, error) {
	var t Todo
	_, err := s.write(ctx, completeTodo, []any{id}, func(row pgx.Row) error {
		return row.Scan(&t.ID, &t.Task, &t.IsCompleted)
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return Todo{}, fmt.Errorf("complete todo %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return Todo{}, fmt.Errorf("complete todo %d: %w", id, err)
	}

	return t, nil
}

func (s *manualStore) Delete(ctx context.Context, id int64) error {
	deleted, err := s.write(ctx, deleteTodo, []any{id}, nil)
	if err != nil {
		return fmt.Errorf("delete todo %d: %w", id, err)
	}
	if deleted == 0 {
		return fmt.Errorf("delete todo %d: %w", id, ErrNotFound)
	}

	return nil
}

// write runs the statement sql with args in a batch, preceded by the
// context setting when ctx carries Bemi context. scan reads the row that the
// statement returns; with a nil scan the statement returns no rows. write
// returns the number of rows the statement affected.
func (s *manualStore) write(ctx context.Context, sql string, args []any, scan func(pgx.Row) error) (int64, error) {
	payload, withContext, err := s.annotator.Payload(ctx, sql)
	if err != nil {
		return 0, fmt.Errorf("encode bemi context: %w", err)
	}

	batch := &pgx.Batch{}
	if withContext {
		batch.Queue(setContext, string(payload))
	}
	batch.Queue(sql, args...)
	results := s.pool.SendBatch(ctx, batch)
	defer results.Close()

	if withContext {
		if _, err := results.Exec(); err != nil {
			return 0, fmt.Errorf("set bemi context: %w", err)
		}
	}

	var affected int64 = 1
	if scan == nil {
		tag, err := results.Exec()
		if err != nil {
			return 0, err
		}
		affected = tag.RowsAffected()
	} else if err := scan(results.QueryRow()); err != nil {
		return 0, err
	}

	// Close reports an error of the implicit transaction's commit.
	if err := results.Close(); err != nil {
		return 0, err
	}

	return affected, nil
}

func (s *manualStore) Close() error {
	s.pool.Close()

	return nil
}
