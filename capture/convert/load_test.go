package convert_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/bemi-go/bemi/capture/convert"
	"github.com/bemi-go/bemi/core/pgtest"
)

var (
	_ convert.Querier = (*pgx.Conn)(nil)
	_ convert.Querier = (*pgxpool.Pool)(nil)
	_ convert.Querier = pgx.Tx(nil)
)

const userTypesSchema = `
CREATE TYPE mood AS ENUM ('sad', 'happy');
CREATE DOMAIN positive_int AS integer CHECK (VALUE > 0);
CREATE DOMAIN int_list AS integer[];
CREATE TYPE point3 AS (x numeric, y numeric, z numeric);
CREATE DOMAIN checked_point AS point3 CHECK ((VALUE).x IS NOT NULL);
CREATE TYPE floatrange AS RANGE (subtype = double precision);
CREATE DOMAIN small_box AS box;
CREATE TYPE labeled AS (label text, at point3, moods mood[], score positive_int, ids int_list, span floatrange)`

// typeOID returns the OID of a type by name.
func typeOID(t *testing.T, ctx context.Context, conn *pgx.Conn, name string) uint32 {
	t.Helper()

	var oid uint32
	if err := conn.QueryRow(ctx, "SELECT $1::regtype::oid", name).Scan(&oid); err != nil {
		t.Fatalf("look up type %s: %v", name, err)
	}

	return oid
}

// textOf returns the text output of a value in conn's session.
func textOf(t *testing.T, ctx context.Context, conn *pgx.Conn, literal string) []byte {
	t.Helper()

	var text string
	if err := conn.QueryRow(ctx, "SELECT ("+literal+")::text").Scan(&text); err != nil {
		t.Fatalf("text of %s: %v", literal, err)
	}

	return []byte(text)
}

func TestLoadResolvesUserTypes(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	conn := connect(t, ctx, pgtest.NewDatabase(t), convert.SessionSettings())
	mustExec(t, ctx, conn, userTypesSchema)

	tests := []struct {
		typ     string
		literal string
		want    string
	}{
		{"mood", "'happy'::mood", `"happy"`},
		{"mood[]", "'{sad,NULL,happy}'::mood[]", `["sad",null,"happy"]`},
		{"positive_int", "42::positive_int", `42`},
		{"positive_int[]", "'{1,2}'::positive_int[]", `[1,2]`},
		{"int_list", "'{{1,2},{3,4}}'::int_list", `[[1,2],[3,4]]`},
		{"point3", "ROW(1.50, NULL, -2)::point3", `{"x":1.50,"y":null,"z":-2}`},
		{"checked_point", "ROW(1, 2, 3)::checked_point", `{"x":1,"y":2,"z":3}`},
		{"checked_point[]", "ARRAY[ROW(1, 2, 3)::checked_point]", `[{"x":1,"y":2,"z":3}]`},
		{"floatrange", "'[1.5,2.5)'::floatrange", `"[1.5,2.5)"`},
		{"small_box[]", "ARRAY['((1,2),(3,4))'::small_box, '((5,6),(7,8))', NULL]", `["(3,4),(1,2)","(7,8),(5,6)",null]`},
		{
			"labeled",
			`ROW('a "b"', ROW(1, 2, 3), '{happy}', 7, '{5}', '(,3]')::labeled`,
			`{"label":"a \"b\"","at":{"x":1,"y":2,"z":3},"moods":["happy"],"score":7,"ids":[5],"span":"(,3]"}`,
		},
	}

	oids := make([]uint32, len(tests))
	for i, tc := range tests {
		oids[i] = typeOID(t, ctx, conn, tc.typ)
	}
	reg := convert.NewRegistry()
	if err := reg.Load(ctx, conn, oids); err != nil {
		t.Fatalf("Load: %v", err)
	}

	for i, tc := range tests {
		text := textOf(t, ctx, conn, tc.literal)
		got, err := reg.AppendValue(nil, oids[i], text)
		if err != nil {
			t.Errorf("%s: AppendValue(%q): %v", tc.typ, text, err)
		}
		if string(got) != tc.want {
			t.Errorf("%s: AppendValue(%q) = %s, want %s", tc.typ, text, got, tc.want)
		}
	}
}

func TestLoadSkipsQueryWhenTypesKnown(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)

	reg := convert.NewRegistry()
	if err := reg.Load(ctx, nil, []uint32{23, 25, 1184, 3807}); err != nil {
		t.Fatalf("Load of built-in types with a nil Querier: %v", err)
	}

	conn := connect(t, ctx, pgtest.NewDatabase(t), convert.SessionSettings())
	mustExec(t, ctx, conn, userTypesSchema)
	mood := typeOID(t, ctx, conn, "mood")
	if err := reg.Load(ctx, conn, []uint32{mood}); err != nil {
		t.Fatalf("Load: %v", err)
	}

	if err := conn.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if err := reg.Load(ctx, conn, []uint32{mood, 23}); err != nil {
		t.Errorf("Load of known types on a closed connection = %v, want no query and no error", err)
	}

	err := reg.Load(ctx, conn, []uint32{mood + 1})
	if err == nil {
		t.Fatal("Load of a new type on a closed connection returned no error")
	}
	if !strings.Contains(err.Error(), "convert: load types") {
		t.Errorf("Load error = %q, want it to say what failed", err)
	}
}

func TestLoadTypeNotInCatalog(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	conn := connect(t, ctx, pgtest.NewDatabase(t), convert.SessionSettings())

	const missing = 4000000000
	reg := convert.NewRegistry()
	if err := reg.Load(ctx, conn, []uint32{missing}); err != nil {
		t.Fatalf("Load of an OID that is not in pg_type: %v", err)
	}

	got, err := reg.AppendValue(nil, missing, []byte(`(1,"a")`))
	if err != nil {
		t.Errorf("AppendValue of an unknown type: %v", err)
	}
	if want := `"(1,\"a\")"`; string(got) != want {
		t.Errorf("AppendValue of an unknown type = %s, want the text as a string %s", got, want)
	}
}

func TestReloadAfterAlterType(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	conn := connect(t, ctx, pgtest.NewDatabase(t), convert.SessionSettings())
	mustExec(t, ctx, conn, "CREATE TYPE pair AS (a integer)")

	pair := typeOID(t, ctx, conn, "pair")
	pairs := typeOID(t, ctx, conn, "pair[]")
	reg := convert.NewRegistry()
	if err := reg.Load(ctx, conn, []uint32{pairs}); err != nil {
		t.Fatal(err)
	}

	mustExec(t, ctx, conn, "ALTER TYPE pair ADD ATTRIBUTE b text")
	text := textOf(t, ctx, conn, `ARRAY[ROW(1, 'x')::pair]`)

	_, err := reg.AppendValue(nil, pairs, text)
	if !errors.Is(err, convert.ErrTypeChanged) {
		t.Fatalf("AppendValue(%q) after ALTER TYPE: error = %v, want ErrTypeChanged", text, err)
	}

	if err := reg.Reload(ctx, conn, []uint32{pair}); err != nil {
		t.Fatalf("Reload: %v", err)
	}
	got, err := reg.AppendValue(nil, pairs, text)
	if err != nil {
		t.Fatalf("AppendValue(%q) after Reload of the element type: %v", text, err)
	}
	if want := `[{"a":1,"b":"x"}]`; string(got) != want {
		t.Errorf("AppendValue(%q) after Reload = %s, want %s", text, got, want)
	}
}

func TestRegistryConcurrentLoadAndAppend(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	url := pgtest.NewDatabase(t)

	conn := connect(t, ctx, url, convert.SessionSettings())
	mustExec(t, ctx, conn, userTypesSchema)
	labeled := typeOID(t, ctx, conn, "labeled")
	moods := typeOID(t, ctx, conn, "mood[]")
	labeledText := textOf(t, ctx, conn, `ROW('x', ROW(1, 2, 3), '{sad}', 1, '{}', 'empty')::labeled`)
	const want = `{"label":"x","at":{"x":1,"y":2,"z":3},"moods":["sad"],"score":1,"ids":[],"span":"empty"}`

	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()

	reg := convert.NewRegistry()
	var wg sync.WaitGroup
	errs := make(chan error, 100)
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()

			buf := make([]byte, 0, 256)
			for i := 0; i < 20; i++ {
				var err error
				if g == 0 && i%5 == 0 {
					err = reg.Reload(ctx, pool, []uint32{labeled})
				} else {
					err = reg.Load(ctx, pool, []uint32{labeled, moods})
				}
				if err != nil {
					errs <- err

					return
				}

				buf, err = reg.AppendValue(buf[:0], labeled, labeledText)
				if err != nil || string(buf) != want {
					errs <- errors.Join(errors.New("AppendValue = "+string(buf)), err)

					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
