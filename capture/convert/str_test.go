package convert

import (
	"encoding/binary"
	"math/rand/v2"
	"testing"
)

func TestPlainASCII8MatchesByteCheck(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	check := func(b [8]byte) {
		want := true
		for _, c := range b {
			if c >= 0x80 || !safeASCII[c] {
				want = false
			}
		}
		if got := plainASCII8(binary.LittleEndian.Uint64(b[:])); got != want {
			t.Fatalf("plainASCII8(%q) = %v, want %v", b, got, want)
		}
	}

	// Every byte value in every position of an otherwise plain word.
	for pos := 0; pos < 8; pos++ {
		for c := 0; c < 256; c++ {
			b := [8]byte{'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'}
			b[pos] = byte(c)
			check(b)
		}
	}

	// Random words, biased towards the boundaries of the special bytes.
	edges := []byte{0x00, 0x1f, 0x20, 0x21, '"' - 1, '"', '"' + 1, '\\' - 1, '\\', '\\' + 1, 0x7f, 0x80, 0xff}
	for range 200000 {
		var b [8]byte
		for i := range b {
			if rng.IntN(2) == 0 {
				b[i] = edges[rng.IntN(len(edges))]
			} else {
				b[i] = byte(rng.IntN(256))
			}
		}
		check(b)
	}
}
