package pgxbemi

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync/atomic"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
)

// The header and trailer of PostgreSQL's binary COPY format. The header is
// the signature, a flags field of zero and a header extension length of
// zero. The trailer is a field count of -1.
var (
	copyHeader  = []byte("PGCOPY\n\xff\r\n\x00\x00\x00\x00\x00\x00\x00\x00\x00")
	copyTrailer = []byte{0xff, 0xff}
)

// copyStream is an io.Reader of the rows of src in PostgreSQL's binary COPY
// format. It encodes a row only when the reader needs more bytes, so it
// holds one encoded row at a time, not the whole copy.
//
// An error of src, a row with the wrong number of values, or a value that
// cannot be encoded ends the stream with that error, which
// pgconn.PgConn.CopyFrom sends to the server in a CopyFail message, as pgx's
// CopyFrom does. The server then aborts the COPY and writes no row.
type copyStream struct {
	src     pgx.CopyFromSource
	typeMap *pgtype.Map
	oids    []uint32 // the column types, one per value of a row

	pending  []byte // bytes not read yet
	row      []byte // buffer of the current row, reused
	started  bool   // the header is in pending or read
	finished bool   // the trailer is in pending or read
	err      error

	// stopped is set when the copy has ended on the connection's side; the
	// stream then takes no more rows from src.
	stopped atomic.Bool
}

// errCopyStopped ends a stream whose copy has ended on the connection's
// side. No caller sees it, because the copy has already failed with its own
// error.
var errCopyStopped = errors.New("pgxbemi: copy ended before the rows were sent")

func newCopyStream(typeMap *pgtype.Map, oids []uint32, src pgx.CopyFromSource) *copyStream {
	return &copyStream{src: src, typeMap: typeMap, oids: oids}
}

// Read fills p with the next bytes of the stream.
func (s *copyStream) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		if len(s.pending) == 0 {
			if err := s.advance(); err != nil {
				return n, err
			}
		}

		c := copy(p[n:], s.pending)
		s.pending = s.pending[c:]
		n += c
	}

	return n, nil
}

// advance puts the next part of the stream in pending: the header, a row or
// the trailer. After the trailer it returns io.EOF.
func (s *copyStream) advance() error {
	switch {
	case s.err != nil:
		return s.err
	case !s.started:
		s.started = true
		s.pending = copyHeader

		return nil
	case s.finished:
		return io.EOF
	case s.stopped.Load():
		s.err = errCopyStopped

		return s.err
	}

	if !s.src.Next() {
		if s.err = s.src.Err(); s.err != nil {
			return s.err
		}
		s.finished = true
		s.pending = copyTrailer

		return nil
	}

	row, err := s.encodeRow()
	if err == nil {
		err = s.src.Err()
	}
	if err != nil {
		s.err = err

		return err
	}
	s.row = row
	s.pending = row

	return nil
}

// encodeRow encodes the current row of src: the number of fields, then
// each field.
func (s *copyStream) encodeRow() ([]byte, error) {
	values, err := s.src.Values()
	if err != nil {
		return nil, err
	}
	if len(values) != len(s.oids) {
		// The words of pgx's CopyFrom.
		return nil, fmt.Errorf("expected %d values, got %d values", len(s.oids), len(values))
	}

	buf := binary.BigEndian.AppendUint16(s.row[:0], uint16(len(values)))
	for i, v := range values {
		buf, err = appendCopyValue(s.typeMap, buf, s.oids[i], v)
		if err != nil {
			return nil, err
		}
	}

	return buf, nil
}

// appendCopyValue appends v as a binary COPY field of type oid: its length
// in bytes, or -1 for NULL, then its bytes. A value that the type map cannot
// encode in the binary format directly is encoded from its text form, as
// pgx's CopyFrom does. When that fails too, the error is the one of the
// direct encoding, which is the error pgx returns.
func appendCopyValue(m *pgtype.Map, buf []byte, oid uint32, v any) ([]byte, error) {
	start := len(buf)
	buf = binary.BigEndian.AppendUint32(buf, 0xffffffff) // -1: NULL unless bytes follow

	out, err := m.Encode(oid, pgtype.BinaryFormatCode, v, buf)
	if err != nil {
		var textErr error
		out, textErr = encodeFromText(m, buf, oid, v)
		if textErr != nil {
			return nil, err
		}
	}
	if out == nil {
		return buf, nil
	}

	binary.BigEndian.PutUint32(out[start:], uint32(len(out)-start-4))

	return out, nil
}

// encodeFromText appends v in the binary format by way of its text form:
// v itself when it is a string, else its text encoding. The text is scanned
// into the Go value that the type map uses for oid and that value is
// encoded. An array scans into pgtype.Array[any], which keeps its
// dimensions.
func encodeFromText(m *pgtype.Map, buf []byte, oid uint32, v any) ([]byte, error) {
	text, ok := v.(string)
	if !ok {
		encoded, err := m.Encode(oid, pgtype.TextFormatCode, v, nil)
		if err != nil {
			return nil, err
		}
		text = string(encoded)
	}

	if t, ok := m.TypeForOID(oid); ok {
		if _, isArray := t.Codec.(*pgtype.ArrayCodec); isArray {
			var array pgtype.Array[any]
			if m.Scan(oid, pgtype.TextFormatCode, []byte(text), &array) == nil {
				return m.Encode(oid, pgtype.BinaryFormatCode, array, buf)
			}
		}
	}

	var scanned any
	if err := m.Scan(oid, pgtype.TextFormatCode, []byte(text), &scanned); err != nil {
		return nil, err
	}

	return m.Encode(oid, pgtype.BinaryFormatCode, scanned, buf)
}
