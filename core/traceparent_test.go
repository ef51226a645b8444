package core

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
)

func TestParseTraceparentValid(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name    string
		value   string
		want    Traceparent
		sampled bool
	}{
		{
			name:    "sampled",
			value:   "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
			want:    Traceparent{TraceID: "4bf92f3577b34da6a3ce929d0e0e4736", ParentID: "00f067aa0ba902b7", Flags: 0x01},
			sampled: true,
		},
		{
			name:  "not sampled",
			value: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00",
			want:  Traceparent{TraceID: "4bf92f3577b34da6a3ce929d0e0e4736", ParentID: "00f067aa0ba902b7", Flags: 0x00},
		},
		{
			name:  "unknown flags kept",
			value: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-fe",
			want:  Traceparent{TraceID: "4bf92f3577b34da6a3ce929d0e0e4736", ParentID: "00f067aa0ba902b7", Flags: 0xfe},
		},
		{
			name:    "surrounding spaces and tabs",
			value:   " \t00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01\t ",
			want:    Traceparent{TraceID: "0af7651916cd43dd8448eb211c80319c", ParentID: "b7ad6b7169203331", Flags: 0x01},
			sampled: true,
		},
		{
			name:  "trace id with one nonzero digit",
			value: "00-00000000000000000000000000000001-0000000000000001-00",
			want:  Traceparent{TraceID: "00000000000000000000000000000001", ParentID: "0000000000000001"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			got, err := ParseTraceparent(tt.value)
			if err != nil {
				t.Fatalf("ParseTraceparent(%q) error: %v", tt.value, err)
			}
			if got != tt.want {
				t.Errorf("ParseTraceparent(%q) = %+v, want %+v", tt.value, got, tt.want)
			}
			if got.Sampled() != tt.sampled {
				t.Errorf("Sampled() = %v, want %v", got.Sampled(), tt.sampled)
			}
		})
	}
}

func TestParseTraceparentInvalid(t *testing.T) {
	t.Parallel()

	const valid = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	tests := []struct {
		name   string
		value  string
		reason string
	}{
		{"empty", "", "length is 0"},
		{"too short", valid[:54], "length is 54"},
		{"too long", valid + "-00", "length is 58"},
		{"version ff", "ff" + valid[2:], `version "ff" is not 00`},
		{"version 01", "01" + valid[2:], `version "01" is not 00`},
		{"version not hex", "0x" + valid[2:], `version "0x" is not 00`},
		{"uppercase trace id", "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01", "trace id is not lowercase hex"},
		{"uppercase parent id", "00-4bf92f3577b34da6a3ce929d0e0e4736-00F067AA0BA902B7-01", "parent id is not lowercase hex"},
		{"uppercase flags", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0A", "flags is not lowercase hex"},
		{"non-hex trace id", "00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01", "trace id is not lowercase hex"},
		{"non-hex flags", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0z", "flags is not lowercase hex"},
		{"zero trace id", "00-00000000000000000000000000000000-00f067aa0ba902b7-01", "trace id is all zeros"},
		{"zero parent id", "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01", "parent id is all zeros"},
		{"underscore separators", "00_4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7_01", "not separated by '-'"},
		{"shifted separator", "00-4bf92f3577b34da6a3ce929d0e0e473-600f067aa0ba902b7-01", "not separated by '-'"},
		{"inner space", "00-4bf92f3577b34da6a3ce929d0e0e4736 00f067aa0ba902b7-01", "not separated by '-'"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			got, err := ParseTraceparent(tt.value)
			if err == nil {
				t.Fatalf("ParseTraceparent(%q) = %+v, want an error", tt.value, got)
			}
			if !errors.Is(err, ErrInvalidTraceparent) {
				t.Errorf("error %v does not wrap ErrInvalidTraceparent", err)
			}
			if !strings.Contains(err.Error(), tt.reason) {
				t.Errorf("error %q does not contain %q", err, tt.reason)
			}
			if got != (Traceparent{}) {
				t.Errorf("ParseTraceparent(%q) returned %+v with its error, want the zero value", tt.value, got)
			}
		})
	}
}

func TestParseTraceparentErrorShortensValue(t *testing.T) {
	t.Parallel()

	_, err := ParseTraceparent(strings.Repeat("a", 10000))
	if err == nil {
		t.Fatal("ParseTraceparent of 10000 bytes returned no error")
	}
	if len(err.Error()) > 200 {
		t.Errorf("error is %d bytes long, want the value shortened: %.120s", len(err.Error()), err)
	}
}

// FuzzParseTraceparent checks that every accepted value is exactly the
// canonical form of what was parsed from it, so no malformed header is
// accepted. Without -fuzz it runs the seeds below as a test.
func FuzzParseTraceparent(f *testing.F) {
	f.Add("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	f.Add("00-00000000000000000000000000000000-00f067aa0ba902b7-01")
	f.Add(" 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-ff ")
	f.Add("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra")
	f.Add("")

	f.Fuzz(func(t *testing.T, value string) {
		tp, err := ParseTraceparent(value)
		if err != nil {
			if !errors.Is(err, ErrInvalidTraceparent) {
				t.Fatalf("error %v does not wrap ErrInvalidTraceparent", err)
			}

			return
		}

		canonical := fmt.Sprintf("00-%s-%s-%02x", tp.TraceID, tp.ParentID, tp.Flags)
		if strings.Trim(value, " \t") != canonical {
			t.Fatalf("ParseTraceparent(%q) accepted a value that is not its canonical form %q", value, canonical)
		}
		if allZeros(tp.TraceID) || allZeros(tp.ParentID) {
			t.Fatalf("ParseTraceparent(%q) accepted an all-zero id: %+v", value, tp)
		}
	})
}

func TestTraceIDFromHeader(t *testing.T) {
	t.Parallel()

	const valid = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	tests := []struct {
		name   string
		values []string
		want   string
		wantOK bool
	}{
		{name: "one valid header", values: []string{valid}, want: "4bf92f3577b34da6a3ce929d0e0e4736", wantOK: true},
		{name: "missing", values: nil},
		{name: "invalid", values: []string{"00-xyz"}},
		{name: "repeated", values: []string{valid, valid}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{}
			for _, v := range tt.values {
				h.Add(TraceparentHeader, v)
			}

			got, ok := TraceIDFromHeader(h)
			if ok != tt.wantOK {
				t.Fatalf("ok = %v, want %v", ok, tt.wantOK)
			}
			if got != tt.want {
				t.Errorf("trace id = %q, want %q", got, tt.want)
			}
		})
	}
}
