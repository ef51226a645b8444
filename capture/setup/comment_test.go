package setup

import (
	"context"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/bemi-go/bemi/core"
)

// The trigger's comment rule (bemi.comment_payload) must match
// core.ParseComment exactly, or an adapter and the database would disagree
// on a statement's context.
func TestCommentPayloadMatchesParseComment(t *testing.T) {
	t.Parallel()
	dbURL, conn := newDatabase(t, "")
	cfg := testConfig(t, dbURL)
	cfg.SkipSlot = true
	mustRun(t, conn, cfg)

	cases := []string{
		``,
		`INSERT INTO t VALUES (1)`,
		`INSERT INTO t VALUES (1) /*Bemi {"a":1} Bemi*/`,
		`INSERT INTO t VALUES (1) /*Bemi {"a":1} Bemi*/;`,
		"INSERT INTO t VALUES (1) /*Bemi {\"a\":1} Bemi*/ \t\r\n\f\v;;",
		`INSERT INTO t VALUES (1) /*Bemi {"a":1} Bemi*/ /*traceparent='00-1-2-01'*/`,
		`INSERT INTO t VALUES (1) /*Bemi {"a":1} Bemi*/ /* outer /* nested */ still outer */`,
		`INSERT INTO t VALUES (1) /*Bemi {"a":1} Bemi*/ /* unclosed /* nested */`,
		`INSERT INTO t VALUES (1) /*Bemi {"a":1} Bemi*/ -- trailing`,
		"INSERT INTO t VALUES (1) /*Bemi {\"a\":1} Bemi*/ -- line\nSELECT 1",
		"INSERT INTO t VALUES (1) /*Bemi {\"a\":1} Bemi*/ -- line\n/* block */ ;",
		`INSERT INTO t VALUES ('/*Bemi {"spoof":1} Bemi*/')`,
		`INSERT INTO t VALUES ('/*Bemi {"spoof":1} Bemi*/') /*Bemi {"a":1} Bemi*/`,
		`INSERT INTO t VALUES (1) /*Bemi {"a":1} Bemi*/ /*Bemi {"b":2} Bemi*/`,
		`INSERT INTO t VALUES (1) /*Bemi {"a":1}`,
		`INSERT INTO t VALUES (1) /*Bemi  Bemi*/`,
		`INSERT INTO t VALUES (1) /*Bemi {"a":"x Bemi*\/"} Bemi*/`,
		`/*Bemi {"a":1} Bemi*/ INSERT INTO t VALUES (1)`,
		`INSERT INTO t VALUES (1) /*Bemi {"é":"ü"} Bemi*/ /*ö*/`,
		`INSERT INTO t VALUES (1) /*Bemi {"a":1} Bemi*/ */`,
		`INSERT INTO t VALUES (1) /*Bemi {"a":1} Bemi*/ /*/ */`,
		`INSERT INTO t VALUES (1) /*Bemi {"a":1} Bemi*/ /**/`,
		`INSERT INTO t VALUES (1) /*Bemi {"a":1} Bemi*/ /*`,
		`INSERT INTO t VALUES (1) /*Bemi {"a":1} Bemi*/ -`,
		`INSERT INTO t VALUES ('/*Bemi {"spoof":1} Bemi*/ -- ')`,
		`INSERT INTO t VALUES (1) /*Bemi {"a":1} Bemi*/ -- it's`,
		`INSERT INTO t VALUES (1) /*Bemi {"a":1} Bemi*/ -- "quoted"`,
		`INSERT INTO t VALUES (1) /*Bemi {"a":1} Bemi*/ -- $1`,
		"INSERT INTO t VALUES (1) /*Bemi {\"a\":1} Bemi*/ -- x\rSELECT 1",
		"INSERT INTO t VALUES (1) /*Bemi {\"a\":1} Bemi*/ -- x\r",
		"INSERT INTO t VALUES (1) /*Bemi {\"a\":1} Bemi*/ -- x\r'\n",
	}

	// Random strings built from the fragments that matter to the rule.
	fragments := []string{
		core.CommentStart, core.CommentEnd, "/*", "*/", "--", "/", "*", "-",
		" ", "\t", "\n", "\r", "\f", "\v", ";", "'", `"`, "$", "x", `{"a":1}`, "é", "Bemi",
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 3000 {
		var b strings.Builder
		for range rng.IntN(14) {
			b.WriteString(fragments[rng.IntN(len(fragments))])
		}
		cases = append(cases, b.String())
	}

	got := make([]*string, len(cases))
	rows, err := conn.Query(context.Background(),
		`SELECT bemi.comment_payload(q) FROM unnest($1::text[]) WITH ORDINALITY AS u(q, i) ORDER BY i`, cases)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; rows.Next(); i++ {
		if err := rows.Scan(&got[i]); err != nil {
			t.Fatal(err)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}

	mismatches := 0
	for i, q := range cases {
		want, ok := core.ParseComment(q)
		switch {
		case ok && got[i] == nil:
			t.Errorf("query %q: database found no comment, Go found %q", q, want)
		case !ok && got[i] != nil:
			t.Errorf("query %q: database found %q, Go found no comment", q, *got[i])
		case ok && *got[i] != string(want):
			t.Errorf("query %q: database found %q, Go found %q", q, *got[i], want)
		default:
			continue
		}
		if mismatches++; mismatches > 10 {
			t.Fatal("too many mismatches")
		}
	}
}
