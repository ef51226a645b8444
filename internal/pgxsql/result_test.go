package pgxsql_test

import (
	"context"
	"database/sql"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/bemi-go/bemi/core/pgtest"
	"github.com/bemi-go/bemi/internal/pgxsql"
)

// stdlibFormatExprs are values of types for which a pgx batch receives
// another format than the pgx stdlib driver, and of a few for which both
// receive the same.
var stdlibFormatExprs = []string{
	`'12:00:00.5'::time`, `'12:00:00.5+02'::timetz`, `'14 months 3 days 04:05:06.5'::interval`,
	`'{{1,2},{3,4}}'::int4[]`, `'{"a b",NULL,"c\"d"}'::text[]`, `'{{a,b},{c,d}}'::text[]`,
	`'{"2024-01-02 03:04:05.5+02",infinity}'::timestamptz[]`, `'{0.1,1e300,NaN,-0}'::float8[]`,
	`ARRAY['{"b": 1, "a": [1, 2.50]}'::jsonb, 'null'::jsonb]`, `'{t,NULL}'::bool[]`,
	`'[1,5)'::int4range`, `'[2024-01-02,2024-01-05)'::daterange`, `'[2024-01-02 03:04:05+02,)'::tstzrange`,
	`'{[1,3),[5,7)}'::int4multirange`, `'10.0.0.1/8'::inet`, `'(1.5,2)'::point`, `B'101'::bit(3)`,
	`'08:00:2b:01:02:03'::macaddr`, `123.4500::numeric`, `'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11'::uuid`,
	`row(1, 'x y', NULL::text)`, `'2024-01-02 03:04:05.5+02'::timestamptz`, `'infinity'::date`,
	`8000000000::int8`, `1.5::float4`, `'\xdeadbeef'::bytea`, `'{"b": null}'::jsonb`, `'7'::xid`,
	`NULL::interval`,
}

// readResultVia describes query on a connection of db and runs it in a
// pgconn pipeline with the result formats of the pgx stdlib driver,
// reading the rows with ReadResult.
func readResultVia(t *testing.T, db *sql.DB, query string) (*pgxsql.Rows, pgconn.CommandTag, error) {
	t.Helper()
	ctx := context.Background()

	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()

	var rows *pgxsql.Rows
	var tag pgconn.CommandTag
	var readErr error
	err = conn.Raw(func(driverConn any) error {
		pc := driverConn.(*stdlib.Conn).Conn()
		sd, err := pc.Prepare(ctx, "", query)
		if err != nil {
			return err
		}

		p := pc.PgConn().StartPipeline(ctx)
		p.SendQueryParams(query, nil, nil, nil, pgxsql.StdlibResultFormats(sd.Fields))
		if err := p.Sync(); err != nil {
			return err
		}
		result, err := p.GetResults()
		if err != nil {
			return err
		}
		rows, tag, readErr = pgxsql.ReadResult(result.(*pgconn.ResultReader), pc.TypeMap())

		return p.Close()
	})
	if err != nil && readErr == nil {
		t.Fatal(err)
	}

	return rows, tag, readErr
}

// TestReadResultMatchesStdlib compares values of types that a pgx batch
// receives in binary format, read with ReadResult from a pipeline that
// requests stdlib's result formats, with the values that stdlib returns.
// The session time zone is not UTC, where pgx's text form of a
// timestamptz would differ from the server's.
func TestReadResultMatchesStdlib(t *testing.T) {
	dbURL := pgtest.NewDatabase(t)
	if strings.Contains(dbURL, "?") {
		dbURL += "&timezone=America/St_Johns"
	} else {
		dbURL += "?timezone=America/St_Johns"
	}
	db, err := sql.Open("pgx", dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	query := "SELECT " + strings.Join(stdlibFormatExprs, ", ")

	stdlibRows, err := db.QueryContext(context.Background(), query)
	if err != nil {
		t.Fatal(err)
	}
	want := scanFirstRow(t, stdlibRows)

	rows, tag, err := readResultVia(t, db, query)
	if err != nil {
		t.Fatal(err)
	}
	if tag.String() != "SELECT 1" {
		t.Errorf("command tag %q, want SELECT 1", tag)
	}
	sqlRows, err := rows.SQLRows()
	if err != nil {
		t.Fatal(err)
	}
	compareColumns(t, scanFirstRow(t, sqlRows), want)
}

// TestReadResultStatementError checks that ReadResult returns the
// statement's *pgconn.PgError and no rows.
func TestReadResultStatementError(t *testing.T) {
	db := openDB(t)

	rows, _, err := readResultVia(t, db, `SELECT '12:00'::time + make_interval(secs => 1.0 / (2 - g)) FROM generate_series(1, 3) g`)
	if rows != nil {
		t.Errorf("ReadResult returned rows with error %v", err)
	}
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) {
		t.Fatalf("error %T %v, want a *pgconn.PgError", err, err)
	}
	if pgErr.Code != "22012" {
		t.Errorf("SQLSTATE %s, want 22012 (division by zero)", pgErr.Code)
	}
}

func TestStdlibResultFormats(t *testing.T) {
	fields := []pgconn.FieldDescription{
		{DataTypeOID: pgtype.Int8OID}, {DataTypeOID: pgtype.TimeOID}, {DataTypeOID: pgtype.TimestamptzOID},
		{DataTypeOID: pgtype.JSONBOID}, {DataTypeOID: 99999},
	}
	got := pgxsql.StdlibResultFormats(fields)
	want := []int16{pgtype.BinaryFormatCode, pgtype.TextFormatCode, pgtype.BinaryFormatCode, pgtype.TextFormatCode, pgtype.TextFormatCode}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("formats %v, want %v", got, want)
	}
}
