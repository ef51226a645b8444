package convert

import (
	"bytes"
	"errors"
)

// errNotISO reports date and time text that is not in the ISO form that
// DateStyle ISO prints, usually because the session that produced it had
// another DateStyle.
var errNotISO = errors.New("date or time text is not in DateStyle ISO form; set DateStyle=ISO on the replication connection")

// appendDate appends a date as a JSON string. DateStyle ISO prints dates
// as to_jsonb does ("2023-12-11", "0044-03-15 BC", "infinity"), so the text
// is only checked.
func appendDate(dst, s []byte) ([]byte, error) {
	if isInfinity(s) {
		return appendQuoted(dst, s), nil
	}

	n := scanDate(s)
	if n == 0 || !isEraSuffix(s[n:]) {
		return dst, errNotISO
	}

	return appendQuoted(dst, s), nil
}

// appendTimestamp appends a timestamp without time zone in to_jsonb's
// ISO 8601 form: DateStyle ISO's text with a T between date and time, as
// in "2023-12-11T17:09:09.123456" and "0044-03-15T12:00:00 BC".
func appendTimestamp(dst, s []byte) ([]byte, error) {
	if isInfinity(s) {
		return appendQuoted(dst, s), nil
	}

	dateLen := scanDate(s)
	if dateLen == 0 || dateLen >= len(s) || s[dateLen] != ' ' {
		return dst, errNotISO
	}
	timeLen := scanTime(s[dateLen+1:])
	end := dateLen + 1 + timeLen
	if timeLen == 0 || !isEraSuffix(s[end:]) {
		return dst, errNotISO
	}

	dst = append(dst, '"')
	dst = append(dst, s[:dateLen]...)
	dst = append(dst, 'T')
	dst = append(dst, s[dateLen+1:]...)

	return append(dst, '"'), nil
}

// appendTimestampTZ appends a timestamp with time zone in to_jsonb's
// ISO 8601 form: DateStyle ISO's text with a T between date and time and
// the offset as +hh:mm, as in "2023-12-11T17:09:09.123456+00:00". The
// offset is the one of the session's TimeZone, which the capture worker pins
// to UTC. An offset with seconds keeps them, as to_jsonb does.
func appendTimestampTZ(dst, s []byte) ([]byte, error) {
	if isInfinity(s) {
		return appendQuoted(dst, s), nil
	}

	dateLen := scanDate(s)
	if dateLen == 0 || dateLen >= len(s) || s[dateLen] != ' ' {
		return dst, errNotISO
	}
	timeLen := scanTime(s[dateLen+1:])
	if timeLen == 0 {
		return dst, errNotISO
	}
	zoneStart := dateLen + 1 + timeLen
	zoneLen := scanOffset(s[zoneStart:])
	end := zoneStart + zoneLen
	if zoneLen == 0 || !isEraSuffix(s[end:]) {
		return dst, errNotISO
	}

	dst = append(dst, '"')
	dst = append(dst, s[:dateLen]...)
	dst = append(dst, 'T')
	dst = append(dst, s[dateLen+1:end]...)
	if zoneLen == 3 {
		dst = append(dst, ':', '0', '0')
	}
	dst = append(dst, s[end:]...)

	return append(dst, '"'), nil
}

// appendQuoted appends text that needs no JSON escaping as a JSON string.
func appendQuoted(dst, s []byte) []byte {
	dst = append(dst, '"')
	dst = append(dst, s...)

	return append(dst, '"')
}

func isInfinity(s []byte) bool {
	return string(s) == "infinity" || string(s) == "-infinity"
}

// isEraSuffix reports whether s is what may follow a date or time: nothing,
// or " BC".
func isEraSuffix(s []byte) bool {
	return len(s) == 0 || bytes.Equal(s, []byte(" BC"))
}

// scanDate returns the length of the ISO date (yyyy-mm-dd, with four or
// more year digits) at the start of s, or 0.
func scanDate(s []byte) int {
	i := 0
	for i < len(s) && isDigit(s[i]) {
		i++
	}
	if i < 4 || !matchDigits(s[i:], "-dd-dd") {
		return 0
	}

	return i + 6
}

// scanTime returns the length of the time of day (hh:mm:ss with up to six
// fraction digits) at the start of s, or 0.
func scanTime(s []byte) int {
	if !matchDigits(s, "dd:dd:dd") {
		return 0
	}
	i := 8
	if i < len(s) && s[i] == '.' {
		j := i + 1
		for j < len(s) && isDigit(s[j]) {
			j++
		}
		if j == i+1 || j > i+7 {
			return 0
		}
		i = j
	}

	return i
}

// scanOffset returns the length of the UTC offset (+hh, +hh:mm or
// +hh:mm:ss, or the same with -) at the start of s, or 0.
func scanOffset(s []byte) int {
	if len(s) == 0 || (s[0] != '+' && s[0] != '-') || !matchDigits(s[1:], "dd") {
		return 0
	}
	n := 3
	for n < 9 && matchDigits(s[n:], ":dd") {
		n += 3
	}

	return n
}

// matchDigits reports whether s starts with pattern, where each 'd' in
// pattern stands for one ASCII digit and every other byte for itself.
func matchDigits(s []byte, pattern string) bool {
	if len(s) < len(pattern) {
		return false
	}
	for i := 0; i < len(pattern); i++ {
		if pattern[i] == 'd' {
			if !isDigit(s[i]) {
				return false
			}
		} else if s[i] != pattern[i] {
			return false
		}
	}

	return true
}
