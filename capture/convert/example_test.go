package convert_test

import (
	"fmt"

	"github.com/bemi-go/bemi/capture/convert"
)

func ExampleRegistry_AppendRow() {
	// In the worker the columns come from a pgoutput Relation message, and
	// Load reads their user-defined types first. These are built in.
	reg := convert.NewRegistry()
	cols := convert.NewColumns([]convert.Column{
		{Name: "id", TypeOID: 20},        // bigint
		{Name: "price", TypeOID: 1700},   // numeric
		{Name: "tags", TypeOID: 1009},    // text[]
		{Name: "paid_at", TypeOID: 1184}, // timestamptz
		{Name: "note", TypeOID: 25},      // text
	})
	values := [][]byte{
		[]byte("9007199254740993"),
		[]byte("19.90"),
		[]byte(`{sale,"gift, wrapped"}`),
		[]byte("2023-12-11 17:09:09.123456+00"),
		nil, // NULL
	}

	row, err := reg.AppendRow(nil, cols, values)
	if err != nil {
		fmt.Println(err)
	}
	fmt.Println(string(row))
	// Output:
	// {"id":9007199254740993,"price":19.90,"tags":["sale","gift, wrapped"],"paid_at":"2023-12-11T17:09:09.123456+00:00","note":null}
}

func ExampleRegistry_AppendValue() {
	var reg convert.Registry

	out, err := reg.AppendValue(nil, 23, []byte("12a")) // not an integer
	fmt.Println(string(out))
	fmt.Println(err)
	// Output:
	// "12a"
	// convert: value of type integer: invalid integer syntax (kept as a JSON string)
}
