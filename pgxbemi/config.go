package pgxbemi

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/bemi-go/bemi/core"
)

// Config configures New and NewTx. The zero value annotates writes with
// contexts of up to 1 MiB and logs truncated contexts to slog.Default().
type Config struct {
	// MaxContextSize is the largest encoded context in bytes. Optional: zero
	// means core.DefaultMaxPayloadSize (1 MiB), and a negative value
	// disables the limit. A larger context is truncated by the rule of
	// core.Encoder.Encode, with a warning.
	MaxContextSize int

	// AllStatements sends the context with every statement, not only with
	// the writes that core.IsWrite detects, for applications that write
	// through functions called from SELECT. It costs a set_config in the
	// round trip of each read that carries a context.
	AllStatements bool

	// Logger receives a warning when a context is truncated. Optional: nil
	// means slog.Default(), because a write whose context lost fields must
	// not go unnoticed. Nothing else is logged: a context that cannot be
	// encoded fails the call with an error instead.
	Logger *slog.Logger
}

// options is a Config prepared for use.
type options struct {
	annotator core.Annotator
}

func newOptions(cfg Config) *options {
	logger := cfg.Logger
	if logger == nil {
		logger = slog.Default()
	}

	return &options{
		annotator: core.Annotator{
			Encoder:       &core.Encoder{MaxSize: cfg.MaxContextSize, Logger: logger},
			AllStatements: cfg.AllStatements,
		},
	}
}

// payload returns the context to send with sql, and false when sql runs
// without one. A context that cannot be encoded returns an error from
// encodeError, and the caller sends nothing.
func (o *options) payload(ctx context.Context, sql string) ([]byte, bool, error) {
	p, ok, err := o.annotator.Payload(ctx, sql)
	if err != nil {
		return nil, false, encodeError(err)
	}

	return p, ok, nil
}

// encodeError wraps the error of a context that cannot be encoded, which
// names the field, with what to do about it.
func encodeError(err error) error {
	return fmt.Errorf("pgxbemi: statement not sent: %w (use a value that encodes as JSON: "+
		"string, number, bool, nil, map[string]any, []any, or a type that implements json.Marshaler)", err)
}

// sameContext reports whether ctx carries the context whose encoding is
// value.
func (o *options) sameContext(ctx context.Context, value []byte) bool {
	p, ok, err := core.Payload(ctx, o.annotator.Encoder)

	return ok && err == nil && string(p) == string(value)
}
