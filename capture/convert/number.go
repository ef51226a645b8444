package convert

import "errors"

// The range of PostgreSQL's numeric type, which jsonb uses for numbers:
// at most 131072 digits before the decimal point and 16383 after it.
const (
	maxIntegerDigits  = 131072
	maxFractionDigits = 16383
)

// maxExponent bounds the exponents that appendNumber reads; any larger one
// is out of numeric's range whatever the mantissa.
const maxExponent = maxIntegerDigits + maxFractionDigits

var (
	errNumberSyntax  = errors.New("invalid number syntax")
	errIntegerSyntax = errors.New("invalid integer syntax")
	errNumberRange   = errors.New("number is outside numeric's range of 131072 digits before the point and 16383 after")
)

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// appendNumber appends a number written in JSON's number grammar in the
// form that jsonb stores it: as PostgreSQL's numeric type reads and prints
// it. numeric never prints an exponent, so "1.5e+3" becomes "1500", and
// its scale is the digits after the point minus the exponent, so "1.50e1"
// becomes "15.0" and "1e-3" becomes "0.001". Zero has no sign. The text of
// a numeric column is already in this form and is copied unchanged. The
// text of real and double precision columns may carry an exponent.
func appendNumber(dst, s []byte) ([]byte, error) {
	i := 0
	neg := len(s) > 0 && s[0] == '-'
	if neg {
		i++
	}

	intStart := i
	for i < len(s) && isDigit(s[i]) {
		i++
	}
	intEnd := i
	if intEnd == intStart || (s[intStart] == '0' && intEnd-intStart > 1) {
		return dst, errNumberSyntax
	}

	fracStart, fracEnd := i, i
	if i < len(s) && s[i] == '.' {
		i++
		fracStart = i
		for i < len(s) && isDigit(s[i]) {
			i++
		}
		fracEnd = i
		if fracEnd == fracStart {
			return dst, errNumberSyntax
		}
	}

	hasExp := i < len(s) && (s[i] == 'e' || s[i] == 'E')
	exp := 0
	if hasExp {
		var err error
		exp, i, err = parseExponent(s, i+1)
		if err != nil {
			return dst, err
		}
	}
	if i != len(s) {
		return dst, errNumberSyntax
	}

	zero := allZeros(s[intStart:intEnd]) && allZeros(s[fracStart:fracEnd])
	if !hasExp {
		if intEnd-intStart > maxIntegerDigits || fracEnd-fracStart > maxFractionDigits {
			return dst, errNumberRange
		}
		if neg && zero {
			return append(dst, s[1:]...), nil
		}

		return append(dst, s...), nil
	}

	d := digits{integer: s[intStart:intEnd], fraction: s[fracStart:fracEnd]}

	return d.appendShifted(dst, neg && !zero, exp)
}

// parseExponent reads the exponent that starts at s[i], after the 'e'.
func parseExponent(s []byte, i int) (int, int, error) {
	negExp := false
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		negExp = s[i] == '-'
		i++
	}

	start := i
	exp := 0
	for i < len(s) && isDigit(s[i]) {
		if exp <= maxExponent {
			exp = exp*10 + int(s[i]-'0')
		}
		i++
	}
	if i == start {
		return 0, i, errNumberSyntax
	}
	if exp > maxExponent {
		return 0, i, errNumberRange
	}
	if negExp {
		exp = -exp
	}

	return exp, i, nil
}

func allZeros(s []byte) bool {
	for _, c := range s {
		if c != '0' {
			return false
		}
	}

	return true
}

// digits is the mantissa of a number: the digits before and after the point.
type digits struct {
	integer, fraction []byte
}

// at returns digit k of the mantissa counted from its first digit, and '0'
// outside it.
func (d digits) at(k int) byte {
	if k < 0 {
		return '0'
	}
	if k < len(d.integer) {
		return d.integer[k]
	}
	k -= len(d.integer)
	if k < len(d.fraction) {
		return d.fraction[k]
	}

	return '0'
}

// appendShifted appends the mantissa times 10^exp without an exponent,
// with as many fraction digits as numeric_in keeps: the mantissa's fraction
// digits minus exp, and none when that is negative.
func (d digits) appendShifted(dst []byte, neg bool, exp int) ([]byte, error) {
	point := len(d.integer) + exp
	scale := max(len(d.fraction)-exp, 0)

	first := 0 // the first integer digit to print, after leading zeros
	for first < point-1 && d.at(first) == '0' {
		first++
	}
	if point-first > maxIntegerDigits || scale > maxFractionDigits {
		return dst, errNumberRange
	}

	if neg {
		dst = append(dst, '-')
	}

	if point <= 0 {
		dst = append(dst, '0')
	} else {
		for k := first; k < point; k++ {
			dst = append(dst, d.at(k))
		}
	}

	if scale > 0 {
		dst = append(dst, '.')
		for k := point; k < point+scale; k++ {
			dst = append(dst, d.at(k))
		}
	}

	return dst, nil
}

// appendInteger appends the text of a smallint, integer or bigint, which is
// already a JSON number, after checking its syntax.
func appendInteger(dst, s []byte) ([]byte, error) {
	i := 0
	if len(s) > 0 && s[0] == '-' {
		i++
	}
	if i == len(s) || (s[i] == '0' && len(s)-i > 1) {
		return dst, errIntegerSyntax
	}
	for ; i < len(s); i++ {
		if !isDigit(s[i]) {
			return dst, errIntegerSyntax
		}
	}
	if len(s) == 2 && s[0] == '-' && s[1] == '0' {
		return append(dst, '0'), nil
	}

	return append(dst, s...), nil
}
