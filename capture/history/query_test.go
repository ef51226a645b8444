package history_test

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bemi-go/bemi/capture/history"
	"github.com/bemi-go/bemi/core"
)

const querySchema = `
CREATE TABLE todos (id int PRIMARY KEY, task text, done boolean);
` + markerTable

func TestChangesFilters(t *testing.T) {
	s := newSource(t, querySchema, nil)
	s.txWith(`{"userId": 187234, "endpoint": "/todo"}`, `INSERT INTO todos VALUES (26, 'Sleep', false), (27, 'Eat', false)`)
	time.Sleep(20 * time.Millisecond)
	var middle time.Time
	if err := s.conn.QueryRow(t.Context(), "SELECT clock_timestamp()").Scan(&middle); err != nil {
		t.Fatal(err)
	}
	time.Sleep(20 * time.Millisecond)
	s.txWith(`{"userId": 187234, "endpoint": "/todo/complete", "params": {"id": 26}}`, `UPDATE todos SET done = true WHERE id = 26`)
	s.txWith(`{"userId": 1}`, `DELETE FROM todos WHERE id = 27`)
	s.waitSynced()

	ids := func(f history.Filter, order history.Order) string {
		t.Helper()
		f.Table = cmpOr(f.Table, "todos")
		page, err := s.reader.Changes(t.Context(), history.Query{Filter: f, Order: order})
		if err != nil {
			t.Fatalf("changes %+v: %v", f, err)
		}
		var out []string
		for _, c := range page.Changes {
			out = append(out, string(c.Operation)+" "+*c.PrimaryKey)
		}

		return strings.Join(out, ", ")
	}

	tests := []struct {
		name   string
		filter history.Filter
		order  history.Order
		want   string
	}{
		{"record", history.Filter{PrimaryKeys: []string{"26"}}, history.Ascending, "CREATE 26, UPDATE 26"},
		{"record newest first", history.Filter{PrimaryKeys: []string{"26"}}, history.Descending, "UPDATE 26, CREATE 26"},
		{"operation", history.Filter{Operations: []core.Operation{core.OperationDelete}}, history.Ascending, "DELETE 27"},
		{"context", history.Filter{Context: core.Fields{"userId": 187234}}, history.Ascending, "CREATE 26, CREATE 27, UPDATE 26"},
		{"nested context", history.Filter{Context: core.Fields{"params": map[string]any{"id": 26}}}, history.Ascending, "UPDATE 26"},
		{"since", history.Filter{Since: middle}, history.Ascending, "UPDATE 26, DELETE 27"},
		{"until", history.Filter{Until: middle}, history.Ascending, "CREATE 26, CREATE 27"},
		{"schema", history.Filter{Schema: "other"}, history.Ascending, ""},
		{"two keys", history.Filter{PrimaryKeys: []string{"26", "27"}, Operations: []core.Operation{core.OperationCreate}}, history.Ascending, "CREATE 26, CREATE 27"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ids(tt.filter, tt.order); got != tt.want {
				t.Errorf("changes = %q, want %q", got, tt.want)
			}
		})
	}

	// A transaction by position and by xid.
	all, err := s.reader.All(t.Context(), history.Filter{Table: "todos"}, 100)
	if err != nil {
		t.Fatal(err)
	}
	if got := ids(history.Filter{Position: all[0].Position}, history.Ascending); got != "CREATE 26, CREATE 27" {
		t.Errorf("changes of position %d = %q, want both creates", all[0].Position, got)
	}
	if got := ids(history.Filter{TransactionID: all[3].TransactionID}, history.Ascending); got != "DELETE 27" {
		t.Errorf("changes of xid %d = %q, want the delete", all[3].TransactionID, got)
	}

	diff, err := history.Diff(all[2])
	if err != nil {
		t.Fatal(err)
	}
	if len(diff) != 1 || diff[0].Column != "done" || string(diff[0].Old) != "false" || string(diff[0].New) != "true" {
		t.Errorf("diff of the update = %+v, want done: false -> true", diff)
	}
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}

	return b
}

func TestChangesPagingWhileWriting(t *testing.T) {
	s := newSource(t, querySchema, nil)

	writer := connect(t, s.url)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; i < 200 && ctx.Err() == nil; i++ {
			// Some transactions write several rows at one commit LSN.
			if _, err := writer.Exec(ctx, "INSERT INTO todos SELECT g, 'task', false FROM generate_series($1::int, $1::int + $2::int - 1) g", i*10, 1+i%3); err != nil {
				t.Errorf("writer: %v", err)

				return
			}
			time.Sleep(2 * time.Millisecond)
		}
	}()

	seen := map[string]int{}
	var cursor string
	read := func() int {
		page, err := s.reader.Changes(t.Context(), history.Query{Filter: history.Filter{Table: "todos"}, Limit: 7, After: cursor})
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range page.Changes {
			seen[c.ID]++
		}
		if len(page.Changes) > 0 {
			cursor = history.Cursor(page.Changes[len(page.Changes)-1])
		}

		return len(page.Changes)
	}

	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	pages := 0
	for writing := true; writing; pages++ {
		select {
		case <-done:
			writing = false
		default:
		}
		read()
	}
	s.waitSynced()
	for read() > 0 {
		pages++
	}

	var total int
	if err := s.conn.QueryRow(t.Context(), `SELECT count(*) FROM changes WHERE "table" = 'todos'`).Scan(&total); err != nil {
		t.Fatal(err)
	}
	if total < 200 {
		t.Fatalf("only %d changes were written; the writer did not run", total)
	}
	if len(seen) != total {
		t.Errorf("paging saw %d distinct changes in %d pages, the table holds %d", len(seen), pages, total)
	}
	for id, n := range seen {
		if n != 1 {
			t.Errorf("change %s was returned %d times", id, n)
		}
	}
}

func TestChangesPageCursor(t *testing.T) {
	s := newSource(t, querySchema, nil)
	s.exec("INSERT INTO todos SELECT g, 't', false FROM generate_series(1, 5) g")
	s.waitSynced()

	for _, order := range []history.Order{history.Ascending, history.Descending} {
		var keys []string
		q := history.Query{Filter: history.Filter{Table: "todos"}, Order: order, Limit: 2}
		for range 10 {
			page, err := s.reader.Changes(t.Context(), q)
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range page.Changes {
				keys = append(keys, *c.PrimaryKey)
			}
			if page.Next == "" {
				break
			}
			q.After = page.Next
		}
		want := []string{"1", "2", "3", "4", "5"}
		if order == history.Descending {
			slices.Reverse(want)
		}
		if !slices.Equal(keys, want) {
			t.Errorf("order %d: pages returned %v, want %v", order, keys, want)
		}
	}

	_, err := s.reader.Changes(t.Context(), history.Query{After: "not a cursor"})
	if err == nil || !strings.Contains(err.Error(), "invalid cursor") {
		t.Errorf("bad cursor = %v; want an invalid cursor error", err)
	}
}

func TestAsOfNoPrimaryKey(t *testing.T) {
	s := newSource(t, "CREATE TABLE logs (line text);"+markerTable, nil)
	s.exec("INSERT INTO logs VALUES ('a')")
	s.waitSynced()

	var noKey *history.NoPrimaryKeyError
	_, err := s.reader.TableAsOf(t.Context(), history.Table{Name: "logs"}, time.Now())
	if !errTypeIs(err, &noKey) {
		t.Errorf("TableAsOf(logs) = %v; want a *NoPrimaryKeyError", err)
	}
	_, err = s.reader.RecordAsOf(t.Context(), history.Record{Table: history.Table{Name: "logs"}, PrimaryKey: "a"}, time.Now())
	if !errTypeIs(err, &noKey) {
		t.Errorf("RecordAsOf(logs) = %v; want a *NoPrimaryKeyError", err)
	}

	snap, err := history.TakeSnapshot(t.Context(), history.SnapshotConfig{SourceURL: s.url})
	if err != nil {
		t.Fatal(err)
	}
	if len(snap.Skipped) != 1 || !strings.Contains(snap.Skipped[0], "logs") {
		t.Errorf("snapshot skipped %q; want logs, which has no primary key", snap.Skipped)
	}
}
