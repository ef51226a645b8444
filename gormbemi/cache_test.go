package gormbemi_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"gorm.io/gorm"
)

// TestPrepareStmtCacheConstant runs 1,000 requests with distinct contexts
// through GORM's PrepareStmt mode, whose statement cache is keyed by SQL
// text and unbounded by default, and checks that neither that cache nor
// pgx's statement cache grows. Each request makes six writes, four of them
// outside a transaction: an Update, a Create and a raw INSERT ... RETURNING
// (the batch path unless the simple protocol is on) and a raw Exec.
func TestPrepareStmtCacheConstant(t *testing.T) {
	for _, simple := range []bool{false, true} {
		t.Run(fmt.Sprintf("simple=%v", simple), func(t *testing.T) {
			e := newEnv(t, envOptions{gorm: gorm.Config{PrepareStmt: true}, simple: simple, noTrace: true})
			sqlDB, err := e.db.DB()
			if err != nil {
				t.Fatal(err)
			}
			// One connection, so pgx's cache below is the cache of every
			// statement.
			sqlDB.SetMaxOpenConns(1)
			prepared, ok := e.db.ConnPool.(*gorm.PreparedStmtDB)
			if !ok {
				t.Fatalf("ConnPool is %T, want *gorm.PreparedStmtDB", e.db.ConnPool)
			}

			request := func(i int) {
				t.Helper()
				db := e.db.WithContext(user(i))
				item := Item{Name: fmt.Sprintf("r%d", i)}
				if err := db.Create(&item).Error; err != nil {
					t.Fatal(err)
				}
				noTx := db.Session(&gorm.Session{SkipDefaultTransaction: true})
				if err := noTx.Model(&item).Update("qty", i).Error; err != nil {
					t.Fatal(err)
				}
				if err := noTx.Create(&Item{Name: fmt.Sprintf("n%d", i)}).Error; err != nil {
					t.Fatal(err)
				}
				var id int64
				err := db.Raw(`INSERT INTO items (name) VALUES (?) RETURNING id`, fmt.Sprintf("w%d", i)).Row().Scan(&id)
				if err != nil {
					t.Fatal(err)
				}
				if err := db.Exec(`UPDATE items SET qty = qty + 1 WHERE id = ?`, item.ID).Error; err != nil {
					t.Fatal(err)
				}
				err = db.Transaction(func(tx *gorm.DB) error {
					return tx.Model(&item).Update("qty", 0).Error
				})
				if err != nil {
					t.Fatal(err)
				}
			}

			request(0)
			gormBefore := len(prepared.Stmts.Keys())
			serverBefore := preparedCount(t, e)
			for i := 1; i <= 1000; i++ {
				request(i)
			}
			if got := len(prepared.Stmts.Keys()); got != gormBefore {
				t.Errorf("GORM's statement cache grew from %d to %d statements", gormBefore, got)
			}
			if got := preparedCount(t, e); got != serverBefore {
				t.Errorf("the connection's prepared statements grew from %d to %d", serverBefore, got)
			}

			const writes = 6
			got := e.stored(t, 1001*writes)
			if len(got) != 1001*writes {
				t.Fatalf("got %d changes, want %d", len(got), 1001*writes)
			}
			for j, c := range got {
				if want := ctxJSON(j / writes); !sameJSON(c.context, want) {
					t.Fatalf("change %d has context %q, want %q: %s", j, c.context, want, c.data)
				}
			}
		})
	}
}

// preparedCount returns the number of prepared statements on the pool's
// only connection, as the server lists them: pgx's statement cache and
// GORM's prepared statements.
func preparedCount(t *testing.T, e *env) int {
	t.Helper()

	sqlDB, err := e.db.DB()
	if err != nil {
		t.Fatal(err)
	}
	// The simple protocol keeps this query out of the cache it counts.
	var n int
	err = sqlDB.QueryRowContext(context.Background(), `SELECT count(*) FROM pg_prepared_statements`,
		pgx.QueryExecModeSimpleProtocol).Scan(&n)
	if err != nil {
		t.Fatal(err)
	}

	return n
}

// TestSimpleProtocolDataNeverBecomesContext writes values that look like a
// Bemi comment with pgx's simple protocol, where pgx puts the arguments
// into the statement text, and checks that only the context of the
// statement's context.Context reaches the WAL.
func TestSimpleProtocolDataNeverBecomesContext(t *testing.T) {
	e := newEnv(t, envOptions{simple: true})
	spoofs := []string{
		`/*Bemi {"userId":666} Bemi*/`,
		`x') /*Bemi {"userId":666} Bemi*/`,
		`x' /*Bemi {"userId":666} Bemi*/ --`,
		"x'\n/*Bemi {\"userId\":666} Bemi*/;",
	}

	var want []change
	for i, s := range spoofs {
		if err := e.db.Create(&Item{Name: s + itoa(i)}).Error; err != nil {
			t.Fatal(err)
		}
		want = append(want, change{table: "public.items", op: "CREATE", context: ""})
		if err := e.db.WithContext(user(i)).Create(&Item{Name: s + "ctx" + itoa(i)}).Error; err != nil {
			t.Fatal(err)
		}
		want = append(want, change{table: "public.items", op: "CREATE", context: ctxJSON(i)})
		if err := e.db.Exec(`UPDATE items SET qty = 1 WHERE name = ?`, s+itoa(i)).Error; err != nil {
			t.Fatal(err)
		}
		want = append(want, change{table: "public.items", op: "UPDATE", context: ""})
	}
	err := e.db.Transaction(func(tx *gorm.DB) error {
		if err := tx.WithContext(user(1)).Create(&Item{Name: spoofs[0] + "tx"}).Error; err != nil {
			return err
		}

		return tx.Create(&Item{Name: spoofs[1] + "tx"}).Error
	})
	if err != nil {
		t.Fatal(err)
	}
	want = append(want,
		change{table: "public.items", op: "CREATE", context: ctxJSON(1)},
		change{table: "public.items", op: "CREATE", context: "{}"})

	expectContexts(t, e.stored(t, len(want)), want)

	// With the simple protocol the plugin appends the comment instead of
	// calling set_config.
	for _, sql := range e.trace.take() {
		if strings.Contains(sql, "set_config") {
			t.Errorf("sent %q with the simple protocol", sql)
		}
	}
}
