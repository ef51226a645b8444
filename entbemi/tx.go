package entbemi

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"sync"

	"entgo.io/ent/dialect"

	"github.com/bemi-go/bemi/core"
)

// Tx is a dialect.Tx whose writes carry their context. Driver.Tx and
// Driver.BeginTx return it; it embeds the wrapped driver's transaction.
//
// With MechanismSetting, Tx keeps track of the value of the setting
// core.SettingName in the transaction. Before a write it sends set_config
// only when the write's context differs from that value, and before a
// write without context it clears a non-empty setting, so the trigger never
// attributes a write to an earlier statement's context. A transaction that
// writes under one context therefore pays one set_config for all its
// statements. After a statement that starts with ROLLBACK (ROLLBACK TO
// SAVEPOINT undoes set_config), the value is unknown and the next write sets
// or clears the setting again.
type Tx struct {
	dialect.Tx

	driver *Driver

	// mu serializes the set_config and the statement that it belongs to.
	mu sync.Mutex
	// setting is the value of core.SettingName in the transaction, valid
	// while known is true.
	setting string
	known   bool
}

// Exec runs a statement that returns no rows in the transaction.
func (t *Tx) Exec(ctx context.Context, query string, args, v any) error {
	t.mu.Lock()
	defer t.mu.Unlock()

	query, err := t.prepare(ctx, query)
	if err != nil {
		return err
	}
	err = t.Tx.Exec(ctx, query, args, v)
	t.forgetAfterRollback(query)

	return err
}

// Query runs a statement that returns rows in the transaction.
func (t *Tx) Query(ctx context.Context, query string, args, v any) error {
	t.mu.Lock()
	defer t.mu.Unlock()

	query, err := t.prepare(ctx, query)
	if err != nil {
		return err
	}

	return t.Tx.Query(ctx, query, args, v)
}

// ExecContext runs a raw statement in the transaction. The wrapped
// transaction must have ExecContext.
func (t *Tx) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	ex, ok := t.Tx.(execContexter)
	if !ok {
		return nil, fmt.Errorf("entbemi: transaction %T has no ExecContext method", t.Tx)
	}

	t.mu.Lock()
	defer t.mu.Unlock()

	query, err := t.prepare(ctx, query)
	if err != nil {
		return nil, err
	}
	res, err := ex.ExecContext(ctx, query, args...)
	t.forgetAfterRollback(query)

	return res, err
}

// QueryContext runs a raw statement that returns rows in the transaction.
// The wrapped transaction must have QueryContext.
func (t *Tx) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	q, ok := t.Tx.(queryContexter)
	if !ok {
		return nil, fmt.Errorf("entbemi: transaction %T has no QueryContext method", t.Tx)
	}

	t.mu.Lock()
	defer t.mu.Unlock()

	query, err := t.prepare(ctx, query)
	if err != nil {
		return nil, err
	}

	return q.QueryContext(ctx, query, args...)
}

// prepare returns the statement text to send and, with MechanismSetting,
// first brings the setting to the statement's context.
func (t *Tx) prepare(ctx context.Context, query string) (string, error) {
	if !t.driver.annotator.AllStatements && !core.IsWrite(query) {
		return query, nil
	}

	payload, ok, err := core.Payload(ctx, t.driver.annotator.Encoder)
	if err != nil {
		return "", fmt.Errorf("entbemi: encode context: %w", err)
	}
	if t.driver.db == nil {
		if !ok {
			return query, nil
		}

		return core.AppendComment(query, payload), nil
	}

	if t.known && t.setting == string(payload) {
		return query, nil
	}

	t.known = false
	if ok {
		err = t.Tx.Exec(ctx, setContextSQL, []any{string(payload)}, nil)
	} else {
		err = t.Tx.Exec(ctx, clearContextSQL, []any{}, nil)
	}
	if err != nil {
		return "", fmt.Errorf("entbemi: set %s: %w", core.SettingName, err)
	}
	t.setting = string(payload)
	t.known = true

	return query, nil
}

// forgetAfterRollback marks the setting unknown after a statement that
// starts with ROLLBACK, such as ROLLBACK TO SAVEPOINT, which may undo an
// earlier set_config.
func (t *Tx) forgetAfterRollback(query string) {
	q := strings.TrimLeft(query, " \t\r\n(")
	if len(q) >= 8 && strings.EqualFold(q[:8], "ROLLBACK") {
		t.known = false
	}
}
