package gormbemi

import (
	"database/sql"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"

	"github.com/bemi-go/bemi/internal/pgxsql"
)

// installation is the plugin on one *gorm.DB, with what Initialize learned
// about the database driver.
type installation struct {
	p *Plugin

	// pgx is true when the pool runs on pgx's database/sql driver
	// (github.com/jackc/pgx/v5/stdlib), the postgres dialector's default.
	pgx bool

	// uncachedText is true when pgx caches nothing by statement text: with
	// the simple protocol (postgres.Config.PreferSimpleProtocol or
	// default_query_exec_mode=simple_protocol in the DSN) and in the modes
	// exec and describe_exec. A comment then costs nothing extra.
	uncachedText bool

	// results records the result columns of the statements that
	// queryBatch runs, to decide which it can read exactly.
	results pgxsql.DescriptionCache
}

// inspect finds out, without a round trip, which driver runs db's pool and
// in which mode.
func (p *Plugin) inspect(db *gorm.DB) *installation {
	in := &installation{p: p}

	var cfg *postgres.Config
	switch d := db.Dialector.(type) {
	case *postgres.Dialector:
		cfg = d.Config
	case postgres.Dialector:
		cfg = d.Config
	}
	if cfg != nil && cfg.Conn == nil && cfg.DriverName == "" {
		// The dialector opens the pool itself, through pgx's stdlib.
		in.pgx = true
		in.uncachedText = cfg.PreferSimpleProtocol
		if c, err := pgx.ParseConfig(cfg.DSN); err == nil {
			switch c.DefaultQueryExecMode {
			case pgx.QueryExecModeSimpleProtocol, pgx.QueryExecModeExec, pgx.QueryExecModeDescribeExec:
				in.uncachedText = true
			}
		}

		return in
	}

	// A pool the application opened: the driver shows whether it is pgx,
	// but not its query mode, so the plugin assumes a statement cache.
	// NOTE: the tests cover pgx's driver only; on other drivers the plugin
	// uses set_config on *sql.Tx and the comment, untested there.
	if sqlDB := rootDB(db.ConnPool); sqlDB != nil {
		_, in.pgx = sqlDB.Driver().(*stdlib.Driver)
	}

	return in
}

// rootDB returns the *sql.DB under pool, or nil.
func rootDB(pool gorm.ConnPool) *sql.DB {
	switch p := pool.(type) {
	case *sql.DB:
		return p
	case gorm.GetDBConnector:
		db, err := p.GetDBConn()
		if err != nil {
			return nil
		}

		return db
	}

	return nil
}

// begin replaces GORM's default transaction for a write with context by a
// transaction whose BEGIN and set_config share one round trip (see
// beginWithContext). GORM's gorm:begin_transaction, which runs next, then
// finds a transaction in progress and leaves it alone, and
// gorm:commit_or_rollback_transaction commits it. In every other case begin
// does nothing and GORM opens its transaction as usual.
func (in *installation) begin(db *gorm.DB) {
	if db.Error != nil || db.DryRun || db.SkipDefaultTransaction || db.DefaultTransactionTimeout > 0 {
		return
	}
	if !in.pgx || in.uncachedText || in.p.cfg.sqlKey != "" || !in.p.cfg.tracks(db.Statement.Table) {
		return
	}
	sqlDB, ok := db.Statement.ConnPool.(*sql.DB)
	if !ok {
		return
	}

	ctx := db.Statement.Context
	payload, err := in.p.payload(ctx, "")
	if err != nil {
		_ = db.AddError(err)

		return
	}
	if payload == nil {
		return
	}

	tx, err := beginWithContext(ctx, sqlDB, payload)
	if err != nil {
		_ = db.AddError(err)

		return
	}
	if tx == nil {
		return
	}
	db.Statement.ConnPool = tx
	db.InstanceSet("gorm:started_transaction", true)
}

// wrap installs a stmtConn in front of the statement's pool for the one
// callback that sends the statement; unwrap removes it again.
func (in *installation) wrap(db *gorm.DB) {
	if db.Error != nil || db.DryRun {
		return
	}

	pool := db.Statement.ConnPool
	if w, ok := pool.(*stmtConn); ok {
		pool = w.inner
	}
	c := &stmtConn{in: in, db: db, inner: pool, direct: pool, tracked: in.p.cfg.tracks(db.Statement.Table)}

	preparedDB, isPreparedDB := pool.(*gorm.PreparedStmtDB)
	_, isPreparedTx := pool.(*gorm.PreparedStmtTX)
	_, isTx := pool.(gorm.TxCommitter)
	switch {
	case in.uncachedText && !isPreparedDB && !isPreparedTx:
		c.mode = viaComment
	case isTx:
		c.mode = viaSetting
		c.tx = in.p.txs.state(pool)
	default:
		c.mode = viaComment
		if isPreparedDB {
			// GORM's statement cache is keyed by text and unbounded by
			// default: a commented statement must bypass it.
			c.direct = preparedDB.ConnPool
		}
		c.uncached = in.pgx && !in.uncachedText
	}
	db.Statement.ConnPool = c
}

func unwrap(db *gorm.DB) {
	if c, ok := db.Statement.ConnPool.(*stmtConn); ok {
		db.Statement.ConnPool = c.inner
	}
}
