package capture

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"
)

// Defaults for the Config fields left at their zero value.
const (
	DefaultSlot              = "bemi"
	DefaultPublication       = "bemi"
	DefaultDestinationSchema = "public"
	DefaultMaxBatchRows      = 1000
	DefaultMaxBatchBytes     = 4 << 20
	DefaultFlushInterval     = 10 * time.Millisecond
	DefaultStatusInterval    = 10 * time.Second
	DefaultReconnectMinDelay = 200 * time.Millisecond
	DefaultReconnectMaxDelay = 30 * time.Second
	DefaultDrainTimeout      = 15 * time.Second
)

// MaskedValue is the JSON string that replaces the value of a masked column
// in before and after.
const MaskedValue = "[masked]"

// Config configures a Worker. The zero value plus SourceURL works: every
// other field has a default.
type Config struct {
	// SourceURL is the PostgreSQL URL of the source database, the database
	// whose changes are captured. Required.
	SourceURL string

	// DestinationURL is the database that stores the changes table and the
	// worker's checkpoints. Empty means SourceURL.
	DestinationURL string

	// Slot is the logical replication slot (plugin pgoutput) that bemi setup
	// created. Default DefaultSlot.
	Slot string

	// Publication is the publication that names the captured tables.
	// Default DefaultPublication.
	Publication string

	// DestinationSchema is the schema of the changes table in the
	// destination. Default DefaultDestinationSchema. The worker's own
	// metadata (checkpoints and migrations) always lives in schema bemi.
	DestinationSchema string

	// MaxBatchRows and MaxBatchBytes bound the change rows held in memory:
	// when either is reached, the rows are copied into the open destination
	// transaction, and the destination commits at the next source commit.
	// Defaults DefaultMaxBatchRows and DefaultMaxBatchBytes.
	MaxBatchRows  int
	MaxBatchBytes int

	// FlushInterval is the longest time a received source transaction waits
	// before the destination transaction that stores it commits. Several
	// small source transactions committed within it share one destination
	// transaction. Default DefaultFlushInterval.
	FlushInterval time.Duration

	// StatusInterval is the period of standby status updates, which confirm
	// the stored position to the source so the slot releases WAL.
	// Default DefaultStatusInterval.
	StatusInterval time.Duration

	// ReconnectMinDelay and ReconnectMaxDelay bound the exponential backoff
	// between reconnect attempts after a lost connection.
	// Defaults DefaultReconnectMinDelay and DefaultReconnectMaxDelay.
	ReconnectMinDelay time.Duration
	ReconnectMaxDelay time.Duration

	// DrainTimeout bounds how long Run keeps reading after its context is
	// canceled, to finish the source transaction in progress. When it passes,
	// the unfinished transaction is rolled back in the destination and read
	// again after the next start. Default DefaultDrainTimeout.
	DrainTimeout time.Duration

	// Columns holds per-table column rules, keyed by "schema.table" as
	// written in the catalog, without quotes (for example "public.users").
	Columns map[string]ColumnRule
}

// ColumnRule keeps columns of one table out of the changes table.
type ColumnRule struct {
	// Exclude names columns left out of before and after.
	Exclude []string

	// Mask names columns whose non-NULL values are stored as MaskedValue in
	// before and after. A NULL stays null.
	Mask []string
}

// withDefaults returns cfg with every zero field set to its default, or an
// error naming the first invalid field.
func (cfg Config) withDefaults() (Config, error) {
	if cfg.SourceURL == "" {
		return cfg, errors.New("missing source database URL: set Config.SourceURL")
	}
	if cfg.DestinationURL == "" {
		cfg.DestinationURL = cfg.SourceURL
	}
	setDefault(&cfg.Slot, DefaultSlot)
	setDefault(&cfg.Publication, DefaultPublication)
	setDefault(&cfg.DestinationSchema, DefaultDestinationSchema)
	setDefault(&cfg.MaxBatchRows, DefaultMaxBatchRows)
	setDefault(&cfg.MaxBatchBytes, DefaultMaxBatchBytes)
	setDefault(&cfg.FlushInterval, DefaultFlushInterval)
	setDefault(&cfg.StatusInterval, DefaultStatusInterval)
	setDefault(&cfg.ReconnectMinDelay, DefaultReconnectMinDelay)
	setDefault(&cfg.ReconnectMaxDelay, DefaultReconnectMaxDelay)
	setDefault(&cfg.DrainTimeout, DefaultDrainTimeout)

	if !validSlotName(cfg.Slot) {
		return cfg, fmt.Errorf("invalid slot name %q: use lower-case letters, digits and underscores", cfg.Slot)
	}
	if cfg.ReconnectMaxDelay < cfg.ReconnectMinDelay {
		return cfg, fmt.Errorf("invalid reconnect delays: max %s is below min %s", cfg.ReconnectMaxDelay, cfg.ReconnectMinDelay)
	}
	for table := range cfg.Columns {
		if !strings.Contains(table, ".") {
			return cfg, fmt.Errorf("invalid column rule key %q: write it as schema.table", table)
		}
	}

	return cfg, nil
}

func setDefault[T comparable](field *T, value T) {
	var zero T
	if *field == zero {
		*field = value
	}
}

// validSlotName applies PostgreSQL's rule for replication slot names, which
// also makes the name safe to place unquoted in START_REPLICATION.
func validSlotName(name string) bool {
	if name == "" || len(name) > 63 {
		return false
	}
	for _, c := range name {
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '_' {
			return false
		}
	}

	return true
}

// Option sets a dependency of a Worker.
type Option func(*Worker)

// WithLogger sets the logger of the worker. Without it the worker does not
// log.
func WithLogger(logger *slog.Logger) Option {
	return func(w *Worker) {
		if logger != nil {
			w.log = logger
		}
	}
}

// WithMetrics sets the receiver of the worker's events, for counters and
// gauges. Without it events are dropped.
func WithMetrics(m Metrics) Option {
	return func(w *Worker) {
		if m != nil {
			w.metrics = m
		}
	}
}
