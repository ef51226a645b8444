package convert_test

import (
	"encoding/binary"
	"testing"

	"github.com/jackc/pglogrepl"

	"github.com/bemi-go/bemi/capture/convert"
)

// benchValues are typical pgoutput texts of common built-in types.
var benchValues = []struct {
	name string
	oid  uint32
	text string
}{
	{"int8", 20, "9007199254740993"},
	{"numeric", 1700, "1234567.8900"},
	{"float8", 701, "1.2345678901234567e-05"},
	{"text", 25, "The quick brown fox jumps over the lazy dog, then naps in the sun."},
	{"text_escapes", 25, "line one\nline \"two\" with a \\ backslash and é"},
	{"timestamptz", 1184, "2023-12-11 17:09:09.123456+00"},
	{"jsonb", 3802, `{"id": 123456789012345678, "tags": ["a", "b"], "user": {"name": "Ada", "admin": true}}`},
	{"json", 114, `{"id": 123456789012345678, "tags": ["a", "b"], "user": {"name": "Ada", "admin": true}}`},
	{"int4_array", 1007, "{1,2,3,4,5,6,7,8,9,10}"},
	{"text_array", 1009, `{alpha,"beta gamma","delta, epsilon",NULL}`},
}

func BenchmarkAppendValue(b *testing.B) {
	var reg convert.Registry
	for _, v := range benchValues {
		text := []byte(v.text)
		b.Run(v.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(text)))

			buf := make([]byte, 0, 1024)
			for b.Loop() {
				var err error
				buf, err = reg.AppendValue(buf[:0], v.oid, text)
				if err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// benchRow is a typical row of an application table.
var benchRow = []struct {
	column convert.Column
	text   string
}{
	{convert.Column{Name: "id", TypeOID: 20}, "1234567"},
	{convert.Column{Name: "account_id", TypeOID: 20}, "42"},
	{convert.Column{Name: "email", TypeOID: 25}, "ada.lovelace@example.com"},
	{convert.Column{Name: "name", TypeOID: 1043}, "Ada Lovelace"},
	{convert.Column{Name: "amount", TypeOID: 1700}, "1999.90"},
	{convert.Column{Name: "active", TypeOID: 16}, "t"},
	{convert.Column{Name: "score", TypeOID: 701}, "0.75"},
	{convert.Column{Name: "tags", TypeOID: 1009}, "{vip,beta}"},
	{convert.Column{Name: "settings", TypeOID: 3802}, `{"theme": "dark", "digest": false}`},
	{convert.Column{Name: "created_at", TypeOID: 1184}, "2023-12-11 17:09:09.123456+00"},
	{convert.Column{Name: "updated_at", TypeOID: 1184}, "2023-12-12 08:00:00+00"},
	{convert.Column{Name: "deleted_at", TypeOID: 1184}, ""},
}

func BenchmarkAppendRow(b *testing.B) {
	var reg convert.Registry
	columns := make([]convert.Column, len(benchRow))
	values := make([][]byte, len(benchRow))
	size := 0
	for i, c := range benchRow {
		columns[i] = c.column
		if c.text != "" {
			values[i] = []byte(c.text)
		}
		size += len(c.text)
	}
	cols := convert.NewColumns(columns)

	b.ReportAllocs()
	b.SetBytes(int64(size))
	buf := make([]byte, 0, 1024)
	for b.Loop() {
		var err error
		buf, err = reg.AppendRow(buf[:0], cols, values)
		if err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeAndAppendRow adds pglogrepl's decoding of the pgoutput
// Insert message to BenchmarkAppendRow: the per-row work of the capture
// worker before stitching and writing.
func BenchmarkDecodeAndAppendRow(b *testing.B) {
	var reg convert.Registry
	columns := make([]convert.Column, len(benchRow))
	msg := []byte{'I', 0, 0, 0x40, 0, 'N', 0, byte(len(benchRow))}
	for i, c := range benchRow {
		columns[i] = c.column
		if c.text == "" {
			msg = append(msg, 'n')

			continue
		}
		msg = append(msg, 't')
		msg = binary.BigEndian.AppendUint32(msg, uint32(len(c.text)))
		msg = append(msg, c.text...)
	}
	cols := convert.NewColumns(columns)

	b.ReportAllocs()
	b.SetBytes(int64(len(msg)))
	buf := make([]byte, 0, 1024)
	values := make([][]byte, len(benchRow))
	for b.Loop() {
		parsed, err := pglogrepl.Parse(msg)
		if err != nil {
			b.Fatal(err)
		}
		for i, col := range parsed.(*pglogrepl.InsertMessage).Tuple.Columns {
			values[i] = nil
			if col.DataType == pglogrepl.TupleDataTypeText {
				values[i] = col.Data
			}
		}

		buf, err = reg.AppendRow(buf[:0], cols, values)
		if err != nil {
			b.Fatal(err)
		}
	}
}
