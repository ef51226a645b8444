package history

import (
	"context"
	"io"
	"log/slog"
	"sync/atomic"

	"github.com/jackc/pgx/v5"

	"github.com/bemi-go/bemi/capture"
)

// Querier runs queries on the destination database. *pgx.Conn,
// *pgxpool.Pool and pgx.Tx satisfy it.
type Querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// Config selects the changes table that a Reader reads. The zero value
// reads public.changes, the capture worker's default.
type Config struct {
	// Schema is the schema of the changes table, the capture worker's
	// DestinationSchema. Empty means capture.DefaultDestinationSchema.
	Schema string

	// Database is the source database whose changes are read, when the
	// destination holds the changes of several source databases. Empty
	// means every database; Filter.Database overrides it per query.
	Database string
}

// Reader queries the changes table written by the capture worker: lists of
// changes with filters and keyset paging, and the state of a record or a
// table as of a time. A Reader is safe for concurrent use when its Querier
// is, as a *pgxpool.Pool is and a *pgx.Conn is not.
type Reader struct {
	db       Querier
	table    string // the quoted changes table
	database string
	log      *slog.Logger

	// haveSnapshots caches that the snapshot tables exist.
	haveSnapshots atomic.Bool
}

// ReaderOption sets a dependency of a Reader.
type ReaderOption func(*Reader)

// WithLogger sets the logger that receives debug lines about the queries a
// Reader runs. Without it the Reader does not log.
func WithLogger(logger *slog.Logger) ReaderOption {
	return func(r *Reader) {
		if logger != nil {
			r.log = logger
		}
	}
}

// NewReader returns a Reader of the changes table in the destination that db
// is connected to.
func NewReader(db Querier, cfg Config, opts ...ReaderOption) *Reader {
	schema := cfg.Schema
	if schema == "" {
		schema = capture.DefaultDestinationSchema
	}
	r := &Reader{
		db:       db,
		table:    pgx.Identifier{schema, "changes"}.Sanitize(),
		database: cfg.Database,
		log:      slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	for _, opt := range opts {
		opt(r)
	}

	return r
}

// query runs a query whose plan is made for its parameter values each time.
// A prepared statement's generic plan cannot know how selective a
// parameter is: a context filter that matches 500 of a million rows would
// then walk the committed_at index instead of the GIN index on context.
// QueryExecModeCacheDescribe executes an unnamed statement, which
// PostgreSQL plans with the values bound, still in one round trip.
func (r *Reader) query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	return r.db.Query(ctx, sql, append([]any{pgx.QueryExecModeCacheDescribe}, args...)...)
}

func (r *Reader) queryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	return r.db.QueryRow(ctx, sql, append([]any{pgx.QueryExecModeCacheDescribe}, args...)...)
}
