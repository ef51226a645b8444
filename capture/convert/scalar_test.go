package convert

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

// Built-in type OIDs used by the tests.
const (
	oidBool        = 16
	oidBytea       = 17
	oidInt8        = 20
	oidInt2        = 21
	oidInt2Vector  = 22
	oidInt4        = 23
	oidText        = 25
	oidOIDVector   = 30
	oidJSON        = 114
	oidFloat4      = 700
	oidFloat8      = 701
	oidBox         = 603
	oidBoxArray    = 1020
	oidInt4Array   = 1007
	oidTextArray   = 1009
	oidJSONArray   = 199
	oidDate        = 1082
	oidTimestamp   = 1114
	oidTimestampTZ = 1184
	oidNumeric     = 1700
	oidJSONB       = 3802
	oidJSONBArray  = 3807
	oidTSTZArray   = 1185
	oidInterval    = 1186
)

type valueCase struct {
	name string
	oid  uint32
	text string
	want string
}

func checkValues(t *testing.T, cases []valueCase) {
	t.Helper()

	var r Registry
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := r.AppendValue([]byte("prefix "), tc.oid, []byte(tc.text))
			if err != nil {
				t.Fatalf("AppendValue(%d, %q): %v", tc.oid, tc.text, err)
			}
			if string(got) != "prefix "+tc.want {
				t.Errorf("AppendValue(%d, %q) = %s, want %s", tc.oid, tc.text, got[len("prefix "):], tc.want)
			}
			if !json.Valid(got[len("prefix "):]) {
				t.Errorf("AppendValue(%d, %q) = %s, which is not valid JSON", tc.oid, tc.text, got)
			}
		})
	}
}

func TestAppendValueScalars(t *testing.T) {
	checkValues(t, []valueCase{
		{"bool true", oidBool, "t", "true"},
		{"bool false", oidBool, "f", "false"},
		{"int8 above 2^53", oidInt8, "9007199254740993", "9007199254740993"},
		{"int8 min", oidInt8, "-9223372036854775808", "-9223372036854775808"},
		{"int2 zero", oidInt2, "0", "0"},
		{"numeric trailing zeros", oidNumeric, "1.50", "1.50"},
		{"numeric 40 digits", oidNumeric, "1234567890123456789012345678901234567890.0000", "1234567890123456789012345678901234567890.0000"},
		{"numeric negative", oidNumeric, "-0.001", "-0.001"},
		{"numeric NaN", oidNumeric, "NaN", `"NaN"`},
		{"numeric infinity", oidNumeric, "-Infinity", `"-Infinity"`},
		{"float8 exponent", oidFloat8, "1e+30", "1000000000000000000000000000000"},
		{"float8 negative exponent", oidFloat8, "1.5e-10", "0.00000000015"},
		{"float8 negative zero", oidFloat8, "-0", "0"},
		{"float8 plain", oidFloat8, "-123.456", "-123.456"},
		{"float4 infinity", oidFloat4, "Infinity", `"Infinity"`},
		{"float4 NaN", oidFloat4, "NaN", `"NaN"`},
		{"text escapes", oidText, "a\"b\\c\n\t\x01é😀", `"a\"b\\c\n\t\u0001é😀"`},
		{"text empty", oidText, "", `""`},
		{"unknown oid", 4000000000, "some text", `"some text"`},
		{"interval", oidInterval, "1 year 2 mons -3 days 04:05:06.789", `"1 year 2 mons -3 days 04:05:06.789"`},
		{"bytea hex", oidBytea, `\x0102ff`, `"\\x0102ff"`},
		{"bytea empty", oidBytea, `\x`, `"\\x"`},
		{"bytea escape format", oidBytea, `a\\\001\377`, `"\\x615c01ff"`},
		{"int2vector", oidInt2Vector, "1 -2 3", "[1,-2,3]"},
		{"int2vector empty", oidInt2Vector, "", "[]"},
		{"oidvector", oidOIDVector, "23 25", `["23","25"]`},
		{"jsonb", oidJSONB, `{"a": 12345678901234567890123}`, `{"a": 12345678901234567890123}`},
	})
}

func TestAppendValueDateTime(t *testing.T) {
	checkValues(t, []valueCase{
		{"date", oidDate, "2023-12-11", `"2023-12-11"`},
		{"date BC", oidDate, "0044-03-15 BC", `"0044-03-15 BC"`},
		{"date infinity", oidDate, "-infinity", `"-infinity"`},
		{"date five-digit year", oidDate, "12345-01-02", `"12345-01-02"`},
		{"timestamp", oidTimestamp, "2023-12-11 17:09:09", `"2023-12-11T17:09:09"`},
		{"timestamp fraction", oidTimestamp, "2023-12-11 17:09:09.123456", `"2023-12-11T17:09:09.123456"`},
		{"timestamp BC", oidTimestamp, "0044-03-15 12:00:00 BC", `"0044-03-15T12:00:00 BC"`},
		{"timestamp infinity", oidTimestamp, "infinity", `"infinity"`},
		{"timestamptz UTC", oidTimestampTZ, "2023-12-11 17:09:09.123456+00", `"2023-12-11T17:09:09.123456+00:00"`},
		{"timestamptz minutes offset", oidTimestampTZ, "2023-12-11 17:09:09+05:30", `"2023-12-11T17:09:09+05:30"`},
		{"timestamptz seconds offset", oidTimestampTZ, "1850-01-01 00:00:00-00:19:32", `"1850-01-01T00:00:00-00:19:32"`},
		{"timestamptz BC", oidTimestampTZ, "0044-03-15 12:00:00+00 BC", `"0044-03-15T12:00:00+00:00 BC"`},
		{"timestamptz infinity", oidTimestampTZ, "-infinity", `"-infinity"`},
	})
}

func TestAppendValueJSON(t *testing.T) {
	checkValues(t, []valueCase{
		{"whitespace dropped", oidJSON, " { \"a\" : [ 1 , 2 ] }\n", `{"a":[1,2]}`},
		{"exponent expanded", oidJSON, `[1e2, 1.50e1, 2.5E-3, -0, -0.0, 0e5]`, `[100,15.0,0.0025,0,0.0,0]`},
		{"big integer kept", oidJSON, `123456789012345678901234567890`, `123456789012345678901234567890`},
		{"duplicate keys kept", oidJSON, `{"a":1,"a":2}`, `{"a":1,"a":2}`},
		{"escapes kept", oidJSON, `"\u00e9\n\/\"\ud83d\ude00"`, `"\u00e9\n\/\"\ud83d\ude00"`},
		{"NUL escape as text", oidJSON, `{"a":"x\u0000y"}`, `{"a":"x\\u0000y"}`},
		{"lone high surrogate as text", oidJSON, `"\ud800x"`, `"\\ud800x"`},
		{"lone low surrogate as text", oidJSON, `"\udc00"`, `"\\udc00"`},
		{"literals", oidJSON, `[true,false,null]`, `[true,false,null]`},
		{"unicode", oidJSON, `"日本語"`, `"日本語"`},
	})
}

func TestAppendNumberForms(t *testing.T) {
	tests := []struct{ in, want string }{
		{"0", "0"},
		{"1e0", "1"},
		{"1.0e0", "1.0"},
		{"1.23e1", "12.3"},
		{"1.23e2", "123"},
		{"1.23e5", "123000"},
		{"1.23e-1", "0.123"},
		{"1.23e-5", "0.0000123"},
		{"-4.5e-1", "-0.45"},
		{"0.000e3", "0"},
		{"0.0001e2", "0.01"},
		{"-0.0e-2", "0.000"},
		{"5e-324", "0." + repeat('0', 323) + "5"},
		{"1.7976931348623157e+308", "17976931348623157" + repeat('0', 292)},
		{"1e131071", "1" + repeat('0', 131071)},
		{"1e-16383", "0." + repeat('0', 16382) + "1"},
		{"0.001e131074", "1" + repeat('0', 131071)},
	}
	for _, tc := range tests {
		got, err := appendNumber(nil, []byte(tc.in))
		if err != nil {
			t.Errorf("appendNumber(%q): %v", tc.in, err)

			continue
		}
		if string(got) != tc.want {
			t.Errorf("appendNumber(%q) = %s, want %s", tc.in, got, tc.want)
		}
	}
}

func repeat(c byte, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = c
	}

	return string(b)
}

func TestAppendValueInvalidTextKeptAsString(t *testing.T) {
	tests := []struct {
		name string
		oid  uint32
		text string
		err  error
	}{
		{"bool", oidBool, "yes", errBoolSyntax},
		{"int4 letters", oidInt4, "12a", errIntegerSyntax},
		{"int4 empty", oidInt4, "", errIntegerSyntax},
		{"int4 leading zero", oidInt4, "012", errIntegerSyntax},
		{"numeric two points", oidNumeric, "1.2.3", errNumberSyntax},
		{"float beyond numeric range", oidFloat8, "1e131072", errNumberRange},
		{"float beyond numeric scale", oidFloat8, "1e-16384", errNumberRange},
		{"date in SQL style", oidDate, "12/11/2023", errNotISO},
		{"timestamp in Postgres style", oidTimestamp, "Mon Dec 11 17:09:09 2023", errNotISO},
		{"timestamptz without offset", oidTimestampTZ, "2023-12-11 17:09:09", errNotISO},
		{"timestamptz seven fraction digits", oidTimestampTZ, "2023-12-11 17:09:09.1234567+00", errNotISO},
		{"json truncated", oidJSON, `{"a":`, errJSONSyntax},
		{"json trailing text", oidJSON, `{} x`, errJSONSyntax},
		{"json raw newline in string", oidJSON, "\"a\nb\"", errJSONSyntax},
		{"jsonb empty", oidJSONB, "", errJSONSyntax},
		{"bytea odd hex", oidBytea, `\x012`, errByteaSyntax},
		{"bytea bad escape", oidBytea, `a\9`, errByteaSyntax},
		{"int2vector trailing space", oidInt2Vector, "1 2 ", errVectorSyntax},
		{"array unclosed", oidInt4Array, "{1,2", errArraySyntax},
		{"array element not integer", oidInt4Array, "{1,x}", errIntegerSyntax},
		{"array too deep", oidInt4Array, "{{{{{{{1}}}}}}}", errArraySyntax},
		{"text invalid UTF-8", oidText, "a\xffb", errInvalidUTF8},
	}

	var r Registry
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := r.AppendValue([]byte("["), tc.oid, []byte(tc.text))

			var valueErr *ValueError
			if !errors.As(err, &valueErr) {
				t.Fatalf("AppendValue(%d, %q) error = %v, want a *ValueError", tc.oid, tc.text, err)
			}
			if !errors.Is(err, tc.err) {
				t.Errorf("AppendValue(%d, %q) error = %v, want it to wrap %v", tc.oid, tc.text, err, tc.err)
			}
			if valueErr.TypeOID != tc.oid || valueErr.Type == "" {
				t.Errorf("ValueError names type %d %q, want oid %d and a name", valueErr.TypeOID, valueErr.Type, tc.oid)
			}

			want, _ := appendString([]byte("["), []byte(tc.text))
			if string(got) != string(want) {
				t.Errorf("AppendValue(%d, %q) = %s, want the text as a JSON string %s", tc.oid, tc.text, got, want)
			}
			if !json.Valid(got[1:]) {
				t.Errorf("fallback %s is not valid JSON", got[1:])
			}
		})
	}
}

func TestValueErrorOmitsValue(t *testing.T) {
	var r Registry
	_, err := r.AppendValue(nil, oidInt4, []byte("secret-value"))
	if err == nil {
		t.Fatal("AppendValue of invalid integer text returned no error")
	}
	msg := err.Error()
	if want := "convert: value of type integer: invalid integer syntax"; !strings.HasPrefix(msg, want) {
		t.Errorf("error = %q, want it to start with %q", msg, want)
	}
	if strings.Contains(msg, "secret") {
		t.Errorf("error %q contains the value", msg)
	}
}
