package pgxbemi

import (
	"bytes"
	"context"
)

// mode is where a statement runs, which decides how long a set_config
// lasts.
type mode int

const (
	// modeImplicit: no transaction is open. A pgx batch runs in one implicit
	// transaction, so a value set in the batch ends with it.
	modeImplicit mode = iota

	// modeTx: a transaction is open, so a value set lasts until it is
	// changed, the transaction ends or a savepoint before it is rolled back.
	modeTx

	// modeUnknown: the DB wraps a type that does not reveal whether a
	// transaction is open, so every value set is cleared in the same call.
	modeUnknown

	// modeFailed: the transaction has failed and rejects every statement
	// until it is rolled back, so statements are sent as they are.
	modeFailed
)

// step is the plan for one call: what to send around the statement.
type step struct {
	mode mode

	// payload is the statement's context, nil when it carries none.
	payload []byte

	// set sends set_config(value) before the statement.
	set   bool
	value []byte

	// clear sends set_config('') after the statement.
	clear bool

	// keep records value as the setting after the call, for the owner
	// transaction that leaves it set.
	keep bool

	// comment appends payload to the statement as a Bemi comment.
	comment bool

	// unknownAfter marks the setting unknown after the call, for statements
	// that may end the transaction or change settings.
	unknownAfter bool
}

// sends reports whether the statement needs a set_config in its round trip.
func (s step) sends() bool { return s.set || s.clear }

// plan decides how a statement with the given context reaches the trigger
// through the setting, with the clear skipped where the setting ends on its
// own and the set skipped where the setting already holds the value:
//
//   - No transaction: set before the statement, never clear, because the
//     batch's implicit transaction ends with the statement.
//   - The owner transaction: set only when the value changes, never clear.
//   - Any other transaction: set when the value changes and clear after, so
//     that nothing this call set outlives it.
//   - A statement without context in a transaction clears a value left by an
//     earlier statement, unless the value is the context of this call's
//     ctx. That keeps the trigger's reset rule: a statement without context
//     never gets an earlier statement's context.
func (r *runner) plan(ctx context.Context, payload []byte, annotate bool) step {
	s := step{mode: r.mode()}
	if annotate {
		s.payload = payload
	}

	switch s.mode {
	case modeImplicit:
		s.set = annotate
		s.value = s.payload
	case modeUnknown:
		s.set = annotate
		s.value = s.payload
		s.clear = annotate
	case modeTx:
		st := r.state
		desired := s.payload
		if !annotate && st.known && (len(st.value) == 0 || r.opts.sameContext(ctx, st.value)) {
			desired = st.value
		}
		s.value = desired
		s.set = !st.known || !bytes.Equal(st.value, desired)
		s.keep = r.owns()
		s.clear = !s.keep && s.set && len(desired) > 0
	}

	return s
}

// planComment decides how a statement whose text is not cached by pgx
// reaches the trigger: through a Bemi comment appended to it, which the
// trigger reads only while the setting is empty. A value left set by an
// earlier statement is changed first. With literal, the change runs as a
// statement in front of the same simple-protocol query string; without, it
// runs as its own round trip.
func (r *runner) planComment(ctx context.Context, sql string, payload []byte, annotate bool, literal bool) step {
	s := step{mode: r.mode()}
	if annotate && !mayBeStatementName(sql) {
		s.payload = payload
	}

	switch s.mode {
	case modeImplicit, modeUnknown:
		s.comment = s.payload != nil
	case modeTx:
		st := r.state
		switch {
		case s.payload == nil:
			s = r.plan(ctx, nil, false)
		case st.known && bytes.Equal(st.value, s.payload):
			// The setting already carries the context.
		case st.known && len(st.value) == 0:
			s.comment = true
		case literal && r.owns():
			s.set, s.value, s.keep = true, s.payload, true
		default:
			s.set, s.value, s.comment = true, nil, true
		}
	}

	return s
}

// owns reports whether the runner belongs to the transaction that may leave
// the setting set.
func (r *runner) owns() bool {
	return r.owner != nil && r.state.owner == r.owner
}

// finish records the setting after a call that returned err.
func (r *runner) finish(s step, err error) {
	if s.mode != modeTx {
		return
	}

	st := r.state
	switch {
	case err != nil || s.unknownAfter:
		st.known = false
	case s.keep:
		st.known, st.value = true, s.value
	case s.set || s.clear:
		st.known, st.value = true, nil
	}
}
