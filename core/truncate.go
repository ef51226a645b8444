package core

import (
	"log/slog"
	"strconv"
)

// TruncatedKey is the key that marks a context cut down to fit the size
// limit. Its value is an object with the original size in bytes and the
// names of the dropped keys in byte order; Encoder.Encode gives the rule.
const TruncatedKey = "_bemiTruncated"

// truncatedValueSize is the largest encoded top-level value that survives
// truncation, so scalar facts such as userId and endpoint stay readable.
const truncatedValueSize = 1024

// maxLoggedKeys bounds the number of key names in a truncation warning.
const maxLoggedKeys = 20

const (
	markerHead  = `"` + TruncatedKey + `":{"originalSize":`
	droppedHead = `,"droppedKeys":[`
)

// entrySpan locates one `"key":value` entry in an encoded object: the key
// occupies [start, keyEnd) and the value (keyEnd, end).
type entrySpan struct {
	start, keyEnd, end int
}

func (s entrySpan) entryLen() int { return s.end - s.start }
func (s entrySpan) keyLen() int   { return s.keyEnd - s.start }
func (s entrySpan) valueLen() int { return s.end - s.keyEnd - 1 }

// truncate cuts the encoded object full down to limit bytes by the rule
// documented at Encode. keys and spans describe its entries in key order.
func (e *Encoder) truncate(full []byte, keys []string, spans []entrySpan, limit int) []byte {
	originalSize := strconv.Itoa(len(full))

	// Sizes are tracked arithmetically, so an object with many keys is
	// rebuilt once rather than once per dropped key.
	keep := make([]bool, len(spans))
	var keptBytes, kept, droppedBytes, dropped int
	for i, s := range spans {
		if s.valueLen() <= truncatedValueSize && keys[i] != TruncatedKey {
			keep[i] = true
			keptBytes += s.entryLen()
			kept++
		} else {
			droppedBytes += s.keyLen()
			dropped++
		}
	}
	total := func() int {
		n := 2 + keptBytes + kept + len(markerHead) + len(originalSize) + 1
		if dropped > 0 {
			n += len(droppedHead) + droppedBytes + dropped
		}

		return n
	}
	for i := len(spans) - 1; i >= 0 && total() > limit; i-- {
		if !keep[i] {
			continue
		}
		keep[i] = false
		keptBytes -= spans[i].entryLen()
		kept--
		droppedBytes += spans[i].keyLen()
		dropped++
	}

	var out []byte
	if total() <= limit {
		out = buildTruncated(full, keys, spans, keep, originalSize, total())
	} else {
		out = []byte(`{` + markerHead + originalSize + `}}`)
	}

	e.logTruncation(keys, keep, len(full), limit, dropped)

	return out
}

// buildTruncated writes the kept entries of full and the TruncatedKey marker
// in key order.
func buildTruncated(full []byte, keys []string, spans []entrySpan, keep []bool, originalSize string, size int) []byte {
	out := make([]byte, 0, size)
	out = append(out, '{')
	first := true
	separate := func() {
		if !first {
			out = append(out, ',')
		}
		first = false
	}

	markerDone := false
	for i, s := range spans {
		if !markerDone && keys[i] > TruncatedKey {
			separate()
			out = appendMarker(out, full, spans, keep, originalSize)
			markerDone = true
		}
		if keep[i] {
			separate()
			out = append(out, full[s.start:s.end]...)
		}
	}
	if !markerDone {
		separate()
		out = appendMarker(out, full, spans, keep, originalSize)
	}

	return append(out, '}')
}

func appendMarker(out, full []byte, spans []entrySpan, keep []bool, originalSize string) []byte {
	out = append(out, markerHead...)
	out = append(out, originalSize...)
	out = append(out, droppedHead...)
	first := true
	for i, s := range spans {
		if keep[i] {
			continue
		}
		if !first {
			out = append(out, ',')
		}
		first = false
		out = append(out, full[s.start:s.keyEnd]...)
	}

	return append(out, ']', '}')
}

// logTruncation logs one warning per truncation, with at most maxLoggedKeys
// of the dropped key names. It never logs values.
func (e *Encoder) logTruncation(keys []string, keep []bool, size, limit, dropped int) {
	names := make([]string, 0, min(dropped, maxLoggedKeys))
	for i, k := range keys {
		if !keep[i] && len(names) < maxLoggedKeys {
			names = append(names, k)
		}
	}

	e.logger().Warn("bemi: context over the size limit truncated",
		slog.Int("size", size),
		slog.Int("limit", limit),
		slog.Int("droppedCount", dropped),
		slog.Any("droppedKeys", names))
}
