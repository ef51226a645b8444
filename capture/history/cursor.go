package history

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"time"

	"github.com/bemi-go/bemi/core"
)

// cursor is the sort key of one change. Cursors are opaque to callers: the
// encoding may change between versions.
type cursor struct {
	Micros   int64  `json:"t"`
	Position int64  `json:"p"`
	Ordinal  int32  `json:"o"`
	Database string `json:"d"`
}

func (c cursor) committedAt() time.Time { return time.UnixMicro(c.Micros).UTC() }

// Cursor returns the cursor that names c, for Query.After: a query with it
// returns the changes that follow c in the query's order.
func Cursor(c core.Change) string {
	b, _ := json.Marshal(cursor{ // a struct of numbers and a string always encodes
		Micros:   c.CommittedAt.UnixMicro(),
		Position: c.Position,
		Ordinal:  c.Ordinal,
		Database: c.Database,
	})

	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeCursor(s string) (cursor, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return cursor{}, fmt.Errorf("invalid cursor %q: pass Page.Next unchanged: %w", s, err)
	}

	var c cursor
	if err := json.Unmarshal(b, &c); err != nil {
		return cursor{}, fmt.Errorf("invalid cursor %q: pass Page.Next unchanged: %w", s, err)
	}

	return c, nil
}
