package convert

// SessionSettings returns the run-time parameters that shape the text of
// values, with the values this package expects. Set them on the connection
// whose output plugin produces the text (for the capture worker, as startup
// parameters of the replication connection), so that the JSON does not
// depend on server, database or role defaults:
//
//   - DateStyle ISO: dates and timestamps as 2023-12-11 17:09:09
//   - TimeZone UTC: timestamptz values with the +00 offset
//   - IntervalStyle postgres: intervals as 1 day 02:03:04
//   - extra_float_digits 3: real and double precision in their shortest
//     exact form (any value above 0 gives it since PostgreSQL 12)
//   - bytea_output hex: bytea as \x0102 (escape text is converted too)
//   - lc_monetary C: money as $1,234.50
//
// Each call returns a new map, which the caller may change.
func SessionSettings() map[string]string {
	return map[string]string{
		"DateStyle":          "ISO",
		"TimeZone":           "UTC",
		"IntervalStyle":      "postgres",
		"extra_float_digits": "3",
		"bytea_output":       "hex",
		"lc_monetary":        "C",
	}
}
