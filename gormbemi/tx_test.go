package gormbemi_test

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"

	"gorm.io/gorm"
)

func TestTransactionContextPerStatement(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.trace.take()

	err := e.db.Transaction(func(tx *gorm.DB) error {
		for i, ctx := range []context.Context{user(1), user(2), user(2), context.Background(), user(1)} {
			if err := tx.WithContext(ctx).Create(&Item{Name: "t" + itoa(i)}).Error; err != nil {
				return err
			}
		}

		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	expectContexts(t, e.stored(t, 5), []change{
		{table: "public.items", op: "CREATE", context: ctxJSON(1)},
		{table: "public.items", op: "CREATE", context: ctxJSON(2)},
		{table: "public.items", op: "CREATE", context: ctxJSON(2)},
		{table: "public.items", op: "CREATE", context: "{}"},
		{table: "public.items", op: "CREATE", context: ctxJSON(1)},
	})

	// set_config only when the context changes: 1, 2, cleared, 1.
	sets := 0
	for _, sql := range e.trace.take() {
		if strings.Contains(sql, "set_config") {
			sets++
		}
	}
	if sets != 4 {
		t.Errorf("sent set_config %d times, want 4", sets)
	}
}

func TestStatementWithoutContextGetsReset(t *testing.T) {
	e := newEnv(t, envOptions{wal: true})

	err := e.db.Transaction(func(tx *gorm.DB) error {
		if err := tx.WithContext(user(1)).Create(&Item{Name: "a"}).Error; err != nil {
			return err
		}

		return tx.Exec(`UPDATE items SET qty = 9`).Error
	})
	if err != nil {
		t.Fatal(err)
	}

	want := []change{
		{table: "public.items", op: "CREATE", context: ctxJSON(1)},
		{table: "public.items", op: "UPDATE", context: "{}"},
	}
	expectContexts(t, e.stored(t, 2), want)

	// In the WAL, the update follows the reset message itself.
	wal := changes(e.readWAL(t))
	if len(wal) != 2 || wal[1].context != "{}" {
		t.Errorf("WAL changes:\n%s\nwant the update after the message {}", formatChanges(wal))
	}
}

// TestSavepointRollbackResetsSetting checks that a write after ROLLBACK TO
// SAVEPOINT sets its context again: the rollback undid the set_config
// made inside the savepoint.
func TestSavepointRollbackResetsSetting(t *testing.T) {
	e := newEnv(t, envOptions{})
	errAbort := errors.New("abort")

	err := e.db.Transaction(func(tx *gorm.DB) error {
		if err := tx.WithContext(user(1)).Create(&Item{Name: "a"}).Error; err != nil {
			return err
		}
		err := tx.Transaction(func(tx *gorm.DB) error {
			if err := tx.WithContext(user(2)).Create(&Item{Name: "rolled back"}).Error; err != nil {
				return err
			}

			return errAbort
		})
		if !errors.Is(err, errAbort) {
			return fmt.Errorf("nested transaction: %w", err)
		}
		if err := tx.WithContext(user(2)).Create(&Item{Name: "b"}).Error; err != nil {
			return err
		}

		return tx.Transaction(func(tx *gorm.DB) error {
			return tx.WithContext(user(3)).Create(&Item{Name: "c"}).Error
		})
	})
	if err != nil {
		t.Fatal(err)
	}

	expectContexts(t, e.stored(t, 3), []change{
		{table: "public.items", op: "CREATE", context: ctxJSON(1)},
		{table: "public.items", op: "CREATE", context: ctxJSON(2)},
		{table: "public.items", op: "CREATE", context: ctxJSON(3)},
	})
}

func TestConcurrentContextsDoNotMix(t *testing.T) {
	e := newEnv(t, envOptions{})
	sqlDB, err := e.db.DB()
	if err != nil {
		t.Fatal(err)
	}
	sqlDB.SetMaxOpenConns(10)

	const goroutines = 100
	var wg sync.WaitGroup
	errs := make(chan error, goroutines)
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			db := e.db.WithContext(user(g))
			item := Item{Name: fmt.Sprintf("g%d-0", g)}
			err := db.Create(&item).Error
			if err == nil {
				err = db.Model(&item).Update("name", fmt.Sprintf("g%d-1", g)).Error
			}
			if err == nil {
				err = db.Exec(`INSERT INTO items (name) VALUES (?)`, fmt.Sprintf("g%d-2", g)).Error
			}
			if err == nil {
				err = db.Transaction(func(tx *gorm.DB) error {
					if err := tx.Create(&Item{Name: fmt.Sprintf("g%d-3", g)}).Error; err != nil {
						return err
					}

					return tx.Create(&Item{Name: fmt.Sprintf("g%d-4", g)}).Error
				})
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}

	got := e.stored(t, goroutines*5)
	if len(got) != goroutines*5 {
		t.Fatalf("got %d changes, want %d", len(got), goroutines*5)
	}
	name := regexp.MustCompile(`"name": "g(\d+)-\d"`)
	for _, c := range got {
		m := name.FindAllStringSubmatch(c.data, -1)
		if len(m) == 0 {
			t.Fatalf("no name in %s", c.data)
		}
		g, _ := strconv.Atoi(m[len(m)-1][1])
		if !sameJSON(c.context, ctxJSON(g)) {
			t.Errorf("change of goroutine %d has context %q: %s", g, c.context, c.data)
		}
	}
}
