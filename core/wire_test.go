package core_test

import (
	"strings"
	"testing"

	"github.com/bemi-go/bemi/core"
)

func TestAppendComment(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name    string
		sql     string
		payload string
		want    string
	}{
		{
			name:    "insert",
			sql:     "INSERT INTO todo (task) VALUES ($1)",
			payload: `{"userId":1}`,
			want:    `INSERT INTO todo (task) VALUES ($1) /*Bemi {"userId":1} Bemi*/`,
		},
		{
			name:    "trailing semicolon",
			sql:     "DELETE FROM todo;",
			payload: `{"a":"\/"}`,
			want:    `DELETE FROM todo; /*Bemi {"a":"\/"} Bemi*/`,
		},
		{
			name:    "empty statement",
			sql:     "",
			payload: `{}`,
			want:    ` /*Bemi {} Bemi*/`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			got := core.AppendComment(tt.sql, []byte(tt.payload))
			if got != tt.want {
				t.Errorf("AppendComment = %q, want %q", got, tt.want)
			}
			if !strings.HasPrefix(got, tt.sql) {
				t.Errorf("AppendComment changed the statement: %q", got)
			}
		})
	}
}

func TestParseComment(t *testing.T) {
	t.Parallel()

	const payload = `{"userId":1}`
	const comment = "/*Bemi " + payload + " Bemi*/"
	tests := []struct {
		name   string
		sql    string
		want   string
		wantOK bool
	}{
		{name: "appended", sql: "INSERT INTO t VALUES (1) " + comment, want: payload, wantOK: true},
		{name: "only comment", sql: comment, want: payload, wantOK: true},
		{name: "no comment", sql: "INSERT INTO t VALUES (1)"},
		{name: "empty text", sql: ""},
		{name: "empty payload", sql: "SELECT 1 /*Bemi  Bemi*/", want: "", wantOK: true},
		{
			name:   "last comment counts",
			sql:    `INSERT INTO t VALUES (1) /*Bemi {"userId":2} Bemi*/ ` + comment,
			want:   payload,
			wantOK: true,
		},
		{name: "trailing semicolon", sql: "DELETE FROM t " + comment + ";", want: payload, wantOK: true},
		{name: "trailing line comment", sql: "DELETE FROM t " + comment + " -- x", want: payload, wantOK: true},
		{name: "line comment then semicolon", sql: "DELETE FROM t " + comment + " -- x\n;", want: payload, wantOK: true},
		{name: "line comment ended by carriage return", sql: "DELETE FROM t " + comment + " -- x\r;", want: payload, wantOK: true},
		{
			name:   "trailing tracing comment",
			sql:    "UPDATE t SET a = 1 " + comment + " /*traceparent='00-4bf92f3577b34da6-00f067aa0ba902b7-01',route='%2Ftodo'*/",
			want:   payload,
			wantOK: true,
		},
		{name: "trailing whitespace", sql: "DELETE FROM t " + comment + " \t\r\n\f\v ;; ", want: payload, wantOK: true},
		{name: "nested trailing comment", sql: "DELETE FROM t " + comment + " /* a /* b */ c */", want: payload, wantOK: true},
		{name: "unclosed nested trailing comment", sql: "DELETE FROM t " + comment + " /* a /* b */"},
		{name: "unclosed trailing comment", sql: "DELETE FROM t " + comment + " /* a"},
		{name: "unclosed bemi comment", sql: `DELETE FROM t /*Bemi {"userId":1}`},
		{name: "unclosed bemi comment after a closed one", sql: "DELETE FROM t " + comment + ` /*Bemi {"userId":2}`},
		{name: "statement after comment", sql: comment + " DELETE FROM t"},
		{name: "literal spoof", sql: `INSERT INTO t VALUES ('/*Bemi {"userId":1} Bemi*/')`},
		{name: "literal spoof at end", sql: `UPDATE t SET a = '/*Bemi {"userId":1} Bemi*/'`},
		{name: "literal spoof hidden by line comment", sql: `UPDATE t SET a = '/*Bemi {"userId":1} Bemi*/ -- '`},
		{name: "literal spoof hidden by line comment and newline", sql: "UPDATE t SET a = '/*Bemi {\"userId\":1} Bemi*/ -- '\n"},
		{name: "literal spoof hidden by block comment", sql: `UPDATE t SET a = '/*Bemi {"userId":1} Bemi*/ /*', b = ' */ -- '`},
		{name: "literal spoof before tracing comment", sql: `UPDATE t SET a = '/*Bemi {"userId":1} Bemi*/ /*' /* trace */`},
		{name: "quoted identifier spoof", sql: `SELECT 1 AS "/*Bemi {""userId"":1} Bemi*/ --"`},
		{name: "dollar-quoted spoof", sql: `SELECT $$/*Bemi {"userId":1} Bemi*/ -- $$`},
		{
			name:   "literal spoof then appended comment",
			sql:    `INSERT INTO t VALUES ('/*Bemi {"userId":2} Bemi*/ -- ') ` + comment,
			want:   payload,
			wantOK: true,
		},
		// A quote character in a trailing line comment is indistinguishable
		// from a spoof, so such a comment hides the context.
		{name: "line comment with quote", sql: "DELETE FROM t " + comment + " -- user's note"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			got, ok := core.ParseComment(tt.sql)
			if ok != tt.wantOK {
				t.Fatalf("ParseComment(%q) ok = %v, want %v (payload %q)", tt.sql, ok, tt.wantOK, got)
			}
			if string(got) != tt.want {
				t.Errorf("ParseComment(%q) = %q, want %q", tt.sql, got, tt.want)
			}
		})
	}
}

func TestParseCommentRoundTrip(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name   string
		sql    string
		fields core.Fields
	}{
		{name: "comment delimiters", sql: "INSERT INTO t VALUES (1)", fields: core.Fields{"a": "*/ /* Bemi*/ /*Bemi "}},
		{name: "statement ends in line comment", sql: "INSERT INTO t VALUES (1) -- note", fields: core.Fields{"a": "x"}},
		{name: "statement with spoof literal", sql: `INSERT INTO t VALUES ('/*Bemi {"userId":2} Bemi*/')`, fields: core.Fields{"userId": 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			payload, err := (&core.Encoder{}).Encode(tt.fields)
			if err != nil {
				t.Fatal(err)
			}
			got, ok := core.ParseComment(core.AppendComment(tt.sql, payload))
			if !ok || string(got) != string(payload) {
				t.Errorf("ParseComment = %q, %v, want %q", got, ok, payload)
			}
		})
	}
}
