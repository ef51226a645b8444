package convert_test

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/bemi-go/bemi/capture/convert"
)

// FuzzAppendValue checks that any text of a built-in type gives valid JSON
// and at most a *ValueError, never a panic. go test runs the seeds; run
// go test -fuzz=FuzzAppendValue to search further.
//
// jsonb (3802) and jsonb[] (3807) are left out: their text is copied
// unchecked because jsonb_out always prints valid JSON.
func FuzzAppendValue(f *testing.F) {
	seeds := []struct {
		oid  uint32
		text string
	}{
		{16, "t"}, {20, "-9223372036854775808"}, {1700, "1.50"}, {1700, "NaN"}, {701, "1e+30"}, {701, "-0"},
		{25, "a\"b\\c\n\x01é"}, {25, "\xff\xfe"}, {17, `\x0102`}, {17, `a\\\001`}, {22, "1 2"}, {30, "23 25"},
		{114, `{"a": [1e2, "\u0000", "\ud800"]}`}, {114, `[[[[]]]]`}, {1082, "0044-03-15 BC"},
		{1114, "2023-12-11 17:09:09.5"}, {1184, "2023-12-11 17:09:09+05:30 BC"},
		{1007, "[0:1]={1,2}"}, {1007, "{{1,NULL},{3,4}}"}, {1009, `{"a,b","c\"d",NULL,"NULL"}`},
		{1020, `{(3,4),(1,2);(7,8),(5,6)}`}, {199, `{"{\"a\": 1}",NULL}`}, {1185, `{"2023-12-11 17:09:09+00"}`},
		{1007, "{"}, {1009, `{"a`}, {114, `{"a":`}, {1184, "infinity"},
	}
	for _, s := range seeds {
		f.Add(s.oid, []byte(s.text))
	}

	var reg convert.Registry
	f.Fuzz(func(t *testing.T, oid uint32, text []byte) {
		if oid == 3802 || oid == 3807 {
			return
		}

		out, err := reg.AppendValue(nil, oid, text)
		if !json.Valid(out) {
			t.Fatalf("AppendValue(%d, %q) = %q, which is not valid JSON", oid, text, out)
		}
		var valueErr *convert.ValueError
		if err != nil && !errors.As(err, &valueErr) {
			t.Fatalf("AppendValue(%d, %q) error = %v, want nil or a *ValueError", oid, text, err)
		}
	})
}
