package core

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// TraceparentHeader is the HTTP header of the W3C Trace Context
// specification that carries the trace id of a request.
const TraceparentHeader = "traceparent"

// ErrInvalidTraceparent is wrapped by the errors of ParseTraceparent.
var ErrInvalidTraceparent = errors.New("invalid traceparent")

// Traceparent is a parsed W3C traceparent header value, such as
// 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01.
type Traceparent struct {
	// TraceID is the trace id: 32 lowercase hex digits, not all zero.
	TraceID string

	// ParentID is the span id of the caller: 16 lowercase hex digits, not
	// all zero.
	ParentID string

	// Flags are the trace flags. Bit 0 is the sampled flag.
	Flags byte
}

// Sampled reports whether the caller may have recorded the trace.
func (t Traceparent) Sampled() bool { return t.Flags&1 == 1 }

// ParseTraceparent parses a traceparent header value of version 00, the
// version that W3C Trace Context Level 1 defines. Such a value is 55
// characters long: "00-", the trace id in 32 lowercase hex digits, "-", the
// parent id in 16 lowercase hex digits, "-" and the flags in 2 lowercase hex
// digits. A trace id or parent id of all zeros is invalid. Leading and
// trailing spaces and tabs are ignored.
//
// NOTE: values of a later version are rejected, although the specification
// asks parsers to read the version 00 fields from them. No later version has
// been published, so a later version is more likely a malformed header.
func ParseTraceparent(value string) (Traceparent, error) {
	s := strings.Trim(value, " \t")
	if len(s) != 55 {
		return Traceparent{}, traceparentError(value, fmt.Sprintf("length is %d, want 55", len(s)))
	}
	if s[2] != '-' || s[35] != '-' || s[52] != '-' {
		return Traceparent{}, traceparentError(value, "fields are not separated by '-' at offsets 2, 35 and 52")
	}

	version, traceID, parentID, flags := s[0:2], s[3:35], s[36:52], s[53:55]
	if version != "00" {
		return Traceparent{}, traceparentError(value, fmt.Sprintf("version %q is not 00", version))
	}
	for _, f := range []struct{ name, digits string }{
		{"trace id", traceID},
		{"parent id", parentID},
		{"flags", flags},
	} {
		if !isLowerHex(f.digits) {
			return Traceparent{}, traceparentError(value, f.name+" is not lowercase hex")
		}
	}
	if allZeros(traceID) {
		return Traceparent{}, traceparentError(value, "trace id is all zeros")
	}
	if allZeros(parentID) {
		return Traceparent{}, traceparentError(value, "parent id is all zeros")
	}

	return Traceparent{TraceID: traceID, ParentID: parentID, Flags: hexByte(flags)}, nil
}

func traceparentError(value, reason string) error {
	const maxShown = 64
	if len(value) > maxShown {
		value = value[:maxShown] + "..."
	}

	return fmt.Errorf("bemi: parse traceparent %q: %w: %s", value, ErrInvalidTraceparent, reason)
}

func isLowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}

	return true
}

func allZeros(s string) bool {
	return strings.Trim(s, "0") == ""
}

// hexByte decodes two lowercase hex digits that isLowerHex has accepted.
func hexByte(s string) byte {
	return hexDigit(s[0])<<4 | hexDigit(s[1])
}

func hexDigit(c byte) byte {
	if c <= '9' {
		return c - '0'
	}

	return c - 'a' + 10
}

// TraceIDFromHeader returns the trace id of the traceparent header in h, and
// false when the header is missing or invalid. Two or more traceparent
// headers are ignored as ambiguous, which is what the W3C Trace Context
// conformance suite (test_traceparent_duplicated) expects.
func TraceIDFromHeader(h http.Header) (string, bool) {
	values := h.Values(TraceparentHeader)
	if len(values) != 1 {
		return "", false
	}

	tp, err := ParseTraceparent(values[0])
	if err != nil {
		return "", false
	}

	return tp.TraceID, true
}
