package gormbemi_test

import (
	"testing"
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

	expectContexts(t, changes(e.readWAL(t)), []change{{table: "public.items", op: "INSERT", context: ctxJSON(1)}})
	for _, sql := range e.trace.take() {
		t.Log(sql)
	}
}
