package core_test

import (
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/bemi-go/bemi/core"
)

func TestEncodeSafeForm(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name   string
		fields core.Fields
		want   string
	}{
		{name: "nil fields", fields: nil, want: `{}`},
		{name: "slash escaped", fields: core.Fields{"endpoint": "/todo/{id}"}, want: `{"endpoint":"\/todo\/{id}"}`},
		{name: "comment end", fields: core.Fields{"a": "*/"}, want: `{"a":"*\/"}`},
		{name: "comment start", fields: core.Fields{"a": "/*"}, want: `{"a":"\/\u002a"}`},
		{name: "empty comment", fields: core.Fields{"a": "/**/"}, want: `{"a":"\/\u002a*\/"}`},
		{name: "asterisk alone", fields: core.Fields{"a": "2*3"}, want: `{"a":"2*3"}`},
		{name: "slash in key", fields: core.Fields{"a/*b": 1}, want: `{"a\/\u002ab":1}`},
		{name: "html not escaped", fields: core.Fields{"a": `<a href="x">&</a>`}, want: `{"a":"<a href=\"x\">&<\/a>"}`},
		{name: "nul byte", fields: core.Fields{"a": "x\x00y"}, want: `{"a":"x\ufffdy"}`},
		{name: "nul in key", fields: core.Fields{"\x00": 1}, want: `{"\ufffd":1}`},
		{name: "invalid utf8", fields: core.Fields{"a": "x\xffy\xfe"}, want: `{"a":"x\ufffdy\ufffd"}`},
		{name: "utf8 encoded surrogate", fields: core.Fields{"a": "\xed\xa0\x80"}, want: `{"a":"\ufffd\ufffd\ufffd"}`},
		{name: "truncated utf8 sequence", fields: core.Fields{"a": "\xe2\x82"}, want: `{"a":"\ufffd\ufffd"}`},
		{name: "emoji kept", fields: core.Fields{"a": "😀é"}, want: `{"a":"😀é"}`},
		{name: "control characters", fields: core.Fields{"a": "\n\r\t\x01\x1f"}, want: `{"a":"\n\r\t\u0001\u001f"}`},
		{name: "quote and backslash", fields: core.Fields{"a": `'"\`}, want: `{"a":"'\"\\"}`},
		{name: "sql comment", fields: core.Fields{"a": "-- x"}, want: `{"a":"-- x"}`},
		{name: "raw unpaired high surrogate", fields: core.Fields{"a": json.RawMessage(`"\ud800"`)}, want: `{"a":"\ufffd"}`},
		{name: "raw unpaired low surrogate", fields: core.Fields{"a": json.RawMessage(`"\udc00"`)}, want: `{"a":"\ufffd"}`},
		{name: "raw high surrogate before letter", fields: core.Fields{"a": json.RawMessage(`"\ud800\u0041"`)}, want: `{"a":"\ufffd\u0041"}`},
		{name: "raw two high surrogates", fields: core.Fields{"a": json.RawMessage(`"\uD800\uD83D\uDE00"`)}, want: `{"a":"\ufffd\uD83D\uDE00"}`},
		{name: "raw surrogate pair kept", fields: core.Fields{"a": json.RawMessage(`"\ud83d\ude00"`)}, want: `{"a":"\ud83d\ude00"}`},
		{name: "raw nul escape", fields: core.Fields{"a": json.RawMessage(`{"k\u0000":"\u0000"}`)}, want: `{"a":{"k\ufffd":"\ufffd"}}`},
		{name: "raw escaped backslash before u", fields: core.Fields{"a": json.RawMessage(`"\\u0000"`)}, want: `{"a":"\\u0000"}`},
		{name: "raw escaped slash then asterisk", fields: core.Fields{"a": json.RawMessage(`"\/*"`)}, want: `{"a":"\/\u002a"}`},
		{name: "raw invalid utf8", fields: core.Fields{"a": json.RawMessage("\"\xff\"")}, want: `{"a":"\ufffd"}`},
		{name: "raw compacted", fields: core.Fields{"a": json.RawMessage("{ \"b\" : [ 1 , 2 ] }")}, want: `{"a":{"b":[1,2]}}`},
		{name: "nested map sorted", fields: core.Fields{"params": map[string]any{"b": "/", "a": 1}}, want: `{"params":{"a":1,"b":"\/"}}`},
		{
			name:   "scalars",
			fields: core.Fields{"b": true, "f": 1.5, "i": -7, "i64": int64(math.MinInt64), "n": nil, "u64": uint64(math.MaxUint64)},
			want:   `{"b":true,"f":1.5,"i":-7,"i64":-9223372036854775808,"n":null,"u64":18446744073709551615}`,
		},
		{name: "slice", fields: core.Fields{"a": []any{"/", 1, nil}}, want: `{"a":["\/",1,null]}`},
		{name: "struct", fields: core.Fields{"a": struct{ Path string }{"/x"}}, want: `{"a":{"Path":"\/x"}}`},
		{name: "key order bytewise", fields: core.Fields{"b": 1, "B": 2, "_": 3, "a": 4, "é": 5}, want: `{"B":2,"_":3,"a":4,"b":1,"é":5}`},
		{
			// "\xfe" sorts before "\xff"; decoders keep the last duplicate.
			name:   "keys equal after replacement",
			fields: core.Fields{"\xff": 1, "\xfe": 2},
			want:   `{"\ufffd":2,"\ufffd":1}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			got, err := (&core.Encoder{}).Encode(tt.fields)
			if err != nil {
				t.Fatalf("Encode: %v", err)
			}
			if string(got) != tt.want {
				t.Errorf("Encode = %s, want %s", got, tt.want)
			}
			if !json.Valid(got) {
				t.Errorf("Encode = %s, not valid JSON", got)
			}
			if strings.Contains(string(got), "/*") || strings.Contains(string(got), "*/") {
				t.Errorf("Encode = %s, contains a comment delimiter", got)
			}
		})
	}
}

func TestEncodeDecodesToSameValue(t *testing.T) {
	t.Parallel()

	fields := core.Fields{
		"endpoint": "/api/*/x/**/y",
		"params":   map[string]any{"q": "a/*b*/c", "n": json.Number("12345678901234567890")},
		"html":     "<b>&amp;</b>",
	}
	payload, err := (&core.Encoder{}).Encode(fields)
	if err != nil {
		t.Fatal(err)
	}

	var got, want any
	if err := json.Unmarshal(payload, &got); err != nil {
		t.Fatalf("decode payload %s: %v", payload, err)
	}
	plain, _ := json.Marshal(fields)
	if err := json.Unmarshal(plain, &want); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("payload decodes to %v, want %v", got, want)
	}
}

func TestEncodeDeterministic(t *testing.T) {
	t.Parallel()

	fields := core.Fields{}
	for _, k := range strings.Fields("z y x w v u t s r q p o n m l k j i h g f e d c b a") {
		fields[k] = map[string]any{"k" + k: k, "a": []any{k}}
	}
	first, err := (&core.Encoder{}).Encode(fields)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		got, _ := (&core.Encoder{}).Encode(fields)
		if string(got) != string(first) {
			t.Fatalf("run %d: Encode = %s, first run %s", i, got, first)
		}
	}
}

func TestEncodeUnencodableValue(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name    string
		fields  core.Fields
		wantKey string
	}{
		{name: "channel", fields: core.Fields{"ok": 1, "events": make(chan int)}, wantKey: `"events"`},
		{name: "function", fields: core.Fields{"callback": func() {}}, wantKey: `"callback"`},
		{name: "nan", fields: core.Fields{"ratio": math.NaN()}, wantKey: `"ratio"`},
		{name: "invalid raw json", fields: core.Fields{"raw": json.RawMessage(`{"a":`)}, wantKey: `"raw"`},
		{name: "first failing key in order", fields: core.Fields{"b": func() {}, "a": make(chan int)}, wantKey: `"a"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			got, err := (&core.Encoder{}).Encode(tt.fields)
			if err == nil {
				t.Fatalf("Encode = %s, want an error", got)
			}
			if !strings.Contains(err.Error(), tt.wantKey) {
				t.Errorf("error %q does not name the key %s", err, tt.wantKey)
			}
			if got != nil {
				t.Errorf("Encode returned %s with the error", got)
			}
		})
	}
}

func TestEncodeLimitDisabledOrNotReached(t *testing.T) {
	t.Parallel()

	big := strings.Repeat("x", 2<<20)
	tests := []struct {
		name    string
		maxSize int
		fields  core.Fields
	}{
		{name: "negative disables limit", maxSize: -1, fields: core.Fields{"a": big}},
		{name: "zero means 1 MiB, under it", maxSize: 0, fields: core.Fields{"a": big[:1<<20-8]}},
		{name: "exactly at limit", maxSize: len(`{"a":"xx"}`), fields: core.Fields{"a": "xx"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			logs := &recordHandler{}
			got, err := (&core.Encoder{MaxSize: tt.maxSize, Logger: newLogger(logs)}).Encode(tt.fields)
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(string(got), core.TruncatedKey) {
				t.Errorf("payload of %d bytes was truncated", len(got))
			}
			if logs.count() != 0 {
				t.Errorf("%d log records, want none", logs.count())
			}
		})
	}
}

func TestEncodeDefaultLimit(t *testing.T) {
	t.Parallel()

	logs := &recordHandler{}
	got, err := (&core.Encoder{Logger: newLogger(logs)}).Encode(core.Fields{"a": strings.Repeat("x", 1<<20)})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"_bemiTruncated":{"originalSize":1048584,"droppedKeys":["a"]}}`
	if string(got) != want {
		t.Errorf("Encode = %.200s, want %s", got, want)
	}
	if logs.count() != 1 {
		t.Errorf("%d log records, want 1", logs.count())
	}
}

func TestEncodeNestedValues(t *testing.T) {
	t.Parallel()

	deep := map[string]any{"leaf": "/*"}
	for i := range 40 {
		deep = map[string]any{fmt.Sprint("level", i): []any{i, deep}}
	}
	tests := []struct {
		name  string
		value any
	}{
		{name: "nil map", value: map[string]any(nil)},
		{name: "nil slice", value: []any(nil)},
		{name: "nil fields", value: core.Fields(nil)},
		{name: "empty containers", value: map[string]any{"m": map[string]any{}, "s": []any{}}},
		{name: "mixed", value: map[string]any{"z": 1.25, "a": []any{"x", map[string]any{"b": nil, "a": false}}, "f": core.Fields{"k": "/"}}},
		{name: "deeper than direct encoding", value: deep},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			payload, err := (&core.Encoder{MaxSize: -1}).Encode(core.Fields{"v": tt.value})
			if err != nil {
				t.Fatal(err)
			}
			plain, err := json.Marshal(map[string]any{"v": tt.value})
			if err != nil {
				t.Fatal(err)
			}
			var got, want any
			if err := json.Unmarshal(payload, &got); err != nil {
				t.Fatalf("decode payload %.200s: %v", payload, err)
			}
			if err := json.Unmarshal(plain, &want); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("payload %.200s decodes differently from encoding/json's %.200s", payload, plain)
			}
		})
	}
}

func TestEncodeCyclicMap(t *testing.T) {
	t.Parallel()

	cyclic := map[string]any{}
	cyclic["self"] = cyclic
	_, err := (&core.Encoder{}).Encode(core.Fields{"loop": cyclic})
	if err == nil {
		t.Fatal("Encode of a map that contains itself returned no error")
	}
	if !strings.Contains(err.Error(), `"loop"`) {
		t.Errorf("error %q does not name the field", err)
	}
}
