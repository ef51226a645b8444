package core_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/bemi-go/bemi/core"
)

// stitchEvent is one decoded WAL event fed to a Stitcher: Begin, a logical
// decoding message, or a row change that records its context.
type stitchEvent struct {
	begin         bool
	change        bool
	prefix        string
	transactional bool
	content       string
	wantResult    core.MessageResult
}

func begin() stitchEvent  { return stitchEvent{begin: true} }
func change() stitchEvent { return stitchEvent{change: true} }

func message(content string, want core.MessageResult) stitchEvent {
	return stitchEvent{prefix: core.MessagePrefix, transactional: true, content: content, wantResult: want}
}

func TestStitcher(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name   string
		events []stitchEvent
		want   []string
	}{
		{
			name:   "no message",
			events: []stitchEvent{begin(), change(), change()},
			want:   []string{`{}`, `{}`},
		},
		{
			name:   "no begin",
			events: []stitchEvent{change()},
			want:   []string{`{}`},
		},
		{
			name:   "message applies to following changes",
			events: []stitchEvent{begin(), change(), message(`{"userId":1}`, core.MessageApplied), change(), change()},
			want:   []string{`{}`, `{"userId":1}`, `{"userId":1}`},
		},
		{
			name: "later message replaces context",
			events: []stitchEvent{
				begin(), message(`{"userId":1}`, core.MessageApplied), change(),
				message(`{"userId":2}`, core.MessageApplied), change(),
			},
			want: []string{`{"userId":1}`, `{"userId":2}`},
		},
		{
			name: "reset message",
			events: []stitchEvent{
				begin(), message(`{"userId":1}`, core.MessageApplied), change(),
				message(`{}`, core.MessageApplied), change(),
			},
			want: []string{`{"userId":1}`, `{}`},
		},
		{
			name: "begin resets",
			events: []stitchEvent{
				begin(), message(`{"userId":1}`, core.MessageApplied), change(),
				begin(), change(),
			},
			want: []string{`{"userId":1}`, `{}`},
		},
		{
			name: "other prefix ignored",
			events: []stitchEvent{
				begin(), message(`{"userId":1}`, core.MessageApplied),
				{prefix: "other", transactional: true, content: `{"userId":2}`, wantResult: core.MessageIgnored},
				{prefix: "_bemi_", transactional: true, content: `{"userId":3}`, wantResult: core.MessageIgnored},
				change(),
			},
			want: []string{`{"userId":1}`},
		},
		{
			name: "non-transactional ignored",
			events: []stitchEvent{
				begin(), message(`{"userId":1}`, core.MessageApplied),
				{prefix: core.MessagePrefix, content: `{"userId":2}`, wantResult: core.MessageIgnored},
				change(),
			},
			want: []string{`{"userId":1}`},
		},
		{
			name:   "invalid json kept as text",
			events: []stitchEvent{begin(), message(`not json`, core.MessageInvalid), change()},
			want:   []string{`{"_bemiInvalidContext":"not json"}`},
		},
		{
			name:   "array kept as text",
			events: []stitchEvent{begin(), message(`[1,2]`, core.MessageInvalid), change()},
			want:   []string{`{"_bemiInvalidContext":"[1,2]"}`},
		},
		{
			name:   "empty payload kept as text",
			events: []stitchEvent{begin(), message(``, core.MessageInvalid), change()},
			want:   []string{`{"_bemiInvalidContext":""}`},
		},
		{
			name:   "invalid payload in safe form",
			events: []stitchEvent{begin(), message("{\"a\":\x00/*", core.MessageInvalid), change()},
			want:   []string{`{"_bemiInvalidContext":"{\"a\":\ufffd\/\u002a"}`},
		},
		{
			name:   "valid payload sanitized",
			events: []stitchEvent{begin(), message(`{"a":"/x\u0000","b":"\ud800"}`, core.MessageApplied), change()},
			want:   []string{`{"a":"\/x\ufffd","b":"\ufffd"}`},
		},
		{
			name:   "object with whitespace",
			events: []stitchEvent{begin(), message(" \n{\"a\": 1}", core.MessageApplied), change()},
			want:   []string{" \n{\"a\": 1}"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			var s core.Stitcher
			var got []string
			for i, e := range tt.events {
				switch {
				case e.begin:
					s.Begin()
				case e.change:
					ctx := s.Context()
					if !json.Valid(ctx) {
						t.Errorf("event %d: context %q is not valid JSON", i, ctx)
					}
					got = append(got, string(ctx))
				default:
					if r := s.Message(e.prefix, e.transactional, []byte(e.content)); r != e.wantResult {
						t.Errorf("event %d: Message = %v, want %v", i, r, e.wantResult)
					}
				}
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("contexts = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestStitcherCopiesContent(t *testing.T) {
	t.Parallel()

	var s core.Stitcher
	s.Begin()
	buf := []byte(`{"userId":1}`)
	s.Message(core.MessagePrefix, true, buf)
	copy(buf, `{"userId":2}`)

	if got := string(s.Context()); got != `{"userId":1}` {
		t.Errorf("Context = %s after the caller reused its buffer, want {\"userId\":1}", got)
	}
}

// nestedArrays returns a context object whose value under "a" nests arrays,
// so that the document is depth levels deep, counting the object.
func nestedArrays(depth int) string {
	return `{"a":` + strings.Repeat("[", depth-1) + strings.Repeat("]", depth-1) + `}`
}

// nestedObjects returns depth nested objects, the innermost holding 1.
func nestedObjects(depth int) string {
	return strings.Repeat(`{"a":`, depth) + "1" + strings.Repeat("}", depth)
}

// numberCases are JSON numbers at the limits of PostgreSQL 15's numeric
// input, with whether jsonb accepts them. TestStitcherOnPostgres
// checks each verdict against the server.
var numberCases = []struct {
	number string
	fits   bool
}{
	{"0", true},
	{"-12.5e3", true},
	{"1E+5", true},
	{"1e-0", true},
	{"1e131071", true},
	{"-9.999e131071", true},
	{"1e131072", false},
	{"12345678e131064", true},
	{"12345678e131065", false},
	{"0.00001e131076", true},
	{"0.00001e131077", false},
	{"1" + strings.Repeat("0", 131071), true},
	{"1" + strings.Repeat("0", 131072), false},
	{"1e-16383", true},
	{"1e-16384", false},
	{"1.5e-16382", true},
	{"1.5e-16383", false},
	{"0." + strings.Repeat("0", 16382) + "1", true},
	{"0." + strings.Repeat("0", 16383) + "1", false},
	{"0e-16383", true},
	{"0e-16384", false},
	{"0." + strings.Repeat("0", 16383), true},
	{"0." + strings.Repeat("0", 16384), false},
	{"0e999999", true},
	{"0e1073741822", true},
	{"0e1073741823", false},
	{"1e1073741822", false},
	{"1e-1073741823", false},
	{"1e1000000", false},
	{"1e99999999999999999999", false},
}

func TestStitcherNumberRange(t *testing.T) {
	t.Parallel()

	for _, tc := range numberCases {
		var s core.Stitcher
		s.Begin()
		payload := `{"n":` + tc.number + `}`
		got := s.Message(core.MessagePrefix, true, []byte(payload))

		want := core.MessageApplied
		if !tc.fits {
			want = core.MessageInvalid
		}
		if got != want {
			t.Errorf("number %.40s: Message = %v, want %v", tc.number, got, want)

			continue
		}
		if !tc.fits && !errors.Is(s.InvalidReason(), core.ErrContextNumberRange) {
			t.Errorf("number %.40s: InvalidReason = %v, want ErrContextNumberRange", tc.number, s.InvalidReason())
		}
		if !tc.fits {
			if wantCtx := `{"_bemiInvalidContext":"{\"n\":` + tc.number + `}"}`; string(s.Context()) != wantCtx {
				t.Errorf("number %.40s: context = %.80s, want the payload as text", tc.number, s.Context())
			}
		}
	}
}

func TestStitcherNumbersInStringsIgnored(t *testing.T) {
	t.Parallel()

	var s core.Stitcher
	s.Begin()
	payload := `{"1e1000000":"1e1000000 [[[ \" 1e1000000","b":[1e5,"\\",2]}`
	if got := s.Message(core.MessagePrefix, true, []byte(payload)); got != core.MessageApplied {
		t.Fatalf("Message = %v (%v), want MessageApplied", got, s.InvalidReason())
	}
}

func TestStitcherDepthLimit(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name    string
		payload string
		want    core.MessageResult
	}{
		{name: "arrays at the limit", payload: nestedArrays(core.MaxContextDepth), want: core.MessageApplied},
		{name: "arrays over the limit", payload: nestedArrays(core.MaxContextDepth + 1), want: core.MessageInvalid},
		{name: "objects at the limit", payload: nestedObjects(core.MaxContextDepth), want: core.MessageApplied},
		{name: "objects over the limit", payload: nestedObjects(core.MaxContextDepth + 1), want: core.MessageInvalid},
		{name: "many shallow containers", payload: `{"a":[` + strings.Repeat(`[[{}]],`, 1000) + `[]]}`, want: core.MessageApplied},
		{name: "brackets in strings", payload: `{"a":"` + strings.Repeat("[{", 1000) + `"}`, want: core.MessageApplied},
		// Deeper than encoding/json's 10,000 levels: not even valid JSON
		// to the stitcher.
		{name: "100,000 arrays", payload: nestedArrays(100000), want: core.MessageInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			var s core.Stitcher
			s.Begin()
			if got := s.Message(core.MessagePrefix, true, []byte(tt.payload)); got != tt.want {
				t.Fatalf("Message = %v, want %v", got, tt.want)
			}
			if tt.want == core.MessageApplied {
				return
			}

			var ctx map[string]string
			if err := json.Unmarshal(s.Context(), &ctx); err != nil {
				t.Fatalf("context is not an object of strings: %v", err)
			}
			if ctx[core.InvalidContextKey] != tt.payload {
				t.Errorf("context keeps %d bytes of text, want the %d-byte payload", len(ctx[core.InvalidContextKey]), len(tt.payload))
			}
		})
	}
}

func TestStitcherInvalidReason(t *testing.T) {
	t.Parallel()

	var s core.Stitcher
	s.Begin()
	if s.InvalidReason() != nil {
		t.Errorf("InvalidReason = %v before any message, want nil", s.InvalidReason())
	}

	steps := []struct {
		payload string
		want    error
	}{
		{payload: `[1]`, want: core.ErrContextNotObject},
		{payload: nestedObjects(core.MaxContextDepth + 1), want: core.ErrContextTooDeep},
		{payload: `{"userId":1}`, want: core.ErrContextTooDeep}, // applied: the last reason stays
		{payload: `{"n":1e-20000}`, want: core.ErrContextNumberRange},
	}
	for i, step := range steps {
		s.Message(core.MessagePrefix, true, []byte(step.payload))
		if !errors.Is(s.InvalidReason(), step.want) {
			t.Errorf("step %d: InvalidReason = %v, want %v", i, s.InvalidReason(), step.want)
		}
		if strings.Contains(s.InvalidReason().Error(), step.payload) {
			t.Errorf("step %d: InvalidReason %q quotes the payload", i, s.InvalidReason())
		}
	}
}

// TestStitcherElementLimits builds payloads of 40 to 80 MB, above the size
// from which the stitcher counts elements.
func TestStitcherElementLimits(t *testing.T) {
	t.Parallel()

	list := func(open, element, close string, n int) []byte {
		b := make([]byte, 0, len(open)+n*(len(element)+1)+len(close))
		b = append(b, open...)
		for i := 0; i < n; i++ {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, element...)
		}

		return append(b, close...)
	}

	tests := []struct {
		name    string
		payload []byte
		want    error
	}{
		{name: "2^24 array elements", payload: list(`{"a":[`, "true", "]}", 1<<24), want: nil},
		{name: "2^24+1 array elements", payload: list(`{"a":[`, "true", "]}", 1<<24+1), want: core.ErrContextTooMany},
		{name: "2^23 object pairs", payload: list(`{`, `"":1`, `}`, 1<<23), want: nil},
		{name: "2^23+1 object pairs", payload: list(`{`, `"":1`, `}`, 1<<23+1), want: core.ErrContextTooMany},
		// The estimate counts 19 bytes per element, 285 MB in all, over the
		// limit. PostgreSQL would store these in about 240 MB.
		{name: "estimate over 256 MB", payload: list(`{"a":[`, "1.1", "]}", 15_000_000), want: core.ErrContextTooLarge},
	}
	for _, tt := range tests {
		var s core.Stitcher
		s.Begin()
		got := s.Message(core.MessagePrefix, true, tt.payload)
		if tt.want == nil {
			if got != core.MessageApplied {
				t.Errorf("%s: Message = %v (%v), want MessageApplied", tt.name, got, s.InvalidReason())
			}

			continue
		}
		if got != core.MessageInvalid || !errors.Is(s.InvalidReason(), tt.want) {
			t.Errorf("%s: Message = %v (%v), want MessageInvalid (%v)", tt.name, got, s.InvalidReason(), tt.want)
		}
	}
}

// TestStitcherOnPostgres checks the stitcher's verdicts against jsonb input
// in PostgreSQL, run with its smallest max_stack_depth. A payload the
// stitcher applies must be accepted, and a number it rejects rejected. Every
// stitched context, the invalid form included, must be accepted.
func TestStitcherOnPostgres(t *testing.T) {
	t.Parallel()

	type pgCase struct {
		name    string
		payload string
		// want is the SQLSTATE of the payload's jsonb input, "ok" when
		// PostgreSQL accepts it, or "" to skip that check.
		want string
	}
	var cases []pgCase
	for _, tc := range numberCases {
		want := "ok"
		if !tc.fits {
			want = "22003" // numeric_value_out_of_range
		}
		cases = append(cases, pgCase{name: "number " + tc.number, payload: `{"n":` + tc.number + `}`, want: want})
	}
	cases = append(cases,
		pgCase{name: "arrays at the depth limit", payload: nestedArrays(core.MaxContextDepth), want: "ok"},
		pgCase{name: "objects at the depth limit", payload: nestedObjects(core.MaxContextDepth), want: "ok"},
		pgCase{name: "objects over the depth limit", payload: nestedObjects(core.MaxContextDepth + 1)},
		pgCase{name: "objects beyond the stack", payload: nestedObjects(2000), want: "54001"}, // statement_too_complex
		pgCase{name: "nul and invalid UTF-8", payload: "{\"a\\u0000\":\"\\ud800\x00\xff\"}", want: ""},
		pgCase{name: "not an object", payload: "[1e1000000, \"\x00\"]", want: ""},
	)

	const tag = "$bemitest$"
	var script, want strings.Builder
	script.WriteString(`SET max_stack_depth = '100kB';
CREATE FUNCTION pg_temp.jsonb_sqlstate(t text) RETURNS text LANGUAGE plpgsql AS $f$
BEGIN
	PERFORM t::jsonb;
	RETURN 'ok';
EXCEPTION WHEN others THEN
	RETURN SQLSTATE;
END $f$;
`)
	for i, tc := range cases {
		var s core.Stitcher
		s.Begin()
		s.Message(core.MessagePrefix, true, []byte(tc.payload))
		stitched := string(s.Context())

		payloadState := "''"
		if tc.want != "" {
			payloadState = "pg_temp.jsonb_sqlstate(" + tag + tc.payload + tag + ")"
		}
		fmt.Fprintf(&script, "SELECT %d, %s, pg_temp.jsonb_sqlstate(%s%s%s);\n", i, payloadState, tag, stitched, tag)
		fmt.Fprintf(&want, "%d|%s|ok\n", i, tc.want)
	}

	got := runPSQL(t, script.String())
	wantLines := strings.Split(strings.TrimSpace(want.String()), "\n")
	if len(got) != len(wantLines) {
		t.Fatalf("psql printed %d rows, want %d:\n%.2000s", len(got), len(wantLines), strings.Join(got, "\n"))
	}
	for i := range wantLines {
		if got[i] != wantLines[i] {
			t.Errorf("%.60s: row %q, want %q (payload SQLSTATE, stitched context SQLSTATE)", cases[i].name, got[i], wantLines[i])
		}
	}
}
