package core_test

import (
	"encoding/json"
	"slices"
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
