package convert_test

import (
	"context"
	"errors"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/bemi-go/bemi/capture/convert"
	"github.com/bemi-go/bemi/core/pgtest"
)

// convertedColumn inserts one value into a one-column table, reads it back
// from a slot on a session with settings, and returns AppendValue's output
// and error together with the pgoutput text.
func convertedColumn(t *testing.T, columnType, literal string, settings map[string]string) (out, text []byte, err error, reader *pgx.Conn) {
	t.Helper()
	ctx := testContext(t)
	url := pgtest.NewDatabase(t)

	setup := connect(t, ctx, url, nil)
	mustExec(t, ctx, setup, "CREATE TABLE single (id integer PRIMARY KEY, v "+columnType+")")
	slot := createSlot(t, ctx, setup)
	mustExec(t, ctx, setup, "INSERT INTO single VALUES (1, "+literal+")")

	reader = connect(t, ctx, url, settings)
	inserted := peekInserts(t, ctx, reader, slot)
	if len(inserted) != 1 {
		t.Fatalf("slot has %d inserts, want 1", len(inserted))
	}

	text = inserted[0].values[1]
	out, err = convert.NewRegistry().AppendValue(nil, inserted[0].columns[1].TypeOID, text)

	return out, text, err, reader
}

// castsToJSONB reports whether PostgreSQL accepts data as jsonb, as the
// changes table's columns need.
func castsToJSONB(t *testing.T, conn *pgx.Conn, data []byte) error {
	t.Helper()

	var ok bool

	return conn.QueryRow(context.Background(), "SELECT $1::jsonb IS NOT NULL", string(data)).Scan(&ok)
}

// toJSONBFails reports the error of to_jsonb on the inserted value.
func toJSONBError(conn *pgx.Conn) error {
	var s string

	return conn.QueryRow(context.Background(), "SELECT to_jsonb(v)::text FROM single").Scan(&s)
}

func TestJSONEscapesThatJSONBRejects(t *testing.T) {
	t.Parallel()

	out, _, err, reader := convertedColumn(t, "json", `'{"nul": "a\u0000b", "lone": "\ud800", "pair": "\ud83d\ude00"}'`, convert.SessionSettings())
	if err != nil {
		t.Fatalf("AppendValue: %v", err)
	}
	if want := `{"nul":"a\\u0000b","lone":"\\ud800","pair":"\ud83d\ude00"}`; string(out) != want {
		t.Errorf("AppendValue = %s, want %s", out, want)
	}
	if err := castsToJSONB(t, reader, out); err != nil {
		t.Errorf("output %s does not fit into jsonb: %v", out, err)
	}
	if toJSONBError(reader) == nil {
		t.Error("to_jsonb accepted \\u0000; the documented difference is gone, update it")
	}
}

func TestJSONNumberBeyondNumericRange(t *testing.T) {
	t.Parallel()

	out, text, err, reader := convertedColumn(t, "json", `'{"n": 1e131072}'`, convert.SessionSettings())
	var valueErr *convert.ValueError
	if !errors.As(err, &valueErr) {
		t.Fatalf("AppendValue error = %v, want a *ValueError", err)
	}
	want, _ := convert.NewRegistry().AppendValue(nil, 25, text)
	if string(out) != string(want) {
		t.Errorf("AppendValue = %s, want the json text as a string %s", out, want)
	}
	if err := castsToJSONB(t, reader, out); err != nil {
		t.Errorf("output %s does not fit into jsonb: %v", out, err)
	}
	if toJSONBError(reader) == nil {
		t.Error("to_jsonb accepted 1e131072; the documented difference is gone, update it")
	}
}

func TestByteaEscapeOutputBecomesHex(t *testing.T) {
	t.Parallel()

	settings := convert.SessionSettings()
	settings["bytea_output"] = "escape"
	out, text, err, _ := convertedColumn(t, "bytea", `'\x615c01ff'`, settings)
	if err != nil {
		t.Fatalf("AppendValue(%q): %v", text, err)
	}
	if string(text) != `a\\\001\377` {
		t.Fatalf("pgoutput text %q is not in the escape format; the test no longer tests it", text)
	}
	if want := `"\\x615c01ff"`; string(out) != want {
		t.Errorf("AppendValue(%q) = %s, want %s", text, out, want)
	}
}
