package pgxsql

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"sync"
)

// database/sql creates *sql.Rows and *sql.Row only from a driver's result,
// so an in-process driver creates them. Its only query returns the *Rows
// or the error passed as its argument. database/sql then converts values
// in Scan exactly as it does for any other driver.
var rowsDB struct {
	once sync.Once
	db   *sql.DB
}

func openRowsDB() *sql.DB {
	rowsDB.once.Do(func() {
		rowsDB.db = sql.OpenDB(connector{})
		// Connections hold no resources, and each open *sql.Rows holds
		// one until it is closed.
		rowsDB.db.SetMaxIdleConns(64)
	})

	return rowsDB.db
}

// SQLRows returns r as *sql.Rows. Like every *sql.Rows, it holds a
// connection of the in-process driver until it is closed or read to the
// end.
func (r *Rows) SQLRows() (*sql.Rows, error) {
	// The background context keeps database/sql from watching the
	// request's context for rows that are already in memory.
	return openRowsDB().QueryContext(context.Background(), "", r)
}

// SQLRow returns the first row of r as a *sql.Row. Its Scan returns
// sql.ErrNoRows when r has no rows.
func (r *Rows) SQLRow() *sql.Row {
	return openRowsDB().QueryRowContext(context.Background(), "", r)
}

// ErrRow returns a *sql.Row whose Err and Scan return err unchanged, as a
// *sql.Row of a statement that failed does. err must not be nil.
func ErrRow(err error) *sql.Row {
	return openRowsDB().QueryRowContext(context.Background(), "", rowError{err})
}

// rowError is the argument of a query that fails with err.
type rowError struct{ err error }

var errNoRowsArgument = errors.New("pgxsql: the in-process rows driver was called without rows")

type connector struct{}

func (connector) Connect(context.Context) (driver.Conn, error) { return conn{}, nil }

func (connector) Driver() driver.Driver { return rowsDriver{} }

type rowsDriver struct{}

func (rowsDriver) Open(string) (driver.Conn, error) { return conn{}, nil }

// conn serves QueryContext only. Every other method fails.
type conn struct{}

func (conn) Prepare(string) (driver.Stmt, error) { return nil, errNoRowsArgument }

func (conn) Close() error { return nil }

func (conn) Begin() (driver.Tx, error) { return nil, errNoRowsArgument }

// CheckNamedValue accepts the *Rows and rowError arguments as they are.
func (conn) CheckNamedValue(*driver.NamedValue) error { return nil }

func (conn) QueryContext(_ context.Context, _ string, args []driver.NamedValue) (driver.Rows, error) {
	if len(args) != 1 {
		return nil, errNoRowsArgument
	}
	switch a := args[0].Value.(type) {
	case *Rows:
		return a, nil
	case rowError:
		if a.err != nil {
			return nil, a.err
		}
	}

	return nil, errNoRowsArgument
}
