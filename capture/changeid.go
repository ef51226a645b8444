package capture

import (
	"encoding/binary"
	"time"

	"github.com/jackc/pgx/v5/pgtype"
)

// changeID returns the id of a change: a version 7 UUID (RFC 9562). Its
// time field is the source transaction's commit time in milliseconds, and
// its other 74 bits are a hash of the source database, the commit LSN and
// the change's ordinal. So a change gets the same id whenever it is stored,
// also after a crash. The ids of one transaction sort together, which keeps
// inserts into the id index local, where random UUIDs scatter them.
func changeID(database string, commitLSN uint64, ordinal int32, committedAt time.Time) pgtype.UUID {
	h1 := fnv1a(fnvOffset, database)
	h1 = fnv1aUint64(h1, commitLSN)
	h1 = fnv1aUint64(h1, uint64(uint32(ordinal)))
	h2 := fnv1aUint64(h1^0x9e3779b97f4a7c15, commitLSN^uint64(uint32(ordinal)))

	var id [16]byte
	ms := uint64(committedAt.UnixMilli())
	id[0] = byte(ms >> 40)
	id[1] = byte(ms >> 32)
	id[2] = byte(ms >> 24)
	id[3] = byte(ms >> 16)
	id[4] = byte(ms >> 8)
	id[5] = byte(ms)
	binary.BigEndian.PutUint16(id[6:8], 0x7000|uint16(h2&0x0fff))
	binary.BigEndian.PutUint64(id[8:16], h1)
	id[8] = 0x80 | id[8]&0x3f

	return pgtype.UUID{Bytes: id, Valid: true}
}

const (
	fnvOffset = 14695981039346656037
	fnvPrime  = 1099511628211
)

func fnv1a(h uint64, s string) uint64 {
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= fnvPrime
	}

	return h
}

func fnv1aUint64(h, v uint64) uint64 {
	for i := 0; i < 8; i++ {
		h ^= v & 0xff
		h *= fnvPrime
		v >>= 8
	}

	return h
}
