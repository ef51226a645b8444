package core_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/bemi-go/bemi/core"
	"github.com/bemi-go/bemi/core/pgtest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Run(m)) }

// TestCommentOnPostgres runs annotated statements with hostile context
// values through psql and PostgreSQL's own lexer. Each statement continues
// after the comment, so a payload that ended or nested the comment would
// change the output or fail, and it compares the payload as jsonb with the
// expected value computed by the fuzz model.
func TestCommentOnPostgres(t *testing.T) {
	t.Parallel()

	const tag = "$bemitest$"
	values := []struct {
		name  string
		value any
	}{
		{name: "comment end", value: "*/"},
		{name: "comment start", value: "/*"},
		{name: "comment start after escaped slash", value: json.RawMessage(`"\/*"`)},
		{name: "nested comments", value: "/* a /* b */ */ SELECT 'injected' /*"},
		{name: "bemi delimiters", value: " Bemi*/ /*Bemi "},
		{name: "line comment", value: "-- x\n--"},
		{name: "quotes", value: `'"''\"` + "`"},
		{name: "semicolon", value: "'; DROP TABLE t; --"},
		{name: "dollar quote", value: "$$ $bemi$"},
		{name: "psql variable", value: ":foo :'foo' \\gexec"},
		{name: "nul byte", value: "a\x00b"},
		{name: "nul escape", value: json.RawMessage(`{"k\u0000":"\u0000"}`)},
		{name: "newlines", value: "a\nb\r\nc\t"},
		{name: "invalid utf8", value: "a\xff\xfe\xed\xa0\x80b"},
		{name: "unpaired surrogates", value: json.RawMessage(`["\ud800","\udc00","\ud800\u0041","\ud83d\ude00"]`)},
		{name: "emoji", value: "😀 👩‍👩‍👧"},
		{name: "html", value: "<script>&</script>"},
		{name: "2 MB value", value: strings.Repeat("/*x*/--'\"\\\x00\xff😀", 2<<20/20)},
	}

	var script, want strings.Builder
	for i, v := range values {
		fields := core.Fields{"value": v.value, "userId": i}
		payload, err := (&core.Encoder{MaxSize: -1}).Encode(fields)
		if err != nil {
			t.Fatalf("%s: Encode: %v", v.name, err)
		}
		expected, err := expectedFields(modelFields(fields))
		if err != nil {
			t.Fatalf("%s: model: %v", v.name, err)
		}
		expectedJSON, err := json.Marshal(expected)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(payload, []byte(tag)) || bytes.Contains(expectedJSON, []byte(tag)) {
			t.Fatalf("%s: the payload contains the dollar-quote tag %s", v.name, tag)
		}

		stmt := fmt.Sprintf("SELECT %d AS n", i)
		fmt.Fprintf(&script, "%s, 'after' AS a, (%s%s%s::jsonb = %s%s%s::jsonb)::text AS same;\n",
			core.AppendComment(stmt, payload), tag, payload, tag, tag, expectedJSON, tag)
		fmt.Fprintf(&want, "%d|after|true\n", i)
	}

	got := runPSQL(t, script.String())
	wantLines := strings.Split(strings.TrimSpace(want.String()), "\n")
	if len(got) != len(wantLines) {
		t.Fatalf("psql printed %d rows, want %d:\n%.2000s", len(got), len(wantLines), strings.Join(got, "\n"))
	}
	for i := range wantLines {
		if got[i] != wantLines[i] {
			t.Errorf("%s: row %q, want %q", values[i].name, got[i], wantLines[i])
		}
	}
}

// modelFields converts values the fuzz model has no rule for (numbers) into
// raw JSON.
func modelFields(fields core.Fields) core.Fields {
	out := core.Fields{}
	for k, v := range fields {
		switch x := v.(type) {
		case string, json.RawMessage:
			out[k] = x
		default:
			b, _ := json.Marshal(x)
			out[k] = json.RawMessage(b)
		}
	}

	return out
}

// runPSQL runs script with psql, unaligned and without headers, in a new
// database, and returns the output rows.
func runPSQL(t *testing.T, script string) []string {
	t.Helper()

	url := pgtest.NewDatabase(t)
	cmd := exec.Command(pgtest.Shared(t).Bin("psql"), "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", url, "-f", "-")
	cmd.Stdin = strings.NewReader(script)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("psql: %v\n%.2000s", err, stderr.String())
	}

	return strings.Split(strings.TrimSpace(stdout.String()), "\n")
}
