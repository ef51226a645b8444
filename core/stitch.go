package core

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"unicode/utf8"
)

// InvalidContextKey is the key under which the stitcher keeps a _bemi message
// payload as a string when it is not a JSON object, or is one that jsonb
// rejects, so that nothing the application sent is lost. Only a payload that
// jsonb could not store even as a string is cut: see InvalidContextSizeKey.
const InvalidContextKey = "_bemiInvalidContext"

// InvalidContextSizeKey is the key of the payload's size in bytes, next to
// InvalidContextKey, when the payload was cut to fit a jsonb string.
const InvalidContextSizeKey = "_bemiInvalidContextSize"

// MaxContextDepth is the deepest nesting of objects and arrays, counting the
// context object itself as 1, that the stitcher passes on as a context.
// PostgreSQL 15 parses jsonb input recursively and fails with "stack depth
// limit exceeded" (SQLSTATE 54001) beyond 622 nested objects or 691 nested
// arrays at its smallest max_stack_depth, 100kB, measured with COPY into a
// jsonb column. A deeper payload is kept as text under InvalidContextKey.
const MaxContextDepth = 500

// Limits of jsonb input in PostgreSQL 15 on 64-bit servers.
const (
	// maxJSONBSize is the largest size in bytes of a jsonb container
	// (JENTRY_OFFLENMASK). Larger input fails with SQLSTATE 54000.
	maxJSONBSize = 1<<28 - 1

	// maxArrayElements and maxObjectPairs are the maximum number of elements
	// of one array and key-value pairs of one object (duplicate keys
	// counted) that jsonb input parses. One more fails with "invalid memory alloc request size"
	// (SQLSTATE XX000) when the parser doubles its array of values past 1 GB.
	maxArrayElements = 1 << 24
	maxObjectPairs   = 1 << 23

	// maxNumericScale is the maximum number of digits after the decimal
	// point that numeric stores, and maxNumericExponent the highest power of ten of its
	// leading digit: the weight, in base-10000 digits, is an int16. Numbers
	// beyond them, and exponents at or beyond maxNumericExponentInput,
	// fail with "value overflows numeric format" (SQLSTATE 22003).
	maxNumericScale         = 16383
	maxNumericExponent      = 4*32768 - 1
	maxNumericExponentInput = 1<<30 - 1

	// sizeCheckFrom is the payload size from which the stitcher counts
	// elements and sizes. Below it, every limit above holds. Each byte of
	// JSON text becomes at most 8 bytes of jsonb: a one-digit number and its
	// comma take 2 bytes of text and 12 of jsonb. An array needs 2 bytes of
	// text per element, and an object 5 per pair.
	sizeCheckFrom = 16 << 20

	// maxInvalidContextText is the longest text, in bytes as jsonb stores
	// the string, that the invalid context form keeps: the form's object
	// must stay within maxJSONBSize.
	maxInvalidContextText = maxJSONBSize - 64
)

// Reasons why Stitcher.InvalidReason reports a payload kept as text. They
// describe the payload without quoting it.
var (
	ErrContextNotObject   = errors.New("not a JSON object")
	ErrContextTooDeep     = fmt.Errorf("objects and arrays nested deeper than %d levels", MaxContextDepth)
	ErrContextNumberRange = errors.New("a number outside the range of PostgreSQL's numeric type")
	ErrContextTooLarge    = fmt.Errorf("larger than jsonb's maximum of %d bytes", maxJSONBSize)
	ErrContextTooMany     = fmt.Errorf("an array with more than %d elements or an object with more than %d keys", maxArrayElements, maxObjectPairs)
)

// Stitcher assigns contexts to the changes of one source transaction at a
// time. Feed it the transaction's events in WAL order: Begin, then Message for
// every logical decoding message and Context before storing each row change.
// Each change takes the payload of the nearest preceding _bemi message of its
// transaction; a reset message ({}) ends the previous context. A Stitcher is
// not safe for concurrent use; use one per replication stream.
type Stitcher struct {
	current json.RawMessage

	// empty is the context of a change whose statement sent none, allocated
	// once per Stitcher.
	empty json.RawMessage

	// invalidReason is the error of the last payload kept as text.
	invalidReason error
}

// Begin starts a new transaction: changes get {} until a _bemi message
// arrives.
func (s *Stitcher) Begin() {
	s.current = nil
}

// MessageResult is the outcome of Stitcher.Message.
type MessageResult int

// Outcomes of Stitcher.Message.
const (
	// MessageIgnored means the message had another prefix or was not
	// transactional, and the current context is unchanged.
	MessageIgnored MessageResult = iota

	// MessageApplied means the payload, in the safe wire form, is the context
	// of the changes that follow.
	MessageApplied

	// MessageInvalid means the payload was not a JSON object, or was one that
	// PostgreSQL's jsonb input rejects (see InvalidReason). The changes that
	// follow get {InvalidContextKey: "<payload as text>"}.
	MessageInvalid
)

// Message handles a logical decoding message of the current transaction.
func (s *Stitcher) Message(prefix string, transactional bool, content []byte) MessageResult {
	if prefix != MessagePrefix || !transactional {
		return MessageIgnored
	}

	if !isJSONObject(content) {
		s.current = invalidContext(content)
		s.invalidReason = ErrContextNotObject

		return MessageInvalid
	}

	doc := Sanitize(content)
	if err := checkJSONB(doc); err != nil {
		s.current = invalidContext(content)
		s.invalidReason = err

		return MessageInvalid
	}
	s.current = json.RawMessage(doc)

	return MessageApplied
}

// InvalidReason returns why the payload of the last Message that returned
// MessageInvalid was kept as text: one of the ErrContext errors. It returns
// nil before the first such message.
func (s *Stitcher) InvalidReason() error {
	return s.invalidReason
}

// Context returns the context for the next row change of the transaction.
// The returned slice must not be modified.
func (s *Stitcher) Context() json.RawMessage {
	if s.current != nil {
		return s.current
	}
	if s.empty == nil {
		s.empty = json.RawMessage(ResetPayload)
	}

	return s.empty
}

func isJSONObject(b []byte) bool {
	if !json.Valid(b) {
		return false
	}
	for _, c := range b {
		switch c {
		case ' ', '\t', '\n', '\r':
			continue
		case '{':
			return true
		default:
			return false
		}
	}

	return false
}

// checkJSONB returns an error when PostgreSQL 15's jsonb input would reject
// the valid JSON document doc, which is in the safe wire form, so its strings
// hold no \u0000, unpaired surrogate or invalid UTF-8. The structure outside
// strings decides every limit but size, so the loop skips strings with
// bytes.IndexByte.
func checkJSONB(doc []byte) error {
	if len(doc) >= sizeCheckFrom {
		if err := checkJSONBSize(doc); err != nil {
			return err
		}
	}

	depth := 0
	for i := 0; i < len(doc); {
		c := doc[i]
		switch {
		case c == '"':
			i = stringEnd(doc, i)
		case c == '{' || c == '[':
			depth++
			if depth > MaxContextDepth {
				return ErrContextTooDeep
			}
			i++
		case c == '}' || c == ']':
			depth--
			i++
		case c == '-' || (c >= '0' && c <= '9'):
			n, ok := numericFits(doc[i:])
			if !ok {
				return ErrContextNumberRange
			}
			i += n
		default:
			i++
		}
	}

	return nil
}

// stringEnd returns the index after the JSON string that starts with the
// quote at doc[start].
func stringEnd(doc []byte, start int) int {
	for i := start + 1; ; {
		q := bytes.IndexByte(doc[i:], '"')
		if q < 0 {
			return len(doc)
		}
		i += q
		backslashes := 0
		for j := i - 1; j > start && doc[j] == '\\'; j-- {
			backslashes++
		}
		i++
		if backslashes%2 == 0 {
			return i
		}
	}
}

// numericFits reads the JSON number at the start of b and returns its length
// and whether PostgreSQL 15's numeric input accepts it. numeric keeps at most
// maxNumericScale digits after the decimal point, counting the zeros that a
// negative exponent adds, and a leading digit of at most
// 10^maxNumericExponent.
func numericFits(b []byte) (int, bool) {
	i := 0
	if i < len(b) && b[i] == '-' {
		i++
	}

	intDigits, fracDigits := 0, 0
	firstNonZero := -1 // index of the first non-zero digit among all digits
	for ; i < len(b) && b[i] >= '0' && b[i] <= '9'; i++ {
		if firstNonZero < 0 && b[i] != '0' {
			firstNonZero = intDigits
		}
		intDigits++
	}
	if i < len(b) && b[i] == '.' {
		for i++; i < len(b) && b[i] >= '0' && b[i] <= '9'; i++ {
			if firstNonZero < 0 && b[i] != '0' {
				firstNonZero = intDigits + fracDigits
			}
			fracDigits++
		}
	}

	exponent := 0
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		negative := false
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			negative = b[i] == '-'
			i++
		}
		for ; i < len(b) && b[i] >= '0' && b[i] <= '9'; i++ {
			// Saturate: anything this large is out of range already.
			if exponent < maxNumericExponentInput {
				exponent = exponent*10 + int(b[i]-'0')
			}
		}
		if exponent >= maxNumericExponentInput {
			return i, false
		}
		if negative {
			exponent = -exponent
		}
	}

	if fracDigits-exponent > maxNumericScale {
		return i, false
	}
	if firstNonZero < 0 {
		return i, true // zero: only its scale is stored
	}

	return i, intDigits-1-firstNonZero+exponent <= maxNumericExponent
}

// checkJSONBSize checks the limits of a large document that only its size
// can reach: the elements of each array, the pairs of each object, and the
// jsonb size, which it overestimates.
//
// The estimate follows PostgreSQL 15's jsonb layout: a 4-byte header per
// container, a 4-byte entry per array element and per object key and value,
// the bytes of each string, and numbers and containers aligned to 4 bytes. A
// number takes at most 8 bytes of header and 2 bytes per 4 decimal digits,
// plus one more 2-byte digit for alignment.
func checkJSONBSize(doc []byte) error {
	// elements counts the commas of each open container, and object is
	// set for the containers that are objects.
	var elements []int
	var object []bool

	size := 4 // the varlena header of the jsonb value
	for i := 0; i < len(doc); {
		c := doc[i]
		switch {
		case c == '"':
			end := stringEnd(doc, i)
			size += 4 + end - i - 2
			i = end
		case c == '{' || c == '[':
			size += 4 + 3 + 4
			elements = append(elements, 0)
			object = append(object, c == '{')
			i++
		case c == '}' || c == ']':
			n := len(elements) - 1
			limit := maxArrayElements
			if object[n] {
				limit = maxObjectPairs
			}
			if elements[n] >= limit {
				return ErrContextTooMany
			}
			elements, object = elements[:n], object[:n]
			i++
		case c == ',':
			if n := len(elements) - 1; n >= 0 {
				elements[n]++
			}
			i++
		case c == '-' || (c >= '0' && c <= '9'):
			n, _ := numericFits(doc[i:])
			size += 4 + 3 + 8 + 2*(n/4+2)
			i += n
		case c == 't' || c == 'f' || c == 'n':
			size += 4
			i++
			for i < len(doc) && doc[i] >= 'a' && doc[i] <= 'z' {
				i++
			}
		default:
			i++
		}
		if size > maxJSONBSize {
			return ErrContextTooLarge
		}
	}

	return nil
}

// invalidContext returns {InvalidContextKey: "<content as text>"} in the safe
// wire form. Content whose string would exceed maxInvalidContextText is cut
// at a character boundary, and its size added under InvalidContextSizeKey.
func invalidContext(content []byte) json.RawMessage {
	return invalidContextWithin(content, maxInvalidContextText)
}

// invalidContextWithin is invalidContext with a limit in bytes of decoded
// text, so tests can use a small one.
func invalidContextWithin(content []byte, limit int) json.RawMessage {
	text := content
	cut := false
	// Each byte decodes to at most 3 bytes, U+FFFD for an invalid one.
	if len(content) > limit/3 {
		text = content[:decodedPrefix(content, limit)]
		cut = len(text) < len(content)
	}

	b := make([]byte, 0, len(text)+len(InvalidContextKey)+64)
	b = append(b, '{')
	b = appendString(b, InvalidContextKey)
	b = append(b, ':')
	b = appendString(b, string(text))
	if cut {
		b = append(b, ',')
		b = appendString(b, InvalidContextSizeKey)
		b = fmt.Appendf(b, ":%d", len(content))
	}

	return json.RawMessage(append(b, '}'))
}

// decodedPrefix returns the length of the longest prefix of content, ending
// at a character boundary, whose text as appendString writes it decodes to at
// most limit bytes.
func decodedPrefix(content []byte, limit int) int {
	decoded := 0
	for i := 0; i < len(content); {
		r, size := utf8.DecodeRune(content[i:])
		n := size
		if r == utf8.RuneError && size == 1 || r == 0 {
			n = 3 // written as \ufffd
		}
		if decoded+n > limit {
			return i
		}
		decoded += n
		i += size
	}

	return len(content)
}
