package convert

import (
	"errors"
	"fmt"
)

// ErrTypeChanged is wrapped by a ValueError when a composite value does not
// fit the attributes that Load read for its type, which happens after ALTER
// TYPE or ALTER TABLE changed them. Call Registry.Reload with the column's
// type OID and convert the value again.
var ErrTypeChanged = errors.New("type changed since it was loaded; reload it")

// ValueError reports a value that did not convert by its type. The value was
// still appended, as a JSON string of its text, so the row stays valid JSON;
// the caller decides whether to log or count the error.
//
// The error never contains the value itself, which may be personal data.
type ValueError struct {
	// Column is the name of the column, set by AppendRow.
	Column string

	// TypeOID and Type are the OID and name of the column's type.
	TypeOID uint32
	Type    string

	// Err is the problem with the text.
	Err error
}

// Error returns a message naming the column, the type and the problem.
func (e *ValueError) Error() string {
	if e.Column != "" {
		return fmt.Sprintf("convert: column %q of type %s: %v (kept as a JSON string)", e.Column, e.Type, e.Err)
	}

	return fmt.Sprintf("convert: value of type %s: %v (kept as a JSON string)", e.Type, e.Err)
}

// Unwrap returns Err.
func (e *ValueError) Unwrap() error { return e.Err }
