package capture

import (
	"log/slog"
	"time"
)

// Defaults of logLimiter: one warning per key per minute, and at most 1,024
// keys remembered.
const (
	logLimitInterval = time.Minute
	logLimitKeys     = 1024
)

// logLimiter limits warnings that repeat with every row or message, such as
// a column whose values do not parse, to one per key and interval. The
// first event of a key is logged at once. Later ones within the interval
// are only counted, and the next warning logged for the key reports that
// count as "suppressed". Only the worker's goroutine uses it.
type logLimiter struct {
	interval time.Duration
	now      func() time.Time
	keys     map[string]*logLimitKey
}

type logLimitKey struct {
	logged     time.Time
	suppressed int
}

func newLogLimiter() *logLimiter {
	return &logLimiter{interval: logLimitInterval, now: time.Now, keys: make(map[string]*logLimitKey)}
}

// warn logs msg with attrs at warning level unless a warning for key was
// logged less than an interval ago.
func (l *logLimiter) warn(log *slog.Logger, key, msg string, attrs ...any) {
	now := l.now()
	k, ok := l.keys[key]
	if ok && now.Sub(k.logged) < l.interval {
		k.suppressed++

		return
	}
	if !ok {
		if len(l.keys) >= logLimitKeys {
			// Forget every key rather than track their age: at worst each
			// logs once more.
			clear(l.keys)
		}
		k = &logLimitKey{}
		l.keys[key] = k
	}

	if k.suppressed > 0 {
		attrs = append(attrs, "suppressed", k.suppressed)
	}
	log.Warn(msg, attrs...)
	k.logged, k.suppressed = now, 0
}
