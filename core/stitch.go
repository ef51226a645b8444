package core

import (
	"encoding/json"
)

// InvalidContextKey is the key under which the stitcher keeps a _bemi message
// payload that is not a JSON object, as a string, so that nothing the
// application sent is lost.
const InvalidContextKey = "_bemiInvalidContext"

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

	// MessageInvalid means the payload was not a JSON object. The changes that
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

		return MessageInvalid
	}

	s.current = json.RawMessage(Sanitize(content))

	return MessageApplied
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

func invalidContext(content []byte) json.RawMessage {
	b := make([]byte, 0, len(content)+len(InvalidContextKey)+8)
	b = append(b, '{')
	b = appendString(b, InvalidContextKey)
	b = append(b, ':')
	b = appendString(b, string(content))

	return json.RawMessage(append(b, '}'))
}
