package entbemi

import (
	"context"
	"database/sql"
	"fmt"

	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/bemi-go/bemi/core"
	"github.com/bemi-go/bemi/internal/pgxsql"
)

// Mechanism is the way a Driver sends a statement's context to the
// database trigger.
type Mechanism int

const (
	// MechanismSetting sends the context through the transaction-local
	// setting core.SettingName. Outside a transaction, set_config and the
	// statement travel as one pgx batch: one round trip, one implicit
	// transaction, and an unchanged statement text, so pgx's statement
	// cache keeps working. A Driver uses it when the wrapped driver is an
	// *entsql.Driver over a *sql.DB opened with the pgx stdlib driver.
	MechanismSetting Mechanism = iota + 1

	// MechanismComment appends the context as a /*Bemi ... Bemi*/ comment
	// to the statement text. A Driver uses it for every other wrapped
	// driver. With pgx's default statement cache, a comment that differs
	// per request makes every statement a cache miss. Drivers that do not
	// cache statements by text (lib/pq, pgx in exec or simple_protocol
	// mode) pay only for the longer text.
	MechanismComment
)

// String returns "setting" or "comment".
func (m Mechanism) String() string {
	switch m {
	case MechanismSetting:
		return "setting"
	case MechanismComment:
		return "comment"
	default:
		return fmt.Sprintf("Mechanism(%d)", int(m))
	}
}

// Config configures a Driver. The zero value annotates writes with the
// default core.Encoder.
type Config struct {
	// Encoder encodes the context fields. Nil means the zero core.Encoder:
	// a 1 MiB limit and truncation warnings on slog.Default().
	Encoder *core.Encoder

	// AllStatements annotates every statement, not only those that
	// core.IsWrite reports, for applications that write through functions
	// called from SELECT. Annotated reads then take the same path as
	// annotated writes.
	AllStatements bool
}

// Driver is a dialect.Driver that attaches the application context of each
// write (see core.With) to the statement, so the database trigger records it
// with the statement's changes. It embeds the wrapped driver and overrides
// Exec, Query, ExecContext, QueryContext, Tx and BeginTx; reads and writes
// without context go to the wrapped driver unchanged. A Driver is safe for
// concurrent use.
type Driver struct {
	dialect.Driver

	annotator core.Annotator

	// db is the pool that setting batches run on; nil with
	// MechanismComment.
	db   *sql.DB
	vars sessionVarsDB

	// descriptions records the result columns of the statements that
	// queryBatch runs, to choose between a batch and a pipeline.
	descriptions pgxsql.DescriptionCache
}

// NewDriver wraps drv. When drv is an *entsql.Driver (possibly inside a
// *dialect.DebugDriver) over a *sql.DB opened with the pgx stdlib driver
// (sql.Open("pgx", ...), stdlib.OpenDB or stdlib.OpenDBFromPool), the
// Driver uses MechanismSetting on that *sql.DB; otherwise it uses
// MechanismComment.
func NewDriver(drv dialect.Driver, cfg Config) *Driver {
	d := &Driver{
		Driver:    drv,
		annotator: core.Annotator{Encoder: cfg.Encoder, AllStatements: cfg.AllStatements},
	}
	if db := pgxDB(drv); db != nil {
		d.db = db
	}

	return d
}

// pgxDB returns the *sql.DB under drv when it uses the pgx stdlib driver.
func pgxDB(drv dialect.Driver) *sql.DB {
	for {
		switch x := drv.(type) {
		case *dialect.DebugDriver:
			drv = x.Driver
		case *entsql.Driver:
			db, ok := x.ExecQuerier.(*sql.DB)
			if !ok || x.Dialect() != dialect.Postgres {
				return nil
			}
			if _, ok := db.Driver().(*stdlib.Driver); !ok {
				return nil
			}

			return db
		default:
			return nil
		}
	}
}

// Mechanism returns the way d sends the context.
func (d *Driver) Mechanism() Mechanism {
	if d.db != nil {
		return MechanismSetting
	}

	return MechanismComment
}

// Exec runs a statement that returns no rows. v is nil or an *entsql.Result,
// as for the wrapped driver.
func (d *Driver) Exec(ctx context.Context, query string, args, v any) error {
	payload, ok, err := d.payload(ctx, query)
	if err != nil {
		return err
	}
	if !ok {
		return d.Driver.Exec(ctx, query, args, v)
	}
	if d.db == nil {
		return d.Driver.Exec(ctx, core.AppendComment(query, payload), args, v)
	}

	argv, err := argSlice(args)
	if err != nil {
		return err
	}
	if !pgxsql.Batchable(argv) {
		return d.Driver.Exec(ctx, core.AppendComment(query, payload), describeExecArgs(argv), v)
	}
	res, err := d.execBatch(ctx, nil, payload, query, argv)
	if err != nil {
		return err
	}

	return setResult(v, res)
}

// Query runs a statement that returns rows, such as INSERT ... RETURNING.
// v is an *entsql.Rows, as for the wrapped driver.
func (d *Driver) Query(ctx context.Context, query string, args, v any) error {
	payload, ok, err := d.payload(ctx, query)
	if err != nil {
		return err
	}
	if !ok {
		return d.Driver.Query(ctx, query, args, v)
	}
	if d.db == nil {
		return d.Driver.Query(ctx, core.AppendComment(query, payload), args, v)
	}

	vr, ok := v.(*entsql.Rows)
	if !ok {
		return fmt.Errorf("entbemi: query result is %T, want *sql.Rows of entgo.io/ent/dialect/sql", v)
	}
	argv, err := argSlice(args)
	if err != nil {
		return err
	}
	if !pgxsql.Batchable(argv) {
		return d.Driver.Query(ctx, core.AppendComment(query, payload), describeExecArgs(argv), v)
	}
	rows, err := d.queryBatch(ctx, nil, payload, query, argv)
	if err != nil {
		return err
	}
	*vr = entsql.Rows{ColumnScanner: rows}

	return nil
}

// ExecContext runs a raw statement, as the generated client's ExecContext
// does with the sql/execquery feature. The wrapped driver must have
// ExecContext.
func (d *Driver) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	ex, ok := d.Driver.(execContexter)
	if !ok {
		return nil, fmt.Errorf("entbemi: driver %T has no ExecContext method", d.Driver)
	}

	payload, ok, err := d.payload(ctx, query)
	if err != nil {
		return nil, err
	}
	if !ok {
		return ex.ExecContext(ctx, query, args...)
	}
	if d.db == nil {
		return ex.ExecContext(ctx, core.AppendComment(query, payload), args...)
	}
	if !pgxsql.Batchable(args) {
		return ex.ExecContext(ctx, core.AppendComment(query, payload), describeExecArgs(args)...)
	}

	return d.execBatch(ctx, nil, payload, query, args)
}

// QueryContext runs a raw statement that returns rows. The wrapped driver
// must have QueryContext. With MechanismSetting, the rows of an annotated
// statement are read into memory before QueryContext returns.
func (d *Driver) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	q, ok := d.Driver.(queryContexter)
	if !ok {
		return nil, fmt.Errorf("entbemi: driver %T has no QueryContext method", d.Driver)
	}

	payload, ok, err := d.payload(ctx, query)
	if err != nil {
		return nil, err
	}
	if !ok {
		return q.QueryContext(ctx, query, args...)
	}
	if d.db == nil {
		return q.QueryContext(ctx, core.AppendComment(query, payload), args...)
	}
	if !pgxsql.Batchable(args) {
		return q.QueryContext(ctx, core.AppendComment(query, payload), describeExecArgs(args)...)
	}

	return d.queryBatch(ctx, nil, payload, query, args)
}

// Tx starts a transaction whose writes carry their context.
func (d *Driver) Tx(ctx context.Context) (dialect.Tx, error) {
	return d.BeginTx(ctx, nil)
}

// BeginTx starts a transaction with options, as ent's generated
// Client.BeginTx requires. With MechanismComment, the wrapped driver must
// have BeginTx when opts is not nil.
func (d *Driver) BeginTx(ctx context.Context, opts *sql.TxOptions) (dialect.Tx, error) {
	if d.db != nil {
		return d.beginOnConn(ctx, opts)
	}

	var (
		tx  dialect.Tx
		err error
	)
	if b, ok := d.Driver.(txBeginner); ok {
		tx, err = b.BeginTx(ctx, opts)
	} else if opts == nil {
		tx, err = d.Driver.Tx(ctx)
	} else {
		return nil, fmt.Errorf("entbemi: driver %T has no BeginTx method for transaction options", d.Driver)
	}
	if err != nil {
		return nil, err
	}

	// The setting is transaction-local, so it starts empty.
	return &Tx{Tx: tx, driver: d, known: true}, nil
}

// payload returns the context payload for query, and false when query goes
// without context. An encoding error is returned wrapped: the fields hold a
// value that encoding/json rejects, such as a channel.
func (d *Driver) payload(ctx context.Context, query string) ([]byte, bool, error) {
	payload, ok, err := d.annotator.Payload(ctx, query)
	if err != nil {
		return nil, false, fmt.Errorf("entbemi: encode context: %w", err)
	}

	return payload, ok, nil
}

type execContexter interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

type queryContexter interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

type txBeginner interface {
	BeginTx(ctx context.Context, opts *sql.TxOptions) (dialect.Tx, error)
}

// describeExecArgs returns args for a statement with the context comment
// that goes through the wrapped driver because args hold pgx query options
// (see pgxsql.Batchable). In pgx's describe exec mode, pgx prepares the
// commented text as the unnamed statement, so pgx's statement cache does
// not fill with texts that run once. An exec mode among args overrides it.
func describeExecArgs(args []any) []any {
	return append([]any{pgx.QueryExecModeDescribeExec}, args...)
}

// argSlice returns the statement arguments that ent passes as an any.
func argSlice(args any) ([]any, error) {
	switch a := args.(type) {
	case nil:
		return nil, nil
	case []any:
		return a, nil
	default:
		return nil, fmt.Errorf("entbemi: statement arguments are %T, want []any", args)
	}
}

// setResult stores res in v, which is nil or an *entsql.Result.
func setResult(v any, res sql.Result) error {
	switch v := v.(type) {
	case nil:
		return nil
	case *entsql.Result:
		*v = res

		return nil
	default:
		return fmt.Errorf("entbemi: exec result is %T, want *sql.Result", v)
	}
}
