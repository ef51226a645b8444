package pgxbemi_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/netip"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bemi-go/bemi/core"
	"github.com/bemi-go/bemi/core/pgtest"
	"github.com/bemi-go/bemi/pgxbemi"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"
)

// copyTypesSchema creates a table with a column of each common type, an
// enum and a domain.
const copyTypesSchema = `
CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
CREATE DOMAIN positive AS integer CHECK (VALUE > 0);
CREATE TABLE wide (
	id          bigint PRIMARY KEY,
	small       smallint,
	normal      integer,
	big         bigint,
	single      real,
	double      double precision,
	amount      numeric,
	exact       numeric(12, 3),
	body        text,
	short       varchar(20),
	code        char(3),
	flag        boolean,
	raw         bytea,
	day         date,
	at_local    timestamp,
	at          timestamptz,
	clock       time,
	span        interval,
	uid         uuid,
	doc         json,
	docb        jsonb,
	ints        integer[],
	grid        integer[][],
	words       text[],
	addr        inet,
	net         cidr,
	period      int4range,
	feeling     mood,
	count       positive,
	counted     bigint GENERATED ALWAYS AS (normal::bigint * 2) STORED,
	note        text DEFAULT 'default'
);`

// wideColumns are the columns of wide that the copies set. The database
// fills counted and note.
var wideColumns = []string{
	"id", "small", "normal", "big", "single", "double", "amount", "exact", "body", "short", "code", "flag",
	"raw", "day", "at_local", "at", "clock", "span", "uid", "doc", "docb", "ints", "grid", "words",
	"addr", "net", "period", "feeling", "count",
}

// wideRows returns rows for wide with ordinary values, edge values and
// NULLs, in the Go types that applications pass to pgx, strings among them
// for the values that pgx encodes from their text form.
func wideRows() [][]any {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		berlin = time.FixedZone("UTC+2", 2*60*60)
	}
	hello := "hello"

	return [][]any{
		{
			int64(1), int16(-7), int32(42), int64(math.MaxInt64), float32(1.5), 2.25,
			"12345678901234567890.123456789", 3.5, "plain text", "short", "abc", true,
			[]byte{0, 1, 2, 0xff}, time.Date(2024, 2, 29, 0, 0, 0, 0, time.UTC),
			time.Date(2024, 1, 2, 3, 4, 5, 123456000, time.UTC), time.Date(2024, 6, 1, 12, 30, 0, 0, berlin),
			pgtype.Time{Microseconds: (13*3600 + 14*60 + 15) * 1e6, Valid: true}, 90 * time.Minute,
			"6ba7b810-9dad-11d1-80b4-00c04fd430c8", `{"a": [1, 2], "b": null}`, map[string]any{"k": "v", "n": 1.5},
			[]int32{1, 2, 3}, [][]int32{{1, 2}, {3, 4}}, []string{"x", "y z", ""},
			netip.MustParseAddr("192.168.1.10"), netip.MustParsePrefix("10.0.0.0/8"), "[1,10)", "happy", int32(5),
		},
		{
			int64(2), int16(math.MinInt16), int32(math.MinInt32), int64(math.MinInt64), float32(math.Inf(1)), math.NaN(),
			"NaN", "-0.001", "ünïcödé ✓ 日本語 🎉, quotes ' \" and \\ backslash\nnewline\ttab", "", "  x", false,
			[]byte{}, time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC),
			pgtype.Timestamp{InfinityModifier: pgtype.Infinity, Valid: true}, pgtype.Timestamptz{InfinityModifier: pgtype.NegativeInfinity, Valid: true},
			"23:59:59.999999", pgtype.Interval{Months: 14, Days: 3, Microseconds: 4*3600e6 + 5*60e6 + 6e6, Valid: true}, [16]byte{0xff, 1}, "[]", []any{"nested", map[string]any{"deep": true}},
			[]int32{}, "{{5,6,7},{8,9,10}}", []*string{&hello, nil},
			"::1", "2001:db8::/32", "empty", "sad", "7",
		},
		{
			int64(3), nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil,
			nil, nil, nil, nil, nil, nil, nil, nil,
		},
	}
}

// copyPair is two databases with the same schema: one written through a
// bare pgx pool and one through a DB over a pool.
type copyPair struct {
	bare    *pgxpool.Pool
	wrapped *pgxbemi.DB
	pools   [2]*pgxpool.Pool // bare, then the pool under wrapped
}

// newCopyPair creates the two databases with schema, and a pool on each
// configured by configure.
func newCopyPair(t *testing.T, schema string, configure ...func(*pgxpool.Config)) *copyPair {
	t.Helper()

	var p copyPair
	for i := range p.pools {
		url := pgtest.NewDatabase(t)
		setupConn, err := pgx.Connect(context.Background(), url)
		if err != nil {
			t.Fatal(err)
		}
		_, err = setupConn.Exec(context.Background(), schema)
		setupConn.Close(context.Background())
		if err != nil {
			t.Fatalf("create schema: %v", err)
		}

		p.pools[i] = openPool(t, url, configure...)
	}
	p.bare = p.pools[0]
	p.wrapped = pgxbemi.New(p.pools[1], pgxbemi.Config{})

	return &p
}

// contents returns the rows of table in each database as text, ordered by
// the first column.
func (p *copyPair) contents(t *testing.T, table string) (bare, wrapped []string) {
	t.Helper()

	read := func(pool *pgxpool.Pool) []string {
		// The simple protocol works also where the pool's exec mode fails.
		rows, _ := pool.Query(context.Background(), fmt.Sprintf("SELECT t::text FROM %s t ORDER BY 1", table), pgx.QueryExecModeSimpleProtocol)
		out, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatalf("read %s: %v", table, err)
		}

		return out
	}

	return read(p.pools[0]), read(p.pools[1])
}

// registerMood registers the enum type mood on every new connection, as
// pgx's documentation requires for enum columns in CopyFrom.
func registerMood(cfg *pgxpool.Config) {
	cfg.AfterConnect = func(ctx context.Context, conn *pgx.Conn) error {
		for _, name := range []string{"mood", "_mood"} {
			typ, err := conn.LoadType(ctx, name)
			if err != nil {
				return err
			}
			conn.TypeMap().RegisterType(typ)
		}

		return nil
	}
}

func TestCopyParityAllTypes(t *testing.T) {
	for _, mode := range execModes {
		t.Run(mode.String(), func(t *testing.T) {
			t.Parallel()
			p := newCopyPair(t, copyTypesSchema, withMode(mode), registerMood)
			ctx := core.With(context.Background(), userA)

			want, err := p.bare.CopyFrom(context.Background(), pgx.Identifier{"wide"}, wideColumns, pgx.CopyFromRows(wideRows()))
			if err != nil {
				t.Fatalf("bare CopyFrom: %v", err)
			}
			got, err := p.wrapped.CopyFrom(ctx, pgx.Identifier{"public", "wide"}, wideColumns, pgx.CopyFromRows(wideRows()))
			if err != nil {
				t.Fatalf("CopyFrom through the DB: %v", err)
			}
			if got != want || got != 3 {
				t.Errorf("CopyFrom through the DB copied %d rows, bare pgx %d; want 3", got, want)
			}

			bare, wrapped := p.contents(t, "wide")
			if len(bare) != 3 {
				t.Fatalf("bare pgx wrote %d rows, want 3", len(bare))
			}
			if !reflect.DeepEqual(wrapped, bare) {
				t.Errorf("table contents differ:\nDB   %q\nbare %q", wrapped, bare)
			}
			if !strings.Contains(bare[1], "日本語") || !strings.Contains(bare[0], "12345678901234567890.123456789") {
				t.Errorf("bare pgx wrote unexpected values: %q", bare)
			}
		})
	}
}

// TestCopyParityTypeErrors copies values that pgx cannot encode, or can only
// encode after registering a type, through both paths.
func TestCopyParityTypeErrors(t *testing.T) {
	cases := []struct {
		name    string
		columns []string
		row     []any
	}{
		{"enum not registered", []string{"id", "feeling"}, []any{1, "happy"}},
		{"domain", []string{"id", "count"}, []any{1, 5}},
		{"domain from text", []string{"id", "count"}, []any{1, "5"}},
		{"domain check violation", []string{"id", "count"}, []any{1, -5}},
		{"string for integer", []string{"id", "normal"}, []any{1, "12"}},
		{"string for integer array", []string{"id", "grid"}, []any{1, "{{1,2},{3,4}}"}},
		{"integer for text", []string{"id", "body"}, []any{1, 12}},
		{"float for integer", []string{"id", "normal"}, []any{1, 1.5}},
		{"map for json", []string{"id", "doc"}, []any{1, map[string]any{"a": 1}}},
	}

	p := newCopyPair(t, copyTypesSchema)
	ctx := core.With(context.Background(), userA)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			bareCount, bareErr := p.bare.CopyFrom(context.Background(), pgx.Identifier{"wide"}, c.columns, pgx.CopyFromRows([][]any{c.row}))
			count, err := p.wrapped.CopyFrom(ctx, pgx.Identifier{"wide"}, c.columns, pgx.CopyFromRows([][]any{c.row}))

			var want, got outcome
			observeErr(&want, bareErr)
			observeErr(&got, err)
			want.Tag, got.Tag = fmt.Sprint(bareCount), fmt.Sprint(count)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("outcome differs:\nDB   %+v\nbare %+v", got, want)
			}

			bare, wrapped := p.contents(t, "wide")
			if !reflect.DeepEqual(wrapped, bare) {
				t.Errorf("table contents differ:\nDB   %q\nbare %q", wrapped, bare)
			}
			for _, pool := range p.pools {
				if _, err := pool.Exec(context.Background(), "TRUNCATE wide"); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}

// failingSource returns rows until row fail, where Values returns err.
func failingSource(rows, fail int, err error) pgx.CopyFromSource {
	return pgx.CopyFromSlice(rows, func(i int) ([]any, error) {
		if i == fail {
			return nil, err
		}

		return []any{int64(i), fmt.Sprintf("row %d", i)}, nil
	})
}

// TestCopyParityErrors checks that a failed copy returns the error that pgx
// returns and writes no row, also when the failure comes after the first
// rows reached the server.
func TestCopyParityErrors(t *testing.T) {
	const schema = `CREATE TABLE items (id bigint PRIMARY KEY, name text NOT NULL)`
	errSource := errors.New("source failed")
	many := func(bad int, value any) pgx.CopyFromSource {
		return pgx.CopyFromSlice(5000, func(i int) ([]any, error) {
			if i == bad {
				return []any{int64(i), value}, nil
			}

			return []any{int64(i), strings.Repeat("x", 100)}, nil
		})
	}
	cases := []struct {
		name    string
		table   pgx.Identifier
		columns []string
		src     func() pgx.CopyFromSource
	}{
		{"bad value in first row", pgx.Identifier{"items"}, []string{"id", "name"},
			func() pgx.CopyFromSource { return pgx.CopyFromRows([][]any{{"one", "x"}}) }},
		{"bad value after 4,000 rows", pgx.Identifier{"items"}, []string{"id", "name"},
			func() pgx.CopyFromSource { return many(4000, badArgument) }},
		{"null in not null column after 4,000 rows", pgx.Identifier{"items"}, []string{"id", "name"},
			func() pgx.CopyFromSource { return many(4000, nil) }},
		{"duplicate key", pgx.Identifier{"items"}, []string{"id", "name"},
			func() pgx.CopyFromSource { return pgx.CopyFromRows([][]any{{1, "a"}, {2, "b"}, {1, "c"}}) }},
		{"missing column", pgx.Identifier{"items"}, []string{"id", "missing"},
			func() pgx.CopyFromSource { return pgx.CopyFromRows([][]any{{1, "a"}}) }},
		{"missing table", pgx.Identifier{"missing"}, []string{"id", "name"},
			func() pgx.CopyFromSource { return pgx.CopyFromRows([][]any{{1, "a"}}) }},
		{"missing schema", pgx.Identifier{"nowhere", "items"}, []string{"id", "name"},
			func() pgx.CopyFromSource { return pgx.CopyFromRows([][]any{{1, "a"}}) }},
		{"too few values", pgx.Identifier{"items"}, []string{"id", "name"},
			func() pgx.CopyFromSource { return pgx.CopyFromRows([][]any{{1, "a"}, {2}}) }},
		{"source error", pgx.Identifier{"items"}, []string{"id", "name"},
			func() pgx.CopyFromSource { return failingSource(10, 3, errSource) }},
		{"source error after 4,000 rows", pgx.Identifier{"items"}, []string{"id", "name"},
			func() pgx.CopyFromSource { return failingSource(5000, 4000, errSource) }},
		{"source error at the end", pgx.Identifier{"items"}, []string{"id", "name"},
			func() pgx.CopyFromSource {
				n := 0
				return pgx.CopyFromFunc(func() ([]any, error) {
					n++
					if n > 3 {
						return nil, errSource
					}
					return []any{int64(n), "row"}, nil
				})
			}},
		{"no columns", pgx.Identifier{"items"}, nil,
			func() pgx.CopyFromSource { return pgx.CopyFromRows([][]any{{}}) }},
	}

	for _, mode := range []pgx.QueryExecMode{pgx.QueryExecModeCacheStatement, pgx.QueryExecModeExec} {
		t.Run(mode.String(), func(t *testing.T) {
			t.Parallel()
			p := newCopyPair(t, schema, withMode(mode))
			ctx := core.With(context.Background(), userA)

			for _, c := range cases {
				bareCount, bareErr := p.bare.CopyFrom(context.Background(), c.table, c.columns, c.src())
				count, err := p.wrapped.CopyFrom(ctx, c.table, c.columns, c.src())
				if bareErr == nil {
					t.Fatalf("%s: bare CopyFrom succeeded, want an error", c.name)
				}

				var want, got outcome
				observeErr(&want, bareErr)
				observeErr(&got, err)
				want.Tag, got.Tag = fmt.Sprint(bareCount), fmt.Sprint(count)
				if !reflect.DeepEqual(got, want) {
					t.Errorf("%s: outcome differs:\nDB   %+v\nbare %+v", c.name, got, want)
				}

				bare, wrapped := p.contents(t, "items")
				if len(bare) != 0 || len(wrapped) != 0 {
					t.Errorf("%s: the failed copies left %d rows through the DB and %d through bare pgx, want none",
						c.name, len(wrapped), len(bare))
				}
			}
		})
	}
}

// TestCopyCacheDisabled copies in the cache modes with pgx's cache turned
// off, which pgx's CopyFrom rejects. The DB takes the path through pgx's
// CopyFrom, so it returns pgx's error and writes nothing.
func TestCopyCacheDisabled(t *testing.T) {
	cases := []struct {
		name      string
		configure func(*pgxpool.Config)
	}{
		{"statement cache", func(c *pgxpool.Config) { c.ConnConfig.StatementCacheCapacity = 0 }},
		{"description cache", func(c *pgxpool.Config) {
			c.ConnConfig.DefaultQueryExecMode = pgx.QueryExecModeCacheDescribe
			c.ConnConfig.DescriptionCacheCapacity = 0
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			p := newCopyPair(t, `CREATE TABLE items (id integer)`, c.configure)
			rows := [][]any{{1}}

			_, bareErr := p.bare.CopyFrom(context.Background(), pgx.Identifier{"items"}, []string{"id"}, pgx.CopyFromRows(rows))
			_, err := p.wrapped.CopyFrom(core.With(context.Background(), userA), pgx.Identifier{"items"}, []string{"id"}, pgx.CopyFromRows(rows))
			if bareErr == nil {
				t.Fatal("bare CopyFrom succeeded, want pgx's error")
			}
			if err == nil || err.Error() != bareErr.Error() {
				t.Errorf("CopyFrom through the DB returned %v, want %v", err, bareErr)
			}

			bare, wrapped := p.contents(t, "items")
			if len(bare) != 0 || len(wrapped) != 0 {
				t.Errorf("the failed copies left %d rows through the DB and %d through bare pgx, want none", len(wrapped), len(bare))
			}
		})
	}
}

// hostileFields are context values that contain comment delimiters, quotes,
// a line comment, NUL, invalid UTF-8 and newlines.
var hostileFields = core.Fields{
	"close":                     "*/ DROP TABLE todos; --",
	"open":                      "/* nested",
	"quotes":                    `it's "quoted" $$ $tag$`,
	"line":                      "-- comment\nnext line\r\n",
	"nul":                       "a\x00b",
	"invalid":                   "bad \xff\xfe bytes",
	"key */ with /* delimiters": []any{"*/", "/*", map[string]any{"*/": "/**/"}},
}

// TestCopyCommentHostileContext copies rows under a context with hostile
// values and checks, with a trigger that records current_query(), that the
// statement that ran is pgx's COPY statement followed by one Bemi comment
// that carries the encoded context.
func TestCopyCommentHostileContext(t *testing.T) {
	t.Parallel()
	d := newTrackedDB(t)
	d.exec(t, `
		CREATE TABLE copy_queries (query text NOT NULL, payload text);
		CREATE FUNCTION record_query() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN
			INSERT INTO copy_queries VALUES (current_query(), bemi.comment_payload(current_query()));
			RETURN NULL;
		END $$;
		CREATE TRIGGER record_query AFTER INSERT ON todos FOR EACH STATEMENT EXECUTE FUNCTION record_query();`)
	db := pgxbemi.New(d.pool(t), pgxbemi.Config{})
	ctx := core.With(context.Background(), hostileFields)

	rows := [][]any{{"first */ row"}, {"second /* row"}}
	n, err := db.CopyFrom(ctx, pgx.Identifier{"todos"}, []string{"title"}, pgx.CopyFromRows(rows))
	if err != nil || n != 2 {
		t.Fatalf("CopyFrom = %d, %v; want 2 rows", n, err)
	}

	var query, stored string
	if err := d.reader.QueryRow(context.Background(), "SELECT query, payload FROM copy_queries").Scan(&query, &stored); err != nil {
		t.Fatalf("read the recorded query: %v", err)
	}
	payload, _, err := core.Payload(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	parsed, ok := core.ParseComment(query)
	if !ok {
		t.Fatalf("no Bemi comment in the COPY statement %q", query)
	}
	if string(parsed) != string(payload) {
		t.Errorf("the COPY statement carries %q, want %q", parsed, payload)
	}
	if stored != string(payload) {
		t.Errorf("the database read %q from the COPY statement, want %q", stored, payload)
	}
	if want := core.AppendComment(`copy "todos" ( "title" ) from stdin binary`, payload); query != want {
		t.Errorf("the COPY statement is\n%q\nwant\n%q", query, want)
	}

	// The trigger's insert into copy_queries, which has no title, runs in
	// the COPY statement and gets its context too.
	want := fields(t, hostileFields)
	d.wantChanges(t, []change{
		{op: "CREATE", title: "first */ row", context: want},
		{op: "CREATE", title: "second /* row", context: want},
		{op: "CREATE", title: "", context: want},
	})
}

// TestCopyStaleDescription changes a column's type and drops the prepared
// statements between copies on two connections of a pool. A copy may fail
// on a description taken before the change, but only one: the failure makes
// every later copy describe the table again, on any connection.
func TestCopyStaleDescription(t *testing.T) {
	for _, mode := range []pgx.QueryExecMode{pgx.QueryExecModeCacheStatement, pgx.QueryExecModeCacheDescribe} {
		t.Run(mode.String(), func(t *testing.T) {
			t.Parallel()
			p := newCopyPair(t, `CREATE TABLE items (id integer, amount integer)`, withMode(mode))
			bg := context.Background()
			ctx := core.With(bg, userA)
			pool := p.pools[1]

			// Two connections, each with the description of items.
			first, err := pool.Acquire(bg)
			if err != nil {
				t.Fatal(err)
			}
			defer first.Release()
			second, err := pool.Acquire(bg)
			if err != nil {
				t.Fatal(err)
			}
			defer second.Release()
			copyRow := func(c *pgxpool.Conn, id int) error {
				_, err := pgxbemi.New(c, pgxbemi.Config{}).CopyFrom(ctx, pgx.Identifier{"items"}, []string{"id", "amount"},
					pgx.CopyFromRows([][]any{{id, id * 10}}))
				return err
			}
			for id, c := range []*pgxpool.Conn{first, second} {
				if err := copyRow(c, id+1); err != nil {
					t.Fatalf("copy before the change: %v", err)
				}
			}

			if _, err := first.Exec(bg, "ALTER TABLE items ALTER COLUMN amount TYPE bigint"); err != nil {
				t.Fatal(err)
			}
			if _, err := first.Exec(bg, "DEALLOCATE ALL"); err != nil {
				t.Fatal(err)
			}
			if err := second.Conn().DeallocateAll(bg); err != nil {
				t.Fatal(err)
			}

			var copied []int64
			failures := 0
			for i, c := range []*pgxpool.Conn{first, second, first, second} {
				id := 3 + i
				if err := copyRow(c, id); err != nil {
					failures++
					t.Logf("copy %d after the change: %v", i+1, err)
					continue
				}
				copied = append(copied, int64(id)*10)
			}
			if failures > 1 {
				t.Errorf("%d of 4 copies after the change failed, want at most 1", failures)
			}

			rows, _ := first.Query(bg, "SELECT amount FROM items WHERE id >= 3 ORDER BY id")
			amounts, err := pgx.CollectRows(rows, pgx.RowTo[int64])
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(amounts, copied) {
				t.Errorf("amounts after the change are %v, want %v", amounts, copied)
			}
		})
	}
}

// copyTracer records the CopyFrom trace calls of a connection.
type copyTracer struct {
	events []string
}

// traceKey is the key of the value that copyTracer adds to the context.
type traceKey struct{}

func (c *copyTracer) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	return ctx
}

func (c *copyTracer) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

func (c *copyTracer) TraceCopyFromStart(ctx context.Context, _ *pgx.Conn, data pgx.TraceCopyFromStartData) context.Context {
	c.events = append(c.events, fmt.Sprintf("start %v %v", data.TableName, data.ColumnNames))

	return context.WithValue(ctx, traceKey{}, "traced")
}

func (c *copyTracer) TraceCopyFromEnd(ctx context.Context, _ *pgx.Conn, data pgx.TraceCopyFromEndData) {
	var pgErr *pgconn.PgError
	code := ""
	if errors.As(data.Err, &pgErr) {
		code = pgErr.Code
	}
	c.events = append(c.events, fmt.Sprintf("end %q error=%t %s context=%v", data.CommandTag, data.Err != nil, code, ctx.Value(traceKey{})))
}

func TestCopyTracer(t *testing.T) {
	t.Parallel()
	d := newTrackedDB(t)
	bg := context.Background()
	run := func(db pgxbemi.DBTX, ctx context.Context) {
		_, _ = db.CopyFrom(ctx, pgx.Identifier{"todos"}, []string{"title"}, pgx.CopyFromRows([][]any{{"a"}, {"b"}}))
		_, _ = db.CopyFrom(ctx, pgx.Identifier{"todos"}, []string{"title"}, pgx.CopyFromRows([][]any{{nil}}))
	}

	bareTracer := &copyTracer{}
	run(d.conn(t, func(c *pgx.ConnConfig) { c.Tracer = bareTracer }), bg)
	tracer := &copyTracer{}
	run(pgxbemi.New(d.conn(t, func(c *pgx.ConnConfig) { c.Tracer = tracer }), pgxbemi.Config{}), core.With(bg, userA))

	if len(bareTracer.events) != 4 {
		t.Fatalf("bare pgx traced %v, want 4 events", bareTracer.events)
	}
	if !reflect.DeepEqual(tracer.events, bareTracer.events) {
		t.Errorf("traced\n%q\nwant\n%q", tracer.events, bareTracer.events)
	}

	// pgx v5.13.0 calls no TraceCopyFromEnd when the description fails;
	// the DB does.
	tracer.events = nil
	db := pgxbemi.New(d.conn(t, func(c *pgx.ConnConfig) { c.Tracer = tracer }), pgxbemi.Config{})
	_, err := db.CopyFrom(core.With(bg, userA), pgx.Identifier{"missing"}, []string{"title"}, pgx.CopyFromRows([][]any{{"a"}}))
	if err == nil {
		t.Fatal("CopyFrom into a missing table succeeded")
	}
	want := []string{`start [missing] [title]`, `end "" error=true 42P01 context=traced`}
	if !reflect.DeepEqual(tracer.events, want) {
		t.Errorf("traced %q, want %q", tracer.events, want)
	}
}

// TestCopyRoundTripsByMode counts the round trips of the first two copies
// on a connection, bare and through a DB, in every exec mode. The DB takes
// the round trips that pgx takes, because it describes the table in the
// same calls, and it sends the COPY statement with the comment.
func TestCopyRoundTripsByMode(t *testing.T) {
	d := newTrackedDB(t)
	bg := context.Background()
	rows := [][]any{{"r1"}, {"r2"}}

	for _, mode := range execModes {
		t.Run(mode.String(), func(t *testing.T) {
			calls := func(db pgxbemi.DBTX, ctx context.Context, trace *protocolTrace) (trips, stmts []int, lines []string) {
				t.Helper()
				trace.take()
				for range 2 {
					if _, err := db.CopyFrom(ctx, pgx.Identifier{"todos"}, []string{"title"}, pgx.CopyFromRows(rows)); err != nil {
						t.Fatal(err)
					}
					l := trace.take()
					trips = append(trips, roundTrips(l))
					stmts = append(stmts, statements(l))
					lines = l
				}

				return trips, stmts, lines
			}

			configure := func(c *pgx.ConnConfig) { c.DefaultQueryExecMode = mode }
			options := pgproto3.TracerOptions{SuppressTimestamps: true}
			bareConn := d.conn(t, configure)
			bareTrace := &protocolTrace{}
			bareConn.PgConn().Frontend().Trace(bareTrace, options)
			conn := d.conn(t, configure)
			trace := &protocolTrace{}
			conn.PgConn().Frontend().Trace(trace, options)

			bareTrips, bareStmts, _ := calls(bareConn, bg, bareTrace)
			trips, stmts, last := calls(pgxbemi.New(conn, pgxbemi.Config{}), core.With(bg, userA), trace)
			if !reflect.DeepEqual(trips, bareTrips) || !reflect.DeepEqual(stmts, bareStmts) {
				t.Errorf("copies took %v round trips and ran %v statements, bare pgx %v and %v", trips, stmts, bareTrips, bareStmts)
			}
			// In the cache modes the second copy is one request: the COPY
			// statement and its data. roundTrips counts the CopyInResponse
			// too, which pgconn does not wait for before it sends the data.
			if mode == pgx.QueryExecModeCacheStatement || mode == pgx.QueryExecModeCacheDescribe {
				if trips[1] != 2 || stmts[1] != 1 {
					t.Errorf("the second copy took %d round trips and ran %d statements, want only the COPY", trips[1], stmts[1])
				}
				for _, line := range last {
					frontend := strings.HasPrefix(line, "F\t")
					copyMessage := strings.HasPrefix(line, "F\tQuery\t") || strings.HasPrefix(line, "F\tCopyData\t") || strings.HasPrefix(line, "F\tCopyDone\t")
					if frontend && !copyMessage {
						t.Errorf("the second copy sent %q, want only the COPY statement and its data", line)
					}
				}
			}
			comments := 0
			for _, line := range last {
				if strings.HasPrefix(line, "F\tQuery\t") && strings.Contains(line, core.CommentStart) {
					comments++
				}
			}
			if comments != 1 {
				t.Errorf("the second copy sent %d queries with a Bemi comment, want 1:\n%s", comments, strings.Join(last, "\n"))
			}
		})
	}
}

// A copy that fails on the connection's side, here by its deadline, must
// not read the row source after CopyFrom returns: the caller owns it again,
// and rows taken from it then would be lost.
func TestCopySourceUnusedAfterReturn(t *testing.T) {
	t.Parallel()
	d := newTrackedDB(t)
	db := pgxbemi.New(d.pool(t), pgxbemi.Config{})
	ctx, cancel := context.WithTimeout(core.With(context.Background(), core.Fields{"userId": 1}), 300*time.Millisecond)
	defer cancel()

	var calls atomic.Int32
	src := pgx.CopyFromFunc(func() ([]any, error) {
		if calls.Add(1) > 20 {
			return nil, nil
		}
		time.Sleep(100 * time.Millisecond)

		return []any{"slow row"}, nil
	})
	_, err := db.CopyFrom(ctx, pgx.Identifier{"todos"}, []string{"title"}, src)
	if err == nil {
		t.Fatal("CopyFrom of a source slower than the deadline succeeded")
	}

	atReturn := calls.Load()
	time.Sleep(500 * time.Millisecond)
	if after := calls.Load(); after != atReturn {
		t.Errorf("the source was called %d times after CopyFrom returned", after-atReturn)
	}

	var stored int
	if err := d.pool(t).QueryRow(context.Background(), "SELECT count(*) FROM todos WHERE title = 'slow row'").Scan(&stored); err != nil {
		t.Fatal(err)
	}
	if stored != 0 {
		t.Errorf("%d rows of the failed copy were stored", stored)
	}
}
