package capture

import (
	"errors"
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
)

func TestSlotInUse(t *testing.T) {
	inUse := &pgconn.PgError{Code: "55006", Message: `replication slot "bemi" is active for PID 42`}

	if !slotInUse(fmt.Errorf("start replication: %w", inUse)) {
		t.Error("wrapped object_in_use error not recognized")
	}
	if slotInUse(&pgconn.PgError{Code: "42704"}) {
		t.Error("undefined_object taken for a slot in use")
	}
	if slotInUse(errors.New("connection reset")) {
		t.Error("plain error taken for a slot in use")
	}
}
