package history_test

import (
	"encoding/json"
	"errors"
	"maps"
	"strings"
	"testing"

	"github.com/bemi-go/bemi/capture"
	"github.com/bemi-go/bemi/capture/history"
	"github.com/bemi-go/bemi/core"
)

const revertSchema = `
CREATE TYPE mood AS ENUM ('happy', 'sad');
CREATE TABLE accounts (
	id bigint PRIMARY KEY,
	name text NOT NULL,
	balance numeric(12,2),
	tags text[],
	meta jsonb,
	seen timestamptz,
	mood mood,
	ratio double precision,
	data bytea,
	price money,
	span interval,
	total numeric GENERATED ALWAYS AS (balance * 2) STORED
);
CREATE TABLE memberships (
	org text,
	user_id integer,
	role text NOT NULL,
	PRIMARY KEY (org, user_id)
);
` + markerTable

// seedRevert inserts the rows that the revert tests change.
func seedRevert(s *source) {
	s.t.Helper()

	s.txWith(`{"requestId": "seed"}`,
		`INSERT INTO accounts (id, name, balance, tags, meta, seen, mood, ratio, data, price, span) VALUES
			(1, 'Ann', 10.50, '{a,"b c"}', '{"k": [1, 2.50]}', '2024-02-29 12:34:56.123456+00', 'happy', 0.1, '\x00ff', 12.34, '1 day 02:03:04'),
			(2, 'Bob', NULL, NULL, NULL, NULL, NULL, 'NaN', NULL, NULL, NULL),
			(3, 'O''Hara', 1, '{}', '[]', '1999-12-31 23:59:59+00', 'sad', -1e-7, '\x', 0, '-3 mons'),
			(4, 'Dee', 4, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)`,
		`INSERT INTO memberships VALUES ('acme', 1, 'owner'), ('acme', 2, 'member'), ('beta', 1, 'guest')`)
}

func accountsState(s *source) map[string]json.RawMessage {
	return s.tableState("accounts", "t.id::text")
}

func membershipsState(s *source) map[string]json.RawMessage {
	return keyed(s.t, s.tableState("memberships", "json_build_array(t.org, t.user_id::text)::text"))
}

func TestRevertRequestRestoresTouchedRows(t *testing.T) {
	s := newSource(t, revertSchema, nil)
	seedRevert(s)
	accountsBefore, membersBefore := accountsState(s), membershipsState(s)

	s.txWith(`{"requestId": "a", "userId": 7}`,
		`UPDATE accounts SET name = 'Ann B', balance = 99.99, tags = '{x}', price = 1, span = '5 mins' WHERE id = 1`,
		`DELETE FROM accounts WHERE id = 2`,
		`INSERT INTO accounts (id, name) VALUES (10, 'new')`)
	s.txWith(`{"requestId": "b"}`, `UPDATE accounts SET name = 'Dee 2' WHERE id = 4`, `INSERT INTO accounts (id, name) VALUES (11, 'other')`)
	s.txWith(`{"requestId": "a", "userId": 7}`,
		`UPDATE memberships SET user_id = 5 WHERE org = 'acme' AND user_id = 1`,
		`DELETE FROM memberships WHERE org = 'acme' AND user_id = 2`,
		`UPDATE accounts SET meta = '{"k": null}', mood = NULL, ratio = 1e300, data = '\xdead' WHERE id = 3`,
		`DELETE FROM accounts WHERE id = 3`)
	accountsAfter, membersAfter := accountsState(s), membershipsState(s)
	s.waitSynced()

	ctx := core.With(t.Context(), core.Fields{"userId": 42, "endpoint": "/admin/revert"})
	result, err := history.Revert(ctx, s.conn, s.reader, history.Filter{Context: core.Fields{"requestId": "a"}}, history.RevertOptions{By: "ops@example.com"})
	if err != nil {
		t.Fatalf("revert: %v", err)
	}
	if !result.Applied || len(result.Changes) != 7 || len(result.Conflicts) != 0 {
		t.Fatalf("revert result: applied %v, %d changes, conflicts %v; want applied, 7 changes, no conflicts", result.Applied, len(result.Changes), result.Conflicts)
	}

	// Rows that request a touched are back as before it; the others are as
	// request b left them.
	wantAccounts := maps.Clone(accountsAfter)
	for _, id := range []string{"1", "2", "3", "10"} {
		delete(wantAccounts, id)
		if row, ok := accountsBefore[id]; ok {
			wantAccounts[id] = row
		}
	}
	if got := accountsState(s); !s.sameRows(got, wantAccounts) {
		t.Errorf("accounts after revert =\n%s\nwant\n%s", mustJSON(t, got), mustJSON(t, wantAccounts))
	}
	wantMembers := maps.Clone(membersAfter)
	delete(wantMembers, compositeKey("acme", "5"))
	for _, k := range []string{compositeKey("acme", "1"), compositeKey("acme", "2")} {
		wantMembers[k] = membersBefore[k]
	}
	if got := membershipsState(s); !s.sameRows(got, wantMembers) {
		t.Errorf("memberships after revert =\n%s\nwant\n%s", mustJSON(t, got), mustJSON(t, wantMembers))
	}

	// The revert is captured with its own context.
	s.waitSynced()
	page, err := s.reader.Changes(t.Context(), history.Query{Filter: history.Filter{
		Context: core.Fields{history.RevertKey: map[string]any{"by": "ops@example.com", "changes": 7}, "userId": 42},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(page.Changes), len(result.Statements)-len(settingsOf(result)); got != want {
		t.Fatalf("captured %d changes with the revert context, want one per statement (%d)", got, want)
	}
	var revertContext map[string]any
	if err := json.Unmarshal(page.Changes[0].Context, &revertContext); err != nil {
		t.Fatal(err)
	}
	info, _ := revertContext[history.RevertKey].(map[string]any)
	filter, _ := info["filter"].(map[string]any)
	if revertContext["endpoint"] != "/admin/revert" || filter["context"] == nil || info["transactions"] == nil {
		t.Errorf("revert context = %s; want the caller's fields, the filter and the transactions", page.Changes[0].Context)
	}
}

// settingsOf returns the statements that set the session and the context.
func settingsOf(r *history.RevertResult) []history.Statement {
	var out []history.Statement
	for _, s := range r.Statements {
		if strings.HasPrefix(s.SQL, "SELECT set_config") {
			out = append(out, s)
		}
	}

	return out
}

func TestRevertConflictRejectedUnlessForced(t *testing.T) {
	s := newSource(t, revertSchema, nil)
	seedRevert(s)
	before := accountsState(s)

	s.txWith(`{"requestId": "a"}`, `UPDATE accounts SET name = 'by a' WHERE id = 1`)
	s.txWith(`{"requestId": "c"}`, `UPDATE accounts SET balance = 5 WHERE id = 1`)
	s.waitSynced()
	conflicted := accountsState(s)

	filter := history.Filter{Context: core.Fields{"requestId": "a"}}
	result, err := history.Revert(t.Context(), s.conn, s.reader, filter, history.RevertOptions{})
	var conflictErr *history.ConflictError
	if !errors.As(err, &conflictErr) {
		t.Fatalf("revert = %v; want a *ConflictError", err)
	}
	if len(conflictErr.Conflicts) != 1 || conflictErr.Conflicts[0].PrimaryKey != "1" || !strings.Contains(conflictErr.Conflicts[0].Reason, "balance") {
		t.Errorf("conflicts = %+v; want account 1 with column balance", conflictErr.Conflicts)
	}
	if result == nil || result.Applied {
		t.Errorf("result = %+v; want a result that is not applied", result)
	}
	if got := accountsState(s); !s.sameRows(got, conflicted) {
		t.Errorf("a rejected revert changed accounts: %s", mustJSON(t, got))
	}

	result, err = history.Revert(t.Context(), s.conn, s.reader, filter, history.RevertOptions{Force: true})
	if err != nil || !result.Applied {
		t.Fatalf("forced revert: %v, applied %v", err, result != nil && result.Applied)
	}
	if got := accountsState(s); !s.sameJSON(got["1"], before["1"]) {
		t.Errorf("account 1 after a forced revert = %s, want %s", got["1"], before["1"])
	}
}

func TestRevertInterleavedChangeIsConflict(t *testing.T) {
	s := newSource(t, revertSchema, nil)
	seedRevert(s)

	s.txWith(`{"requestId": "a"}`, `UPDATE accounts SET name = 'a1' WHERE id = 2`)
	s.txWith(`{"requestId": "c"}`, `UPDATE accounts SET balance = 3 WHERE id = 2`)
	s.txWith(`{"requestId": "a"}`, `UPDATE accounts SET name = 'a2' WHERE id = 2`)
	s.waitSynced()

	_, err := history.Revert(t.Context(), s.conn, s.reader, history.Filter{Context: core.Fields{"requestId": "a"}}, history.RevertOptions{})
	var conflictErr *history.ConflictError
	if !errors.As(err, &conflictErr) {
		t.Fatalf("revert = %v; want a *ConflictError for the change between", err)
	}
	if len(conflictErr.Conflicts) != 1 || !strings.Contains(conflictErr.Conflicts[0].Reason, "between") {
		t.Errorf("conflicts = %+v; want one naming the change between", conflictErr.Conflicts)
	}
}

func TestRevertDryRunWritesNothing(t *testing.T) {
	s := newSource(t, revertSchema, nil)
	seedRevert(s)
	s.txWith(`{"requestId": "a"}`,
		`UPDATE accounts SET name = 'x' WHERE id = 1`, `DELETE FROM accounts WHERE id = 2`, `INSERT INTO accounts (id, name) VALUES (9, 'n')`)
	s.waitSynced()
	before := accountsState(s)

	result, err := history.Revert(t.Context(), s.conn, s.reader, history.Filter{Context: core.Fields{"requestId": "a"}}, history.RevertOptions{DryRun: true})
	if err != nil {
		t.Fatalf("dry run: %v", err)
	}
	if result.Applied {
		t.Error("dry run reports Applied")
	}
	var sql []string
	for _, st := range result.Statements[len(settingsOf(result)):] {
		sql = append(sql, strings.Fields(st.SQL)[0])
		if strings.Contains(st.SQL, "'x'") || strings.Contains(st.SQL, "Bob") {
			t.Errorf("statement %q holds a value in its SQL text; values must be parameters", st.SQL)
		}
	}
	if got := strings.Join(sql, " "); got != "DELETE INSERT UPDATE" {
		t.Errorf("dry run statements = %s, want DELETE INSERT UPDATE (reverse order)", got)
	}

	s.waitSynced()
	if got := accountsState(s); !s.sameRows(got, before) {
		t.Errorf("dry run changed accounts: %s", mustJSON(t, got))
	}
	page, err := s.reader.Changes(t.Context(), history.Query{Filter: history.Filter{Context: core.Fields{history.RevertKey: map[string]any{}}}})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Changes) != 0 {
		t.Errorf("dry run was captured: %d changes with a revert context", len(page.Changes))
	}
}

func TestRevertRejectsTruncate(t *testing.T) {
	s := newSource(t, revertSchema, nil)
	seedRevert(s)
	s.txWith(`{"requestId": "t"}`, `TRUNCATE memberships`)
	s.waitSynced()

	_, err := history.Revert(t.Context(), s.conn, s.reader, history.Filter{Context: core.Fields{"requestId": "t"}}, history.RevertOptions{})
	if err == nil || !strings.Contains(err.Error(), "TRUNCATE") {
		t.Fatalf("revert of a TRUNCATE = %v; want an error naming the TRUNCATE", err)
	}
	if n := len(membershipsState(s)); n != 0 {
		t.Errorf("memberships holds %d rows after a rejected revert, want 0", n)
	}
}

func TestRevertMaskedAndExcludedColumns(t *testing.T) {
	rules := map[string]capture.ColumnRule{"public.users": {Mask: []string{"email"}, Exclude: []string{"secret"}}}
	s := newSource(t, `
CREATE TABLE users (id int PRIMARY KEY, name text, email text, secret text DEFAULT 'fresh');
`+markerTable+`;
INSERT INTO users VALUES (1, 'Ann', 'ann@example.com', 's1'), (2, 'Bob', 'bob@example.com', 's2');`, rules)

	s.txWith(`{"requestId": "a"}`, `UPDATE users SET name = 'Ann 2', email = 'new@example.com', secret = 's9' WHERE id = 1`)
	s.txWith(`{"requestId": "d"}`, `DELETE FROM users WHERE id = 2`)
	s.waitSynced()

	filterA := history.Filter{Context: core.Fields{"requestId": "a"}}
	result, err := history.Revert(t.Context(), s.conn, s.reader, filterA, history.RevertOptions{Columns: rules})
	if err != nil {
		t.Fatalf("revert update: %v", err)
	}
	var name, email, secret string
	if err := s.conn.QueryRow(t.Context(), "SELECT name, email, secret FROM users WHERE id = 1").Scan(&name, &email, &secret); err != nil {
		t.Fatal(err)
	}
	if name != "Ann" || email != "new@example.com" || secret != "s9" {
		t.Errorf("user 1 = %s, %s, %s; want the name restored and the masked and excluded columns left alone", name, email, secret)
	}
	if len(result.Warnings) == 0 || !strings.Contains(strings.Join(result.Warnings, "\n"), "email") {
		t.Errorf("warnings = %q; want one naming the masked column", result.Warnings)
	}

	// Without the rules, the masked value would be written back.
	_, err = history.Revert(t.Context(), s.conn, s.reader, history.Filter{Context: core.Fields{"requestId": "d"}}, history.RevertOptions{})
	if err == nil || !strings.Contains(err.Error(), capture.MaskedValue) {
		t.Errorf("revert without column rules = %v; want an error about the masked value", err)
	}

	filterD := history.Filter{Context: core.Fields{"requestId": "d"}}
	_, err = history.Revert(t.Context(), s.conn, s.reader, filterD, history.RevertOptions{Columns: rules})
	if err == nil || !strings.Contains(err.Error(), "FillMissingColumns") {
		t.Fatalf("revert of a delete with unknown columns = %v; want an error naming FillMissingColumns", err)
	}

	result, err = history.Revert(t.Context(), s.conn, s.reader, filterD, history.RevertOptions{Columns: rules, FillMissingColumns: true})
	if err != nil {
		t.Fatalf("revert of a delete with FillMissingColumns: %v", err)
	}
	var email2 *string
	if err := s.conn.QueryRow(t.Context(), "SELECT name, email, secret FROM users WHERE id = 2").Scan(&name, &email2, &secret); err != nil {
		t.Fatal(err)
	}
	if name != "Bob" || email2 != nil || secret != "fresh" {
		t.Errorf("user 2 = %s, %v, %s; want Bob with the masked and excluded columns at their defaults", name, email2, secret)
	}
	if len(result.Warnings) == 0 {
		t.Error("no warning about the columns that took their defaults")
	}
}

func TestRevertRejectsEmptyFilter(t *testing.T) {
	s := newSource(t, revertSchema, nil)

	_, err := history.Revert(t.Context(), s.conn, s.reader, history.Filter{}, history.RevertOptions{})
	if err == nil || !strings.Contains(err.Error(), "empty filter") {
		t.Errorf("revert with an empty filter = %v; want an error", err)
	}
}
