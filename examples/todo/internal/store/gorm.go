package store

import (
	"context"
	"fmt"

	"github.com/bemi-go/bemi/gormbemi"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"
	"gorm.io/gorm/logger"
)

// Gorm is the name of the store built on GORM with the gormbemi plugin.
const Gorm = "gorm"

// gormTodo is the GORM model of the todo table.
type gormTodo struct {
	ID          int64  `gorm:"primaryKey"`
	Task        string `gorm:"not null"`
	IsCompleted bool   `gorm:"not null;default:false"`
}

func (gormTodo) TableName() string { return "todo" }

func (t gormTodo) todo() Todo {
	return Todo{ID: t.ID, Task: t.Task, IsCompleted: t.IsCompleted}
}

// gormStore writes through GORM; the gormbemi plugin sends the Bemi context
// of each statement's ctx (db.WithContext) with every write.
type gormStore struct {
	db *gorm.DB
}

// OpenGorm opens the GORM store.
func OpenGorm(ctx context.Context, databaseURL string) (Store, error) {
	db, err := gorm.Open(postgres.Open(databaseURL), &gorm.Config{Logger: logger.Discard})
	if err != nil {
		return nil, fmt.Errorf("open database with gorm: %w", err)
	}
	if err := db.Use(gormbemi.New()); err != nil {
		return nil, fmt.Errorf("use gormbemi: %w", err)
	}

	return &gormStore{db: db}, nil
}

func (s *gormStore) Create(ctx context.Context, task string) (Todo, error) {
	t := gormTodo{Task: task}
	if err := s.db.WithContext(ctx).Create(&t).Error; err != nil {
		return Todo{}, fmt.Errorf("insert todo: %w", err)
	}

	return t.todo(), nil
}

func (s *gormStore) List(ctx context.Context) ([]Todo, error) {
	var rows []gormTodo
	if err := s.db.WithContext(ctx).Order("id").Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("select todos: %w", err)
	}

	todos := make([]Todo, 0, len(rows))
	for _, t := range rows {
		todos = append(todos, t.todo())
	}

	return todos, nil
}

func (s *gormStore) Complete(ctx context.Context, id int64) (Todo, error) {
	var t gormTodo
	result := s.db.WithContext(ctx).Model(&t).Clauses(clause.Returning{}).
		Where("id = ?", id).Update("is_completed", true)
	if result.Error != nil {
		return Todo{}, fmt.Errorf("complete todo %d: %w", id, result.Error)
	}
	if result.RowsAffected == 0 {
		return Todo{}, fmt.Errorf("complete todo %d: %w", id, ErrNotFound)
	}

	return t.todo(), nil
}

func (s *gormStore) Delete(ctx context.Context, id int64) error {
	result := s.db.WithContext(ctx).Delete(&gormTodo{}, id)
	if result.Error != nil {
		return fmt.Errorf("delete todo %d: %w", id, result.Error)
	}
	if result.RowsAffected == 0 {
		return fmt.Errorf("delete todo %d: %w", id, ErrNotFound)
	}

	return nil
}

func (s *gormStore) Close() error {
	sqlDB, err := s.db.DB()
	if err != nil {
		return fmt.Errorf("close gorm store: %w", err)
	}

	return sqlDB.Close()
}
