package core

import (
	"encoding/json"
	"testing"
)

func TestInvalidContextCutsLongText(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name    string
		content string
		limit   int
		want    string
	}{
		{name: "fits", content: "abc", limit: 9, want: `{"_bemiInvalidContext":"abc"}`},
		{name: "fits exactly", content: "abcdefghi", limit: 9, want: `{"_bemiInvalidContext":"abcdefghi"}`},
		{name: "ascii cut", content: "abcdefghij", limit: 9, want: `{"_bemiInvalidContext":"abcdefghi","_bemiInvalidContextSize":10}`},
		// é is 2 bytes: the cut falls before it, not inside it.
		{name: "cut before a character", content: "abcdefghé", limit: 9, want: `{"_bemiInvalidContext":"abcdefgh","_bemiInvalidContextSize":10}`},
		// Each invalid byte is stored as U+FFFD, 3 bytes.
		{name: "invalid bytes count 3", content: "ab\xff\xffcdefgh", limit: 9, want: `{"_bemiInvalidContext":"ab\ufffd\ufffdc","_bemiInvalidContextSize":10}`},
		{name: "escapes count 1", content: "\"\"\"\"\"\"\"\"\"x", limit: 9, want: `{"_bemiInvalidContext":"\"\"\"\"\"\"\"\"\"","_bemiInvalidContextSize":10}`},
	}
	for _, tt := range tests {
		got := invalidContextWithin([]byte(tt.content), tt.limit)
		if string(got) != tt.want {
			t.Errorf("%s: invalidContextWithin = %s, want %s", tt.name, got, tt.want)
		}
		if !json.Valid(got) {
			t.Errorf("%s: %s is not valid JSON", tt.name, got)
		}
	}
}
