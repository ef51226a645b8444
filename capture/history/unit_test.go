package history_test

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/bemi-go/bemi/capture/history"
	"github.com/bemi-go/bemi/core"
)

// errTypeIs reports whether err has the type of *target.
func errTypeIs[T error](err error, target *T) bool { return errors.As(err, target) }

func TestDiff(t *testing.T) {
	tests := []struct {
		name          string
		before, after string
		want          []history.FieldChange
	}{
		{"update", `{"id": 1, "task": "a", "n": 1.50}`, `{"id": 1, "task": "b", "n": 1.5}`,
			[]history.FieldChange{{Column: "task", Old: json.RawMessage(`"a"`), New: json.RawMessage(`"b"`)}}},
		{"added and removed", `{"id": 1, "old": null}`, `{"id": 1, "new": [1]}`,
			[]history.FieldChange{{Column: "new", New: json.RawMessage(`[1]`)}, {Column: "old", Old: json.RawMessage(`null`)}}},
		{"create", `{}`, `{"id": 2}`, []history.FieldChange{{Column: "id", New: json.RawMessage(`2`)}}},
		{"nested equal", `{"m": {"a": 1, "b": [1, {"c": 2}]}}`, `{"m": {"b": [1, {"c": 2.0}], "a": 1}}`, nil},
		{"null to value", `{"x": null}`, `{"x": 0}`, []history.FieldChange{{Column: "x", Old: json.RawMessage(`null`), New: json.RawMessage(`0`)}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := history.Diff(core.Change{Before: json.RawMessage(tt.before), After: json.RawMessage(tt.after)})
			if err != nil {
				t.Fatal(err)
			}
			if string(mustJSON(t, got)) != string(mustJSON(t, tt.want)) {
				t.Errorf("Diff = %s, want %s", mustJSON(t, got), mustJSON(t, tt.want))
			}
		})
	}

	if _, err := history.Diff(core.Change{Before: json.RawMessage(`[`), After: json.RawMessage(`{}`)}); err == nil {
		t.Error("Diff of invalid JSON returned no error")
	}
}

func TestFieldChangeAddedRemoved(t *testing.T) {
	added := history.FieldChange{Column: "a", New: json.RawMessage(`1`)}
	removed := history.FieldChange{Column: "a", Old: json.RawMessage(`1`)}
	if !added.Added() || added.Removed() || removed.Added() || !removed.Removed() {
		t.Errorf("Added/Removed wrong: added %v/%v, removed %v/%v", added.Added(), added.Removed(), removed.Added(), removed.Removed())
	}
}

func TestStatementString(t *testing.T) {
	tests := []struct {
		name string
		st   history.Statement
		want string
	}{
		{"quote", history.Statement{SQL: "SELECT $1::jsonb", Args: []any{`{"a": "it's"}`}}, `SELECT '{"a": "it''s"}'::jsonb`},
		{"backslash", history.Statement{SQL: "SELECT $1", Args: []any{`a\b`}}, `SELECT E'a\\b'`},
		{"placeholder in identifier", history.Statement{SQL: `SELECT "$1" FROM t WHERE x = $1`, Args: []any{"v"}}, `SELECT "$1" FROM t WHERE x = 'v'`},
		{"two digits", history.Statement{SQL: "SELECT $1, $10", Args: []any{"a", "b", "c", "d", "e", "f", "g", "h", "i", "j"}}, `SELECT 'a', 'j'`},
		{"number and null", history.Statement{SQL: "SELECT $1, $2", Args: []any{int64(7), nil}}, `SELECT 7, NULL`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.st.String(); got != tt.want {
				t.Errorf("String() = %s, want %s", got, tt.want)
			}
		})
	}
}

func TestSplitTableName(t *testing.T) {
	for in, want := range map[string][2]string{"todos": {"public", "todos"}, "app.users": {"app", "users"}} {
		if s, tb := history.SplitTableName(in); s != want[0] || tb != want[1] {
			t.Errorf("SplitTableName(%q) = %s, %s; want %s, %s", in, s, tb, want[0], want[1])
		}
	}
}
