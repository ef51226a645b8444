package convert

import "errors"

var errByteaSyntax = errors.New("invalid bytea text")

// appendBytea appends a bytea value as a JSON string holding its hex text,
// "\\x0102" in JSON for the bytes 01 02, as to_jsonb prints it with
// bytea_output=hex. Text in the escape format (bytea_output=escape) is
// decoded and written in hex too, so the form does not depend on that
// setting.
func appendBytea(dst, s []byte) ([]byte, error) {
	if len(s) >= 2 && s[0] == '\\' && s[1] == 'x' {
		hex := s[2:]
		if len(hex)%2 != 0 {
			return dst, errByteaSyntax
		}
		for _, c := range hex {
			if !isHexDigit(c) {
				return dst, errByteaSyntax
			}
		}
		dst = append(dst, '"', '\\', '\\', 'x')
		dst = append(dst, hex...)

		return append(dst, '"'), nil
	}

	return appendEscapedBytea(dst, s)
}

// appendEscapedBytea decodes bytea's escape format, where a backslash
// starts either a second backslash or three octal digits and every other
// byte stands for itself, and appends the bytes as JSON string hex text.
func appendEscapedBytea(dst, s []byte) ([]byte, error) {
	start := len(dst)
	dst = append(dst, '"', '\\', '\\', 'x')

	for i := 0; i < len(s); i++ {
		b := s[i]
		if b == '\\' {
			switch {
			case i+1 < len(s) && s[i+1] == '\\':
				i++
			case i+3 < len(s) && isOctal(s[i+1]) && isOctal(s[i+2]) && isOctal(s[i+3]) && s[i+1] <= '3':
				b = (s[i+1]-'0')<<6 | (s[i+2]-'0')<<3 | (s[i+3] - '0')
				i += 3
			default:
				return dst[:start], errByteaSyntax
			}
		}
		dst = append(dst, hexDigits[b>>4], hexDigits[b&0xf])
	}

	return append(dst, '"'), nil
}

func isHexDigit(c byte) bool {
	return isDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}

func isOctal(c byte) bool { return c >= '0' && c <= '7' }
