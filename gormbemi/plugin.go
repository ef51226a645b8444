package gormbemi

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/bemi-go/bemi/core"
	"gorm.io/gorm"
)

// pluginName is the name under which GORM registers the plugin.
const pluginName = "bemi"

// Callback names. GORM runs callbackBegin before its own
// gorm:begin_transaction, and callbackBefore and callbackAfter around the
// callback that sends the statement (gorm:create, gorm:update, gorm:delete,
// gorm:raw, gorm:row, gorm:query).
const (
	callbackBegin  = "bemi:begin_transaction"
	callbackBefore = "bemi:before"
	callbackAfter  = "bemi:after"
)

// Plugin is a gorm.Plugin that attaches the application context of each
// statement's context.Context (set with core.With and passed with
// db.WithContext) to the writes GORM sends. Create it with New and install
// it with db.Use. A Plugin is safe for concurrent use.
type Plugin struct {
	cfg     config
	encoder *core.Encoder
	txs     txRegistry
}

// New returns a Plugin configured by opts.
func New(opts ...Option) *Plugin {
	p := &Plugin{}
	for _, opt := range opts {
		opt(&p.cfg)
	}
	p.encoder = &core.Encoder{MaxSize: p.cfg.maxPayload, Logger: p.cfg.logger}

	return p
}

// Name returns "bemi", the name GORM registers the plugin under.
func (p *Plugin) Name() string { return pluginName }

// Initialize registers the plugin's callbacks on db. It returns an error for
// a dialect other than PostgreSQL. Calling it again on the same db
// registers nothing.
func (p *Plugin) Initialize(db *gorm.DB) error {
	if name := db.Dialector.Name(); name != "postgres" {
		return fmt.Errorf("gormbemi: dialect %q is not supported: Bemi tracks changes in PostgreSQL only, so do not install the plugin on this database", name)
	}

	cb := db.Callback()
	if cb.Create().Get(callbackBefore) != nil {
		return nil
	}

	d := p.inspect(db)
	p.debug("gormbemi: installed", slog.Bool("pgx", d.pgx), slog.Bool("uncachedText", d.uncachedText))

	registrations := []struct {
		name string
		err  error
	}{
		{"create begin", cb.Create().Before("gorm:begin_transaction").Register(callbackBegin, d.begin)},
		{"update begin", cb.Update().Before("gorm:begin_transaction").Register(callbackBegin, d.begin)},
		{"delete begin", cb.Delete().Before("gorm:begin_transaction").Register(callbackBegin, d.begin)},
		{"create", cb.Create().Before("gorm:create").Register(callbackBefore, d.wrap)},
		{"create", cb.Create().After("gorm:create").Before("gorm:save_after_associations").Register(callbackAfter, unwrap)},
		{"update", cb.Update().Before("gorm:update").Register(callbackBefore, d.wrap)},
		{"update", cb.Update().After("gorm:update").Before("gorm:save_after_associations").Register(callbackAfter, unwrap)},
		{"delete", cb.Delete().Before("gorm:delete").Register(callbackBefore, d.wrap)},
		{"delete", cb.Delete().After("gorm:delete").Before("gorm:after_delete").Register(callbackAfter, unwrap)},
		{"raw", cb.Raw().Before("gorm:raw").Register(callbackBefore, d.wrap)},
		{"raw", cb.Raw().After("gorm:raw").Register(callbackAfter, unwrap)},
		{"row", cb.Row().Before("gorm:row").Register(callbackBefore, d.wrap)},
		{"row", cb.Row().After("gorm:row").Register(callbackAfter, unwrap)},
		{"query", cb.Query().Before("gorm:query").Register(callbackBefore, d.wrap)},
		{"query", cb.Query().After("gorm:query").Before("gorm:preload").Register(callbackAfter, unwrap)},
	}
	for _, r := range registrations {
		if r.err != nil {
			return fmt.Errorf("gormbemi: register %s callback: %w", r.name, r.err)
		}
	}

	return nil
}

// debug logs a debug message when the user configured a logger.
func (p *Plugin) debug(msg string, attrs ...slog.Attr) {
	if p.cfg.logger != nil {
		p.cfg.logger.LogAttrs(context.Background(), slog.LevelDebug, msg, attrs...)
	}
}

// payload returns the encoded context for a write statement, nil when the
// statement carries no context. With WithSQL the statement text joins the
// fields, and only then is the payload encoded per statement.
func (p *Plugin) payload(ctx context.Context, query string) ([]byte, error) {
	payload, ok, err := core.Payload(ctx, p.encoder)
	if err == nil && ok && p.cfg.sqlKey != "" {
		payload, ok, err = core.Payload(core.With(ctx, core.Fields{p.cfg.sqlKey: query}), p.encoder)
	}
	if err != nil {
		return nil, fmt.Errorf("gormbemi: encode context: %w", err)
	}
	if !ok {
		return nil, nil
	}

	return payload, nil
}
