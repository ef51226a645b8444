package convert

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/bemi-go/bemi/core/pgtest"
)

// builtinQuery selects the rows of pg_type that builtinTypes copies.
const builtinQuery = `
SELECT t.oid, pg_catalog.format_type(t.oid, NULL),
	CASE WHEN t.typelem <> 0 AND t.typlen = -1 THEN t.typelem ELSE 0 END,
	t.typdelim::text
FROM pg_catalog.pg_type t
WHERE t.oid < 10000 AND t.typtype <> 'c'
	AND NOT (t.typelem <> 0 AND t.typlen = -1
		AND (SELECT e.typtype FROM pg_catalog.pg_type e WHERE e.oid = t.typelem) IN ('c', 'p'))`

func TestBuiltinTypesMatchCatalog(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	conn, err := pgx.Connect(ctx, pgtest.NewDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)

	rows, err := conn.Query(ctx, builtinQuery)
	if err != nil {
		t.Fatal(err)
	}
	catalog := map[uint32]builtinType{}
	for rows.Next() {
		var (
			b     builtinType
			delim string
		)
		if err := rows.Scan(&b.oid, &b.name, &b.elem, &delim); err != nil {
			t.Fatal(err)
		}
		if delim != "," {
			b.delim = delim[0]
		}
		catalog[b.oid] = b
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}

	for _, b := range builtinTypes {
		if got, ok := catalog[b.oid]; !ok {
			t.Errorf("builtinTypes has oid %d (%s), which the server's pg_type lacks", b.oid, b.name)
		} else if got != b {
			t.Errorf("builtinTypes has %+v, the server's pg_type has %+v", b, got)
		}
		delete(catalog, b.oid)
	}
	for oid := range scalarKinds {
		if builtin(oid) == nil {
			t.Errorf("scalarKinds has oid %d, which builtinTypes lacks", oid)
		}
	}

	var version int
	if err := conn.QueryRow(ctx, "SELECT current_setting('server_version_num')::int").Scan(&version); err != nil {
		t.Fatal(err)
	}
	for _, b := range catalog {
		if version/10000 == 15 {
			t.Errorf("PostgreSQL 15's pg_type has %+v, which builtinTypes lacks", b)
		} else {
			t.Logf("PostgreSQL %d's pg_type has %+v, which Load reads from the catalog", version/10000, b)
		}
	}
}
