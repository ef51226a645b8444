package entbemi

import (
	"container/list"
	"reflect"
	"testing"
)

// TestPreparedStatementsEvictsLeastRecentlyUsed fills a record of three
// statements, uses the oldest again, and checks which ones makeRoom
// evicts for two new statements.
func TestPreparedStatementsEvictsLeastRecentlyUsed(t *testing.T) {
	p := &preparedStatements{capacity: 3, byText: map[string]*list.Element{}}
	for _, sql := range []string{"a", "b", "c"} {
		p.add(sql)
	}
	if !p.has("a") {
		t.Fatal("has(a) = false after add")
	}

	if got := p.makeRoom(2); !reflect.DeepEqual(got, []string{"b", "c"}) {
		t.Errorf("makeRoom(2) evicted %q, want [b c]", got)
	}
	if p.len() != 1 || !p.has("a") {
		t.Errorf("record holds %d statements, want only a", p.len())
	}
	if got := p.makeRoom(1); got != nil {
		t.Errorf("makeRoom(1) evicted %q with room for 2, want none", got)
	}

	p.forget("a")
	if p.has("a") || p.len() != 0 {
		t.Error("forget(a) left a in the record")
	}
}

func TestStatementNameLength(t *testing.T) {
	name := statementName("INSERT INTO todos (title) VALUES ($1) RETURNING id")
	if len(name) != 53 || name[:5] != "bemi_" {
		t.Errorf("statementName = %q (%d characters), want bemi_ and 48 hex digits", name, len(name))
	}
	if statementName("a") == statementName("b") {
		t.Error("two texts got the same name")
	}
}
