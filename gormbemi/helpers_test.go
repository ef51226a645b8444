package gormbemi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bemi-go/bemi/capture"
	"github.com/bemi-go/bemi/capture/setup"
	"github.com/bemi-go/bemi/core"
	"github.com/bemi-go/bemi/core/pgtest"
	"github.com/bemi-go/bemi/gormbemi"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"
)

func TestMain(m *testing.M) {
	code := pgtest.Run(m)
	stopBenchCluster()
	os.Exit(code)
}

// Item is the tracked model of the tests. Owner has many items, so creating
// an owner with items saves an association.
type Item struct {
	ID        int64
	Name      string
	Qty       int
	OwnerID   *int64
	DeletedAt gorm.DeletedAt
}

type Owner struct {
	ID    int64
	Name  string
	Items []Item
}

// Plain is a second tracked table, used by the table filter tests.
type Plain struct {
	ID   int64
	Name string
}

// env is a fresh database with tracked tables items, owners and plains, a
// test_decoding slot, and a *gorm.DB with the plugin installed.
type env struct {
	url    string
	slot   string // the test_decoding slot of readWAL, "" without envOptions.wal
	db     *gorm.DB
	trace  *tracer
	reader *pgx.Conn
}

type envOptions struct {
	plugin  []gormbemi.Option
	gorm    gorm.Config
	simple  bool
	noTrace bool

	// wal adds a test_decoding slot for readWAL, which shows the _bemi
	// messages themselves: whether a statement got the reset message or
	// none, and how many messages a statement emitted.
	wal bool

	// schema runs after the standard tables are created and before bemi
	// setup, so its tables are tracked too.
	schema []string
}

func newEnv(t *testing.T, o envOptions) *env {
	t.Helper()
	ctx := context.Background()

	url := pgtest.NewDatabase(t)
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	for _, q := range append([]string{
		`CREATE TABLE owners (id bigserial PRIMARY KEY, name text NOT NULL)`,
		`CREATE TABLE items (id bigserial PRIMARY KEY, name text NOT NULL, qty int NOT NULL DEFAULT 0,
			owner_id bigint REFERENCES owners (id) ON DELETE CASCADE, deleted_at timestamptz)`,
		`CREATE UNIQUE INDEX items_name ON items (name)`,
		`CREATE TABLE plains (id bigserial PRIMARY KEY, name text NOT NULL)`,
	}, o.schema...) {
		if _, err := conn.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	// Slot names are unique per cluster, and so are database names.
	var database string
	if err := conn.QueryRow(ctx, `SELECT current_database()`).Scan(&database); err != nil {
		t.Fatal(err)
	}
	slot := "b" + database
	if _, err := setup.Run(ctx, conn, setup.Config{Slot: slot}); err != nil {
		t.Fatalf("setup: %v", err)
	}
	e := &env{url: url, reader: conn, trace: &tracer{}}
	t.Cleanup(func() { dropSlot(t, conn, slot) })
	startWorker(t, url, slot)
	waitFor(t, "the worker to create the changes table", func() bool {
		var exists bool
		err := conn.QueryRow(ctx, `SELECT to_regclass('public.changes') IS NOT NULL`).Scan(&exists)

		return err == nil && exists
	})

	if o.wal {
		e.slot = "w" + database
		if _, err := conn.Exec(ctx, `SELECT pg_create_logical_replication_slot($1, 'test_decoding')`, e.slot); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { dropSlot(t, conn, e.slot) })
	}

	pgCfg := postgres.Config{DSN: url, PreferSimpleProtocol: o.simple}
	if !o.noTrace {
		pgCfg.OptionOpenDB = []stdlib.OptionOpenDB{stdlib.OptionBeforeConnect(func(_ context.Context, c *pgx.ConnConfig) error {
			c.Tracer = e.trace

			return nil
		})}
	}
	gcfg := o.gorm
	if gcfg.Logger == nil {
		gcfg.Logger = logger.Discard
	}
	db, err := gorm.Open(postgres.New(pgCfg), &gcfg)
	if err != nil {
		t.Fatal(err)
	}
	sqlDB, err := db.DB()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sqlDB.Close() })
	if err := db.Use(gormbemi.New(o.plugin...)); err != nil {
		t.Fatal(err)
	}
	e.db = db

	return e
}

// user returns a context with the application context {"userId": id}.
func user(id int) context.Context {
	return core.With(context.Background(), core.Fields{"userId": id})
}

// ctxJSON is the encoded context {"userId": id} as the trigger emits it.
func ctxJSON(id int) string { return fmt.Sprintf(`{"userId":%d}`, id) }

// change is one row change, from the changes table (see stored) or from
// the WAL (see readWAL), with its context: in the WAL the content of the
// _bemi message that precedes it in its transaction, "" when none does.
type change struct {
	xid     string
	table   string
	op      string
	data    string
	context string
}

// walTx is one decoded transaction: its changes and the number of _bemi
// messages in it.
type walTx struct {
	changes  []change
	messages []string
}

// readWAL consumes the test_decoding slot and returns the transactions of
// the application's tables in commit order.
func (e *env) readWAL(t *testing.T) []walTx {
	t.Helper()

	rows, err := e.reader.Query(context.Background(),
		`SELECT xid::text, data FROM pg_logical_slot_get_changes($1, NULL, NULL)`, e.slot)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()

	var txs []walTx
	var cur *walTx
	current := ""
	for rows.Next() {
		var xid, data string
		if err := rows.Scan(&xid, &data); err != nil {
			t.Fatal(err)
		}
		switch {
		case strings.HasPrefix(data, "BEGIN"):
			txs = append(txs, walTx{})
			cur = &txs[len(txs)-1]
			current = ""
		case strings.HasPrefix(data, "COMMIT"):
			cur = nil
		case strings.HasPrefix(data, "message: transactional: 1 prefix: "+core.MessagePrefix+", "):
			_, content, ok := strings.Cut(data, " content:")
			if !ok || cur == nil {
				t.Fatalf("unexpected message line %q", data)
			}
			current = content
			cur.messages = append(cur.messages, content)
		case strings.HasPrefix(data, "table "):
			rest := strings.TrimPrefix(data, "table ")
			table, rest, _ := strings.Cut(rest, ": ")
			op, body, _ := strings.Cut(rest, ": ")
			if cur == nil {
				t.Fatalf("change outside a transaction: %q", data)
			}
			if table == "public.changes" || strings.HasPrefix(table, "bemi.") {
				// The capture worker's own writes.
				continue
			}
			cur.changes = append(cur.changes, change{xid: xid, table: table, op: op, data: body, context: current})
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}

	return slices.DeleteFunc(txs, func(tx walTx) bool { return len(tx.changes) == 0 && len(tx.messages) == 0 })
}

// changes returns every change of the transactions in order.
func changes(txs []walTx) []change {
	var out []change
	for _, tx := range txs {
		out = append(out, tx.changes...)
	}

	return out
}

// expectContexts checks the table, operation and context of each change.
// Contexts compare as JSON values.
func expectContexts(t *testing.T, got []change, want []change) {
	t.Helper()

	if len(got) != len(want) {
		t.Fatalf("got %d changes, want %d:\n%s", len(got), len(want), formatChanges(got))
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.table != w.table || g.op != w.op || !sameJSON(g.context, w.context) {
			t.Errorf("change %d = %s %s context %q, want %s %s context %q\n(data %s)",
				i, g.table, g.op, g.context, w.table, w.op, w.context, g.data)
		}
	}
}

func formatChanges(cs []change) string {
	var b strings.Builder
	for _, c := range cs {
		fmt.Fprintf(&b, "  xid %s %s %s %q: %s\n", c.xid, c.table, c.op, c.context, c.data)
	}

	return b.String()
}

// tracer records the SQL text of every statement pgx sends, batches
// included.
type tracer struct {
	mu   sync.Mutex
	sqls []string
}

func (r *tracer) TraceQueryStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceQueryStartData) context.Context {
	r.add(d.SQL)

	return ctx
}

func (r *tracer) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

func (r *tracer) TraceBatchStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceBatchStartData) context.Context {
	var texts []string
	for _, q := range d.Batch.QueuedQueries {
		texts = append(texts, q.SQL)
	}
	r.add("BATCH[" + strings.Join(texts, " | ") + "]")

	return ctx
}

func (r *tracer) TraceBatchQuery(context.Context, *pgx.Conn, pgx.TraceBatchQueryData) {}
func (r *tracer) TraceBatchEnd(context.Context, *pgx.Conn, pgx.TraceBatchEndData)     {}

func (r *tracer) add(sql string) {
	r.mu.Lock()
	r.sqls = append(r.sqls, sql)
	r.mu.Unlock()
}

// take returns the statements recorded since the last call.
func (r *tracer) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.sqls
	r.sqls = nil

	return out
}

// waitFor polls cond for up to 30 seconds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func itoa(i int) string { return fmt.Sprint(i) }

func coreWith(ctx context.Context, key string, value any) context.Context {
	return core.With(ctx, core.Fields{key: value})
}

// startWorker runs the capture worker on slot until the test ends.
func startWorker(t *testing.T, url, slot string) {
	t.Helper()

	w, err := capture.New(capture.Config{SourceURL: url, Slot: slot})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("capture worker: %v", err)
		}
	})
}

func dropSlot(t *testing.T, conn *pgx.Conn, slot string) {
	t.Helper()

	// The worker's replication connection may take a moment to end.
	var err error
	for range 50 {
		if _, err = conn.Exec(context.Background(), `SELECT pg_drop_replication_slot($1)`, slot); err == nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Errorf("drop slot %s: %v", slot, err)
}

// stored waits until the capture worker has stored at least want changes
// and returns all of them in commit order, with the context as stored in
// the changes table and the row (after, or before for a DELETE) as data.
func (e *env) stored(t *testing.T, want int) []change {
	t.Helper()

	ctx := context.Background()
	count := func() int {
		var n int
		if err := e.reader.QueryRow(ctx, `SELECT count(*) FROM changes`).Scan(&n); err != nil {
			t.Fatal(err)
		}

		return n
	}
	deadline := time.Now().Add(30 * time.Second)
	for count() < want {
		if time.Now().After(deadline) {
			t.Fatalf("the capture worker stored %d changes in 30 s, want %d", count(), want)
		}
		time.Sleep(20 * time.Millisecond)
	}
	// Changes beyond want would arrive in the same flush.
	time.Sleep(50 * time.Millisecond)

	rows, err := e.reader.Query(ctx, `
		SELECT transaction_id::text, schema || '.' || "table", operation, context::text,
			CASE WHEN operation = 'DELETE' THEN before ELSE after END::text
		FROM changes ORDER BY position, ordinal`)
	if err != nil {
		t.Fatal(err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (change, error) {
		var c change
		err := row.Scan(&c.xid, &c.table, &c.op, &c.context, &c.data)

		return c, err
	})
	if err != nil {
		t.Fatal(err)
	}

	return out
}

// sameJSON reports whether two JSON texts hold the same value; "" stands
// for {}, the context the changes table stores for a change without one.
func sameJSON(a, b string) bool {
	var va, vb any
	if a == "" {
		a = "{}"
	}
	if b == "" {
		b = "{}"
	}
	if json.Unmarshal([]byte(a), &va) != nil || json.Unmarshal([]byte(b), &vb) != nil {
		return a == b
	}

	return reflect.DeepEqual(va, vb)
}
