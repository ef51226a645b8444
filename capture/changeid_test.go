package capture

import (
	"testing"
	"time"
)

func TestChangeIDVersionAndVariant(t *testing.T) {
	at := time.Date(2026, 12, 4, 20, 0, 0, 123_000_000, time.UTC)
	id := changeID("app", 0x16B3748, 7, at).Bytes

	if got := id[6] >> 4; got != 7 {
		t.Errorf("version = %d, want 7", got)
	}
	if got := id[8] >> 6; got != 2 {
		t.Errorf("variant bits = %b, want 10", got)
	}

	ms := uint64(id[0])<<40 | uint64(id[1])<<32 | uint64(id[2])<<24 | uint64(id[3])<<16 | uint64(id[4])<<8 | uint64(id[5])
	if ms != uint64(at.UnixMilli()) {
		t.Errorf("time field = %d, want %d", ms, at.UnixMilli())
	}
}

func TestChangeIDDeterministicAndDistinct(t *testing.T) {
	at := time.Date(2026, 12, 4, 20, 0, 0, 0, time.UTC)
	first, second := changeID("app", 100, 1, at), changeID("app", 100, 1, at)
	if first != second {
		t.Fatal("the same change got two ids")
	}

	seen := make(map[[16]byte]bool)
	for _, db := range []string{"app", "billing"} {
		for lsn := uint64(1000); lsn < 1100; lsn++ {
			for ordinal := int32(0); ordinal < 100; ordinal++ {
				id := changeID(db, lsn, ordinal, at).Bytes
				if seen[id] {
					t.Fatalf("duplicate id for %s/%d/%d", db, lsn, ordinal)
				}
				seen[id] = true
			}
		}
	}
}
