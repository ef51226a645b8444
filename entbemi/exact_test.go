package entbemi_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"net"
	"reflect"
	"strings"
	"sync"
	"testing"

	entsql "entgo.io/ent/dialect/sql"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/bemi-go/bemi/capture/setup"
	"github.com/bemi-go/bemi/core"
	"github.com/bemi-go/bemi/entbemi"
)

// typedSchema creates a table with a column of each type for which a pgx
// batch receives another format than the pgx stdlib driver, next to a few
// for which both receive the same.
var typedSchema = []string{
	`CREATE TYPE mood AS ENUM ('sad', 'happy')`,
	`CREATE TABLE typed (
		id serial PRIMARY KEY, t time, ttz timetz, iv interval, ia int4[], ia2 int4[], ta text[], ta2 text[],
		tsa timestamptz[], fa float8[], f4a float4[], ja jsonb[], ba bool[], da date[],
		ir int4range, dr daterange, tr tstzrange, nr numrange, mr int4multirange,
		ip inet, cn cidr, pt point, bx box, bt bit(3), vb varbit, mac macaddr,
		n numeric(10,4), nn numeric, u uuid, mo mood, tz timestamptz, i8 int8, f8 float8, j jsonb, nul interval)`,
}

// typedInsert writes one row of typed and returns every column but id,
// and a row(...) column, whose type is record. $1 is a time and $2 an
// int8.
const typedInsert = `INSERT INTO typed (t, ttz, iv, ia, ia2, ta, ta2, tsa, fa, f4a, ja, ba, da,
		ir, dr, tr, nr, mr, ip, cn, pt, bx, bt, vb, mac, n, nn, u, mo, tz, i8, f8, j, nul)
	VALUES ($1, '12:00:00.5+02', '14 months 3 days 04:05:06.5', '{1,NULL,3}', '{{1,2},{3,4}}',
		'{"a b",NULL,"c\"d",""}', '{{a,b},{c,d}}', '{"2024-01-02 03:04:05.5+02",infinity}',
		'{0.1,1e300,NaN,-Infinity,-0}', '{1.17549435e-38,0.1}',
		ARRAY['{"b": 1, "a": [1, 2.50]}'::jsonb, 'null'::jsonb], '{t,f,NULL}', '{2024-02-29,infinity}',
		'[1,5)', '[2024-01-02,2024-01-05)', '[2024-01-02 03:04:05+02,)', '(1.50,2.250]', '{[1,3),[5,7)}',
		'10.0.0.1/8', '10.0.0.0/8', '(1.5,2)', '(1,2),(3,4)', B'101', B'10110', '08:00:2b:01:02:03',
		123.45, 'NaN', 'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11', 'happy', '2024-01-02 03:04:05.123456+02',
		$2, 0.1, '{"b": null, "a": 1}', NULL)
	RETURNING t, ttz, iv, ia, ia2, ta, ta2, tsa, fa, f4a, ja, ba, da, ir, dr, tr, nr, mr, ip, cn, pt, bx,
		bt, vb, mac, n, nn, u, mo, tz, i8, f8, j, nul, row(t, 'x y', NULL::text, ia2) AS rec`

// typedArgs are the arguments of typedInsert.
var typedArgs = []any{"12:00:00.5", int64(8000000000)}

// execModes are pgx's query exec modes, each of which changes how pgx's
// stdlib driver sends a statement and in which formats it receives the
// result.
var execModes = []pgx.QueryExecMode{
	pgx.QueryExecModeCacheStatement,
	pgx.QueryExecModeCacheDescribe,
	pgx.QueryExecModeDescribeExec,
	pgx.QueryExecModeExec,
	pgx.QueryExecModeSimpleProtocol,
}

// returned is a row that database/sql returned, with its column types.
type returned struct {
	values    []any
	typeNames []string
}

// scanReturned reads the single row of rows into any values and closes
// rows. err is the error of the query that returned rows.
func scanReturned(t *testing.T, rows *sql.Rows, err error) returned {
	t.Helper()

	if err != nil {
		t.Fatalf("query: %v", err)
	}
	defer rows.Close()

	types, err := rows.ColumnTypes()
	if err != nil {
		t.Fatal(err)
	}
	r := returned{values: make([]any, len(types)), typeNames: make([]string, len(types))}
	dest := make([]any, len(types))
	for i, ct := range types {
		r.typeNames[i] = ct.DatabaseTypeName()
		dest[i] = &r.values[i]
	}
	if !rows.Next() {
		t.Fatalf("no row: %v", rows.Err())
	}
	if err := rows.Scan(dest...); err != nil {
		t.Fatalf("scan: %v", err)
	}
	if rows.Next() {
		t.Fatal("more than one row")
	}
	if err := rows.Close(); err != nil {
		t.Fatal(err)
	}

	return r
}

// compareReturned reports every column whose value, Go type or type name
// differs from what the pgx stdlib driver returned.
func compareReturned(t *testing.T, got, want returned) {
	t.Helper()

	if len(got.values) != len(want.values) {
		t.Fatalf("got %d columns, stdlib returns %d", len(got.values), len(want.values))
	}
	for i := range want.values {
		g, w := got.values[i], want.values[i]
		if !reflect.DeepEqual(g, w) && !bothNaN(g, w) {
			t.Errorf("column %d (%s): got %#v (%T), stdlib returns %#v (%T)", i, want.typeNames[i], g, g, w, w)
		}
		if got.typeNames[i] != want.typeNames[i] {
			t.Errorf("column %d: type name %q, stdlib returns %q", i, got.typeNames[i], want.typeNames[i])
		}
	}
}

func bothNaN(a, b any) bool {
	fa, okA := a.(float64)
	fb, okB := b.(float64)

	return okA && okB && math.IsNaN(fa) && math.IsNaN(fb)
}

// openStdlib opens a plain *sql.DB of the pgx stdlib driver on dbURL, for
// the values to compare with.
func openStdlib(t *testing.T, dbURL string, configure func(*pgx.ConnConfig)) *sql.DB {
	t.Helper()

	cfg, err := pgx.ParseConfig(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	configure(cfg)
	db := stdlib.OpenDB(*cfg)
	t.Cleanup(func() { db.Close() })

	return db
}

// createTracked runs schema and tracks the new tables with bemi setup.
func (e *env) createTracked(t *testing.T, schema ...string) {
	t.Helper()

	for _, q := range schema {
		e.exec(t, q)
	}
	if _, err := setup.Run(context.Background(), e.admin, setup.Config{SkipSlot: true}); err != nil {
		t.Fatalf("setup: %v", err)
	}
	e.wal(t)
}

// TestReturningValuesMatchStdlib runs an INSERT ... RETURNING of every
// type through entbemi, with context, and compares each value with the
// value that the same statement returns through a plain *sql.DB of the
// pgx stdlib driver, in each of pgx's query exec modes. The session time
// zone is not UTC, where pgx's text form of a timestamptz would differ
// from the server's.
func TestReturningValuesMatchStdlib(t *testing.T) {
	for _, mode := range execModes {
		t.Run(mode.String(), func(t *testing.T) {
			configure := func(cfg *pgx.ConnConfig) {
				cfg.DefaultQueryExecMode = mode
				cfg.RuntimeParams["timezone"] = "America/St_Johns"
			}
			e := newEnv(t, envOptions{connConfig: configure})
			e.createTracked(t, typedSchema...)
			plain := openStdlib(t, e.url, configure)
			ctx := context.Background()

			rows, err := plain.QueryContext(ctx, typedInsert, typedArgs...)
			want := scanReturned(t, rows, err)

			// The first run describes the statement, the second finds its
			// description cached.
			for _, run := range []string{"first", "second"} {
				t.Run(run, func(t *testing.T) {
					rows, err := e.driver.QueryContext(userCtx(1), typedInsert, typedArgs...)
					compareReturned(t, scanReturned(t, rows, err), want)
				})
			}

			tx, err := e.driver.BeginTx(ctx, nil)
			if err != nil {
				t.Fatal(err)
			}
			// An open transaction would keep the next test from creating
			// its replication slot. Rollback after Commit does nothing.
			defer func() { _ = tx.Rollback() }()
			rows, err = tx.(*entbemi.Tx).QueryContext(userCtx(2), typedInsert, typedArgs...)
			compareReturned(t, scanReturned(t, rows, err), want)
			if err := tx.Commit(); err != nil {
				t.Fatal(err)
			}

			equalLines(t, summary(changes(e.wal(t))), []string{
				`INSERT public.typed `,
				`INSERT public.typed {"userId":1}`,
				`INSERT public.typed {"userId":1}`,
				`INSERT public.typed {"userId":2}`,
			})
		})
	}
}

// queryError runs sqlText with query, reads all its rows and returns the
// first error on the way, as a database/sql caller receives it.
func queryError(ctx context.Context, query func(ctx context.Context, query string, args ...any) (*sql.Rows, error), sqlText string, args ...any) error {
	rows, err := query(ctx, sqlText, args...)
	if err != nil {
		return err
	}
	for rows.Next() {
	}
	err = rows.Err()
	if closeErr := rows.Close(); err == nil {
		err = closeErr
	}

	return err
}

// TestReturningErrorsMatchStdlib checks that statements whose result types
// take the pipeline fail with the *pgconn.PgError of the pgx stdlib
// driver, whether the server rejects them while describing, on the first
// row or after the first row, and that they write nothing.
func TestReturningErrorsMatchStdlib(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.createTracked(t,
		`CREATE TABLE slots (id serial PRIMARY KEY, name text UNIQUE, at time NOT NULL)`,
		`INSERT INTO slots (name, at) VALUES ('taken', '09:00')`,
	)
	plain := openStdlib(t, e.url, func(*pgx.ConnConfig) {})

	cases := []struct {
		name  string
		query string
		args  []any
		code  string
	}{
		{"unique violation", `INSERT INTO slots (name, at) VALUES ($1, '12:00:00.5') RETURNING at, row(id, at)`, []any{"taken"}, "23505"},
		{"error after the first row", `INSERT INTO slots (name, at)
			SELECT 'n' || g, '12:00'::time + make_interval(secs => 1.0 / (2 - g)) FROM generate_series(1, 3) g
			RETURNING at`, nil, "22012"},
		{"undefined table", `INSERT INTO missing (at) VALUES ('12:00') RETURNING at`, nil, "42P01"},
		{"undefined column", `INSERT INTO slots (name, at) VALUES ('x', '12:00') RETURNING at, missing`, nil, "42703"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			wantErr := queryError(context.Background(), plain.QueryContext, c.query, c.args...)
			var want *pgconn.PgError
			if !errors.As(wantErr, &want) {
				t.Fatalf("stdlib returned %T %v, want a *pgconn.PgError", wantErr, wantErr)
			}
			if want.Code != c.code {
				t.Fatalf("stdlib returned SQLSTATE %s, want %s", want.Code, c.code)
			}

			// Twice, because a failure must leave the connection and the
			// description cache usable for the next run.
			for run := range 2 {
				gotErr := queryError(userCtx(1), e.driver.QueryContext, c.query, c.args...)
				if reflect.TypeOf(gotErr) != reflect.TypeOf(wantErr) {
					t.Fatalf("run %d: error %T %v, stdlib returns %T", run, gotErr, gotErr, wantErr)
				}
				var got *pgconn.PgError
				if !errors.As(gotErr, &got) {
					t.Fatalf("run %d: error %T, want a *pgconn.PgError", run, gotErr)
				}
				if got.Code != want.Code || got.Message != want.Message || got.Detail != want.Detail ||
					got.ConstraintName != want.ConstraintName {
					t.Errorf("run %d: error %+v, stdlib returns %+v", run, got, want)
				}
			}
		})
	}

	var n int
	if err := e.admin.QueryRow(context.Background(), `SELECT count(*) FROM slots`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Errorf("slots has %d rows, want only the row written before the failed statements", n)
	}
	if cs := changes(e.wal(t)); len(cs) != 0 {
		t.Errorf("failed statements wrote %q", summary(cs))
	}
}

// TestReturningWithQueryOptions sends arguments that start with pgx query
// options, which cannot go into a batch, outside and inside a
// transaction, and checks their values and contexts.
func TestReturningWithQueryOptions(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.createTracked(t, `CREATE TABLE slots (id serial PRIMARY KEY, name text, at time NOT NULL)`)
	const insert = `INSERT INTO slots (name, at) VALUES (@name, @at) RETURNING name, at`
	args := []any{pgx.NamedArgs{"name": "a", "at": "12:00:00.5"}}
	ctx := context.Background()

	rows, err := openStdlib(t, e.url, func(*pgx.ConnConfig) {}).QueryContext(ctx, insert, args...)
	want := scanReturned(t, rows, err)
	rows, err = e.driver.QueryContext(userCtx(1), insert, args...)
	compareReturned(t, scanReturned(t, rows, err), want)

	res, err := e.driver.ExecContext(userCtx(2), `UPDATE slots SET at = $1`, pgx.QueryExecModeExec, "13:00")
	if err != nil {
		t.Fatalf("update: %v", err)
	}
	if n, _ := res.RowsAffected(); n != 2 {
		t.Errorf("RowsAffected = %d, want 2", n)
	}

	tx, err := e.driver.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	// An open transaction would keep the next test from creating its
	// replication slot. Rollback after Commit does nothing.
	defer func() { _ = tx.Rollback() }()
	// The second statement finds the setting of the first.
	for range 2 {
		rows, err = tx.(*entbemi.Tx).QueryContext(userCtx(3), insert, args...)
		compareReturned(t, scanReturned(t, rows, err), want)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}

	equalLines(t, summary(changes(e.wal(t))), []string{
		`INSERT public.slots `,
		`INSERT public.slots {"userId":1}`,
		`UPDATE public.slots {"userId":2}`,
		`UPDATE public.slots {"userId":2}`,
		`INSERT public.slots {"userId":3}`,
		`INSERT public.slots {"userId":3}`,
	})
}

// roundTrips counts the round trips of the connections it dials. Each
// time a connection writes after it has read, or writes first, the client
// sends a new request and then waits for the response.
type roundTrips struct {
	mu sync.Mutex
	n  int
}

func (r *roundTrips) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}

	return &countingConn{Conn: conn, trips: r}, nil
}

// count returns the round trips that fn makes.
func (r *roundTrips) count(fn func()) int {
	r.mu.Lock()
	r.n = 0
	r.mu.Unlock()
	fn()
	r.mu.Lock()
	defer r.mu.Unlock()

	return r.n
}

type countingConn struct {
	net.Conn
	trips   *roundTrips
	sending bool
}

func (c *countingConn) Write(b []byte) (int, error) {
	c.trips.mu.Lock()
	if !c.sending {
		c.trips.n++
		c.sending = true
	}
	c.trips.mu.Unlock()

	return c.Conn.Write(b)
}

func (c *countingConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	c.trips.mu.Lock()
	if n > 0 {
		c.sending = false
	}
	c.trips.mu.Unlock()

	return n, err
}

// TestReturningOneRoundTrip counts the round trips of an ent Create, whose
// RETURNING id goes in a pgx batch, and of a raw INSERT ... RETURNING of a
// time and a record, which goes in a pipeline. After the first run, which
// describes the statement, each takes one round trip, as a plain query of
// the pgx stdlib driver does.
func TestReturningOneRoundTrip(t *testing.T) {
	var trips roundTrips
	e := newEnv(t, envOptions{
		connConfig: func(cfg *pgx.ConnConfig) { cfg.DialFunc = trips.dial },
		// database/sql would otherwise ping a connection that has been
		// idle for a second before it hands it out.
		openOptions: []stdlib.OptionOpenDB{
			stdlib.OptionShouldPing(func(context.Context, stdlib.ShouldPingParams) bool { return false }),
		},
	})
	e.db.SetMaxOpenConns(1)
	e.createTracked(t, `CREATE TABLE slots (id serial PRIMARY KEY, at time NOT NULL)`)
	ctx := userCtx(1)

	plainQuery := func() {
		var n int
		if err := e.db.QueryRowContext(context.Background(), `SELECT count(*) FROM todos`).Scan(&n); err != nil {
			t.Fatal(err)
		}
	}
	plainQuery()
	if n := trips.count(plainQuery); n != 1 {
		t.Fatalf("a prepared query of the stdlib driver counted %d round trips, want 1", n)
	}

	create := func() { e.client.Todo.Create().SetTitle("a").SaveX(ctx) }
	if n := trips.count(create); n < 2 {
		t.Errorf("the first Create took %d round trips, want at least 2 to describe and run it", n)
	}
	if n := trips.count(create); n != 1 {
		t.Errorf("Create took %d round trips, want 1", n)
	}

	insert := func() {
		rows, err := e.driver.QueryContext(ctx, `INSERT INTO slots (at) VALUES ($1) RETURNING at, row(id, at)`, "12:00:00.5")
		r := scanReturned(t, rows, err)
		if r.values[0] != "12:00:00.5" {
			t.Errorf("at = %#v, want the server's text 12:00:00.5", r.values[0])
		}
	}
	// The pipeline prepares its named statements itself.
	if n := trips.count(insert); n != 2 {
		t.Errorf("the first INSERT ... RETURNING a time and a record took %d round trips, want 2 to describe and run it", n)
	}
	if n := trips.count(insert); n != 1 {
		t.Errorf("INSERT ... RETURNING a time and a record took %d round trips, want 1", n)
	}

	equalLines(t, summary(changes(e.wal(t))), []string{
		`INSERT public.todos {"userId":1}`,
		`INSERT public.todos {"userId":1}`,
		`INSERT public.slots {"userId":1}`,
		`INSERT public.slots {"userId":1}`,
	})
}

// TestPipelineSessionVarsAndTrace checks that the session variables of
// entsql.WithVar reach a statement that goes in a pipeline and are reset
// after it, and that pgx's tracer receives every statement of the
// pipeline.
func TestPipelineSessionVarsAndTrace(t *testing.T) {
	tracer := &sqlTracer{}
	e := newEnv(t, envOptions{tracer: tracer})
	e.db.SetMaxOpenConns(1)
	e.createTracked(t, `CREATE TABLE slots (id serial PRIMARY KEY, at time NOT NULL,
		tenant text DEFAULT current_setting('app.tenant', true))`)
	const insert = `INSERT INTO slots (at) VALUES ('12:00:00.5') RETURNING at, tenant`

	// The first run describes the statement.
	for range 2 {
		tracer.take()
		rows, err := e.driver.QueryContext(entsql.WithVar(userCtx(1), "app.tenant", "t1"), insert)
		r := scanReturned(t, rows, err)
		if r.values[0] != "12:00:00.5" {
			t.Errorf("at = %#v, want 12:00:00.5", r.values[0])
		}
		if r.values[1] != "t1" {
			t.Errorf("tenant = %#v, want t1", r.values[1])
		}
	}
	traced := tracer.take()

	var tenant sql.NullString
	if err := e.db.QueryRow("SELECT current_setting('app.tenant', true)").Scan(&tenant); err != nil {
		t.Fatal(err)
	}
	if tenant.String != "" {
		t.Errorf("app.tenant = %q after the write, want it reset", tenant.String)
	}

	if len(traced) != 4 || traced[1] != core.SetContextSQL || traced[2] != insert ||
		!strings.HasPrefix(traced[0], "SET ") || !strings.HasPrefix(traced[3], "RESET ") {
		t.Errorf("traced %q, want SET, set_config, the INSERT and RESET", traced)
	}
	equalLines(t, summary(changes(e.wal(t))), []string{
		`INSERT public.slots {"userId":1}`,
		`INSERT public.slots {"userId":1}`,
	})
}

// preparedNames returns the names of the prepared statements on the only
// connection of e.db that start with prefix.
func preparedNames(t *testing.T, e *env, prefix string) []string {
	t.Helper()

	// The simple protocol keeps this query out of the statements it lists.
	rows, err := e.db.QueryContext(context.Background(),
		`SELECT name FROM pg_prepared_statements WHERE starts_with(name, $1) ORDER BY name`,
		pgx.QueryExecModeSimpleProtocol, prefix)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var names []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			t.Fatal(err)
		}
		names = append(names, name)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}

	return names
}

// TestPipelineNamedStatementsBounded runs ten statement texts that go in
// a pipeline on one connection whose pgx statement cache holds four, and
// checks that the connection keeps four of entbemi's prepared statements.
func TestPipelineNamedStatementsBounded(t *testing.T) {
	e := newEnv(t, envOptions{connConfig: func(cfg *pgx.ConnConfig) { cfg.StatementCacheCapacity = 4 }})
	e.db.SetMaxOpenConns(1)
	e.createTracked(t, `CREATE TABLE slots (id serial PRIMARY KEY, at time NOT NULL)`)

	for i := range 10 {
		query := fmt.Sprintf(`INSERT INTO slots (at) VALUES ($1) RETURNING at, %d AS k`, i)
		rows, err := e.driver.QueryContext(userCtx(i), query, "12:00:00.5")
		r := scanReturned(t, rows, err)
		if r.values[0] != "12:00:00.5" || r.values[1] != int64(i) {
			t.Fatalf("statement %d returned %#v, want 12:00:00.5 and %d", i, r.values, i)
		}
	}

	if names := preparedNames(t, e, "bemi_"); len(names) != 4 {
		t.Errorf("the connection holds %d prepared statements of entbemi, want 4: %q", len(names), names)
	}
	if n := len(changes(e.wal(t))); n != 10 {
		t.Errorf("wrote %d changes, want 10", n)
	}
}

// TestPipelineAfterDeallocateAll deallocates every prepared statement of
// the connection behind entbemi's back, and checks that the next write
// that goes in a pipeline prepares its statements again and succeeds,
// outside a transaction.
func TestPipelineAfterDeallocateAll(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.db.SetMaxOpenConns(1)
	e.createTracked(t, `CREATE TABLE slots (id serial PRIMARY KEY, at time NOT NULL)`)
	const insert = `INSERT INTO slots (at) VALUES ($1) RETURNING at`
	ctx := context.Background()

	for i := range 2 {
		rows, err := e.driver.QueryContext(userCtx(i), insert, "12:00:00.5")
		if r := scanReturned(t, rows, err); r.values[0] != "12:00:00.5" {
			t.Fatalf("write %d returned %#v, want 12:00:00.5", i, r.values[0])
		}
		if names := preparedNames(t, e, "bemi_"); len(names) != 2 {
			t.Fatalf("after write %d the connection holds %q, want set_config and the INSERT", i, names)
		}
		if i == 0 {
			if _, err := e.db.ExecContext(ctx, `DEALLOCATE ALL`, pgx.QueryExecModeSimpleProtocol); err != nil {
				t.Fatal(err)
			}
		}
	}

	equalLines(t, summary(changes(e.wal(t))), []string{
		`INSERT public.slots {"userId":0}`,
		`INSERT public.slots {"userId":1}`,
	})
}

// TestPipelineAfterAlterTable changes the type of a returned column after
// a statement ran, and checks that entbemi's next two runs return what a
// plain *sql.DB of the pgx stdlib driver returns for the same statement,
// which also ran before the change. With pgx v5.13 both fail the first
// run with "cached plan must not change result type" and return the new
// type's value on the second.
func TestPipelineAfterAlterTable(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.db.SetMaxOpenConns(1)
	e.createTracked(t, `CREATE TABLE slots (id serial PRIMARY KEY, at time NOT NULL)`)
	plain := openStdlib(t, e.url, func(*pgx.ConnConfig) {})
	plain.SetMaxOpenConns(1)
	const insert = `INSERT INTO slots (at) VALUES ('12:00:00.5') RETURNING at`
	ctx := context.Background()

	run := func(query func(ctx context.Context, query string, args ...any) (*sql.Rows, error), ctx context.Context) (any, error) {
		rows, err := query(ctx, insert)
		if err != nil {
			return nil, err
		}
		defer rows.Close()
		var at any
		for rows.Next() {
			if err := rows.Scan(&at); err != nil {
				return nil, err
			}
		}

		return at, rows.Err()
	}

	for _, q := range []func(context.Context, string, ...any) (*sql.Rows, error){plain.QueryContext, e.driver.QueryContext} {
		if _, err := run(q, userCtx(1)); err != nil {
			t.Fatal(err)
		}
	}
	e.exec(t, `ALTER TABLE slots ALTER COLUMN at TYPE interval USING at - '00:00'`)

	for i := range 2 {
		want, wantErr := run(plain.QueryContext, ctx)
		got, gotErr := run(e.driver.QueryContext, userCtx(1))
		var wantPg, gotPg *pgconn.PgError
		errors.As(wantErr, &wantPg)
		errors.As(gotErr, &gotPg)
		switch {
		case (wantErr == nil) != (gotErr == nil):
			t.Errorf("run %d after ALTER TABLE: error %v, stdlib returns %v", i, gotErr, wantErr)
		case wantErr != nil && (wantPg == nil || gotPg == nil || wantPg.Code != gotPg.Code):
			t.Errorf("run %d after ALTER TABLE: error %v, stdlib returns %v", i, gotErr, wantErr)
		case !reflect.DeepEqual(got, want):
			t.Errorf("run %d after ALTER TABLE: at = %#v, stdlib returns %#v", i, got, want)
		}
	}
}
