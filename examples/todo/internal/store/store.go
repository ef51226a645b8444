package store

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"
)

// Todo is one row of the todo table.
type Todo struct {
	ID          int64  `json:"id"`
	Task        string `json:"task"`
	IsCompleted bool   `json:"isCompleted"`
}

// ErrNotFound is returned by Complete and Delete when no todo has the id.
var ErrNotFound = errors.New("todo not found")

// Store reads and writes the todo table. Every write carries the Bemi
// context of its ctx (core.With, usually set by the HTTP middleware), so the
// capture worker records who made the change and through which endpoint.
// Implementations are safe for concurrent use.
type Store interface {
	// Create inserts a todo that is not completed.
	Create(ctx context.Context, task string) (Todo, error)

	// List returns every todo, ordered by id.
	List(ctx context.Context) ([]Todo, error)

	// Complete marks the todo with the id as completed and returns it, or
	// returns ErrNotFound.
	Complete(ctx context.Context, id int64) (Todo, error)

	// Delete deletes the todo with the id, or returns ErrNotFound.
	Delete(ctx context.Context, id int64) error

	// Close releases the store's connections.
	Close() error
}

// Opener opens a Store on the database at a PostgreSQL URL. The todo table
// must exist (see Migrate).
type Opener func(ctx context.Context, databaseURL string) (Store, error)

// openers returns the stores accepted by --store, by name.
func openers() map[string]Opener {
	return map[string]Opener{
		Gorm:   OpenGorm,
		Ent:    OpenEnt,
		Sqlc:   OpenSqlc,
		Manual: OpenManual,
	}
}

// Names returns the names of the available stores, sorted.
func Names() []string {
	return slices.Sorted(maps.Keys(openers()))
}

// Default returns the store used when none is named: gorm.
func Default() string { return Gorm }

// Open opens the store with the given name.
func Open(ctx context.Context, name, databaseURL string) (Store, error) {
	open, ok := openers()[name]
	if !ok {
		return nil, fmt.Errorf("unknown store %q: use one of %s", name, strings.Join(Names(), ", "))
	}

	return open(ctx, databaseURL)
}

// schema creates the todo table. Every store uses this one definition, so
// the changes table looks the same whichever store made the changes. sqlc
// reads the same file to generate package sqlcdb.
//
//go:embed sqlcdb/schema.sql
var schema string

// Migrate creates the todo table when it does not exist. Run it before
// Bemi setup, so setup finds the table and tracks it.
func Migrate(ctx context.Context, conn *pgx.Conn) error {
	if _, err := conn.Exec(ctx, schema); err != nil {
		return fmt.Errorf("create table todo: %w", err)
	}

	return nil
}
