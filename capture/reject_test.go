package capture_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pglogrepl"

	"github.com/bemi-go/bemi/capture"
	"github.com/bemi-go/bemi/core"
)

// smallStack makes the destination connections of a worker run with
// PostgreSQL's smallest max_stack_depth, where jsonb input rejects the
// shallowest nesting.
func smallStack(dbURL string) string {
	return dbURL + "&options=" + strings.ReplaceAll(url.QueryEscape("-c max_stack_depth=100kB"), "+", "%20")
}

// eventLog records the worker's metrics events that rejections produce.
type eventLog struct {
	mu         sync.Mutex
	rejected   int
	reconnects int
	invalid    []capture.InvalidContextEvent
}

func (m *eventLog) Change(capture.ChangeEvent) {}

func (m *eventLog) Flush(ev capture.FlushEvent) {
	m.mu.Lock()
	m.rejected += ev.Rejected
	m.mu.Unlock()
}

func (m *eventLog) Reconnect(capture.ReconnectEvent) {
	m.mu.Lock()
	m.reconnects++
	m.mu.Unlock()
}

func (m *eventLog) InvalidContext(ev capture.InvalidContextEvent) {
	m.mu.Lock()
	m.invalid = append(m.invalid, ev)
	m.mu.Unlock()
}

func (m *eventLog) counts() (rejected, reconnects int, invalid []capture.InvalidContextEvent) {
	m.mu.Lock()
	defer m.mu.Unlock()

	return m.rejected, m.reconnects, append([]capture.InvalidContextEvent(nil), m.invalid...)
}

// waitSlotPast waits until the slot has confirmed lsn, and fails the test
// when it has not within a minute.
func waitSlotPast(t *testing.T, s *source, lsn pglogrepl.LSN) {
	t.Helper()

	deadline := time.Now().Add(time.Minute)
	for {
		confirmed, _ := s.slotPositions()
		if confirmed >= lsn {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("slot confirmed %s, want at least %s", confirmed, lsn)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// restartStoresOnce stops r, starts a new worker on cfg, commits one more
// insert into items and checks that the changes table then holds exactly
// one more row, so the restart stored nothing twice.
func restartStoresOnce(t *testing.T, s *source, r *running, cfg capture.Config, stored int) {
	t.Helper()

	if err := r.stop(); err != nil {
		t.Fatalf("stop worker: %v", err)
	}
	s.start(cfg)
	s.tx("INSERT INTO items VALUES (1000)")
	got := waitChanges(t, s.url, stored+1)
	if key := deref(got[stored].PrimaryKey); key != "1000" {
		t.Errorf("row after the restart has key %s, want 1000", key)
	}
}

// checkOnce fails the test when two changes share a position and ordinal,
// or two inserts the same primary key.
func checkOnce(t *testing.T, got []change) {
	t.Helper()

	seen := map[string]bool{}
	keys := map[string]bool{}
	for _, c := range got {
		id := fmt.Sprintf("%d/%d", c.Position, c.Ordinal)
		if seen[id] {
			t.Errorf("position %d ordinal %d stored twice", c.Position, c.Ordinal)
		}
		seen[id] = true
		if c.Operation == "CREATE" && c.PrimaryKey != nil {
			if keys[deref(c.PrimaryKey)] {
				t.Errorf("insert of key %s stored twice", deref(c.PrimaryKey))
			}
			keys[deref(c.PrimaryKey)] = true
		}
	}
}

// testContextsKeptAsText commits, for each payload, a transaction that
// emits it and inserts two rows, between transactions with an ordinary
// context. It checks that the worker stores every row once, the payload's
// rows with the payload as text under core.InvalidContextKey, and counts,
// logs and confirms them as it should.
func testContextsKeptAsText(t *testing.T, payloads []string, reasons []error) {
	t.Helper()

	s := newSource(t, "CREATE TABLE items (id int PRIMARY KEY)", "items")
	cfg := capture.Config{DestinationURL: smallStack(s.url)}
	events := &eventLog{}
	r := s.start(cfg, capture.WithMetrics(events))

	key := 0
	insert := func() string {
		key++

		return fmt.Sprintf("INSERT INTO items VALUES (%d)", key)
	}
	s.tx(emit(`{"userId":0}`), insert())
	for i, p := range payloads {
		s.tx(emit(p), insert(), insert())
		s.tx(emit(fmt.Sprintf(`{"userId":%d}`, i+1)), insert())
	}
	end := s.walPosition()

	got := waitChanges(t, s.url, key)
	checkOnce(t, got)
	for i, c := range got {
		want := fmt.Sprint(i + 1)
		if deref(c.PrimaryKey) != want {
			t.Fatalf("change %d: key %s, want %s", i, deref(c.PrimaryKey), want)
		}

		if i%3 == 0 {
			if text(c.Context["userId"]) != fmt.Sprint(i/3) || len(c.Context) != 1 {
				t.Errorf("change %d: context = %v, want {userId: %d}", i, c.Context, i/3)
			}

			continue
		}
		payload := payloads[(i-1)/3]
		if len(c.Context) != 1 || c.Context[core.InvalidContextKey] != payload {
			t.Errorf("change %d: context has keys %v and %d bytes of text, want the %d-byte payload under %s",
				i, keysOf(c.Context), len(text(c.Context[core.InvalidContextKey])), len(payload), core.InvalidContextKey)
		}
	}

	waitSlotPast(t, s, end)
	rejected, reconnects, invalid := events.counts()
	if rejected != 0 || reconnects != 0 {
		t.Errorf("%d rejected rows and %d reconnects, want none: the stitcher keeps such payloads as text", rejected, reconnects)
	}
	if len(invalid) != len(reasons) {
		t.Fatalf("%d invalid context events, want %d", len(invalid), len(reasons))
	}
	for i, ev := range invalid {
		if !errors.Is(ev.Reason, reasons[i]) {
			t.Errorf("invalid context event %d: reason %v, want %v", i, ev.Reason, reasons[i])
		}
		if ev.Size != len(payloads[i]) || ev.TransactionID == 0 || ev.LSN == 0 {
			t.Errorf("invalid context event %d = %+v, want size %d, an xid and an LSN", i, ev, len(payloads[i]))
		}
	}

	// The warnings are limited to one per reason and minute; the events
	// above count every payload.
	distinct := map[string]bool{}
	for _, r := range reasons {
		distinct[r.Error()] = true
	}
	logs := r.logs.String()
	if n := strings.Count(logs, "kept as text under "+core.InvalidContextKey); n != len(distinct) {
		t.Errorf("%d warnings about payloads kept as text, want %d, one per reason:\n%.3000s", n, len(distinct), logs)
	}
	for _, p := range payloads {
		if strings.Contains(logs, p[:min(len(p), 40)]) {
			t.Errorf("the logs quote a payload:\n%.3000s", logs)
		}
	}

	restartStoresOnce(t, s, r, cfg, key)
}

func keysOf(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}

	return keys
}

func TestWorkerDeepContextKeptAsText(t *testing.T) {
	t.Parallel()

	// 2,000 nested objects exceed the stack of a destination with
	// max_stack_depth 100kB; 100,000 nested arrays exceed every server's.
	deepObjects := strings.Repeat(`{"a":`, 2000) + "1" + strings.Repeat("}", 2000)
	deepArrays := `{"a":` + strings.Repeat("[", 100000) + strings.Repeat("]", 100000) + `}`
	testContextsKeptAsText(t, []string{deepObjects, deepArrays}, []error{core.ErrContextTooDeep, core.ErrContextNotObject})
}

func TestWorkerContextAtDepthLimitStored(t *testing.T) {
	t.Parallel()
	s := newSource(t, "CREATE TABLE items (id int PRIMARY KEY)", "items")
	s.start(capture.Config{DestinationURL: smallStack(s.url)})

	payload := strings.Repeat(`{"a":`, core.MaxContextDepth) + "1" + strings.Repeat("}", core.MaxContextDepth)
	s.tx(emit(payload), "INSERT INTO items VALUES (1)")

	got := waitChanges(t, s.url, 1)
	depth := 0
	for v := any(got[0].Context); ; depth++ {
		m, ok := v.(map[string]any)
		if !ok {
			break
		}
		v = m["a"]
	}
	if depth != core.MaxContextDepth {
		t.Errorf("context nests %d objects, want the payload's %d as jsonb", depth, core.MaxContextDepth)
	}
}

func TestWorkerNumericOutOfRangeContext(t *testing.T) {
	t.Parallel()

	testContextsKeptAsText(t,
		[]string{`{"amount":1e1000000}`, `{"userId":7,"ratio":1e-20000}`},
		[]error{core.ErrContextNumberRange, core.ErrContextNumberRange})
}

// rejectTriggerSQL makes the destination reject, with a data error, every
// change whose context has the key rejectMe: a stand-in for a value that
// the stitcher lets through and the destination rejects.
const rejectTriggerSQL = `
CREATE FUNCTION reject_marked() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF NEW.context ? 'rejectMe' THEN
		RAISE EXCEPTION 'test trigger rejects this change' USING ERRCODE = '22023';
	END IF;
	RETURN NEW;
END $$;
CREATE TRIGGER reject_marked BEFORE INSERT ON changes FOR EACH ROW EXECUTE FUNCTION reject_marked()`

func TestWorkerRejectedRowStoredDegraded(t *testing.T) {
	t.Parallel()
	s := newSource(t, "CREATE TABLE items (id int PRIMARY KEY, name text)", "items")
	events := &eventLog{}
	r := s.start(capture.Config{}, capture.WithMetrics(events))

	// The worker creates the changes table at its start.
	s.tx(emit(`{"userId":1}`), "INSERT INTO items VALUES (1, 'one')")
	waitChanges(t, s.url, 1)
	s.exec(rejectTriggerSQL)

	s.tx(
		emit(`{"userId":2}`), "INSERT INTO items VALUES (2, 'two')",
		emit(`{"rejectMe":true}`), "INSERT INTO items VALUES (3, 'three')",
		emit(`{"userId":4}`), "INSERT INTO items VALUES (4, 'four')",
	)
	s.tx(emit(`{"userId":5}`), "INSERT INTO items VALUES (5, 'five')")
	end := s.walPosition()

	got := waitChanges(t, s.url, 5)
	checkOnce(t, got)
	for i, c := range got {
		if want := fmt.Sprint(i + 1); deref(c.PrimaryKey) != want || text(c.After["id"]) != want {
			t.Fatalf("change %d: key %s, after %v, want key and id %s", i, deref(c.PrimaryKey), c.After, want)
		}
		if i == 2 {
			continue
		}
		if text(c.Context["userId"]) != fmt.Sprint(i+1) {
			t.Errorf("change %d: context = %v, want {userId: %d}", i, c.Context, i+1)
		}
	}

	rejectedRow := got[2]
	if text(rejectedRow.After["name"]) != "three" || len(rejectedRow.Before) != 0 {
		t.Errorf("rejected change: before = %v, after = %v, want them stored as they were", rejectedRow.Before, rejectedRow.After)
	}
	wantContext := map[string]any{capture.RejectedKey: map[string]any{
		"column": "context",
		"error":  "22023: test trigger rejects this change",
		"size":   json.Number("17"),
		"text":   `{"rejectMe":true}`,
	}}
	if fmt.Sprint(rejectedRow.Context) != fmt.Sprint(wantContext) {
		t.Errorf("rejected change: context = %v, want %v", rejectedRow.Context, wantContext)
	}

	waitSlotPast(t, s, end)
	rejected, reconnects, _ := events.counts()
	if rejected != 1 {
		t.Errorf("FlushEvent.Rejected adds up to %d, want 1", rejected)
	}
	if reconnects != 1 {
		t.Errorf("%d reconnects, want 1 to restream the rejected batch", reconnects)
	}

	logs := r.logs.String()
	var rejectionLines []string
	for _, line := range strings.Split(logs, "\n") {
		if strings.Contains(line, "stored it in degraded form") {
			rejectionLines = append(rejectionLines, line)
		}
	}
	if len(rejectionLines) != 1 {
		t.Fatalf("%d log lines about degraded changes, want 1:\n%s", len(rejectionLines), logs)
	}
	for _, want := range []string{
		"level=ERROR", "xid=", fmt.Sprintf("position=%s", pglogrepl.LSN(rejectedRow.Position)),
		"ordinal=1", "table=public.items", "sqlstate=22023", "columns=context",
	} {
		if !strings.Contains(rejectionLines[0], want) {
			t.Errorf("log line %q lacks %q", rejectionLines[0], want)
		}
	}
	if strings.Contains(logs, "rejectMe") || strings.Contains(logs, "test trigger rejects") {
		t.Errorf("the logs quote the rejected value or the rejection's message:\n%s", logs)
	}

	restartStoresOnce(t, s, r, capture.Config{}, 5)
}

func TestWorkerRejectedColumnsStoredDegraded(t *testing.T) {
	t.Parallel()
	s := newSource(t, "CREATE TABLE items (id int PRIMARY KEY, body jsonb)", "items")
	cfg := capture.Config{DestinationURL: smallStack(s.url)}
	events := &eventLog{}
	r := s.start(cfg, capture.WithMetrics(events))

	// The source runs with the default max_stack_depth and stores 1,000
	// nested arrays; jsonb input on the destination rejects them.
	deep := strings.Repeat("[", 1000) + strings.Repeat("]", 1000)
	s.tx(
		emit(`{"userId":1}`),
		`INSERT INTO items VALUES (1, '{"x":1}')`,
		fmt.Sprintf(`INSERT INTO items VALUES (2, '%s')`, deep),
		`INSERT INTO items VALUES (3, '{}')`,
	)
	s.tx(emit(`{"userId":2}`), "UPDATE items SET id = 4 WHERE id = 2")
	s.tx(emit(`{"userId":3}`), "INSERT INTO items VALUES (5, '[]')")
	end := s.walPosition()

	got := waitChanges(t, s.url, 5)
	checkOnce(t, got)
	wantKeys := []string{"1", "2", "3", "4", "5"}
	wantUser := []string{"1", "1", "1", "2", "3"}
	for i, c := range got {
		if deref(c.PrimaryKey) != wantKeys[i] {
			t.Errorf("change %d: key %s, want %s", i, deref(c.PrimaryKey), wantKeys[i])
		}
		if text(c.Context["userId"]) != wantUser[i] {
			t.Errorf("change %d: context = %v, want {userId: %s}", i, c.Context, wantUser[i])
		}
	}
	if text(got[0].After["id"]) != "1" || text(got[2].After["id"]) != "3" || text(got[4].After["id"]) != "5" {
		t.Errorf("the changes around the rejected ones lost their rows: %v, %v, %v", got[0].After, got[2].After, got[4].After)
	}

	checkRejected := func(name string, value map[string]any, column string) {
		t.Helper()

		r, ok := value[capture.RejectedKey].(map[string]any)
		if !ok || len(value) != 1 {
			t.Errorf("%s = %.200v, want only %s", name, value, capture.RejectedKey)

			return
		}
		if r["column"] != column {
			t.Errorf("%s: column %v, want %s", name, r["column"], column)
		}
		if msg := text(r["error"]); !strings.HasPrefix(msg, "54001: ") {
			t.Errorf("%s: error %q, want SQLSTATE 54001 (stack depth limit exceeded)", name, msg)
		}
		stored := text(r["text"])
		if !strings.Contains(stored, deep) || text(r["size"]) != fmt.Sprint(len(stored)) {
			t.Errorf("%s: text of %d bytes with size %v, want the whole row with its %d-byte body", name, len(stored), r["size"], len(deep))
		}
	}
	insert, update := got[1], got[3]
	checkRejected("insert after", insert.After, "after")
	if len(insert.Before) != 0 {
		t.Errorf("insert before = %v, want {}", insert.Before)
	}
	checkRejected("update before", update.Before, "before")
	checkRejected("update after", update.After, "after")

	waitSlotPast(t, s, end)
	rejected, _, _ := events.counts()
	if rejected != 2 {
		t.Errorf("FlushEvent.Rejected adds up to %d, want 2", rejected)
	}
	logs := r.logs.String()
	for _, want := range []string{"ordinal=1 table=public.items sqlstate=54001 columns=after ", "ordinal=0 table=public.items sqlstate=54001 columns=after,before "} {
		if !strings.Contains(logs, want) {
			t.Errorf("no log line with %q:\n%s", want, logs)
		}
	}

	restartStoresOnce(t, s, r, cfg, 5)
}

// degradeTriggerSQL makes the destination reject changes of items whose
// primary key is longer than 50 characters, or whose jsonb columns hold
// text outside ASCII, as an index on a long key or a destination encoding
// without those characters would.
const degradeTriggerSQL = `
CREATE FUNCTION reject_forms() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF length(NEW.primary_key) > 50 THEN
		RAISE EXCEPTION 'test trigger rejects long keys' USING ERRCODE = '54000';
	END IF;
	IF concat(NEW.before::text, NEW.after::text, NEW.context::text) ~ '[^\x01-\x7f]' THEN
		RAISE EXCEPTION 'test trigger rejects non-ASCII text' USING ERRCODE = '22P05';
	END IF;
	RETURN NEW;
END $$;
CREATE TRIGGER reject_forms BEFORE INSERT ON changes FOR EACH ROW EXECUTE FUNCTION reject_forms()`

func TestWorkerRejectedRowLastForms(t *testing.T) {
	t.Parallel()
	s := newSource(t, "CREATE TABLE items (id text PRIMARY KEY, name text)", "items")
	events := &eventLog{}
	r := s.start(capture.Config{}, capture.WithMetrics(events))

	s.tx(emit(`{"userId":1}`), "INSERT INTO items VALUES ('k1', 'plain')")
	waitChanges(t, s.url, 1)
	s.exec(degradeTriggerSQL)

	longKey := strings.Repeat("k", 60)
	s.tx(emit(`{"userId":2}`), "INSERT INTO items VALUES ('"+longKey+"', 'plain')")
	s.tx(emit(`{"userId":3}`), "INSERT INTO items VALUES ('k3', 'héllo')")
	s.tx(emit(`{"userId":4}`), "INSERT INTO items VALUES ('k4', 'plain')")
	end := s.walPosition()

	got := waitChanges(t, s.url, 4)
	checkOnce(t, got)
	for i, key := range []string{"k1", "", "", "k4"} {
		if key != "" && (deref(got[i].PrimaryKey) != key || text(got[i].After["id"]) != key || text(got[i].Context["userId"]) != fmt.Sprint(i+1)) {
			t.Errorf("change %d = %+v, want key %s stored as it was", i, got[i], key)
		}
	}

	// Both rows are stored with every jsonb column replaced and no key:
	// the long key is in no form that keeps it, and the non-ASCII text
	// only in the last form, which drops the key too.
	tests := []struct {
		name     string
		c        change
		sqlstate string
		after    string
	}{
		{name: "long key", c: got[1], sqlstate: "54000", after: `"id":"` + longKey + `"`},
		{name: "non-ASCII text", c: got[2], sqlstate: "22P05", after: `"name":"h?llo"`},
	}
	for _, tt := range tests {
		if tt.c.PrimaryKey != nil {
			t.Errorf("%s: primary_key = %s, want NULL", tt.name, *tt.c.PrimaryKey)
		}
		for column, value := range map[string]map[string]any{"before": tt.c.Before, "after": tt.c.After, "context": tt.c.Context} {
			r, ok := value[capture.RejectedKey].(map[string]any)
			if !ok {
				t.Errorf("%s: %s = %v, want it under %s", tt.name, column, value, capture.RejectedKey)

				continue
			}
			if r["column"] != column || !strings.HasPrefix(text(r["error"]), tt.sqlstate+": ") {
				t.Errorf("%s: %s = %v, want column %s and SQLSTATE %s", tt.name, column, r, column, tt.sqlstate)
			}
		}
		if after, _ := tt.c.After[capture.RejectedKey].(map[string]any); !strings.Contains(text(after["text"]), tt.after) {
			t.Errorf("%s: after text = %q, want it to contain %s", tt.name, after["text"], tt.after)
		}
	}

	waitSlotPast(t, s, end)
	if rejected, _, _ := events.counts(); rejected != 2 {
		t.Errorf("FlushEvent.Rejected adds up to %d, want 2", rejected)
	}
	logs := r.logs.String()
	for _, want := range []string{
		"sqlstate=54000 columns=context,after,before primary_key_dropped=true ascii_only=false",
		"sqlstate=22P05 columns=context,after,before primary_key_dropped=true ascii_only=true",
	} {
		if !strings.Contains(logs, want) {
			t.Errorf("no log line with %q:\n%s", want, logs)
		}
	}

	restartStoresOnce(t, s, r, capture.Config{}, 4)
}

func TestWorkerStopsWhenEveryFormRejected(t *testing.T) {
	t.Parallel()
	s := newSource(t, "CREATE TABLE items (id int PRIMARY KEY)", "items")
	r := s.start(capture.Config{})

	s.tx("INSERT INTO items VALUES (1)")
	waitChanges(t, s.url, 1)
	// No degraded form changes the table or the ordinal.
	s.exec(`
CREATE FUNCTION reject_ordinal() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF NEW.ordinal = 1 THEN
		RAISE EXCEPTION 'test trigger rejects every second change' USING ERRCODE = '22023';
	END IF;
	RETURN NEW;
END $$;
CREATE TRIGGER reject_ordinal BEFORE INSERT ON changes FOR EACH ROW EXECUTE FUNCTION reject_ordinal()`)
	s.tx("INSERT INTO items VALUES (2)", "INSERT INTO items VALUES (3)")

	var err error
	select {
	case err = <-r.done:
		close(r.done)
	case <-time.After(time.Minute):
		t.Fatal("the worker still runs a minute after a change that no form can store, want it to stop")
	}
	if err == nil || !strings.Contains(err.Error(), "every form was rejected") || !strings.Contains(err.Error(), "SQLSTATE 22023") {
		t.Errorf("Run = %v, want an error saying that every degraded form was rejected, with the SQLSTATE", err)
	}
	if !strings.Contains(r.logs.String(), "restreaming from the checkpoint") {
		t.Errorf("no log line about restreaming in careful mode:\n%s", r.logs.String())
	}

	// Nothing of the transaction is stored, and its commit is not
	// confirmed, so a worker started after the cause is fixed stores all
	// of it.
	readChanges(t, s.conn, "public", 1)
	s.exec("DROP TRIGGER reject_ordinal ON changes")
	s.start(capture.Config{})
	got := waitChanges(t, s.url, 3)
	checkOnce(t, got)
}

// An error that the row's values do not cause, such as a
// serialization failure, must not push a rejected row into a more degraded
// form: the worker streams the batch again instead. Here the destination
// rejects the original row with a data error and its first degraded form,
// the context replaced, with serialization_failure until the test drops the
// trigger. A later form would pass the trigger, but the row must be stored
// as it was.
func TestWorkerTransientErrorDoesNotDegrade(t *testing.T) {
	t.Parallel()
	s := newSource(t, "CREATE TABLE items (id int PRIMARY KEY, name text)", "items")
	r := s.start(capture.Config{})

	s.tx(emit(`{"userId":1}`), "INSERT INTO items VALUES (1, 'one')")
	waitChanges(t, s.url, 1)
	s.exec(`
CREATE FUNCTION reject_then_cancel() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF NEW.context ? '` + capture.RejectedKey + `' AND NOT NEW.after ? '` + capture.RejectedKey + `' THEN
		RAISE EXCEPTION 'test trigger fails the degraded form' USING ERRCODE = '40001';
	END IF;
	IF NEW.context ? 'rejectMe' THEN
		RAISE EXCEPTION 'test trigger rejects this change' USING ERRCODE = '22023';
	END IF;
	RETURN NEW;
END $$;
CREATE TRIGGER reject_then_cancel BEFORE INSERT ON changes FOR EACH ROW EXECUTE FUNCTION reject_then_cancel()`)

	s.tx(emit(`{"rejectMe":true}`), "INSERT INTO items VALUES (2, 'two')")
	waitFor(t, "the worker to retry after the failed degraded form", func() bool {
		return strings.Count(r.logs.String(), "SQLSTATE 40001") >= 2
	})
	var stored int
	if err := s.conn.QueryRow(t.Context(), "SELECT count(*) FROM changes").Scan(&stored); err != nil {
		t.Fatal(err)
	}
	if stored != 1 {
		t.Fatalf("%d changes stored while the degraded form fails, want 1", stored)
	}

	s.exec("DROP TRIGGER reject_then_cancel ON changes")
	got := waitChanges(t, s.url, 2)
	if text(got[1].Context["rejectMe"]) != "true" || text(got[1].After["name"]) != "two" {
		t.Errorf("change after the trigger was dropped: context = %v, after = %v, want both as written", got[1].Context, got[1].After)
	}
}
