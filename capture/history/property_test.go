package history_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/bemi-go/bemi/capture/history"
)

const propertySchema = `
CREATE TYPE mood AS ENUM ('happy', 'sad', 'it''s complicated');
CREATE TABLE accounts (
	id bigint PRIMARY KEY,
	name text NOT NULL,
	balance numeric(12,2),
	active boolean NOT NULL DEFAULT true,
	tags text[],
	meta jsonb,
	seen timestamptz,
	mood mood,
	ratio double precision,
	data bytea
);
CREATE TABLE memberships (
	org text,
	user_id integer,
	role text NOT NULL,
	since date,
	PRIMARY KEY (org, user_id)
);
` + markerTable + `;
INSERT INTO accounts (id, name, balance) SELECT g, 'seed ' || g, g * 1.5 FROM generate_series(1, 5) g;
INSERT INTO memberships VALUES ('acme', 1, 'owner', '2020-01-01'), ('acme', 2, 'member', NULL), ('be"ta', 1, 'member', '2021-06-30');
`

// compositeKey is the primary_key text of a composite key, as the capture
// worker writes it: a compact JSON array of the values' texts.
func compositeKey(parts ...string) string {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(parts); err != nil {
		panic(err)
	}

	return strings.TrimSuffix(buf.String(), "\n")
}

// moment is the state of the tables at one time.
type moment struct {
	at     time.Time
	index  int  // ops before this moment have interval <= index
	phaseB bool // taken after the snapshot
	state  map[string]map[string]json.RawMessage
}

// keyHistory is the model of the changes stored under one key.
type keyHistory struct {
	firstSeq      int
	firstInterval int
	firstOp       string
	intervals     []int
}

// workload runs random transactions and records, per key, the changes
// stored under it, so the test can tell when history must be incomplete.
type workload struct {
	t   *testing.T
	s   *source
	rng *rand.Rand

	seq      int
	interval int

	accounts    map[int64]bool
	nextAccount int64
	reusable    []int64 // deleted accounts, whose ids may be created again
	members     map[[2]string]bool
	nextUser    int

	keys      map[string]map[string]*keyHistory // table, key
	truncates []struct{ seq, interval int }     // of memberships
}

func TestAsOfMatchesMomentsOfRandomWorkload(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	if v := os.Getenv("BEMI_TEST_SEED"); v != "" {
		seed, _ = strconv.ParseUint(v, 10, 64)
	}
	t.Logf("seed %d (set BEMI_TEST_SEED to repeat)", seed)

	s := newSource(t, propertySchema, nil)
	w := &workload{
		t: t, s: s, rng: rand.New(rand.NewPCG(seed, seed>>1|1)),
		accounts: map[int64]bool{1: true, 2: true, 3: true, 4: true, 5: true}, nextAccount: 100,
		members: map[[2]string]bool{{"acme", "1"}: true, {"acme", "2"}: true, {`be"ta`, "1"}: true}, nextUser: 100,
		keys: map[string]map[string]*keyHistory{"accounts": {}, "memberships": {}},
	}

	var moments []moment
	takeMoment := func(phaseB bool) {
		time.Sleep(15 * time.Millisecond)
		m := moment{index: w.interval, phaseB: phaseB, state: map[string]map[string]json.RawMessage{}}
		if err := s.conn.QueryRow(t.Context(), "SELECT clock_timestamp()").Scan(&m.at); err != nil {
			t.Fatal(err)
		}
		m.state["accounts"] = s.tableState("accounts", "t.id::text")
		m.state["memberships"] = keyed(t, s.tableState("memberships", "json_build_array(t.org, t.user_id::text)::text"))
		moments = append(moments, m)
		w.interval++
		time.Sleep(15 * time.Millisecond)
	}

	takeMoment(false)
	for i := range 30 {
		w.transaction()
		if i%6 == 5 {
			takeMoment(false)
		}
	}

	snap, err := history.TakeSnapshot(t.Context(), history.SnapshotConfig{SourceURL: s.url})
	if err != nil {
		t.Fatalf("take snapshot: %v", err)
	}
	if got := len(snap.Tables); got != 3 {
		t.Fatalf("snapshot holds %d tables, want accounts, memberships and marker: %+v", got, snap)
	}
	takeMoment(true)

	truncateAt := 10 + w.rng.IntN(30)
	for i := range 50 {
		if i == truncateAt {
			w.truncateMemberships()
		} else {
			w.transaction()
		}
		if i%6 == 5 {
			takeMoment(true)
		}
	}
	takeMoment(true)
	s.waitSynced()

	outcomes := map[string]int{}
	for i, m := range moments {
		for _, table := range []string{"accounts", "memberships"} {
			checkTableAsOf(t, s, table, m, i)
			for _, key := range w.allKeys(table, moments) {
				outcomes[checkRecordAsOf(t, s, w, table, key, m, i)]++
			}
		}
	}

	// Each kind of result must have been checked, or the workload is too
	// small to test anything.
	t.Logf("record checks: %v over %d moments", outcomes, len(moments))
	for _, kind := range []string{"exists", "absent", "missing history"} {
		if outcomes[kind] == 0 {
			t.Errorf("no record check expected %q; the workload must produce every kind", kind)
		}
	}
}

func checkTableAsOf(t *testing.T, s *source, table string, m moment, i int) {
	t.Helper()

	got, err := s.reader.TableAsOf(t.Context(), history.Table{Name: table}, m.at)
	if !m.phaseB {
		var historyErr *history.HistoryError
		if !errors.As(err, &historyErr) {
			t.Errorf("moment %d (before the snapshot): TableAsOf(%s) = %d rows, %v; want a *HistoryError", i, table, len(got), err)
		}

		return
	}
	if err != nil {
		t.Errorf("moment %d: TableAsOf(%s): %v", i, table, err)

		return
	}
	if !s.sameRows(got, m.state[table]) {
		t.Errorf("moment %d: TableAsOf(%s) =\n%s\nwant\n%s", i, table, mustJSON(t, got), mustJSON(t, m.state[table]))
	}
}

// checkRecordAsOf compares RecordAsOf with the moment's state and returns
// the kind of result expected.
func checkRecordAsOf(t *testing.T, s *source, w *workload, table, key string, m moment, i int) string {
	t.Helper()

	got, err := s.reader.RecordAsOf(t.Context(), history.Record{Table: history.Table{Name: table}, PrimaryKey: key}, m.at)
	if !m.phaseB && w.historyMissing(table, key, m.index) {
		var historyErr *history.HistoryError
		if !errors.As(err, &historyErr) {
			t.Errorf("moment %d: RecordAsOf(%s %s) = %+v, %v; want a *HistoryError", i, table, key, got, err)
		}

		return "missing history"
	}
	if err != nil {
		t.Errorf("moment %d: RecordAsOf(%s %s): %v", i, table, key, err)

		return "error"
	}

	want, exists := m.state[table][key]
	if got.Exists != exists {
		t.Errorf("moment %d: RecordAsOf(%s %s).Exists = %v (row %s), want %v (row %s)", i, table, key, got.Exists, got.Row, exists, want)

		return "wrong"
	}
	if exists && !s.sameJSON(got.Row, want) {
		t.Errorf("moment %d: RecordAsOf(%s %s).Row =\n%s\nwant\n%s", i, table, key, got.Row, want)
	}
	if !exists {
		return "absent"
	}

	return "exists"
}

// historyMissing reports whether the changes cannot tell a key's state at
// a moment before the snapshot: no change under the key before it, and the
// first change is not a CREATE or follows a TRUNCATE after the moment.
func (w *workload) historyMissing(table, key string, momentIndex int) bool {
	h := w.keys[table][key]
	if h == nil {
		return true
	}
	if slices.ContainsFunc(h.intervals, func(iv int) bool { return iv <= momentIndex }) {
		return false
	}
	if h.firstOp != "CREATE" {
		return true
	}
	if table == "memberships" {
		for _, tr := range w.truncates {
			if tr.interval > momentIndex && tr.seq < h.firstSeq {
				return true
			}
		}
	}

	return false
}

// allKeys returns every key that existed at a moment or has a change.
func (w *workload) allKeys(table string, moments []moment) []string {
	set := map[string]bool{}
	for k := range w.keys[table] {
		set[k] = true
	}
	for _, m := range moments {
		for k := range m.state[table] {
			set[k] = true
		}
	}

	return slices.Sorted(func(yield func(string) bool) {
		for k := range set {
			if !yield(k) {
				return
			}
		}
	})
}

// record notes a change stored under key.
func (w *workload) record(table, key, op string) {
	w.seq++
	h := w.keys[table][key]
	if h == nil {
		h = &keyHistory{firstSeq: w.seq, firstInterval: w.interval, firstOp: op}
		w.keys[table][key] = h
	}
	h.intervals = append(h.intervals, w.interval)
}

// keyed re-encodes keys from json_build_array text into the worker's form.
func keyed(t *testing.T, rows map[string]json.RawMessage) map[string]json.RawMessage {
	t.Helper()

	out := make(map[string]json.RawMessage, len(rows))
	for k, v := range rows {
		var parts []string
		if err := json.Unmarshal([]byte(k), &parts); err != nil {
			t.Fatal(err)
		}
		out[compositeKey(parts...)] = v
	}

	return out
}

// statement is one SQL statement of a workload transaction.
type statement struct {
	sql  string
	args []any
}

// transaction runs one to three random operations with a random context.
func (w *workload) transaction() {
	w.t.Helper()

	var statements []statement
	for range 1 + w.rng.IntN(3) {
		if w.rng.IntN(2) == 0 {
			statements = append(statements, w.accountOp())
		} else {
			statements = append(statements, w.membershipOp())
		}
	}

	context := fmt.Sprintf(`{"requestId": "r%d", "userId": %d}`, w.seq, w.rng.IntN(5))
	ctx := w.t.Context()
	err := pgx.BeginFunc(ctx, w.s.conn, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SELECT set_config('bemi.context', $1, true)", context); err != nil {
			return err
		}
		for _, st := range statements {
			tag, err := tx.Exec(ctx, st.sql, st.args...)
			if err != nil {
				return fmt.Errorf("%s %v: %w", st.sql, st.args, err)
			}
			if tag.RowsAffected() != 1 {
				return fmt.Errorf("%s %v changed %d rows, want 1", st.sql, st.args, tag.RowsAffected())
			}
		}

		return nil
	})
	if err != nil {
		w.t.Fatalf("workload transaction: %v", err)
	}
}

func (w *workload) truncateMemberships() {
	w.t.Helper()

	w.s.exec("TRUNCATE memberships")
	w.seq++
	w.truncates = append(w.truncates, struct{ seq, interval int }{w.seq, w.interval})
	clear(w.members)
}

func (w *workload) accountOp() statement {
	ids := slices.Sorted(func(yield func(int64) bool) {
		for id := range w.accounts {
			if !yield(id) {
				return
			}
		}
	})
	r := w.rng.IntN(100)
	switch {
	case len(ids) < 3 || r < 30:
		id := w.nextAccount
		if len(w.reusable) > 0 && w.rng.IntN(3) == 0 {
			id, w.reusable = w.reusable[0], w.reusable[1:]
		} else {
			w.nextAccount++
		}
		w.accounts[id] = true
		w.record("accounts", strconv.FormatInt(id, 10), "CREATE")
		sets, args := w.accountValues(true)
		args = append(args, id)

		return statement{sql: "INSERT INTO accounts (" + strings.Join(sets.columns, ", ") + ", id) VALUES (" + strings.Join(sets.values, ", ") + ", $" + strconv.Itoa(len(args)) + ")", args: args}
	case r < 75:
		id := ids[w.rng.IntN(len(ids))]
		w.record("accounts", strconv.FormatInt(id, 10), "UPDATE")
		sets, args := w.accountValues(false)
		args = append(args, id)

		return statement{sql: "UPDATE accounts SET " + sets.assignments() + " WHERE id = $" + strconv.Itoa(len(args)), args: args}
	case r < 92:
		id := ids[w.rng.IntN(len(ids))]
		delete(w.accounts, id)
		w.reusable = append(w.reusable, id)
		w.record("accounts", strconv.FormatInt(id, 10), "DELETE")

		return statement{sql: "DELETE FROM accounts WHERE id = $1", args: []any{id}}
	default:
		// Change the primary key; the old id is never used again.
		id := ids[w.rng.IntN(len(ids))]
		to := w.nextAccount
		w.nextAccount++
		delete(w.accounts, id)
		w.accounts[to] = true
		w.record("accounts", strconv.FormatInt(to, 10), "UPDATE")

		return statement{sql: "UPDATE accounts SET id = $1 WHERE id = $2", args: []any{to, id}}
	}
}

func (w *workload) membershipOp() statement {
	keys := slices.SortedFunc(func(yield func([2]string) bool) {
		for k := range w.members {
			if !yield(k) {
				return
			}
		}
	}, func(a, b [2]string) int { return strings.Compare(a[0]+"\x00"+a[1], b[0]+"\x00"+b[1]) })
	orgs := []string{"acme", `be"ta`, "gam'ma", "δέλτα"}
	r := w.rng.IntN(100)
	switch {
	case len(keys) < 3 || r < 30:
		key := [2]string{orgs[w.rng.IntN(len(orgs))], strconv.Itoa(w.nextUser)}
		w.nextUser++
		w.members[key] = true
		w.record("memberships", compositeKey(key[0], key[1]), "CREATE")

		return statement{sql: "INSERT INTO memberships (org, user_id, role, since) VALUES ($1, $2::text::int, $3, $4)",
			args: []any{key[0], key[1], w.role(), w.date()}}
	case r < 75:
		key := keys[w.rng.IntN(len(keys))]
		w.record("memberships", compositeKey(key[0], key[1]), "UPDATE")

		return statement{sql: "UPDATE memberships SET role = $1, since = $2 WHERE org = $3 AND user_id = $4::text::int",
			args: []any{w.role(), w.date(), key[0], key[1]}}
	case r < 92:
		key := keys[w.rng.IntN(len(keys))]
		delete(w.members, key)
		w.record("memberships", compositeKey(key[0], key[1]), "DELETE")

		return statement{sql: "DELETE FROM memberships WHERE org = $1 AND user_id = $2::text::int", args: []any{key[0], key[1]}}
	default:
		key := keys[w.rng.IntN(len(keys))]
		to := [2]string{key[0], strconv.Itoa(w.nextUser)}
		w.nextUser++
		delete(w.members, key)
		w.members[to] = true
		w.record("memberships", compositeKey(to[0], to[1]), "UPDATE")

		return statement{sql: "UPDATE memberships SET user_id = $1::text::int WHERE org = $2 AND user_id = $3::text::int",
			args: []any{to[1], key[0], key[1]}}
	}
}

func (w *workload) role() string {
	return []string{"owner", "member", "guest", "O'Hara", `back\slash`}[w.rng.IntN(5)]
}

func (w *workload) date() any {
	if w.rng.IntN(4) == 0 {
		return nil
	}

	return time.Date(1990+w.rng.IntN(40), time.Month(1+w.rng.IntN(12)), 1+w.rng.IntN(28), 0, 0, 0, 0, time.UTC)
}

// columnValues are the columns an INSERT or UPDATE sets.
type columnValues struct {
	columns, values []string
}

func (c columnValues) assignments() string {
	parts := make([]string, len(c.columns))
	for i := range c.columns {
		parts[i] = c.columns[i] + " = " + c.values[i]
	}

	return strings.Join(parts, ", ")
}

// accountValues returns random values for some columns of accounts (all of
// them when all is set), as placeholders and arguments.
func (w *workload) accountValues(all bool) (columnValues, []any) {
	type column struct {
		name, cast string
		value      func() any
	}
	maybe := func(v func() any) func() any {
		return func() any {
			if w.rng.IntN(5) == 0 {
				return nil
			}

			return v()
		}
	}
	columns := []column{
		{"name", "", func() any {
			return []string{"Ann", "O'Brien", `back\slash`, "ünïcode ✓", "", "<tag>&amp;", "/*Bemi {} Bemi*/"}[w.rng.IntN(7)]
		}},
		{"balance", "::text::numeric", maybe(func() any { return fmt.Sprintf("%d.%02d", w.rng.IntN(1000000), w.rng.IntN(100)) })},
		{"active", "", func() any { return w.rng.IntN(2) == 0 }},
		{"tags", "::text[]", maybe(func() any { return []string{"a", "with,comma", `q"uote`, "NULL"}[:1+w.rng.IntN(4)] })},
		{"meta", "::text::jsonb", maybe(func() any {
			return fmt.Sprintf(`{"n": %d, "big": 123456789012345678901234567890, "nested": {"list": [1, 2.50, "x", null]}}`, w.rng.IntN(100))
		})},
		{"seen", "::timestamptz", maybe(func() any {
			return time.Unix(946684800+w.rng.Int64N(1e9), w.rng.Int64N(1e9)).Truncate(time.Microsecond).UTC()
		})},
		{"mood", "::text::mood", maybe(func() any { return []string{"happy", "sad", "it's complicated"}[w.rng.IntN(3)] })},
		{"ratio", "::float8", maybe(func() any {
			return []float64{w.rng.NormFloat64() * 1e6, 1e-7, math.NaN(), math.Inf(-1), 0.1}[w.rng.IntN(5)]
		})},
		{"data", "::bytea", maybe(func() any {
			b := make([]byte, w.rng.IntN(6))
			for i := range b {
				b[i] = byte(w.rng.IntN(256))
			}

			return b
		})},
	}

	var cv columnValues
	var args []any
	for _, c := range columns {
		if !all && w.rng.IntN(3) != 0 {
			continue
		}
		args = append(args, c.value())
		cv.columns = append(cv.columns, c.name)
		cv.values = append(cv.values, "$"+strconv.Itoa(len(args))+c.cast)
	}
	if len(cv.columns) == 0 {
		args = append(args, "renamed")
		cv.columns, cv.values = []string{"name"}, []string{"$1"}
	}

	return cv, args
}
