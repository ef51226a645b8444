package core_test

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/bemi-go/bemi/core"
)

func TestWithMerge(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name  string
		calls []core.Fields
		want  core.Fields
	}{
		{
			name:  "one call",
			calls: []core.Fields{{"userId": 1}},
			want:  core.Fields{"userId": 1},
		},
		{
			name:  "later call adds keys",
			calls: []core.Fields{{"userId": 1}, {"endpoint": "/todo"}},
			want:  core.Fields{"userId": 1, "endpoint": "/todo"},
		},
		{
			name:  "later call overrides key",
			calls: []core.Fields{{"userId": 1, "endpoint": "/a"}, {"userId": 2}},
			want:  core.Fields{"userId": 2, "endpoint": "/a"},
		},
		{
			name:  "nil value overrides key",
			calls: []core.Fields{{"userId": 1}, {"userId": nil}},
			want:  core.Fields{"userId": nil},
		},
		{
			name:  "nil fields keep earlier",
			calls: []core.Fields{{"userId": 1}, nil},
			want:  core.Fields{"userId": 1},
		},
		{
			name:  "empty fields keep earlier",
			calls: []core.Fields{{"userId": 1}, {}},
			want:  core.Fields{"userId": 1},
		},
		{
			name:  "only nil fields",
			calls: []core.Fields{nil},
			want:  nil,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			ctx := context.Background()
			for _, f := range tt.calls {
				ctx = core.With(ctx, f)
			}
			if got := core.FieldsFrom(ctx); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("FieldsFrom = %#v, want %#v", got, tt.want)
			}
		})
	}
}

func TestWithEmptyReturnsSameContext(t *testing.T) {
	t.Parallel()

	ctx := core.With(context.Background(), core.Fields{"userId": 1})
	if got := core.With(ctx, nil); got != ctx {
		t.Error("With(ctx, nil) returned a new context")
	}
	if got := core.With(ctx, core.Fields{}); got != ctx {
		t.Error("With(ctx, Fields{}) returned a new context")
	}
}

func TestWithDerivedContextsIsolated(t *testing.T) {
	t.Parallel()

	parent := core.With(context.Background(), core.Fields{"userId": 1})
	a := core.With(parent, core.Fields{"endpoint": "/a"})
	b := core.With(parent, core.Fields{"endpoint": "/b", "userId": 2})

	if got, want := core.FieldsFrom(parent), (core.Fields{"userId": 1}); !reflect.DeepEqual(got, want) {
		t.Errorf("parent = %v, want %v", got, want)
	}
	if got, want := core.FieldsFrom(a), (core.Fields{"userId": 1, "endpoint": "/a"}); !reflect.DeepEqual(got, want) {
		t.Errorf("a = %v, want %v", got, want)
	}
	if got, want := core.FieldsFrom(b), (core.Fields{"userId": 2, "endpoint": "/b"}); !reflect.DeepEqual(got, want) {
		t.Errorf("b = %v, want %v", got, want)
	}
}

func TestWithCopiesInput(t *testing.T) {
	t.Parallel()

	params := map[string]any{"id": "1", "tags": []any{"a"}}
	fields := core.Fields{
		"userId":  1,
		"params":  params,
		"names":   []string{"x"},
		"headers": map[string]string{"h": "v"},
		"raw":     json.RawMessage(`{"a":1}`),
	}
	ctx := core.With(context.Background(), fields)
	before, _, err := core.Payload(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	before = append([]byte(nil), before...)

	fields["userId"] = 2
	fields["extra"] = true
	params["id"] = "changed"
	params["tags"].([]any)[0] = "changed"
	fields["names"].([]string)[0] = "changed"
	fields["headers"].(map[string]string)["h"] = "changed"
	fields["raw"].(json.RawMessage)[5] = '2'

	ctx2 := core.With(context.Background(), core.FieldsFrom(ctx))
	after, _, err := core.Payload(ctx2, nil)
	if err != nil {
		t.Fatal(err)
	}
	if string(after) != string(before) {
		t.Errorf("changing the input after With changed the context:\nbefore %s\nafter  %s", before, after)
	}
}

func TestFieldsFromReturnsCopy(t *testing.T) {
	t.Parallel()

	ctx := core.With(context.Background(), core.Fields{
		"userId": 1,
		"params": map[string]any{"id": "1"},
	})

	got := core.FieldsFrom(ctx)
	got["userId"] = 2
	got["extra"] = true
	got["params"].(map[string]any)["id"] = "changed"

	want := core.Fields{"userId": 1, "params": map[string]any{"id": "1"}}
	if again := core.FieldsFrom(ctx); !reflect.DeepEqual(again, want) {
		t.Errorf("FieldsFrom after changing its result = %v, want %v", again, want)
	}
}

func TestFieldsFromWithoutFields(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name string
		ctx  context.Context
	}{
		{name: "background", ctx: context.Background()},
		{name: "with nil", ctx: core.With(context.Background(), nil)},
		{name: "replace nil", ctx: core.Replace(core.With(context.Background(), core.Fields{"a": 1}), nil)},
		{name: "replace empty", ctx: core.Replace(context.Background(), core.Fields{})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			if got := core.FieldsFrom(tt.ctx); got != nil {
				t.Errorf("FieldsFrom = %#v, want nil", got)
			}
			p, ok, err := core.Payload(tt.ctx, nil)
			if p != nil || ok || err != nil {
				t.Errorf("Payload = %q, %v, %v, want nil, false, nil", p, ok, err)
			}
		})
	}
}

func TestReplace(t *testing.T) {
	t.Parallel()

	ctx := core.With(context.Background(), core.Fields{"userId": 1, "endpoint": "/a"})
	replaced := core.Replace(ctx, core.Fields{"job": "cleanup"})
	merged := core.With(replaced, core.Fields{"runId": 7})

	if got, want := core.FieldsFrom(replaced), (core.Fields{"job": "cleanup"}); !reflect.DeepEqual(got, want) {
		t.Errorf("replaced = %v, want %v", got, want)
	}
	if got, want := core.FieldsFrom(merged), (core.Fields{"job": "cleanup", "runId": 7}); !reflect.DeepEqual(got, want) {
		t.Errorf("merged after Replace = %v, want %v", got, want)
	}
	if got, want := core.FieldsFrom(ctx), (core.Fields{"userId": 1, "endpoint": "/a"}); !reflect.DeepEqual(got, want) {
		t.Errorf("original after Replace = %v, want %v", got, want)
	}
}

func TestPayloadCachedPerContext(t *testing.T) {
	t.Parallel()

	ctx := core.With(context.Background(), core.Fields{"userId": 1})
	enc := &core.Encoder{}

	first, ok, err := core.Payload(ctx, enc)
	if err != nil || !ok {
		t.Fatalf("Payload = %v, %v", ok, err)
	}
	second, _, _ := core.Payload(ctx, enc)
	if &first[0] != &second[0] {
		t.Error("second Payload call encoded again")
	}

	// Another encoder with the same limit shares the cache.
	third, _, _ := core.Payload(ctx, nil)
	if &first[0] != &third[0] {
		t.Error("Payload with a nil encoder did not reuse the default-limit encoding")
	}

	// A derived context has its own cache.
	derived := core.With(ctx, core.Fields{"endpoint": "/a"})
	p, _, _ := core.Payload(derived, enc)
	if want := `{"endpoint":"\/a","userId":1}`; string(p) != want {
		t.Errorf("derived payload = %s, want %s", p, want)
	}
}

func TestPayloadOtherLimitEncodesAgain(t *testing.T) {
	t.Parallel()

	value := strings.Repeat("x", 40)
	ctx := core.With(context.Background(), core.Fields{"a": value, "b": value})

	full, _, err := core.Payload(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	small, ok, err := core.Payload(ctx, &core.Encoder{MaxSize: 90, Logger: discardLogger()})
	if err != nil || !ok {
		t.Fatalf("Payload with a small limit = %v, %v", ok, err)
	}
	if len(small) > 90 {
		t.Errorf("payload with MaxSize 90 has %d bytes: %s", len(small), small)
	}
	if string(small) == string(full) {
		t.Errorf("payload with MaxSize 90 = %s, the same as with the default limit", small)
	}
}

func TestPayloadError(t *testing.T) {
	t.Parallel()

	ctx := core.With(context.Background(), core.Fields{"callback": func() {}})
	for i := range 2 {
		p, ok, err := core.Payload(ctx, nil)
		if err == nil {
			t.Fatalf("call %d: Payload of a func value returned no error", i)
		}
		if p != nil || ok {
			t.Errorf("call %d: Payload = %q, %v with error, want nil, false", i, p, ok)
		}
	}
}

func TestContextConcurrentUse(t *testing.T) {
	t.Parallel()

	logs := &recordHandler{}
	enc := &core.Encoder{MaxSize: 200, Logger: newLogger(logs)}
	parent := core.With(context.Background(), core.Fields{
		"endpoint": "/todo",
		"params":   map[string]any{"big": string(make([]byte, 300))},
	})

	var wg sync.WaitGroup
	errs := make(chan error, 100)
	for i := range 100 {
		wg.Go(func() {
			ctx := core.With(parent, core.Fields{"worker": i})
			got := core.FieldsFrom(ctx)
			if got["worker"] != i || got["endpoint"] != "/todo" {
				errs <- fmt.Errorf("worker %d sees %v", i, got)
			}
			got["endpoint"] = "changed"

			p, _, err := core.Payload(ctx, enc)
			if err != nil {
				errs <- err
			}
			var decoded map[string]any
			if err := json.Unmarshal(p, &decoded); err != nil {
				errs <- fmt.Errorf("worker %d: payload %s: %w", i, p, err)
			} else if decoded["worker"] != float64(i) {
				errs <- fmt.Errorf("worker %d: payload %s has another worker", i, p)
			}

			if _, _, err := core.Payload(parent, enc); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}

	if got := core.FieldsFrom(parent)["endpoint"]; got != "/todo" {
		t.Errorf("parent endpoint = %v after concurrent use, want /todo", got)
	}
	// One truncation warning per context: 100 derived contexts and the parent.
	if got := logs.count(); got != 101 {
		t.Errorf("%d truncation warnings, want 101 (one per context)", got)
	}
}
