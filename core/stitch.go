package core

import (
	"encoding/json"
)

// InvalidContextKey is the key under which the stitcher keeps a _bemi message
// payload that is not a JSON object, as a string, so that nothing the
// application sent is lost.
const InvalidContextKey = "_bemiInvalidContext"

// emptyContext is the context of a change whose statement sent none.
var emptyContext = json.RawMessage(`{}`)

// Stitcher assigns contexts to the changes of one source transaction at a
// time. Feed it the transaction's events in WAL order: Begin, then Message for
// every logical decoding message and Context before storing each row change.
// Each change takes the payload of the nearest preceding _bemi message of its
// transaction; a reset message ({}) ends the previous context. A Stitcher is
// not safe for concurrent use; use one per replication stream.
type Stitcher struct {
	current json.RawMessage
}

// Begin starts a new transaction: changes get {} until a _bemi message
// arrives.
func (s *Stitcher) Begin() {
	s.current = emptyContext
}

// MessageResult says what Message did with a logical decoding message.
type MessageResult int

// Message results.
const (
	// MessageIgnored: another prefix, or a non-transactional message.
	MessageIgnored MessageResult = iota
	// MessageApplied: the payload is the context of the changes that follow.
	MessageApplied
	// MessageInvalid: the payload was not a JSON object. The changes that
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
	if s.current == nil {
		return emptyContext
	}

	return s.current
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
	b, _ := json.Marshal(map[string]string{InvalidContextKey: string(content)})

	return json.RawMessage(Sanitize(b))
}
