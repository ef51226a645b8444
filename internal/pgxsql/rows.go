// Package pgxsql turns rows that pgx read outside database/sql, such as the
// result of a statement in a pgx batch, into *sql.Rows and *sql.Row. They
// carry the driver values and column types that database/sql returns over
// the pgx stdlib driver (github.com/jackc/pgx/v5/stdlib). Bemi's
// database/sql adapters use it to send set_config and a write that returns
// rows in one batch and still hand the caller database/sql types.
package pgxsql

import (
	"database/sql/driver"
	"fmt"
	"io"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
)

// Rows is the complete result of a statement, read into memory as the
// driver values that the pgx stdlib driver gives database/sql. It
// implements driver.Rows and the column type methods of the stdlib
// driver's rows. Turn it into database/sql types with SQLRows or SQLRow.
type Rows struct {
	fields    []pgconn.FieldDescription
	columns   []string
	typeNames []string
	values    [][]driver.Value
	next      int
}

// ReadRows reads all rows and closes them. m is the type map of the
// connection that read them. A statement error, such as a
// *pgconn.PgError, is returned as pgx reports it.
//
// Each value is converted as the rows of the pgx stdlib driver (v5.13.0)
// convert it. bool, bytea, int2/4/8, float4/8, oid, xid, cid, date,
// timestamp, timestamptz, json, jsonb and xml keep the Go type that
// stdlib gives them. Every other type becomes a string. So the values
// are stdlib's for every column that arrives in the format that stdlib
// requests (see StdlibResultFormats), and for the columns that Exact
// accepts. A column that arrives in binary format where stdlib requests
// text, as in a pgx batch, becomes the text form that pgx encodes.
//
// NOTE: that pgx text form differs from PostgreSQL's for some values of
// types that Exact rejects, for example "12:00:00.500000" for the time
// 12:00:00.5, a two-dimensional array flattened to one dimension, and
// interval, timestamptz and float elements of arrays. stdlib also returns
// the rows before an error that the server reports after the first row,
// and the error from rows.Next, where ReadRows returns the error alone.
func ReadRows(rows pgx.Rows, m *pgtype.Map) (*Rows, error) {
	defer rows.Close()

	// The field descriptions belong to the connection's result reader,
	// which reuses them for the next statement.
	r := newRows(slices.Clone(rows.FieldDescriptions()), m)
	if err := r.read(m, rows.Next, rows.RawValues); err != nil {
		return nil, err
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}

	return r, nil
}

// newRows returns empty Rows with the columns of fields.
func newRows(fields []pgconn.FieldDescription, m *pgtype.Map) *Rows {
	r := &Rows{
		fields:    fields,
		columns:   make([]string, len(fields)),
		typeNames: make([]string, len(fields)),
	}
	for i, fd := range fields {
		r.columns[i] = fd.Name
		r.typeNames[i] = typeName(m, fd.DataTypeOID)
	}

	return r
}

// read appends the rows that next and values return to r, each value
// converted by stdlibValueFunc.
func (r *Rows) read(m *pgtype.Map, next func() bool, values func() [][]byte) error {
	convert := make([]valueFunc, len(r.fields))
	for i, fd := range r.fields {
		convert[i] = stdlibValueFunc(m, fd)
	}

	for next() {
		raw := values()
		row := make([]driver.Value, len(raw))
		for i, src := range raw {
			if src == nil {
				continue
			}
			v, err := convert[i](src)
			if err != nil {
				return fmt.Errorf("pgxsql: convert column %q: %w", r.fields[i].Name, err)
			}
			row[i] = v
		}
		r.values = append(r.values, row)
	}

	return nil
}

// sqlValue converts one column value to the driver.Value that the pgx stdlib
// driver would give database/sql, for the types that stdlib scans into a
// string. For a type that pgx received in binary format, that is the text
// form that pgx encodes.
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

// Exact reports whether ReadRows gives exactly the values of the pgx
// stdlib driver for every column of fields, whatever the values and the
// session's settings. It accepts the types of nativeSQLType and the types
// that pgx receives in text format, such as enums and other types that
// pgx does not know. m is the type map of the connection that reads the
// rows.
func Exact(fields []pgconn.FieldDescription, m *pgtype.Map) bool {
	for _, fd := range fields {
		if !nativeSQLType(fd.DataTypeOID) && m.FormatCodeForOID(fd.DataTypeOID) != pgtype.TextFormatCode {
			return false
		}
	}

	return true
}

// typeName returns the column type name as stdlib reports it: upper case,
// or the OID when the type is unknown.
func typeName(m *pgtype.Map, oid uint32) string {
	if t, ok := m.TypeForOID(oid); ok {
		return strings.ToUpper(t.Name)
	}

	return strconv.FormatUint(uint64(oid), 10)
}

// Fields returns the result columns as the server described them.
func (r *Rows) Fields() []pgconn.FieldDescription { return r.fields }

// Columns implements driver.Rows.
func (r *Rows) Columns() []string { return r.columns }

// Close implements driver.Rows. The rows hold no resources.
func (r *Rows) Close() error { return nil }

// Next implements driver.Rows. It hands each row out once.
func (r *Rows) Next(dest []driver.Value) error {
	if r.next >= len(r.values) {
		return io.EOF
	}
	copy(dest, r.values[r.next])
	r.values[r.next] = nil
	r.next++

	return nil
}

// The column type methods below report what the stdlib driver's rows
// (v5.13.0) report for the same column.

// varlenaHeader is the 4-byte header that PostgreSQL counts in the type
// modifier of varchar, bpchar and numeric.
const varlenaHeader = 4

// ColumnTypeDatabaseTypeName implements driver.RowsColumnTypeDatabaseTypeName.
func (r *Rows) ColumnTypeDatabaseTypeName(i int) string { return r.typeNames[i] }

// ColumnTypeLength implements driver.RowsColumnTypeLength: the declared
// length of varchar, char and varbit columns, and math.MaxInt64 for text,
// bytea and undeclared lengths.
func (r *Rows) ColumnTypeLength(i int) (int64, bool) {
	fd := r.fields[i]
	switch fd.DataTypeOID {
	case pgtype.TextOID, pgtype.ByteaOID:
		return math.MaxInt64, true
	case pgtype.VarcharOID, pgtype.BPCharOID, pgtype.VarbitOID:
		if fd.TypeModifier < 0 {
			return math.MaxInt64, true
		}
		if fd.DataTypeOID == pgtype.VarbitOID {
			return int64(fd.TypeModifier), true
		}

		return int64(fd.TypeModifier - varlenaHeader), true
	}

	return 0, false
}

// ColumnTypePrecisionScale implements
// driver.RowsColumnTypePrecisionScale: precision and scale of a numeric
// with a declared precision, and precision 0 with the fractional second
// digits as scale for the time types (6 when not declared).
func (r *Rows) ColumnTypePrecisionScale(i int) (precision, scale int64, ok bool) {
	fd := r.fields[i]
	switch fd.DataTypeOID {
	case pgtype.NumericOID:
		if fd.TypeModifier < 0 {
			return 0, 0, false
		}
		// The modifier packs the precision into the high 16 bits and the
		// scale into the low 16 bits.
		mod := fd.TypeModifier - varlenaHeader

		return int64(mod>>16) & 0xffff, int64(mod) & 0xffff, true
	case pgtype.TimestampOID, pgtype.TimestamptzOID, pgtype.TimeOID, pgtype.TimetzOID:
		if fd.TypeModifier < 0 {
			return 0, 6, true
		}

		return 0, int64(fd.TypeModifier), true
	case pgtype.IntervalOID:
		// The low 16 bits are the fractional second digits, all ones when
		// only a field range such as DAY TO SECOND was declared.
		digits := fd.TypeModifier & 0xffff
		if fd.TypeModifier < 0 || digits == 0xffff {
			return 0, 6, true
		}

		return 0, int64(digits), true
	}

	return 0, 0, false
}

// ColumnTypeScanType implements driver.RowsColumnTypeScanType. Every type
// without a Go type of its own scans as a string.
func (r *Rows) ColumnTypeScanType(i int) reflect.Type {
	switch r.fields[i].DataTypeOID {
	case pgtype.BoolOID:
		return reflect.TypeFor[bool]()
	case pgtype.Int2OID:
		return reflect.TypeFor[int16]()
	case pgtype.Int4OID:
		return reflect.TypeFor[int32]()
	case pgtype.Int8OID:
		return reflect.TypeFor[int64]()
	case pgtype.Float4OID:
		return reflect.TypeFor[float32]()
	case pgtype.Float8OID, pgtype.NumericOID:
		return reflect.TypeFor[float64]()
	case pgtype.DateOID, pgtype.TimestampOID, pgtype.TimestamptzOID:
		return reflect.TypeFor[time.Time]()
	case pgtype.ByteaOID:
		return reflect.TypeFor[[]byte]()
	}

	return reflect.TypeFor[string]()
}
