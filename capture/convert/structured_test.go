package convert

import (
	"errors"
	"testing"
)

func TestAppendValueArrays(t *testing.T) {
	checkValues(t, []valueCase{
		{"int4 array", oidInt4Array, "{1,2,3}", "[1,2,3]"},
		{"empty array", oidInt4Array, "{}", "[]"},
		{"NULL elements", oidInt4Array, "{NULL,1,null}", "[null,1,null]"},
		{"two dimensions", oidInt4Array, "{{1,2},{3,4}}", "[[1,2],[3,4]]"},
		{"explicit bounds", oidInt4Array, "[0:1]={1,2}", "[1,2]"},
		{"explicit bounds two dimensions", oidInt4Array, "[-2:-1][3:4]={{1,2},{3,4}}", "[[1,2],[3,4]]"},
		{"quoted text", oidTextArray, `{"a,b","c\"d","e\\f","",NULL,"NULL"," x "}`, `["a,b","c\"d","e\\f","",null,"NULL"," x "]`},
		{"unquoted text", oidTextArray, `{abc,é}`, `["abc","é"]`},
		{"box with semicolons", oidBoxArray, `{(3,4),(1,2);(7,8),(5,6)}`, `["(3,4),(1,2)","(7,8),(5,6)"]`},
		{"jsonb elements", oidJSONBArray, `{"{\"a\": 1}","[1, 2]",NULL}`, `[{"a": 1},[1, 2],null]`},
		{"json elements normalized", oidJSONArray, `{"{\"a\": 1e2}"}`, `[{"a":100}]`},
		{"timestamptz elements", oidTSTZArray, `{"2023-12-11 17:09:09+00",infinity}`, `["2023-12-11T17:09:09+00:00","infinity"]`},
	})
}

// testComposite builds the typeInfo of a composite type, as Load would.
func testComposite(name string, fields ...field) *typeInfo {
	for i := range fields {
		fields[i].key = appendKey(nil, fields[i].name)
	}

	return &typeInfo{oid: 90001, name: name, kind: kindComposite, delim: ',', fields: fields}
}

func TestAppendTypedComposite(t *testing.T) {
	inner := testComposite("inner", field{name: "a", typ: builtin(oidInt4)}, field{name: "b", typ: builtin(oidText)})
	innerArray := &typeInfo{oid: 90002, name: "inner[]", kind: kindArray, delim: ',', elem: inner}
	outer := testComposite("outer",
		field{name: "i", typ: inner},
		field{name: "tags", typ: builtin(oidTextArray)},
		field{name: "at", typ: builtin(oidTimestampTZ)},
		field{name: "list", typ: innerArray},
		field{name: `we"ird`, typ: builtin(oidJSONB)},
	)

	tests := []struct {
		name string
		typ  *typeInfo
		text string
		want string
	}{
		{"plain", inner, `(1,abc)`, `{"a":1,"b":"abc"}`},
		{"NULL and empty", inner, `(,"")`, `{"a":null,"b":""}`},
		{"all NULL", inner, `(,)`, `{"a":null,"b":null}`},
		{"quoted specials", inner, `(2,"a ""b"", \\c (d)")`, `{"a":2,"b":"a \"b\", \\c (d)"}`},
		{"backslash escapes", inner, `(3,a\,b)`, `{"a":3,"b":"a,b"}`},
		{"single quote character", inner, `(4,"""")`, `{"a":4,"b":"\""}`},
		{
			"nested",
			outer,
			`("(1,""x y"")","{a,""b c"",NULL}","2023-12-11 17:09:09+00","{""(1,a)"",""(2,\\""\\""\\""q\\""\\""\\"")"",NULL}","{""k"": [1]}")`,
			`{"i":{"a":1,"b":"x y"},"tags":["a","b c",null],"at":"2023-12-11T17:09:09+00:00","list":[{"a":1,"b":"a"},{"a":2,"b":"\"q\""},null],"we\"ird":{"k": [1]}}`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := appendTyped([]byte("x"), tc.typ, []byte(tc.text))
			if err != nil {
				t.Fatalf("appendTyped(%q): %v", tc.text, err)
			}
			if string(got[1:]) != tc.want {
				t.Errorf("appendTyped(%q)\n got %s\nwant %s", tc.text, got[1:], tc.want)
			}
		})
	}
}

func TestAppendTypedCompositeFieldCount(t *testing.T) {
	inner := testComposite("inner", field{name: "a", typ: builtin(oidInt4)}, field{name: "b", typ: builtin(oidText)})
	for _, text := range []string{`(1)`, `(1,a,b)`, `(1,"a,b",)`} {
		_, err := appendTyped(nil, inner, []byte(text))
		if !errors.Is(err, ErrTypeChanged) {
			t.Errorf("appendTyped(%q) error = %v, want ErrTypeChanged", text, err)
		}
	}
	for _, text := range []string{`1,a`, `(1,"a)`, `(1,a\)`, `(`} {
		_, err := appendTyped(nil, inner, []byte(text))
		if !errors.Is(err, errCompositeSyntax) {
			t.Errorf("appendTyped(%q) error = %v, want errCompositeSyntax", text, err)
		}
	}
}

func TestAppendRowNullsAndErrors(t *testing.T) {
	var r Registry
	cols := NewColumns([]Column{
		{Name: "id", TypeOID: oidInt4},
		{Name: "name", TypeOID: oidText},
		{Name: "flag", TypeOID: oidBool},
		{Name: "note", TypeOID: oidText},
	})

	got, err := r.AppendRow(nil, cols, [][]byte{[]byte("1"), nil, []byte("maybe"), {}})
	if want := `{"id":1,"name":null,"flag":"maybe","note":""}`; string(got) != want {
		t.Errorf("AppendRow = %s, want %s", got, want)
	}

	var valueErr *ValueError
	if !errors.As(err, &valueErr) {
		t.Fatalf("AppendRow error = %v, want a *ValueError", err)
	}
	if valueErr.Column != "flag" || valueErr.TypeOID != oidBool {
		t.Errorf("ValueError column %q type %d, want flag and %d", valueErr.Column, valueErr.TypeOID, oidBool)
	}

	if _, err := r.AppendRow(nil, cols, [][]byte{[]byte("1")}); err == nil {
		t.Error("AppendRow with 1 value for 4 columns returned no error")
	}
}

func TestAppendRowEscapesKeys(t *testing.T) {
	var r Registry
	cols := NewColumns([]Column{{Name: `a"b\c`, TypeOID: oidInt4}, {Name: "é", TypeOID: oidInt4}})

	got, err := r.AppendRow(nil, cols, [][]byte{[]byte("1"), []byte("2")})
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"a\"b\\c":1,"é":2}`; string(got) != want {
		t.Errorf("AppendRow = %s, want %s", got, want)
	}
}
