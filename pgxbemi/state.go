package pgxbemi

import "github.com/jackc/pgx/v5/pgconn"

// stateKey is the key of a connection's settingState in
// pgconn.PgConn.CustomData.
const stateKey = "github.com/bemi-go/bemi/pgxbemi.setting"

// settingState records the value of the transaction-local setting on one
// connection while a transaction is open. It lives in the connection's
// CustomData, so every DB and Tx of this package that runs statements on the
// connection reads and updates the same record. A connection is used by one
// goroutine at a time, so the record needs no lock.
//
// Only the owner, a transaction begun through this package, leaves a value
// set between its statements, because every commit, rollback and savepoint
// rollback of its transaction goes through it. Every other DB or Tx clears
// what it set before its call returns. A ROLLBACK TO SAVEPOINT sent past
// them then restores an empty value at most.
type settingState struct {
	// owner is the transaction that may leave a value set, nil when none.
	owner *Tx

	// known reports whether value is the setting's current value. After a
	// failed statement or a statement that may end the transaction or change
	// settings, the value is unknown until the next set.
	known bool

	// value is the current value; empty means no context.
	value []byte
}

// stateOf returns the record of conn, creating it with an empty value. When
// conn has no CustomData map, it returns a record of its own that starts
// unknown, so the first statement sets the value it needs.
func stateOf(conn *pgconn.PgConn) *settingState {
	data := conn.CustomData()
	if data == nil {
		return &settingState{}
	}
	if s, ok := data[stateKey].(*settingState); ok {
		return s
	}

	s := &settingState{known: true}
	data[stateKey] = s

	return s
}

// reset records an empty value and no owner, the state of a connection
// outside a transaction or at the start of a new one.
func (s *settingState) reset() {
	s.owner = nil
	s.known = true
	s.value = nil
}

// snapshot is a copy of a record's value, taken at a savepoint.
type snapshot struct {
	known bool
	value []byte
}

func (s *settingState) snapshot() snapshot {
	return snapshot{known: s.known, value: s.value}
}

// restore sets the value taken at a savepoint, after ROLLBACK TO SAVEPOINT
// has undone every set_config made since.
func (s *settingState) restore(v snapshot) {
	s.known = v.known
	s.value = v.value
}
