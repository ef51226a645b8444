package pgxsql_test

import (
	"context"
	"database/sql"
	"errors"
	"math"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/bemi-go/bemi/core/pgtest"
	"github.com/bemi-go/bemi/internal/pgxsql"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Run(m)) }

// openDB opens a fresh database through the pgx stdlib driver and runs the
// schema statements.
func openDB(t *testing.T, schema ...string) *sql.DB {
	t.Helper()

	db, err := sql.Open("pgx", pgtest.NewDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	for _, q := range schema {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}

	return db
}

// readVia runs query on a connection of db with pgx itself, either as the
// second statement of a batch or as a plain query, and reads the rows with
// pgxsql.ReadRows.
func readVia(t *testing.T, db *sql.DB, batch bool, query string, args ...any) (*pgxsql.Rows, error) {
	t.Helper()
	ctx := context.Background()

	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()

	var rows *pgxsql.Rows
	var readErr error
	err = conn.Raw(func(driverConn any) error {
		pc := driverConn.(*stdlib.Conn).Conn()
		if !batch {
			pgxRows, err := pc.Query(ctx, query, args...)
			if err != nil {
				return err
			}
			rows, readErr = pgxsql.ReadRows(pgxRows, pc.TypeMap())

			return nil
		}

		b := &pgx.Batch{}
		b.Queue("SELECT pg_catalog.set_config('application_name', $1, true)", "pgxsql test")
		b.Queue(query, args...)
		br := pc.SendBatch(ctx, b)
		if _, err := br.Exec(); err != nil {
			t.Errorf("set_config: %v", err)
		}
		pgxRows, err := br.Query()
		if err == nil {
			rows, readErr = pgxsql.ReadRows(pgxRows, pc.TypeMap())
		} else {
			readErr = err
		}
		if err := br.Close(); readErr == nil && err != nil {
			t.Errorf("close batch: %v", err)
		}

		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	return rows, readErr
}

// column is what database/sql reports for one column of one row.
type column struct {
	value     any
	typeName  string
	length    int64
	hasLength bool
	precision int64
	scale     int64
	hasDec    bool
	scanType  reflect.Type
	nullable  bool
	hasNull   bool
}

// scanFirstRow reads the first row of rows into any values, with the
// column types, and closes rows.
func scanFirstRow(t *testing.T, rows *sql.Rows) []column {
	t.Helper()
	defer rows.Close()

	types, err := rows.ColumnTypes()
	if err != nil {
		t.Fatal(err)
	}
	values := make([]any, len(types))
	dest := make([]any, len(types))
	for i := range dest {
		dest[i] = &values[i]
	}
	if !rows.Next() {
		t.Fatalf("no row: %v", rows.Err())
	}
	if err := rows.Scan(dest...); err != nil {
		t.Fatalf("scan: %v", err)
	}

	out := make([]column, len(types))
	for i, ct := range types {
		c := column{value: values[i], typeName: ct.DatabaseTypeName(), scanType: ct.ScanType()}
		c.length, c.hasLength = ct.Length()
		c.precision, c.scale, c.hasDec = ct.DecimalSize()
		c.nullable, c.hasNull = ct.Nullable()
		out[i] = c
	}

	return out
}

// TestReadRowsMatchesStdlib compares the rows of an INSERT ... RETURNING
// read through pgx and ReadRows with the rows of the same statement through
// database/sql and the pgx stdlib driver: values, Go types and column types.
func TestReadRowsMatchesStdlib(t *testing.T) {
	db := openDB(t,
		`CREATE TYPE mood AS ENUM ('sad', 'happy')`,
		`CREATE TABLE typed (
			id serial PRIMARY KEY, i2 int2, i4 int4, i8 int8, f4 float4, f8 float8,
			n numeric(10,3), b bool, ba bytea, d date, ts timestamp, tstz timestamptz,
			j json, jb jsonb, u uuid, ia int4[], ta text[], iv interval, ch char(3),
			vc varchar(10), ip inet, mo mood, pt point, nul text, inf timestamptz)`,
	)

	const insert = `INSERT INTO typed (i2, i4, i8, f4, f8, n, b, ba, d, ts, tstz, j, jb, u, ia, ta, iv, ch, vc, ip, mo, pt, nul, inf)
		VALUES (-2, 4, 8000000000, 1.5, 2.25, 12.345, true, '\xdeadbeef', '2024-02-29', '2024-01-02 03:04:05.123456',
		'2024-01-02 03:04:05+02', '{"a": [1, 2]}', '{"b": null}', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
		'{1,NULL,3}', '{"x y",z}', '1 day 02:03:04', 'ab', 'hello', '10.0.0.1/8', 'happy', '(1,2)', NULL, 'infinity')
		RETURNING i2, i4, i8, f4, f8, n, b, ba, d, ts, tstz, j, jb, u, ia, ta, iv, ch, vc, ip, mo, pt, nul, inf, id`

	stdlibRows, err := db.QueryContext(context.Background(), insert)
	if err != nil {
		t.Fatalf("insert through stdlib: %v", err)
	}
	want := scanFirstRow(t, stdlibRows)

	for _, batch := range []bool{true, false} {
		t.Run(viaName(batch), func(t *testing.T) {
			rows, err := readVia(t, db, batch, insert)
			if err != nil {
				t.Fatalf("insert through pgx: %v", err)
			}
			sqlRows, err := rows.SQLRows()
			if err != nil {
				t.Fatal(err)
			}
			got := scanFirstRow(t, sqlRows)

			// The id differs per row; only its type must match.
			want := slices.Clone(want)
			last := len(want) - 1
			got[last].value, want[last].value = reflect.TypeOf(got[last].value), reflect.TypeOf(want[last].value)
			compareColumns(t, got, want)
		})
	}
}

// TestExactTypesMatchStdlib compares edge values of every type that Exact
// accepts with the values that stdlib gives for them.
func TestExactTypesMatchStdlib(t *testing.T) {
	db := openDB(t,
		`CREATE TYPE mood AS ENUM ('sad', 'happy')`,
		`CREATE DOMAIN short_text AS varchar(5)`,
	)
	exprs := []string{
		`true`, `NULL::bool`, `'\x'::bytea`, `'\x00ff'::bytea`,
		`(-32768)::int2`, `(-2147483648)::int4`, `9223372036854775807::int8`, `42::oid`, `'7'::xid`, `'3'::cid`,
		`'NaN'::float4`, `'-Infinity'::float4`, `1.17549435e-38::float4`, `0.1::float8`, `'Infinity'::float8`, `1e300::float8`, `'-0'::float8`,
		`'NaN'::numeric`, `'Infinity'::numeric`, `'-Infinity'::numeric`, `0.00000000000000000001::numeric`,
		`(-12.340)::numeric(10,3)`, `1e20::numeric`, `0::numeric`, `123456789012345678901234567890.123456789::numeric`,
		`'2024-02-29'::date`, `'infinity'::date`, `'-infinity'::date`, `'0044-03-15 BC'::date`,
		`'2024-01-02 03:04:05.123456'::timestamp`, `'1999-12-31 23:59:59'::timestamp(0)`, `'-infinity'::timestamp`,
		`'2024-01-02 03:04:05.5+05:30'::timestamptz`, `'infinity'::timestamptz`,
		`'{"a": [1, 2.50, "x"]}'::json`, `'{"b": {"c": null}, "a": 1}'::jsonb`, `'null'::jsonb`, `'<a>b</a>'::xml`,
		`'héllo'::text`, `''::text`, `'ab'::char(3)`, `'x'::bpchar`, `'abc'::varchar(10)`, `'a name'::name`,
		`'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11'::uuid`, `'happy'::mood`, `'dom'::short_text`,
		`'12:00:00.5+02'::timetz`,
	}
	query := "SELECT " + strings.Join(exprs, ", ")

	fields, m := describe(t, db, query)
	if !pgxsql.Exact(fields, m) {
		for i, fd := range fields {
			if !pgxsql.Exact(fields[i:i+1], m) {
				t.Errorf("Exact rejects %s (OID %d)", exprs[i], fd.DataTypeOID)
			}
		}
	}

	stdlibRows, err := db.QueryContext(context.Background(), query)
	if err != nil {
		t.Fatal(err)
	}
	want := scanFirstRow(t, stdlibRows)
	for _, batch := range []bool{true, false} {
		t.Run(viaName(batch), func(t *testing.T) {
			rows, err := readVia(t, db, batch, query)
			if err != nil {
				t.Fatal(err)
			}
			sqlRows, err := rows.SQLRows()
			if err != nil {
				t.Fatal(err)
			}
			compareColumns(t, scanFirstRow(t, sqlRows), want)
		})
	}
}

// TestExactRejectsTextConversions checks that Exact rejects types for which
// ReadRows builds the text form itself.
func TestExactRejectsTextConversions(t *testing.T) {
	db := openDB(t)
	exprs := []string{
		`'12:00:00.5'::time`, `'14 months 3 days'::interval`, `'{{1,2},{3,4}}'::int4[]`,
		`'{a}'::text[]`, `'{"2024-01-02 03:04:05+02"}'::timestamptz[]`, `'[1,5)'::int4range`,
		`'[2024-01-02,2024-01-03)'::daterange`, `'(1,2)'::point`, `'10.0.0.1/8'::inet`, `B'101'::bit(3)`,
		`'08:00:2b:01:02:03'::macaddr`,
	}
	fields, m := describe(t, db, "SELECT "+strings.Join(exprs, ", "))
	for i := range fields {
		if pgxsql.Exact(fields[i:i+1], m) {
			t.Errorf("Exact accepts %s (OID %d)", exprs[i], fields[i].DataTypeOID)
		}
	}
}

// describe returns the result columns of query as the server describes
// them, and the connection's type map.
func describe(t *testing.T, db *sql.DB, query string) ([]pgconn.FieldDescription, *pgtype.Map) {
	t.Helper()
	ctx := context.Background()

	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()

	var fields []pgconn.FieldDescription
	var m *pgtype.Map
	err = conn.Raw(func(driverConn any) error {
		pc := driverConn.(*stdlib.Conn).Conn()
		sd, err := pc.Prepare(ctx, "", query)
		if err != nil {
			return err
		}
		fields, m = sd.Fields, pc.TypeMap()

		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	return fields, m
}

func bothNaN(a, b any) bool {
	fa, okA := a.(float64)
	fb, okB := b.(float64)

	return okA && okB && math.IsNaN(fa) && math.IsNaN(fb)
}

func viaName(batch bool) string {
	if batch {
		return "batch"
	}

	return "query"
}

// compareColumns reports every column whose value, Go type or column type
// differs from what stdlib gives.
func compareColumns(t *testing.T, got, want []column) {
	t.Helper()

	if len(got) != len(want) {
		t.Fatalf("got %d columns, stdlib gives %d", len(got), len(want))
	}
	for i := range want {
		g, w := got[i], want[i]
		if !reflect.DeepEqual(g.value, w.value) && !bothNaN(g.value, w.value) {
			t.Errorf("column %d (%s): value %#v (%T), stdlib gives %#v (%T)",
				i, w.typeName, g.value, g.value, w.value, w.value)
		}
		g.value, w.value = nil, nil
		if !reflect.DeepEqual(g, w) {
			t.Errorf("column %d (%s): column type %+v, stdlib gives %+v", i, w.typeName, g, w)
		}
	}
}

func TestSQLRowsReturnsEveryRow(t *testing.T) {
	db := openDB(t, `CREATE TABLE items (id serial PRIMARY KEY, name text NOT NULL)`)

	rows, err := readVia(t, db, true, `INSERT INTO items (name) VALUES ($1), ($2), ($3) RETURNING id, name`, "a", "b", "c")
	if err != nil {
		t.Fatal(err)
	}
	sqlRows, err := rows.SQLRows()
	if err != nil {
		t.Fatal(err)
	}
	defer sqlRows.Close()

	columns, err := sqlRows.Columns()
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(columns, []string{"id", "name"}) {
		t.Errorf("columns = %q, want [id name]", columns)
	}
	var got []string
	for sqlRows.Next() {
		var id int
		var name string
		if err := sqlRows.Scan(&id, &name); err != nil {
			t.Fatal(err)
		}
		got = append(got, name)
	}
	if err := sqlRows.Err(); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, []string{"a", "b", "c"}) {
		t.Errorf("names = %q, want [a b c]", got)
	}
}

func TestSQLRowScansFirstRow(t *testing.T) {
	db := openDB(t, `CREATE TABLE items (id serial PRIMARY KEY, name text NOT NULL)`)

	rows, err := readVia(t, db, true, `INSERT INTO items (name) VALUES ($1), ($2) RETURNING id, name`, "a", "b")
	if err != nil {
		t.Fatal(err)
	}
	var id int
	var name string
	if err := rows.SQLRow().Scan(&id, &name); err != nil {
		t.Fatal(err)
	}
	if id != 1 || name != "a" {
		t.Errorf("row = (%d, %q), want (1, \"a\")", id, name)
	}
}

func TestSQLRowWithoutRows(t *testing.T) {
	db := openDB(t, `CREATE TABLE items (id serial PRIMARY KEY, name text NOT NULL)`)

	rows, err := readVia(t, db, true, `DELETE FROM items WHERE name = $1 RETURNING id`, "missing")
	if err != nil {
		t.Fatal(err)
	}
	var id int
	if err := rows.SQLRow().Scan(&id); !errors.Is(err, sql.ErrNoRows) {
		t.Errorf("Scan error = %v, want sql.ErrNoRows", err)
	}

	sqlRows, err := rows.SQLRows()
	if err != nil {
		t.Fatal(err)
	}
	if sqlRows.Next() {
		t.Error("Next returned a row of an empty result")
	}
	if err := sqlRows.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestStatementErrorMatchesStdlib checks that a unique violation comes back
// from ReadRows as the *pgconn.PgError that stdlib returns, and that ErrRow
// hands it on unchanged.
func TestStatementErrorMatchesStdlib(t *testing.T) {
	db := openDB(t,
		`CREATE TABLE items (id serial PRIMARY KEY, name text NOT NULL UNIQUE)`,
		`INSERT INTO items (name) VALUES ('taken')`,
	)
	const insert = `INSERT INTO items (name) VALUES ($1) RETURNING id`

	var id int
	wantErr := db.QueryRowContext(context.Background(), insert, "taken").Scan(&id)
	var want *pgconn.PgError
	if !errors.As(wantErr, &want) {
		t.Fatalf("stdlib returned %T %v, want a *pgconn.PgError", wantErr, wantErr)
	}

	rows, err := readVia(t, db, true, insert, "taken")
	if rows != nil {
		t.Errorf("ReadRows returned rows with error %v", err)
	}
	if reflect.TypeOf(err) != reflect.TypeOf(wantErr) {
		t.Fatalf("error type %T, stdlib gives %T", err, wantErr)
	}
	got := err.(*pgconn.PgError)
	if got.Code != "23505" {
		t.Errorf("SQLSTATE %s, want 23505", got.Code)
	}
	if got.Message != want.Message || got.Detail != want.Detail || got.ConstraintName != want.ConstraintName ||
		got.TableName != want.TableName || got.Severity != want.Severity {
		t.Errorf("error %+v, stdlib gives %+v", got, want)
	}

	row := pgxsql.ErrRow(err)
	if row.Err() != err {
		t.Errorf("Row.Err = %v, want the statement's error", row.Err())
	}
	if scanErr := row.Scan(&id); scanErr != err {
		t.Errorf("Row.Scan = %v, want the statement's error", scanErr)
	}
}
