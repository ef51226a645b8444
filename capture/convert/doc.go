// Package convert turns column values from pgoutput's text format into JSON
// without loss, in the form PostgreSQL's own to_jsonb gives them.
//
// The capture worker reads row changes with the pgoutput plugin, which
// sends every column value as the text of the type's output function,
// together with the type's OID. A Registry maps each OID to a conversion
// and appends the JSON to a caller's buffer:
//
//	reg := convert.NewRegistry() // one per source database
//
//	// On each Relation message: read the user-defined types, and prepare
//	// the column list once.
//	if err := reg.Load(ctx, pool, oids); err != nil { ... }
//	cols := convert.NewColumns(columns)
//
//	// On each row: values[i] is the text of column i, nil for NULL.
//	buf, err = reg.AppendRow(buf[:0], cols, values)
//	if err != nil {
//		// A *ValueError: one value did not parse as its type and was
//		// stored as a JSON string. buf is still a valid JSON object.
//	}
//
// # Session settings
//
// The text of dates, times, intervals, floats, bytea and money depends on
// the settings of the session that runs the output plugin. Set the ones
// from SessionSettings (DateStyle ISO, TimeZone UTC, IntervalStyle
// postgres, extra_float_digits 3, bytea_output hex, lc_monetary C) as
// startup parameters of the replication connection. The settings of the
// sessions that wrote the rows do not matter. Date and time text in another
// DateStyle is reported as a ValueError rather than converted wrongly.
//
// # JSON forms
//
// Every value takes to_jsonb's form (PostgreSQL 15) for its type:
//
//   - smallint, integer, bigint: numbers, exact at any size.
//   - numeric: numbers with the text's digits, so 1.50 stays 1.50 and 40
//     digits stay 40 digits; nothing goes through float64. NaN, Infinity
//     and -Infinity become strings.
//   - real, double precision: numbers written as numeric prints them,
//     without an exponent ("1e+30" becomes 1000000000000000000000000000000,
//     "-0" becomes 0); NaN and the infinities become strings.
//   - boolean: true or false.
//   - json: embedded, without whitespace, and with numbers written as jsonb
//     stores them (1e2 becomes 100). Key order and duplicate keys stay as
//     written, and jsonb storage normalizes them.
//   - jsonb: embedded as printed, so big integers inside stay exact.
//   - date: "2023-12-11", "0044-03-15 BC", "infinity".
//   - timestamp: ISO 8601 with a T, "2023-12-11T17:09:09.123456", and
//     "0044-03-15T12:00:00 BC" before the common era.
//   - timestamptz: ISO 8601 with a T and the UTC offset as +hh:mm,
//     "2023-12-11T17:09:09.123456+00:00".
//   - bytea: a string of the hex text, "\\x0102" in JSON for the bytes 01 02.
//   - arrays of any type: JSON arrays, one level per dimension, with null
//     for NULL elements. Explicit bounds ("[0:1]={1,2}") are dropped, and
//     elements are converted by their type (so int[] gives numbers and
//     timestamptz[] gives ISO 8601 strings).
//   - int2vector: an array of numbers; oidvector: an array of strings.
//   - composite types: objects keyed by attribute name, each attribute by
//     its type; NULL attributes are null.
//   - domains: as their base type.
//   - enums and every other type (text, uuid, inet, cidr, macaddr,
//     interval, time, timetz, money, ranges, multiranges, geometric types,
//     bit strings, tsvector, xml, pg_lsn, oid, "char", name, and types the
//     registry does not know): the text as a JSON string.
//
// # Differences from to_jsonb
//
// The tests compare every row of an 87-column table against to_jsonb.
// These are the only documented differences; every other type matches:
//
//	type                                   to_jsonb                      this package
//	-------------------------------------  ----------------------------  ---------------------------------
//	types outside the core with a cast to  the cast's result, such as    the text as a string, such as
//	json, such as hstore                   {"a": "1"}                    "\"a\"=>\"1\""
//	json holding \u0000 or an unpaired     an error, because jsonb       the escape kept as text, such as
//	surrogate escape such as \ud800        rejects both                  "\\u0000"
//	json holding a number outside          an error                      the json text as a string, and a
//	numeric's range, such as 1e131072                                    ValueError
//	bytea read with bytea_output=escape    the escape text               hex text, as with bytea_output=hex
//	text that is not valid UTF-8 (only     the bytes as they are         U+FFFD for each invalid byte, and
//	in SQL_ASCII databases)                                              a ValueError
//
// The reason is the same for all but the first: the row must still fit
// into the jsonb columns of the changes table, in one stable form. The
// first would need a call into the server for every value.
//
// # Errors
//
// AppendValue and AppendRow never fail a row. A value whose text does not
// parse as its type is appended as a JSON string of the text, and a
// *ValueError names the column, the type and the problem, never the value.
// When a composite value has more or fewer fields than its type had when
// Load read it, the error wraps ErrTypeChanged: call Reload for the type
// and convert the row again.
//
// # Performance
//
// The conversion allocates only to grow the caller's buffer and to return
// an error, uses no reflection, and reads the registry without locking. Run
// go test -run '^$' -bench . ./convert/ for figures; on a shared 2-core
// Intel Xeon VM a 12-column row took about 0.3 to 0.5 µs.
//
// # Limits
//
// Type OIDs are local to a database, so use one Registry per source
// database. Values must be in text format: pgoutput's binary mode is not
// supported. Load must have read a user-defined type before its values are
// converted, or they become strings. Unchanged TOASTed values, which
// pgoutput does not send, must be filled in by the caller.
package convert
