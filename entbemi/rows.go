package entbemi

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"

	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
)

// bufferedRows is the result of a statement that returned rows, read into
// memory as database/sql driver values. It implements driver.Rows.
type bufferedRows struct {
	columns   []string
	typeNames []string
	values    [][]driver.Value
	next      int
}

// readRows reads all rows and closes them. The values match those of the pgx
// stdlib driver. The types that stdlib receives in binary format (bool,
// bytea, int2/4/8, float4/8, oid, date, timestamp, timestamptz) and json,
// jsonb and xml keep the Go type that stdlib gives them. Every other type
// becomes its PostgreSQL text form as a string.
func readRows(rows pgx.Rows, m *pgtype.Map) (*bufferedRows, error) {
	defer rows.Close()

	fields := rows.FieldDescriptions()
	buf := &bufferedRows{
		columns:   make([]string, len(fields)),
		typeNames: make([]string, len(fields)),
	}
	for i, fd := range fields {
		buf.columns[i] = fd.Name
		buf.typeNames[i] = typeName(m, fd.DataTypeOID)
	}

	for rows.Next() {
		raw := rows.RawValues()
		row := make([]driver.Value, len(raw))
		for i, src := range raw {
			v, err := sqlValue(m, fields[i], src)
			if err != nil {
				return nil, fmt.Errorf("entbemi: convert column %q: %w", fields[i].Name, err)
			}
			row[i] = v
		}
		buf.values = append(buf.values, row)
	}

	return buf, rows.Err()
}

// sqlValue converts one column value to the driver.Value that the pgx stdlib
// driver would give database/sql.
func sqlValue(m *pgtype.Map, fd pgconn.FieldDescription, src []byte) (driver.Value, error) {
	if src == nil {
		return nil, nil
	}

	t, ok := m.TypeForOID(fd.DataTypeOID)
	if !ok {
		// pgx receives types it does not know in text format.
		return string(src), nil
	}

	if fd.Format == pgtype.TextFormatCode || nativeSQLType(fd.DataTypeOID) {
		return t.Codec.DecodeDatabaseSQLValue(m, fd.DataTypeOID, fd.Format, src)
	}

	// A pgx batch receives every type with a binary codec in binary
	// format, but stdlib requests text for these types, so convert the
	// value to its text form.
	v, err := t.Codec.DecodeValue(m, fd.DataTypeOID, fd.Format, src)
	if err != nil {
		return nil, err
	}
	text, err := m.Encode(fd.DataTypeOID, pgtype.TextFormatCode, v, nil)
	if err != nil {
		return nil, err
	}

	return string(text), nil
}

// nativeSQLType reports whether DecodeDatabaseSQLValue gives the same value
// for the type in either format, as the Go type that stdlib uses.
func nativeSQLType(oid uint32) bool {
	switch oid {
	case pgtype.BoolOID, pgtype.ByteaOID, pgtype.CIDOID, pgtype.DateOID,
		pgtype.Float4OID, pgtype.Float8OID, pgtype.Int2OID, pgtype.Int4OID,
		pgtype.Int8OID, pgtype.OIDOID, pgtype.TimestampOID, pgtype.TimestamptzOID,
		pgtype.XIDOID, pgtype.JSONOID, pgtype.JSONBOID, pgtype.XMLOID,
		pgtype.TextOID, pgtype.VarcharOID, pgtype.BPCharOID, pgtype.NameOID,
		pgtype.UUIDOID, pgtype.NumericOID:
		return true
	default:
		return false
	}
}

// typeName returns the column type name as stdlib reports it: upper case,
// or the OID when the type is unknown.
func typeName(m *pgtype.Map, oid uint32) string {
	if t, ok := m.TypeForOID(oid); ok {
		return strings.ToUpper(t.Name)
	}

	return strconv.FormatUint(uint64(oid), 10)
}

func (r *bufferedRows) Columns() []string { return r.columns }

func (r *bufferedRows) Close() error { return nil }

func (r *bufferedRows) Next(dest []driver.Value) error {
	if r.next >= len(r.values) {
		return io.EOF
	}
	copy(dest, r.values[r.next])
	r.values[r.next] = nil
	r.next++

	return nil
}

// ColumnTypeDatabaseTypeName implements driver.RowsColumnTypeDatabaseTypeName.
func (r *bufferedRows) ColumnTypeDatabaseTypeName(i int) string { return r.typeNames[i] }

// rowsDB is a *sql.DB on an in-process driver that serves two purposes.
// It turns bufferedRows into *sql.Rows: database/sql creates *sql.Rows only
// from a driver, so the driver's only query returns the bufferedRows passed
// as its argument, and Scan then converts values exactly as it does for any
// other driver. And it finds the session variables that entsql.WithVar put
// into a context, which ent keeps under an unexported key: an ent SQL driver
// on this *sql.DB runs its SET and RESET statements here, where they are
// recorded instead of run.
type rowsDB struct {
	once sync.Once
	db   *sql.DB
	ent  *entsql.Driver
}

func (r *rowsDB) init() {
	r.once.Do(func() {
		r.db = sql.OpenDB(rowsConnector{})
		// Connections hold no resources, and each open *sql.Rows holds
		// one until it is closed.
		r.db.SetMaxIdleConns(64)
		r.ent = entsql.OpenDB(dialect.Postgres, r.db)
	})
}

func (r *rowsDB) open(buf *bufferedRows) (*sql.Rows, error) {
	r.init()

	// The background context keeps database/sql from watching the
	// request's context for rows that are already in memory.
	return r.db.QueryContext(context.Background(), "", buf)
}

// sessionVars holds the statements that ent's SQL driver runs before and
// after a statement for the variables of entsql.WithVar.
type sessionVars struct {
	sets   []string
	resets []string
}

// sessionVars returns the session variable statements for ctx, or nil when
// ctx has none.
func (r *rowsDB) sessionVars(ctx context.Context) (*sessionVars, error) {
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

var errNoBufferedRows = errors.New("entbemi: internal rows driver called without rows")

type rowsConnector struct{}

func (rowsConnector) Connect(context.Context) (driver.Conn, error) { return &rowsConn{}, nil }

func (rowsConnector) Driver() driver.Driver { return rowsDriver{} }

type rowsDriver struct{}

func (rowsDriver) Open(string) (driver.Conn, error) { return &rowsConn{}, nil }

// rowsConn records the SET statements that arrive before a sessionVars
// argument and the RESET statements after it, until the connection returns
// to the pool.
type rowsConn struct {
	pending []string
	vars    *sessionVars
}

func (*rowsConn) Prepare(string) (driver.Stmt, error) { return nil, errNoBufferedRows }

func (*rowsConn) Close() error { return nil }

func (*rowsConn) Begin() (driver.Tx, error) { return nil, errNoBufferedRows }

// CheckNamedValue accepts the *bufferedRows and *sessionVars arguments as
// they are.
func (*rowsConn) CheckNamedValue(*driver.NamedValue) error { return nil }

// ResetSession implements driver.SessionResetter.
func (c *rowsConn) ResetSession(context.Context) error {
	c.pending, c.vars = nil, nil

	return nil
}

func (c *rowsConn) ExecContext(_ context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	if len(args) == 1 {
		if vars, ok := args[0].Value.(*sessionVars); ok {
			vars.sets = c.pending
			c.pending, c.vars = nil, vars

			return driver.RowsAffected(0), nil
		}
	}
	if len(args) != 0 {
		return nil, errNoBufferedRows
	}
	if c.vars != nil {
		c.vars.resets = append(c.vars.resets, query)
	} else {
		c.pending = append(c.pending, query)
	}

	return driver.RowsAffected(0), nil
}

func (*rowsConn) QueryContext(_ context.Context, _ string, args []driver.NamedValue) (driver.Rows, error) {
	if len(args) != 1 {
		return nil, errNoBufferedRows
	}
	buf, ok := args[0].Value.(*bufferedRows)
	if !ok {
		return nil, errNoBufferedRows
	}

	return buf, nil
}
