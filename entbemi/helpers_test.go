package entbemi_test

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"

	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/bemi-go/bemi/capture/setup"
	"github.com/bemi-go/bemi/core/pgtest"
	"github.com/bemi-go/bemi/entbemi"
	"github.com/bemi-go/bemi/entbemi/internal/todoapp/ent"
)

func TestMain(m *testing.M) {
	code := pgtest.Run(m)
	stopBenchCluster()
	os.Exit(code)
}

// env is a fresh database with the todo schema, tracked by bemi setup, an
// ent client on an entbemi.Driver, and a test_decoding slot that reads the
// WAL written after newEnv returns.
type env struct {
	url    string
	db     *sql.DB
	driver *entbemi.Driver
	client *ent.Client
	admin  *pgx.Conn
	slot   string
}

// envOptions vary newEnv.
type envOptions struct {
	config entbemi.Config
	// wrap, when set, wraps the ent SQL driver before entbemi.NewDriver.
	wrap func(dialect.Driver) dialect.Driver
	// untracked leaves the todos table without trigger and with the
	// default replica identity.
	untracked bool
	// tracer, when set, traces the pgx connections of the *sql.DB.
	tracer *sqlTracer
	// connConfig, when set, changes the pgx configuration of the *sql.DB.
	connConfig func(*pgx.ConnConfig)
	// openOptions configure the *sql.DB.
	openOptions []stdlib.OptionOpenDB
}

// sqlTracer records the SQL text of every query and batch query that pgx
// sends, in order.
type sqlTracer struct {
	mu      sync.Mutex
	queries []string
}

func (r *sqlTracer) record(sql string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.queries = append(r.queries, sql)
}

// take returns the recorded queries and forgets them.
func (r *sqlTracer) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	q := r.queries
	r.queries = nil

	return q
}

func (r *sqlTracer) TraceQueryStart(ctx context.Context, _ *pgx.Conn, data pgx.TraceQueryStartData) context.Context {
	r.record(data.SQL)

	return ctx
}

func (r *sqlTracer) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

func (r *sqlTracer) TraceBatchStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceBatchStartData) context.Context {
	return ctx
}

func (r *sqlTracer) TraceBatchQuery(_ context.Context, _ *pgx.Conn, data pgx.TraceBatchQueryData) {
	r.record(data.SQL)
}

func (r *sqlTracer) TraceBatchEnd(context.Context, *pgx.Conn, pgx.TraceBatchEndData) {}

func newEnv(t testing.TB, opts envOptions) *env {
	t.Helper()

	return newEnvAt(t, pgtest.NewDatabase(t), opts)
}

func newEnvAt(t testing.TB, dbURL string, opts envOptions) *env {
	t.Helper()
	ctx := context.Background()

	connConfig, err := pgx.ParseConfig(dbURL)
	if err != nil {
		t.Fatalf("parse database URL: %v", err)
	}
	if opts.tracer != nil {
		connConfig.Tracer = opts.tracer
	}
	if opts.connConfig != nil {
		opts.connConfig(connConfig)
	}
	db := stdlib.OpenDB(*connConfig, opts.openOptions...)
	t.Cleanup(func() { db.Close() })

	var inner dialect.Driver = entsql.OpenDB(dialect.Postgres, db)
	if opts.wrap != nil {
		inner = opts.wrap(inner)
	}
	drv := entbemi.NewDriver(inner, opts.config)
	client := ent.NewClient(ent.Driver(drv))
	if err := client.Schema.Create(ctx); err != nil {
		t.Fatalf("create schema: %v", err)
	}

	admin, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(func() { admin.Close(context.Background()) })

	cfg := setup.Config{SkipSlot: true}
	if opts.untracked {
		cfg.ExcludeTables = []string{"todos"}
	}
	if _, err := setup.Run(ctx, admin, cfg); err != nil {
		t.Fatalf("setup: %v", err)
	}

	e := &env{url: dbURL, db: db, driver: drv, client: client, admin: admin, slot: "wal_" + databaseName(t, dbURL)}
	e.exec(t, "SELECT pg_create_logical_replication_slot($1, 'test_decoding')", e.slot)
	t.Cleanup(func() {
		_, _ = admin.Exec(context.Background(), "SELECT pg_drop_replication_slot($1)", e.slot)
	})

	return e
}

// exec runs SQL on the admin connection, without entbemi.
func (e *env) exec(t testing.TB, query string, args ...any) {
	t.Helper()

	if _, err := e.admin.Exec(context.Background(), query, args...); err != nil {
		t.Fatalf("exec %q: %v", query, err)
	}
}

// walChange is a row change read from the WAL with the context that the
// capture worker would stitch to it: the content of the nearest preceding
// _bemi message of its transaction, or "" when there is none or it is the
// reset message {}.
type walChange struct {
	Op      string // INSERT, UPDATE, DELETE or TRUNCATE
	Table   string // as test_decoding prints it, such as public.todos
	Row     string // the rest of the test_decoding line
	Context string
}

// walTx is one decoded transaction.
type walTx struct {
	Messages []string // _bemi message contents in order
	Changes  []walChange
}

var (
	messageLine = regexp.MustCompile(`(?s)^message: transactional: (\d) prefix: (.*?), sz: (\d+) content:(.*)$`)
	changeLine  = regexp.MustCompile(`(?s)^table (.+?): (INSERT|UPDATE|DELETE|TRUNCATE):(.*)$`)
)

// flushPrefix marks the message that wal writes so that the decoded stream
// ends after every earlier commit.
const flushPrefix = "test_flush"

// wal consumes the decoded WAL since the last call and returns the
// transactions that hold _bemi messages or row changes, leaving out the
// changes to schema bemi's own tables.
func (e *env) wal(t testing.TB) []walTx {
	t.Helper()
	ctx := context.Background()

	e.exec(t, "SELECT pg_logical_emit_message(true, $1, '')", flushPrefix)
	rows, _ := e.admin.Query(ctx,
		"SELECT data FROM pg_logical_slot_get_changes($1, NULL, NULL, 'include-xids', '0', 'skip-empty-xacts', '0')", e.slot)
	lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatalf("read WAL: %v", err)
	}

	var txs []walTx
	var cur walTx
	var context string
	for _, line := range lines {
		switch {
		case line == "BEGIN":
			cur, context = walTx{}, ""
		case line == "COMMIT":
			if len(cur.Messages) > 0 || len(cur.Changes) > 0 {
				txs = append(txs, cur)
			}
		case strings.HasPrefix(line, "message: "):
			m := messageLine.FindStringSubmatch(line)
			if m == nil {
				t.Fatalf("unparsed message line %q", line)
			}
			if m[2] == flushPrefix {
				continue
			}
			if m[1] != "1" || m[2] != "_bemi" {
				t.Fatalf("unexpected message %q", line)
			}
			cur.Messages = append(cur.Messages, m[4])
			context = m[4]
			if context == "{}" {
				context = ""
			}
		default:
			m := changeLine.FindStringSubmatch(line)
			if m == nil {
				t.Fatalf("unparsed WAL line %q", line)
			}
			if strings.HasPrefix(m[1], "bemi.") {
				continue
			}
			cur.Changes = append(cur.Changes, walChange{Op: m[2], Table: m[1], Row: m[3], Context: context})
		}
	}

	return txs
}

// changes returns the row changes of txs in order.
func changes(txs []walTx) []walChange {
	var out []walChange
	for _, tx := range txs {
		out = append(out, tx.Changes...)
	}

	return out
}

// summary renders changes as "OP table context" lines for comparison.
func summary(cs []walChange) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = fmt.Sprintf("%s %s %s", c.Op, c.Table, c.Context)
	}

	return out
}

func equalLines(t testing.TB, got, want []string) {
	t.Helper()

	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("changes:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func databaseName(t testing.TB, dbURL string) string {
	t.Helper()

	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}

	return strings.TrimPrefix(u.Path, "/")
}

// repeat returns n copies of s.
func repeat(s string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = s
	}

	return out
}

// itoa is strconv.Itoa, short for building expected lines.
func itoa(i int) string { return strconv.Itoa(i) }
