package entbemi

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"sync"

	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"
)

// sessionVarsDB finds the session variables that entsql.WithVar put into a
// context, which ent keeps under an unexported key. An ent SQL driver on an
// in-process database/sql driver runs its SET and RESET statements there,
// where they are recorded instead of run.
type sessionVarsDB struct {
	once sync.Once
	db   *sql.DB
	ent  *entsql.Driver
}

func (r *sessionVarsDB) init() {
	r.once.Do(func() {
		r.db = sql.OpenDB(varsConnector{})
		// Connections hold no resources, so keeping them idle saves
		// opening one for each concurrent lookup.
		r.db.SetMaxIdleConns(64)
		r.ent = entsql.OpenDB(dialect.Postgres, r.db)
	})
}

// sessionVars holds the statements that ent's SQL driver runs before and
// after a statement for the variables of entsql.WithVar.
type sessionVars struct {
	sets   []string
	resets []string
}

// sessionVars returns the session variable statements for ctx, or nil when
// ctx has none.
func (r *sessionVarsDB) sessionVars(ctx context.Context) (*sessionVars, error) {
	r.init()

	vars := &sessionVars{}
	if err := r.ent.Exec(ctx, "", []any{vars}, nil); err != nil {
		return nil, fmt.Errorf("entbemi: read session variables: %w", err)
	}
	if len(vars.sets) == 0 && len(vars.resets) == 0 {
		return nil, nil
	}

	return vars, nil
}

var errNoSessionVars = errors.New("entbemi: internal session variable driver called without a sessionVars argument")

type varsConnector struct{}

func (varsConnector) Connect(context.Context) (driver.Conn, error) { return &varsConn{}, nil }

func (varsConnector) Driver() driver.Driver { return varsDriver{} }

type varsDriver struct{}

func (varsDriver) Open(string) (driver.Conn, error) { return &varsConn{}, nil }

// varsConn records the SET statements that arrive before a sessionVars
// argument and the RESET statements after it, until the connection returns
// to the pool.
type varsConn struct {
	pending []string
	vars    *sessionVars
}

func (*varsConn) Prepare(string) (driver.Stmt, error) { return nil, errNoSessionVars }

func (*varsConn) Close() error { return nil }

func (*varsConn) Begin() (driver.Tx, error) { return nil, errNoSessionVars }

// CheckNamedValue accepts the *sessionVars argument as it is.
func (*varsConn) CheckNamedValue(*driver.NamedValue) error { return nil }

// ResetSession implements driver.SessionResetter.
func (c *varsConn) ResetSession(context.Context) error {
	c.pending, c.vars = nil, nil

	return nil
}

func (c *varsConn) ExecContext(_ context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	if len(args) == 1 {
		if vars, ok := args[0].Value.(*sessionVars); ok {
			vars.sets = c.pending
			c.pending, c.vars = nil, vars

			return driver.RowsAffected(0), nil
		}
	}
	if len(args) != 0 {
		return nil, errNoSessionVars
	}
	if c.vars != nil {
		c.vars.resets = append(c.vars.resets, query)
	} else {
		c.pending = append(c.pending, query)
	}

	return driver.RowsAffected(0), nil
}
