package gormbemi_test

import (
	"context"
	"strings"
	"testing"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

func TestCreateCarriesContext(t *testing.T) {
	e := newEnv(t, envOptions{})

	item := Item{Name: "a", Qty: 1}
	if err := e.db.WithContext(user(1)).Create(&item).Error; err != nil {
		t.Fatal(err)
	}
	if item.ID == 0 {
		t.Fatal("Create did not return the primary key")
	}

	expectContexts(t, e.stored(t, 1), []change{{table: "public.items", op: "CREATE", context: ctxJSON(1)}})
}

// TestStatementsSent checks what a write with context sends, statement by
// statement: the statement text stays unchanged wherever a statement cache
// could see it.
func TestStatementsSent(t *testing.T) {
	e := newEnv(t, envOptions{})
	payload := ctxJSON(1)

	cases := []struct {
		name  string
		write func(db *gorm.DB) error
		want  []string
	}{
		{
			name:  "default transaction",
			write: func(db *gorm.DB) error { return db.Create(&Item{Name: "a"}).Error },
			want: []string{
				"BATCH[begin | SELECT pg_catalog.set_config('bemi.context', $1, true) IS NULL]",
				`INSERT INTO "items" ("name","qty","owner_id","deleted_at") VALUES ($1,$2,$3,$4) RETURNING "id"`,
				"commit",
			},
		},
		{
			name:  "exec outside a transaction",
			write: func(db *gorm.DB) error { return db.Exec(`UPDATE items SET qty = ?`, 2).Error },
			want:  []string{"BATCH[SELECT pg_catalog.set_config('bemi.context', $1, true) IS NULL | UPDATE items SET qty = $1]"},
		},
		{
			name: "query outside a transaction",
			write: func(db *gorm.DB) error {
				var id int64
				return db.Raw(`INSERT INTO items (name) VALUES (?) RETURNING id`, "b").Scan(&id).Error
			},
			want: []string{"BATCH[SELECT pg_catalog.set_config('bemi.context', $1, true) IS NULL | INSERT INTO items (name) VALUES ($1) RETURNING id]"},
		},
		{
			name: "user transaction",
			write: func(db *gorm.DB) error {
				return db.Transaction(func(tx *gorm.DB) error {
					if err := tx.Model(&Item{}).Where("name = ?", "a").Update("qty", 3).Error; err != nil {
						return err
					}

					return tx.Model(&Item{}).Where("name = ?", "b").Update("qty", 3).Error
				})
			},
			want: []string{
				"begin",
				"SELECT pg_catalog.set_config('bemi.context', $1, true) IS NULL",
				`UPDATE "items" SET "qty"=$1 WHERE name = $2 AND "items"."deleted_at" IS NULL`,
				`UPDATE "items" SET "qty"=$1 WHERE name = $2 AND "items"."deleted_at" IS NULL`,
				"commit",
			},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e.trace.take()
			if err := c.write(e.db.WithContext(user(1))); err != nil {
				t.Fatal(err)
			}
			got := e.trace.take()
			if strings.Join(got, "\n") != strings.Join(c.want, "\n") {
				t.Errorf("statements sent:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(c.want, "\n"))
			}
		})
	}

	got := e.stored(t, 5)
	if len(got) != 5 {
		t.Fatalf("got %d changes, want 5:\n%s", len(got), formatChanges(got))
	}
	for i, ch := range got {
		if !sameJSON(ch.context, payload) {
			t.Errorf("change %d has context %q, want %q", i, ch.context, payload)
		}
	}
}

func TestWritesCarryContext(t *testing.T) {
	e := newEnv(t, envOptions{})
	db := e.db
	item := Item{Name: "a"}
	if err := db.Create(&item).Error; err != nil {
		t.Fatal(err)
	}

	want := []change{{table: "public.items", op: "CREATE", context: ""}}
	steps := []struct {
		name string
		run  func(db *gorm.DB) error
		op   string
	}{
		{"Save", func(db *gorm.DB) error { item.Qty = 2; return db.Save(&item).Error }, "UPDATE"},
		{"Update", func(db *gorm.DB) error { return db.Model(&item).Update("qty", 3).Error }, "UPDATE"},
		{"Updates", func(db *gorm.DB) error { return db.Model(&item).Updates(Item{Qty: 4}).Error }, "UPDATE"},
		{"UpdateColumn", func(db *gorm.DB) error { return db.Model(&item).UpdateColumn("qty", 5).Error }, "UPDATE"},
		{"UpdateColumns", func(db *gorm.DB) error {
			return db.Model(&item).UpdateColumns(map[string]any{"qty": 6}).Error
		}, "UPDATE"},
		{"Upsert", func(db *gorm.DB) error {
			return db.Clauses(clause.OnConflict{
				Columns:   []clause.Column{{Name: "name"}},
				DoUpdates: clause.AssignmentColumns([]string{"qty"}),
			}).Create(&Item{Name: "a", Qty: 7}).Error
		}, "UPDATE"},
		{"SoftDelete", func(db *gorm.DB) error { return db.Delete(&item).Error }, "UPDATE"},
		{"Delete", func(db *gorm.DB) error { return db.Unscoped().Delete(&item).Error }, "DELETE"},
		{"Exec", func(db *gorm.DB) error { return db.Exec(`INSERT INTO items (name) VALUES (?)`, "b").Error }, "CREATE"},
		{"RawScan", func(db *gorm.DB) error {
			var id int64
			return db.Raw(`INSERT INTO items (name) VALUES (?) RETURNING id`, "c").Scan(&id).Error
		}, "CREATE"},
		{"RawRow", func(db *gorm.DB) error {
			var id int64
			return db.Raw(`INSERT INTO items (name) VALUES (?) RETURNING id`, "d").Row().Scan(&id)
		}, "CREATE"},
	}
	for i, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			id := 100 + i
			if err := s.run(db.WithContext(user(id))); err != nil {
				t.Fatal(err)
			}
			want = append(want, change{table: "public.items", op: s.op, context: ctxJSON(id)})
			expectContexts(t, e.stored(t, len(want)), want)
		})
	}
}

func TestCreateInBatchesOneMessage(t *testing.T) {
	e := newEnv(t, envOptions{wal: true})

	items := make([]Item, 1000)
	for i := range items {
		items[i] = Item{Name: "bulk" + itoa(i)}
	}
	if err := e.db.WithContext(user(7)).CreateInBatches(&items, 1000).Error; err != nil {
		t.Fatal(err)
	}

	txs := e.readWAL(t)
	if len(txs) != 1 {
		t.Fatalf("got %d transactions, want 1", len(txs))
	}
	if len(txs[0].messages) != 1 || txs[0].messages[0] != ctxJSON(7) {
		t.Errorf("messages = %q, want one %s", txs[0].messages, ctxJSON(7))
	}
	if len(txs[0].changes) != 1000 {
		t.Fatalf("got %d changes, want 1000", len(txs[0].changes))
	}
	for i, c := range txs[0].changes {
		if c.context != ctxJSON(7) {
			t.Fatalf("change %d has context %q in the WAL", i, c.context)
		}
	}

	stored := e.stored(t, 1000)
	if len(stored) != 1000 {
		t.Fatalf("the worker stored %d changes, want 1000", len(stored))
	}
	for i, c := range stored {
		if !sameJSON(c.context, ctxJSON(7)) {
			t.Fatalf("stored change %d has context %s", i, c.context)
		}
	}
}

func TestAssociationsCarryContext(t *testing.T) {
	e := newEnv(t, envOptions{})

	owner := Owner{Name: "o", Items: []Item{{Name: "x"}, {Name: "y"}}}
	if err := e.db.WithContext(user(3)).Create(&owner).Error; err != nil {
		t.Fatal(err)
	}

	expectContexts(t, e.stored(t, 3), []change{
		{table: "public.owners", op: "CREATE", context: ctxJSON(3)},
		{table: "public.items", op: "CREATE", context: ctxJSON(3)},
		{table: "public.items", op: "CREATE", context: ctxJSON(3)},
	})
}

func TestWriteWithoutContextHasNone(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.trace.take()

	if err := e.db.Create(&Item{Name: "a"}).Error; err != nil {
		t.Fatal(err)
	}

	expectContexts(t, e.stored(t, 1), []change{{table: "public.items", op: "CREATE", context: ""}})
	for _, sql := range e.trace.take() {
		if strings.Contains(sql, "set_config") || strings.Contains(sql, "/*Bemi") {
			t.Errorf("write without context sent %q", sql)
		}
	}
}

func TestReadsNotAnnotated(t *testing.T) {
	e := newEnv(t, envOptions{})
	if err := e.db.Create(&Item{Name: "a"}).Error; err != nil {
		t.Fatal(err)
	}
	e.trace.take()

	db := e.db.WithContext(user(1))
	var items []Item
	var item Item
	var n int64
	var names []string
	reads := []error{
		db.Find(&items).Error,
		db.First(&item).Error,
		db.Raw(`SELECT * FROM items WHERE name = ?`, "a").Scan(&item).Error,
		db.Model(&Item{}).Count(&n).Error,
		db.Model(&Item{}).Pluck("name", &names).Error,
		db.Transaction(func(tx *gorm.DB) error { return tx.Find(&items).Error }),
	}
	for i, err := range reads {
		if err != nil {
			t.Fatalf("read %d: %v", i, err)
		}
	}

	sent := e.trace.take()
	if len(sent) < 6 {
		t.Fatalf("recorded %d statements, want at least 6: %q", len(sent), sent)
	}
	for _, sql := range sent {
		if strings.Contains(sql, "set_config") || strings.Contains(sql, "/*Bemi") {
			t.Errorf("read sent %q", sql)
		}
	}
}

func TestNoDefaultTransaction(t *testing.T) {
	e := newEnv(t, envOptions{})
	db := e.db.Session(&gorm.Session{SkipDefaultTransaction: true})

	item := Item{Name: "a"}
	if err := db.WithContext(user(1)).Create(&item).Error; err != nil {
		t.Fatal(err)
	}
	if err := db.WithContext(user(2)).Model(&item).Update("qty", 2).Error; err != nil {
		t.Fatal(err)
	}
	if err := db.WithContext(user(3)).Unscoped().Delete(&item).Error; err != nil {
		t.Fatal(err)
	}
	if err := db.Create(&Item{Name: "b"}).Error; err != nil {
		t.Fatal(err)
	}

	expectContexts(t, e.stored(t, 4), []change{
		{table: "public.items", op: "CREATE", context: ctxJSON(1)},
		{table: "public.items", op: "UPDATE", context: ctxJSON(2)},
		{table: "public.items", op: "DELETE", context: ctxJSON(3)},
		{table: "public.items", op: "CREATE", context: ""},
	})
}

// TestEncodeErrorFailsWrite checks that a context that cannot be encoded
// stops the write instead of running it without context.
func TestEncodeErrorFailsWrite(t *testing.T) {
	e := newEnv(t, envOptions{})

	ctx := coreWith(context.Background(), "callback", func() {})
	err := e.db.WithContext(ctx).Create(&Item{Name: "a"}).Error
	if err == nil || !strings.Contains(err.Error(), `"callback"`) {
		t.Fatalf("err = %v, want an encoding error that names the field", err)
	}
	// A later write shows that the worker has read past the failed one.
	if err := e.db.Create(&Item{Name: "after"}).Error; err != nil {
		t.Fatal(err)
	}
	got := e.stored(t, 1)
	if len(got) != 1 || !strings.Contains(got[0].data, `"after"`) {
		t.Errorf("stored changes:\n%s\nwant only the row named after", formatChanges(got))
	}
}

// TestEncodeErrorFailsRow checks that Row returns the encoding error from
// Scan, as it returns a statement's error, and runs nothing.
func TestEncodeErrorFailsRow(t *testing.T) {
	e := newEnv(t, envOptions{})

	ctx := coreWith(context.Background(), "callback", func() {})
	var id int64
	err := e.db.WithContext(ctx).Raw(`INSERT INTO items (name) VALUES (?) RETURNING id`, "a").Row().Scan(&id)
	if err == nil || !strings.Contains(err.Error(), `"callback"`) {
		t.Fatalf("Scan error = %v, want an encoding error that names the field", err)
	}

	var n int64
	if err := e.db.Model(&Item{}).Count(&n).Error; err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Errorf("the failed write stored %d rows", n)
	}
}
