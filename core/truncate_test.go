package core_test

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/bemi-go/bemi/core"
)

func TestEncodeTruncationRule(t *testing.T) {
	t.Parallel()

	big := strings.Repeat("x", 2000)
	fields := core.Fields{"a": 1, "big": big, "m": "mmmm", "z": "zzzzzzzzzz"}
	full := `{"a":1,"big":"` + big + `","m":"mmmm","z":"zzzzzzzzzz"}`
	size := fmt.Sprint(len(full))

	dropBig := `{"_bemiTruncated":{"originalSize":` + size + `,"droppedKeys":["big"]},"a":1,"m":"mmmm","z":"zzzzzzzzzz"}`
	dropZ := `{"_bemiTruncated":{"originalSize":` + size + `,"droppedKeys":["big","z"]},"a":1,"m":"mmmm"}`
	dropM := `{"_bemiTruncated":{"originalSize":` + size + `,"droppedKeys":["big","m","z"]},"a":1}`
	dropAll := `{"_bemiTruncated":{"originalSize":` + size + `,"droppedKeys":["a","big","m","z"]}}`
	bare := `{"_bemiTruncated":{"originalSize":` + size + `}}`

	tests := []struct {
		name        string
		fields      core.Fields
		limit       int
		want        string
		wantDropped []string
	}{
		{name: "one byte under", fields: fields, limit: len(full) - 1, want: dropBig, wantDropped: []string{"big"}},
		{name: "big value dropped first", fields: fields, limit: len(dropBig), want: dropBig, wantDropped: []string{"big"}},
		{name: "last key dropped next", fields: fields, limit: len(dropBig) - 1, want: dropZ, wantDropped: []string{"big", "z"}},
		{name: "two keys dropped", fields: fields, limit: len(dropZ) - 1, want: dropM, wantDropped: []string{"big", "m", "z"}},
		{name: "all keys dropped", fields: fields, limit: len(dropM) - 1, want: dropAll, wantDropped: []string{"a", "big", "m", "z"}},
		{name: "bare marker", fields: fields, limit: len(dropAll) - 1, want: bare, wantDropped: []string{"a", "big", "m", "z"}},
		{name: "tiny limit 10", fields: fields, limit: 10, want: bare, wantDropped: []string{"a", "big", "m", "z"}},
		{name: "tiny limit 1", fields: fields, limit: 1, want: bare, wantDropped: []string{"a", "big", "m", "z"}},
		{
			name:        "marker sorted among keys",
			fields:      core.Fields{"B": 1, "a": 2, "c": big},
			limit:       100,
			want:        fmt.Sprintf(`{"B":1,"_bemiTruncated":{"originalSize":%d,"droppedKeys":["c"]},"a":2}`, encodedSize(t, core.Fields{"B": 1, "a": 2, "c": big})),
			wantDropped: []string{"c"},
		},
		{
			name:        "field named like marker dropped",
			fields:      core.Fields{"_bemiTruncated": "mine", "a": 1, "b": big},
			limit:       1000,
			want:        fmt.Sprintf(`{"_bemiTruncated":{"originalSize":%d,"droppedKeys":["_bemiTruncated","b"]},"a":1}`, encodedSize(t, core.Fields{"_bemiTruncated": "mine", "a": 1, "b": big})),
			wantDropped: []string{"_bemiTruncated", "b"},
		},
		{
			name:        "dropped keys in safe form",
			fields:      core.Fields{"<k>/*": big},
			limit:       100,
			want:        fmt.Sprintf(`{"_bemiTruncated":{"originalSize":%d,"droppedKeys":["<k>\/\u002a"]}}`, encodedSize(t, core.Fields{"<k>/*": big})),
			wantDropped: []string{"<k>/*"},
		},
		{
			name:        "value of exactly 1 KiB kept",
			fields:      core.Fields{"a": strings.Repeat("y", 1022), "b": big},
			limit:       1100,
			want:        fmt.Sprintf(`{"_bemiTruncated":{"originalSize":%d,"droppedKeys":["b"]},"a":"%s"}`, encodedSize(t, core.Fields{"a": strings.Repeat("y", 1022), "b": big}), strings.Repeat("y", 1022)),
			wantDropped: []string{"b"},
		},
		{
			name:        "value over 1 KiB dropped",
			fields:      core.Fields{"a": strings.Repeat("y", 1023), "b": 1},
			limit:       1000,
			want:        fmt.Sprintf(`{"_bemiTruncated":{"originalSize":%d,"droppedKeys":["a"]},"b":1}`, encodedSize(t, core.Fields{"a": strings.Repeat("y", 1023), "b": 1})),
			wantDropped: []string{"a"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			logs := &recordHandler{}
			got, err := (&core.Encoder{MaxSize: tt.limit, Logger: newLogger(logs)}).Encode(tt.fields)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Errorf("Encode =\n%.300s\nwant\n%.300s", got, tt.want)
			}
			if !json.Valid(got) {
				t.Errorf("Encode = %.300s, not valid JSON", got)
			}
			if tt.want != bare && len(got) > tt.limit {
				t.Errorf("payload has %d bytes, over the limit %d", len(got), tt.limit)
			}

			records := logs.all()
			if len(records) != 1 {
				t.Fatalf("%d log records, want 1", len(records))
			}
			r := records[0]
			if r.Level != slog.LevelWarn {
				t.Errorf("log level = %v, want WARN", r.Level)
			}
			a := attrs(r)
			if got := a["limit"].Int64(); got != int64(tt.limit) {
				t.Errorf("logged limit = %d, want %d", got, tt.limit)
			}
			if got := a["droppedCount"].Int64(); got != int64(len(tt.wantDropped)) {
				t.Errorf("logged droppedCount = %d, want %d", got, len(tt.wantDropped))
			}
			if got := a["droppedKeys"].Any(); !reflect.DeepEqual(got, tt.wantDropped) {
				t.Errorf("logged droppedKeys = %v, want %v", got, tt.wantDropped)
			}
			var decoded map[string]map[string]any
			if err := json.Unmarshal(got, &decoded); err == nil {
				if want := a["size"].Int64(); decoded[core.TruncatedKey]["originalSize"] != float64(want) {
					t.Errorf("originalSize = %v, logged size = %d", decoded[core.TruncatedKey]["originalSize"], want)
				}
			}
		})
	}
}

// encodedSize returns the size of fields encoded without a limit.
func encodedSize(t *testing.T, fields core.Fields) int {
	t.Helper()

	b, err := (&core.Encoder{MaxSize: -1}).Encode(fields)
	if err != nil {
		t.Fatal(err)
	}

	return len(b)
}

func TestEncodeTruncationLogsAtMost20Keys(t *testing.T) {
	t.Parallel()

	fields := core.Fields{}
	for i := range 50 {
		fields[fmt.Sprintf("k%02d", i)] = strings.Repeat("v", 100)
	}
	logs := &recordHandler{}
	if _, err := (&core.Encoder{MaxSize: 50, Logger: newLogger(logs)}).Encode(fields); err != nil {
		t.Fatal(err)
	}

	records := logs.all()
	if len(records) != 1 {
		t.Fatalf("%d log records, want 1", len(records))
	}
	a := attrs(records[0])
	if got := a["droppedCount"].Int64(); got != 50 {
		t.Errorf("droppedCount = %d, want 50", got)
	}
	keys, _ := a["droppedKeys"].Any().([]string)
	if len(keys) != 20 || keys[0] != "k00" || keys[19] != "k19" {
		t.Errorf("droppedKeys = %v, want k00 to k19", keys)
	}
	for _, v := range a {
		if strings.Contains(v.String(), "vvvv") {
			t.Errorf("the warning contains a value: %v", v)
		}
	}
}

// TestEncodeTruncationSweep checks the rule at every limit up to the full
// size: the payload fits unless it is the bare marker, kept entries are
// unchanged and form a prefix of the small entries in key order, and no
// longer prefix would have fit.
func TestEncodeTruncationSweep(t *testing.T) {
	t.Parallel()

	fields := core.Fields{"big": strings.Repeat("b", 1500), "huge": strings.Repeat("h", 3000)}
	var small []string
	for i := range 12 {
		k := fmt.Sprintf("key%02d/", i)
		fields[k] = strings.Repeat("*", i*7)
		small = append(small, k)
	}
	full, err := (&core.Encoder{MaxSize: -1}).Encode(fields)
	if err != nil {
		t.Fatal(err)
	}
	var original map[string]any
	if err := json.Unmarshal(full, &original); err != nil {
		t.Fatal(err)
	}

	type result struct {
		limit   int
		payload []byte
		kept    int // -1 for the bare marker
	}
	var results []result
	shortestWithKept := map[int]int{}
	for limit := 1; limit <= len(full)+5; limit++ {
		logs := &recordHandler{}
		got, err := (&core.Encoder{MaxSize: limit, Logger: newLogger(logs)}).Encode(fields)
		if err != nil {
			t.Fatal(err)
		}
		wantLogs := 0
		if limit < len(full) {
			wantLogs = 1
		}
		if logs.count() != wantLogs {
			t.Fatalf("limit %d: %d log records, want %d", limit, logs.count(), wantLogs)
		}
		if limit >= len(full) {
			if string(got) != string(full) {
				t.Fatalf("limit %d: payload changed although it fits", limit)
			}

			continue
		}

		var decoded map[string]any
		if err := json.Unmarshal(got, &decoded); err != nil {
			t.Fatalf("limit %d: payload %s: %v", limit, got, err)
		}
		marker, _ := decoded[core.TruncatedKey].(map[string]any)
		if marker["originalSize"] != float64(len(full)) {
			t.Fatalf("limit %d: marker %v lacks originalSize %d", limit, marker, len(full))
		}
		delete(decoded, core.TruncatedKey)

		r := result{limit: limit, payload: got, kept: len(decoded)}
		if _, ok := marker["droppedKeys"]; !ok {
			r.kept = -1
			if len(decoded) != 0 {
				t.Fatalf("limit %d: bare marker with entries %v", limit, decoded)
			}
		} else {
			if len(got) > limit {
				t.Fatalf("limit %d: payload has %d bytes", limit, len(got))
			}
			var dropped []string
			for _, k := range marker["droppedKeys"].([]any) {
				dropped = append(dropped, k.(string))
			}
			want := append(slices.Clone(small[len(decoded):]), "big", "huge")
			slices.Sort(want)
			if !slices.Equal(dropped, want) {
				t.Fatalf("limit %d: droppedKeys = %v, want %v", limit, dropped, want)
			}
		}
		for i, k := range small[:max(r.kept, 0)] {
			if !reflect.DeepEqual(decoded[k], original[k]) {
				t.Fatalf("limit %d: kept entry %d %q = %v, want %v", limit, i, k, decoded[k], original[k])
			}
		}
		if n, ok := shortestWithKept[r.kept]; !ok || len(got) < n {
			shortestWithKept[r.kept] = len(got)
		}
		results = append(results, r)
	}

	for _, r := range results {
		if n, ok := shortestWithKept[r.kept+1]; ok && n <= r.limit {
			t.Errorf("limit %d: kept %d entries, but a payload with %d entries has %d bytes",
				r.limit, r.kept, r.kept+1, n)
		}
	}
	if _, ok := shortestWithKept[-1]; !ok {
		t.Error("no limit gave the bare marker")
	}
	if _, ok := shortestWithKept[len(small)]; !ok {
		t.Error("no limit kept every small entry")
	}
}

// TestEncodeDefaultLogger replaces slog's default logger, so it must not run
// in parallel with other tests.
func TestEncodeDefaultLogger(t *testing.T) {
	logs := &recordHandler{}
	previous := slog.Default()
	slog.SetDefault(newLogger(logs))
	t.Cleanup(func() { slog.SetDefault(previous) })

	if _, err := (&core.Encoder{MaxSize: 10}).Encode(core.Fields{"a": strings.Repeat("x", 20)}); err != nil {
		t.Fatal(err)
	}
	if logs.count() != 1 {
		t.Errorf("%d records on slog.Default(), want 1", logs.count())
	}
}
