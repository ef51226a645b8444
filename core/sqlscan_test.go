package core

import "testing"

// skipStatementByTokens is the token-by-token reference for skipStatement.
func (s *sqlScanner) skipStatementByTokens() bool {
	depth := 0
	for {
		kind, text := s.next()
		switch {
		case kind == tokenEOF:
			return false
		case kind == tokenPunct && text == "(":
			depth++
		case kind == tokenPunct && text == ")":
			depth = max(depth-1, 0)
		case kind == tokenPunct && text == ";" && depth == 0:
			return true
		}
	}
}

// FuzzSkipStatement checks that skipStatement, which jumps between special
// bytes, finds the same statement ends as the token-by-token reference.
func FuzzSkipStatement(f *testing.F) {
	for _, seed := range []string{
		"SELECT 1; INSERT INTO t VALUES (1)",
		"SELECT 'a;b''c'; DELETE FROM t",
		`SELECT E'\';x'; UPDATE t SET a = 1`,
		`SELECT e'\\'; x; type'\'; y`,
		`SELECT "a;""b"; z`,
		"SELECT $$;$$, $tag$ $$; $tag$; w",
		"SELECT a$$b, $1; v",
		"SELECT 1 -- ;\n; /* ; /* ; */ ; */ ; u",
		"CREATE RULE r AS ON INSERT TO t DO ALSO (INSERT INTO l VALUES (1); DELETE FROM x); s",
		"SELECT ((1); 2)); 3; (",
		"SELECT 1e'x'; 2",
		"SELECT 1 - - 2 / 3; 4",
	} {
		f.Add(seed)
	}

	f.Fuzz(func(t *testing.T, sql string) {
		fast := sqlScanner{src: sql}
		reference := sqlScanner{src: sql}
		for {
			gotMore := fast.skipStatement()
			wantMore := reference.skipStatementByTokens()
			if gotMore != wantMore || fast.pos != reference.pos {
				t.Fatalf("skipStatement(%q) = %v at %d, reference %v at %d",
					sql, gotMore, fast.pos, wantMore, reference.pos)
			}
			if !gotMore {
				return
			}
		}
	})
}
