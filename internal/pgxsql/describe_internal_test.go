package pgxsql

import (
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
)

// TestDescriptionCacheBound checks that the cache clears itself when a
// statement beyond maxDescriptions arrives, and not when a recorded one is
// stored again.
func TestDescriptionCacheBound(t *testing.T) {
	var c DescriptionCache
	for i := range maxDescriptions {
		c.store(&pgconn.StatementDescription{SQL: fmt.Sprintf("SELECT %d", i)})
	}
	c.store(&pgconn.StatementDescription{SQL: "SELECT 0"})
	if c.lookup("SELECT 1") == nil {
		t.Fatal("storing a recorded statement again cleared the cache")
	}

	c.store(&pgconn.StatementDescription{SQL: "SELECT new"})
	if c.lookup("SELECT 1") != nil {
		t.Error("the cache kept its old statements after it was full")
	}
	if c.lookup("SELECT new") == nil {
		t.Error("the cache lost the statement that overflowed it")
	}
	if n := len(c.byText); n != 1 {
		t.Errorf("the cache holds %d statements after clearing, want 1", n)
	}
}
