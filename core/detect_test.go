package core_test

import (
	"strings"
	"testing"

	"github.com/bemi-go/bemi/core"
)

func TestIsWrite(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name string
		sql  string
		want bool
	}{
		// Plain write statements.
		{name: "insert", sql: "INSERT INTO todo (task) VALUES ($1)", want: true},
		{name: "insert lower case", sql: "insert into todo values (1)", want: true},
		{name: "insert mixed case", sql: "InSeRt INTO todo VALUES (1)", want: true},
		{name: "update", sql: "UPDATE todo SET done = true WHERE id = $1", want: true},
		{name: "delete", sql: "DELETE FROM todo WHERE id = 1", want: true},
		{name: "merge", sql: "MERGE INTO t USING s ON t.id = s.id WHEN MATCHED THEN DELETE", want: true},
		{name: "truncate", sql: "TRUNCATE todo", want: true},
		{name: "call", sql: "CALL archive_todos($1)", want: true},
		{name: "do block", sql: "DO $$BEGIN DELETE FROM t; END$$", want: true},
		{name: "execute prepared", sql: "EXECUTE insert_todo(1)", want: true},
		{name: "insert returning", sql: "INSERT INTO t (a) VALUES (1) RETURNING id", want: true},
		{name: "insert on conflict", sql: "INSERT INTO t (a) VALUES (1) ON CONFLICT (a) DO UPDATE SET a = 2", want: true},

		// COPY.
		{name: "copy from stdin", sql: "COPY todo (id, task) FROM STDIN", want: true},
		{name: "copy schema-qualified from", sql: `copy "public"."todo" from '/tmp/x.csv' with (format csv)`, want: true},
		{name: "copy to stdout", sql: "COPY todo TO STDOUT"},
		{name: "copy query to", sql: "COPY (SELECT * FROM t WHERE a FROM b) TO STDOUT"},
		{name: "copy query with from to", sql: "COPY (SELECT id FROM todo) TO STDOUT WITH (FORMAT binary)"},
		{name: "copy table named from quoted", sql: `COPY "from" TO STDOUT`},
		{name: "copy column list then from", sql: "COPY t (a, b) FROM STDIN", want: true},

		// Leading trivia.
		{name: "leading whitespace", sql: " \t\r\n\f\vINSERT INTO t VALUES (1)", want: true},
		{name: "leading line comment", sql: "-- insert a row\nINSERT INTO t VALUES (1)", want: true},
		{name: "leading line comment with carriage return", sql: "-- x\rDELETE FROM t", want: true},
		{name: "leading block comment", sql: "/* app=todo */ UPDATE t SET a = 1", want: true},
		{name: "leading nested block comment", sql: "/* a /* b */ SELECT */ DELETE FROM t", want: true},
		{name: "leading parentheses", sql: "((SELECT 1))"},
		{name: "comment hides keyword", sql: "/* DELETE FROM t */ SELECT 1"},
		{name: "line comment hides keyword", sql: "-- DELETE FROM t\nSELECT 1"},
		{name: "only comments", sql: "-- x\n/* y */"},
		{name: "empty", sql: ""},
		{name: "unclosed comment", sql: "/* DELETE FROM t"},

		// Reads.
		{name: "select", sql: "SELECT * FROM todo"},
		{name: "select for update", sql: "SELECT * FROM todo WHERE id = 1 FOR UPDATE"},
		{name: "select for no key update", sql: "SELECT * FROM todo FOR NO KEY UPDATE SKIP LOCKED"},
		{name: "select column named update", sql: "SELECT update, delete, insert FROM log"},
		{name: "select calling function", sql: "SELECT archive_todos()"},
		{name: "values", sql: "VALUES (1), (2)"},
		{name: "table", sql: "TABLE todo"},
		{name: "show", sql: "SHOW wal_level"},
		{name: "begin", sql: "BEGIN"},
		{name: "set config", sql: "SELECT set_config('bemi.context', $1, true)"},
		{name: "insert inside string", sql: "SELECT 'INSERT INTO t VALUES (1)'"},
		{name: "word starting with insert", sql: "INSERTED"},
		{name: "identifier with dollar", sql: "SELECT a$$b FROM t; "},
		{name: "create function body", sql: "CREATE FUNCTION f() RETURNS void AS $body$ DELETE FROM t; $body$ LANGUAGE sql"},
		{name: "create rule", sql: "CREATE RULE r AS ON INSERT TO t DO ALSO (INSERT INTO log VALUES (1); DELETE FROM x)"},
		{name: "explain select", sql: "EXPLAIN SELECT 1"},

		// EXPLAIN of writes.
		{name: "explain analyze insert", sql: "EXPLAIN ANALYZE INSERT INTO t VALUES (1)", want: true},
		{name: "explain options delete", sql: "EXPLAIN (ANALYZE, BUFFERS) DELETE FROM t", want: true},

		// WITH queries.
		{name: "with select", sql: "WITH x AS (SELECT 1) SELECT * FROM x"},
		{name: "with select for update", sql: "WITH x AS (SELECT id FROM t) SELECT * FROM t JOIN x USING (id) FOR UPDATE"},
		{name: "with main insert", sql: "WITH x AS (SELECT 1 AS a) INSERT INTO t SELECT a FROM x", want: true},
		{name: "with cte delete", sql: "WITH gone AS (DELETE FROM t RETURNING *) SELECT count(*) FROM gone", want: true},
		{name: "with second cte update", sql: "WITH a AS (SELECT 1), b AS (UPDATE t SET x = 1 RETURNING *) SELECT * FROM a, b", want: true},
		{name: "with recursive", sql: "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 5) SELECT * FROM r"},
		{name: "with recursive insert", sql: "with recursive r(n) as (select 1) insert into t select n from r", want: true},
		{name: "with cte named recursive", sql: "WITH recursive AS (DELETE FROM t RETURNING 1) SELECT 1", want: true},
		{name: "with materialized", sql: "WITH x AS MATERIALIZED (SELECT 1) SELECT * FROM x"},
		{name: "with not materialized merge", sql: "WITH x AS NOT MATERIALIZED (MERGE INTO t USING s ON true WHEN MATCHED THEN DELETE RETURNING *) SELECT 1", want: true},
		{name: "with column list", sql: "WITH x (a, b) AS (VALUES (1, 2)) SELECT * FROM x"},
		{name: "with quoted name", sql: `WITH "Del" AS (DELETE FROM t RETURNING 1) SELECT 1`, want: true},
		{name: "with nested with write", sql: "WITH a AS (WITH b AS (INSERT INTO t VALUES (1) RETURNING 1) SELECT * FROM b) SELECT * FROM a", want: true},
		{name: "with nested with read", sql: "WITH a AS (WITH b AS (SELECT 1) SELECT * FROM b) SELECT * FROM a"},
		{name: "with parenthesized body", sql: "WITH a AS ((SELECT 1) UNION (SELECT 2)) SELECT * FROM a"},
		{name: "with parenthesized main", sql: "WITH a AS (SELECT 1) (SELECT * FROM a)"},
		{name: "with search clause", sql: "WITH RECURSIVE t(id) AS (SELECT 1) SEARCH DEPTH FIRST BY id SET ord SELECT * FROM t"},
		{name: "with cycle clause then update", sql: "WITH RECURSIVE t(id) AS (SELECT 1) CYCLE id SET is_cycle USING path UPDATE x SET a = 1", want: true},
		{name: "with keyword in string", sql: "WITH x AS (SELECT 'DELETE FROM t') SELECT * FROM x"},
		{name: "with cte named update", sql: "WITH update AS (SELECT 1) SELECT * FROM update"},
		{name: "with unparseable", sql: "WITH", want: true},

		// Skipped literals.
		{name: "string with semicolon", sql: "SELECT ';DELETE FROM t'"},
		{name: "string with doubled quote", sql: "SELECT 'it''s; DELETE FROM t'"},
		{name: "escape string with backslash quote", sql: `SELECT E'\'; DELETE FROM t; '`},
		{name: "escape string lower case", sql: `SELECT e'\\'; DELETE FROM t`, want: true},
		{name: "standard string with backslash", sql: `SELECT 'a\'; DELETE FROM t`, want: true},
		{name: "identifier ending in e", sql: `SELECT type'\'; DELETE FROM t; --'`, want: true},
		{name: "quoted identifier", sql: `SELECT 1 AS "x""; DELETE FROM t"`},
		{name: "dollar-quoted", sql: "SELECT $$; DELETE FROM t$$"},
		{name: "tagged dollar quote", sql: "SELECT $fn$ $$; DELETE FROM t $fn$"},
		{name: "parameter not dollar quote", sql: "SELECT $1; DELETE FROM t", want: true},
		{name: "unclosed string", sql: "SELECT '; DELETE FROM t"},

		// Multi-statement strings.
		{name: "select then insert", sql: "SELECT 1; INSERT INTO t VALUES (1)", want: true},
		{name: "begin insert commit", sql: "BEGIN; INSERT INTO t VALUES (1); COMMIT;", want: true},
		{name: "empty statements", sql: ";; ;DELETE FROM t", want: true},
		{name: "two selects", sql: "SELECT 1; SELECT 2;"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			if got := core.IsWrite(tt.sql); got != tt.want {
				t.Errorf("IsWrite(%q) = %v, want %v", tt.sql, got, tt.want)
			}
		})
	}
}

func TestIsWriteDeepNesting(t *testing.T) {
	t.Parallel()

	deep := strings.Repeat("WITH a AS (", 100) + "SELECT 1" + strings.Repeat(") SELECT 1", 100)
	if !core.IsWrite(deep) {
		t.Error("IsWrite = false for WITH nested 100 levels, want true (too deep to follow)")
	}

	shallow := strings.Repeat("WITH a AS (", 10) + "SELECT 1" + strings.Repeat(") SELECT 1", 10)
	if core.IsWrite(shallow) {
		t.Error("IsWrite = true for a read-only WITH nested 10 levels")
	}

	parens := strings.Repeat("(", 10000) + "SELECT 1" + strings.Repeat(")", 10000)
	if core.IsWrite(parens) {
		t.Error("IsWrite = true for a deeply parenthesized SELECT")
	}
}

func TestIsWriteNoAllocations(t *testing.T) {
	statements := []string{
		"INSERT INTO t VALUES (1)",
		"SELECT * FROM t WHERE a = 'x' FOR UPDATE",
		"WITH a AS (SELECT 1), b AS (DELETE FROM t RETURNING 1) SELECT * FROM a, b",
		"COPY (SELECT 1) TO STDOUT",
	}
	for _, sql := range statements {
		if n := testing.AllocsPerRun(100, func() { core.IsWrite(sql) }); n != 0 {
			t.Errorf("IsWrite(%q) allocates %v times", sql, n)
		}
	}
}
