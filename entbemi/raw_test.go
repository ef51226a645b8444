package entbemi_test

import (
	"context"
	"database/sql"
	"reflect"
	"testing"
)

func TestDriverRawExecContext(t *testing.T) {
	for _, m := range mechanisms {
		t.Run(m.name, func(t *testing.T) {
			e := newEnv(t, m.opts)

			res, err := e.client.ExecContext(userCtx(1), "INSERT INTO todos (title, done) VALUES ($1, false), ($2, false)", "a", "b")
			if err != nil {
				t.Fatalf("insert: %v", err)
			}
			if n, _ := res.RowsAffected(); n != 2 {
				t.Fatalf("RowsAffected = %d, want 2", n)
			}
			res, err = e.client.ExecContext(userCtx(2), "UPDATE todos SET done = true WHERE title = $1", sql.Named("title", "b"))
			if err != nil {
				t.Fatalf("update: %v", err)
			}
			if n, _ := res.RowsAffected(); n != 1 {
				t.Fatalf("RowsAffected = %d, want 1", n)
			}
			rows, err := e.client.QueryContext(userCtx(3), "DELETE FROM todos WHERE title = 'a' RETURNING id, title")
			if err != nil {
				t.Fatalf("delete returning: %v", err)
			}
			var got []string
			for rows.Next() {
				var id int64
				var title string
				if err := rows.Scan(&id, &title); err != nil {
					t.Fatal(err)
				}
				got = append(got, title)
			}
			if err := rows.Close(); err != nil {
				t.Fatal(err)
			}
			if len(got) != 1 || got[0] != "a" {
				t.Fatalf("RETURNING gave %q, want [a]", got)
			}

			equalLines(t, summary(changes(e.wal(t))), []string{
				`INSERT public.todos {"userId":1}`,
				`INSERT public.todos {"userId":1}`,
				`UPDATE public.todos {"userId":2}`,
				`DELETE public.todos {"userId":3}`,
			})
		})
	}
}

// TestDriverReturningValuesMatchStdlib compares the rows of an annotated
// INSERT ... RETURNING, which the setting mechanism reads through a pgx
// batch, with the rows of the same statement without context, which go
// through database/sql and the pgx stdlib driver unchanged.
func TestDriverReturningValuesMatchStdlib(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.exec(t, `CREATE TYPE mood AS ENUM ('sad', 'happy')`)
	e.exec(t, `CREATE TABLE typed (
		id serial PRIMARY KEY, i2 int2, i4 int4, i8 int8, f4 float4, f8 float8,
		n numeric(10,3), b bool, ba bytea, d date, ts timestamp, tstz timestamptz,
		j json, jb jsonb, u uuid, ia int4[], ta text[], iv interval, ch char(3),
		vc varchar(10), ip inet, mo mood, pt point, nul text, inf timestamptz)`)

	const insert = `INSERT INTO typed (i2, i4, i8, f4, f8, n, b, ba, d, ts, tstz, j, jb, u, ia, ta, iv, ch, vc, ip, mo, pt, nul, inf)
		VALUES (-2, 4, 8000000000, 1.5, 2.25, 12.345, true, '\xdeadbeef', '2024-02-29', '2024-01-02 03:04:05.123456',
		'2024-01-02 03:04:05+02', '{"a": [1, 2]}', '{"b": null}', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
		'{1,NULL,3}', '{"x y",z}', '1 day 02:03:04', 'ab', 'hello', '10.0.0.1/8', 'happy', '(1,2)', NULL, 'infinity')
		RETURNING i2, i4, i8, f4, f8, n, b, ba, d, ts, tstz, j, jb, u, ia, ta, iv, ch, vc, ip, mo, pt, nul, inf`

	read := func(ctx context.Context) ([]any, []string) {
		t.Helper()

		rows, err := e.client.QueryContext(ctx, insert)
		if err != nil {
			t.Fatalf("insert: %v", err)
		}
		defer rows.Close()

		types, err := rows.ColumnTypes()
		if err != nil {
			t.Fatal(err)
		}
		names := make([]string, len(types))
		for i, ct := range types {
			names[i] = ct.DatabaseTypeName()
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

		return values, names
	}

	wantValues, wantNames := read(context.Background())
	gotValues, gotNames := read(userCtx(1))
	for i := range wantValues {
		if !reflect.DeepEqual(gotValues[i], wantValues[i]) {
			t.Errorf("column %d (%s): got %#v (%T), stdlib gives %#v (%T)",
				i, wantNames[i], gotValues[i], gotValues[i], wantValues[i], wantValues[i])
		}
	}
	if !reflect.DeepEqual(gotNames, wantNames) {
		t.Errorf("type names %q, stdlib gives %q", gotNames, wantNames)
	}

	cs := changes(e.wal(t))
	if len(cs) != 2 || cs[0].Context != "" || cs[1].Context != `{"userId":1}` {
		t.Fatalf("changes = %q, want one without and one with context", summary(cs))
	}
}
