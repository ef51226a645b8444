package setup

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/bemi-go/bemi/core"
	"github.com/jackc/pgx/v5"
)

// Context values must never change what SQL runs, and the message in the WAL
// must carry exactly the encoder's output as valid jsonb.
func TestCaptureHostileValues(t *testing.T) {
	t.Parallel()
	conn, wal := trackedDatabase(t, `CREATE TABLE notes (id int PRIMARY KEY, body text NOT NULL);`)
	ctx := context.Background()

	big := strings.Repeat("ab*/cd/*ef--'\n", 2<<20/14+1) // over 2 MB
	values := []struct {
		name    string
		value   string
		encoder *core.Encoder
	}{
		{"comment end", "*/ DELETE FROM notes; /*", nil},
		{"comment start", "/* nested /* open", nil},
		{"comment end marker", "x Bemi*/ y", nil},
		{"line comment", "-- DELETE FROM notes", nil},
		{"quotes", `'); DELETE FROM notes; --"` + "`", nil},
		{"NUL", "a\x00b", nil},
		{"newlines", "line1\nline2\r\n*/\n/*", nil},
		{"invalid UTF-8", "bad\xff\xfe\xc3(", nil},
		{"unpaired surrogate text", `\ud800`, nil},
		{"2 MB truncated by the default limit", big, nil},
		{"2 MB without a limit", big, &core.Encoder{MaxSize: -1}},
	}

	type statement struct {
		sql     string
		args    []any
		payload []byte
	}
	var statements []statement
	var wantRows []string
	for i, v := range values {
		enc := v.encoder
		if enc == nil {
			enc = &core.Encoder{Logger: discardLogger()}
		}
		payload, err := enc.Encode(core.Fields{"value": v.value, "case": v.name})
		if err != nil {
			t.Fatalf("%s: encode: %v", v.name, err)
		}
		id := i + 1

		// Extended protocol with parameters, then simple protocol with
		// literals, then an UPDATE.
		statements = append(statements,
			statement{core.AppendComment("INSERT INTO notes (id, body) VALUES ($1, $2)", payload),
				[]any{id, fmt.Sprintf("row %d", id)}, payload},
			statement{core.AppendComment(fmt.Sprintf("INSERT INTO notes (id, body) VALUES (%d, 'row %d')", id+100, id+100), payload),
				nil, payload},
			statement{core.AppendComment("UPDATE notes SET body = body || ' updated' WHERE id = $1", payload),
				[]any{id}, payload},
		)
		wantRows = append(wantRows, fmt.Sprintf("%d row %d updated", id, id), fmt.Sprintf("%d row %d", id+100, id+100))
	}

	for _, st := range statements {
		if _, err := conn.Exec(ctx, st.sql, st.args...); err != nil {
			t.Fatalf("exec %q: %v", truncate(st.sql, 200), err)
		}
	}

	gotRows := queryStrings(t, conn, `SELECT id || ' ' || body FROM notes ORDER BY id`)
	slices.SortFunc(wantRows, func(a, b string) int {
		var x, y int
		fmt.Sscan(a, &x)
		fmt.Sscan(b, &y)

		return x - y
	})
	if !slices.Equal(gotRows, wantRows) {
		t.Errorf("rows = %q, want %q", gotRows, wantRows)
	}

	txs := wal.transactions(t)
	if len(txs) != len(statements) {
		t.Fatalf("decoded %d transactions, want %d:\n%s", len(txs), len(statements), render(txs))
	}
	for i, tx := range txs {
		st := statements[i]
		op := "INSERT"
		if strings.HasPrefix(st.sql, "UPDATE") {
			op = "UPDATE"
		}
		want := []string{"msg " + string(st.payload), op + " public.notes"}
		if !slices.Equal(tx, want) {
			t.Errorf("statement %q: decoded %q, want %q", truncate(st.sql, 80), truncateAll(tx), truncateAll(want))

			continue
		}
		var valid bool
		err := conn.QueryRow(ctx, `SELECT $1::jsonb IS NOT NULL`, strings.TrimPrefix(tx[0], "msg ")).Scan(&valid)
		if err != nil || !valid {
			t.Errorf("statement %q: message is not valid jsonb: %v", truncate(st.sql, 80), err)
		}
	}
}

func truncateAll(events []string) []string {
	out := make([]string, len(events))
	for i, e := range events {
		out[i] = truncate(e, 100)
	}

	return out
}

// Hostile context values through the transaction-local setting, as an
// adapter sends them when it keeps the statement text unchanged.
func TestCaptureHostileValuesSetting(t *testing.T) {
	t.Parallel()
	conn, wal := trackedDatabase(t, `CREATE TABLE notes (id int PRIMARY KEY, body text NOT NULL);`)
	ctx := context.Background()

	enc := &core.Encoder{Logger: discardLogger()}
	payload, err := enc.Encode(core.Fields{"value": "*/ '; DELETE FROM notes; --\x00\xff"})
	if err != nil {
		t.Fatal(err)
	}
	batch := &pgx.Batch{}
	batch.Queue("SELECT set_config($1, $2, true)", core.SettingName, string(payload))
	batch.Queue("INSERT INTO notes VALUES (1, 'one')")
	batch.Queue("SELECT set_config($1, '', true)", core.SettingName)
	if err := conn.SendBatch(ctx, batch).Close(); err != nil {
		t.Fatal(err)
	}

	assertTransactions(t, wal.transactions(t), [][]string{{"msg " + string(payload), "INSERT public.notes"}})
	if rows := queryStrings(t, conn, "SELECT id || ' ' || body FROM notes"); !slices.Equal(rows, []string{"1 one"}) {
		t.Errorf("rows = %q, want [1 one]", rows)
	}
}
