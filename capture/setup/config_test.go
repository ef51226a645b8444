package setup

import (
	"strings"
	"testing"
)

func TestParseTableName(t *testing.T) {
	t.Parallel()

	tests := []struct {
		in      string
		want    tableName
		wantErr string
	}{
		{in: "todos", want: tableName{"public", "todos"}},
		{in: "Todos", want: tableName{"public", "todos"}},
		{in: " app.todos ", want: tableName{"app", "todos"}},
		{in: "app.*", want: tableName{"app", ""}},
		{in: "*", want: tableName{"public", ""}},
		{in: `app."*"`, want: tableName{"app", "*"}},
		{in: `"My Schema"."Order Items"`, want: tableName{"My Schema", "Order Items"}},
		{in: `"a.b"."c""d"`, want: tableName{"a.b", `c"d`}},
		{in: `APP."Mixed"`, want: tableName{"app", "Mixed"}},
		{in: strings.Repeat("x", 63), want: tableName{"public", strings.Repeat("x", 63)}},
		{in: strings.Repeat("x", 64), wantErr: "at most 63"},
		{in: "a.b.c", wantErr: "use schema.table"},
		{in: "*.todos", wantErr: "schema cannot be a pattern"},
		{in: `"unterminated`, wantErr: "unterminated double quote"},
		{in: "app.", wantErr: "empty name"},
		{in: "", wantErr: "empty name"},
		{in: "two words", wantErr: "double-quote it"},
		{in: `"a"b`, wantErr: `unexpected "b"`},
		{in: "a\x00b", wantErr: "NUL"},
	}
	for _, tt := range tests {
		got, err := parseTableName(tt.in)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("parseTableName(%q) err = %v, want it to contain %q", tt.in, err, tt.wantErr)
			}

			continue
		}
		if err != nil {
			t.Errorf("parseTableName(%q): %v", tt.in, err)

			continue
		}
		if got != tt.want {
			t.Errorf("parseTableName(%q) = %+v, want %+v", tt.in, got, tt.want)
		}
	}
}

func TestConfigResolveDefaults(t *testing.T) {
	t.Parallel()

	r, err := Config{}.resolve()
	if err != nil {
		t.Fatal(err)
	}
	if r.publication != "bemi" || r.slot != "bemi" || r.destination != (tableName{"public", "changes"}) {
		t.Errorf("zero Config resolves to %+v, want publication and slot bemi, destination public.changes", r)
	}

	for _, cfg := range []Config{
		{Slot: "Upper"},
		{Publication: strings.Repeat("p", 64)},
		{DestinationTable: "audit.*"},
		{Tables: []string{"a.b.c"}},
		{ExcludeTables: []string{`"x`}},
	} {
		if _, err := cfg.resolve(); err == nil {
			t.Errorf("Config %+v resolves without error", cfg)
		}
	}
}

func TestSQLQuotesConfiguration(t *testing.T) {
	t.Parallel()

	script, err := SQL(Config{
		Publication:      `pub"lic`,
		Tables:           []string{`"it's"."back\slash"`},
		DestinationTable: `audit."o'changes"`,
		SkipSlot:         true,
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`'pub"lic'`,
		`('include', 'it''s', E'back\\slash')`,
		`'audit', 'o''changes'`,
		"SELECT kind, action FROM bemi.refresh();",
	} {
		if !strings.Contains(script.Setup, want) {
			t.Errorf("Setup SQL lacks %s", want)
		}
	}
	if script.Slot != "" {
		t.Errorf("Slot SQL = %q, want empty with SkipSlot", script.Slot)
	}
}
