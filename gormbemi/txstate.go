package gormbemi

import (
	"context"
	"database/sql"
	"fmt"
	"runtime"
	"sync"
	"weak"

	"github.com/bemi-go/bemi/core"
	"gorm.io/gorm"
)

// setContextSQL sets the context for the following statements of the
// transaction. The text never changes, so statement caches keep it
// prepared.
const setContextSQL = core.SetContextSQL

// txState is the plugin's record of the setting core.SettingName in one
// transaction. Its mutex is held from set_config to the end of the
// statement's call, so two goroutines that share a transaction cannot run
// a statement under each other's context.
type txState struct {
	mu sync.Mutex

	// known is false when the setting may differ from value: after a failed
	// set_config, after ROLLBACK TO SAVEPOINT, and in transactions the
	// plugin cannot follow.
	known bool
	value string
}

// apply makes the setting equal payload ("" for a statement without
// context) before a write. It sends set_config only when the value
// changes, which keeps the reset rule: a write without context after one
// with context clears the setting, so the trigger emits the reset message.
func (s *txState) apply(ctx context.Context, pool gorm.ConnPool, payload []byte) error {
	if s.known && s.value == string(payload) {
		return nil
	}

	if _, err := pool.ExecContext(ctx, setContextSQL, string(payload)); err != nil {
		s.known = false

		return fmt.Errorf("gormbemi: set %s: %w", core.SettingName, err)
	}
	s.known, s.value = true, string(payload)

	return nil
}

// forget marks the setting unknown, so the next write sets it.
func (s *txState) forget() {
	s.mu.Lock()
	s.known = false
	s.mu.Unlock()
}

// txRegistry holds the txState of every *sql.Tx the plugin has written
// through. An entry goes away when its transaction is garbage collected, so
// transactions that the application commits without GORM's callbacks
// (db.Transaction, db.Begin and Commit) leave nothing behind.
type txRegistry struct {
	states sync.Map // weak.Pointer[sql.Tx] -> *txState
}

// state returns the txState of the transaction pool. A transaction type the
// plugin does not know gets a fresh, unknown state for every statement, so
// every write in it sends set_config.
func (r *txRegistry) state(pool gorm.ConnPool) *txState {
	switch tx := pool.(type) {
	case *connTx:
		return &tx.state
	case *sql.Tx:
		return r.sqlTx(tx)
	case *gorm.PreparedStmtTX:
		if inner, ok := tx.Tx.(*sql.Tx); ok {
			return r.sqlTx(inner)
		}
	}

	return &txState{}
}

func (r *txRegistry) sqlTx(tx *sql.Tx) *txState {
	key := weak.Make(tx)
	if s, ok := r.states.Load(key); ok {
		return s.(*txState)
	}

	// The plugin has not set anything in this transaction yet, so the
	// setting is empty.
	s, loaded := r.states.LoadOrStore(key, &txState{known: true})
	if !loaded {
		runtime.AddCleanup(tx, func(k weak.Pointer[sql.Tx]) { r.states.Delete(k) }, key)
	}

	return s.(*txState)
}
