package capture

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
)

func TestChangeColumnIndexes(t *testing.T) {
	t.Parallel()

	indexes := map[string]int{
		"schema": columnSchema, "table": columnTable, "primary_key": columnPrimaryKey,
		"before": columnBefore, "after": columnAfter, "context": columnContext,
		"transaction_id": columnTransactionID, "position": columnPosition, "ordinal": columnOrdinal,
	}
	for name, i := range indexes {
		if changeColumns[i] != name {
			t.Errorf("column index of %s is %d, where changeColumns has %s", name, i, changeColumns[i])
		}
	}
}

func TestRejectedValue(t *testing.T) {
	t.Parallel()

	pgErr := &pgconn.PgError{Code: "22023", Message: "rejected: é"}
	long := strings.Repeat("a", RejectedTextLimit-1) + "é" // é straddles the limit

	tests := []struct {
		name     string
		value    string
		ascii    bool
		wantText string
		wantErr  string
	}{
		{name: "short", value: `{"a":1}`, wantText: `{"a":1}`, wantErr: "22023: rejected: é"},
		{name: "cut before a character", value: long, wantText: strings.Repeat("a", RejectedTextLimit-1), wantErr: "22023: rejected: é"},
		{name: "nul and invalid UTF-8", value: "a\x00b\xffc", wantText: "a\ufffdb\ufffdc", wantErr: "22023: rejected: é"},
		{name: "ascii", value: `{"name":"héllo"}`, ascii: true, wantText: `{"name":"h?llo"}`, wantErr: "22023: rejected: ?"},
	}
	for _, tt := range tests {
		b := rejectedValue("after", pgErr, []byte(tt.value), tt.ascii)
		if strings.Contains(string(b), `\u0000`) || !json.Valid(b) {
			t.Errorf("%s: %q is not valid JSON that jsonb accepts", tt.name, b)

			continue
		}

		var got map[string]struct {
			Column string
			Error  string
			Size   int
			Text   string
		}
		if err := json.Unmarshal(b, &got); err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		r, ok := got[RejectedKey]
		if !ok || len(got) != 1 {
			t.Errorf("%s: %s, want one key %s", tt.name, b, RejectedKey)
		}
		if r.Column != "after" {
			t.Errorf("%s: column %q, want after", tt.name, r.Column)
		}
		if r.Error != tt.wantErr {
			t.Errorf("%s: error %q, want %q", tt.name, r.Error, tt.wantErr)
		}
		if r.Size != len(tt.value) {
			t.Errorf("%s: size %d, want %d", tt.name, r.Size, len(tt.value))
		}
		if r.Text != tt.wantText {
			t.Errorf("%s: text of %d bytes %.40q, want %d bytes %.40q", tt.name, len(r.Text), r.Text, len(tt.wantText), tt.wantText)
		}
	}
}

func TestDataError(t *testing.T) {
	t.Parallel()

	for code, want := range map[string]bool{
		"22003": true, "22P02": true, "54001": true, "54000": true,
		"23505": false, "XX000": false, "08006": false, "42P01": false,
	} {
		if _, got := dataError(&pgconn.PgError{Code: code}); got != want {
			t.Errorf("dataError(SQLSTATE %s) = %v, want %v", code, got, want)
		}
	}
	if _, got := dataError(nil); got {
		t.Error("dataError(nil) = true, want false")
	}
}
