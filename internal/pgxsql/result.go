package pgxsql

import (
	"database/sql/driver"
	"slices"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
)

// stdlibBinaryOIDs are the types for which pgx's database/sql driver
// (v5.13.0, stdlib.databaseSQLResultFormats) requests results in binary
// format, in every query exec mode that describes the statement first.
// It requests text for every other type.
var stdlibBinaryOIDs = map[uint32]bool{
	pgtype.BoolOID:        true,
	pgtype.ByteaOID:       true,
	pgtype.CIDOID:         true,
	pgtype.DateOID:        true,
	pgtype.Float4OID:      true,
	pgtype.Float8OID:      true,
	pgtype.Int2OID:        true,
	pgtype.Int4OID:        true,
	pgtype.Int8OID:        true,
	pgtype.OIDOID:         true,
	pgtype.TimestampOID:   true,
	pgtype.TimestamptzOID: true,
	pgtype.XIDOID:         true,
}

// StdlibResultFormats returns the result format codes that pgx's
// database/sql driver requests for columns of the types of fields, in
// query exec modes that describe the statement before they run it (cache
// statement, cache describe and describe exec). In the exec and simple
// protocol modes the driver receives every column in text format instead.
func StdlibResultFormats(fields []pgconn.FieldDescription) []int16 {
	formats := make([]int16, len(fields))
	for i, fd := range fields {
		if stdlibBinaryOIDs[fd.DataTypeOID] {
			formats[i] = pgtype.BinaryFormatCode
		} else {
			formats[i] = pgtype.TextFormatCode
		}
	}

	return formats
}

// ReadResult reads all rows of rr, the result of a statement sent with
// pgconn, and closes it. It converts the values as ReadRows does, so when
// rr was sent with the result formats of the pgx stdlib driver (see
// StdlibResultFormats), the values are stdlib's for every column type. m
// is the type map of the connection that read rr. ReadResult also returns
// the statement's command tag. A statement error, such as a
// *pgconn.PgError, is returned as pgconn reports it.
func ReadResult(rr *pgconn.ResultReader, m *pgtype.Map) (*Rows, pgconn.CommandTag, error) {
	// The field descriptions belong to the connection's result reader,
	// which reuses them for the next statement.
	r := newRows(slices.Clone(rr.FieldDescriptions()), m)
	readErr := r.read(m, rr.NextRow, rr.Values)
	tag, err := rr.Close()
	if readErr != nil {
		return nil, tag, readErr
	}
	if err != nil {
		return nil, tag, err
	}

	return r, tag, nil
}

// valueFunc converts one non-NULL column value to a driver.Value.
type valueFunc func(src []byte) (driver.Value, error)

// stdlibValueFunc returns the conversion that the rows of pgx's
// database/sql driver (v5.13.0) apply to column fd: they scan the types
// that have a Go type of their own into it, and every other type into a
// string. Each call scans into a new variable, because the rows are kept
// in memory and must not share buffers.
func stdlibValueFunc(m *pgtype.Map, fd pgconn.FieldDescription) valueFunc {
	oid, format := fd.DataTypeOID, fd.Format
	switch oid {
	case pgtype.BoolOID:
		return scanValue(m, oid, format, func(v bool) (driver.Value, error) { return v, nil })
	case pgtype.ByteaOID, pgtype.JSONOID, pgtype.JSONBOID, pgtype.XMLOID:
		return scanValue(m, oid, format, func(v []byte) (driver.Value, error) { return v, nil })
	case pgtype.CIDOID, pgtype.OIDOID, pgtype.XIDOID:
		return scanValue(m, oid, format, func(v pgtype.Uint32) (driver.Value, error) { return v.Value() })
	case pgtype.DateOID:
		return scanValue(m, oid, format, func(v pgtype.Date) (driver.Value, error) { return v.Value() })
	case pgtype.Float4OID:
		return scanValue(m, oid, format, func(v float32) (driver.Value, error) { return float64(v), nil })
	case pgtype.Float8OID:
		return scanValue(m, oid, format, func(v float64) (driver.Value, error) { return v, nil })
	case pgtype.Int2OID:
		return scanValue(m, oid, format, func(v int16) (driver.Value, error) { return int64(v), nil })
	case pgtype.Int4OID:
		return scanValue(m, oid, format, func(v int32) (driver.Value, error) { return int64(v), nil })
	case pgtype.Int8OID:
		return scanValue(m, oid, format, func(v int64) (driver.Value, error) { return v, nil })
	case pgtype.TimestampOID:
		return scanValue(m, oid, format, func(v pgtype.Timestamp) (driver.Value, error) { return v.Value() })
	case pgtype.TimestamptzOID:
		return scanValue(m, oid, format, func(v pgtype.Timestamptz) (driver.Value, error) { return v.Value() })
	}

	if format == pgtype.BinaryFormatCode {
		// stdlib requests text for these types.
		return func(src []byte) (driver.Value, error) { return sqlValue(m, fd, src) }
	}

	return scanValue(m, oid, format, func(v string) (driver.Value, error) { return v, nil })
}

// scanValue returns a valueFunc that scans a value of type oid in format
// into a new T and converts that with value. It plans the scan once, as
// the driver's rows do per column.
func scanValue[T any](m *pgtype.Map, oid uint32, format int16, value func(T) (driver.Value, error)) valueFunc {
	var zero T
	plan := m.PlanScan(oid, format, &zero)

	return func(src []byte) (driver.Value, error) {
		var v T
		if err := plan.Scan(src, &v); err != nil {
			return nil, err
		}

		return value(v)
	}
}
