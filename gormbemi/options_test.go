package gormbemi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bemi-go/bemi/core"
	"github.com/bemi-go/bemi/gormbemi"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"
	"gorm.io/gorm/utils/tests"
)

func TestWithTablesLimitsContext(t *testing.T) {
	e := newEnv(t, envOptions{plugin: []gormbemi.Option{gormbemi.WithTables("public.items")}})
	db := e.db.WithContext(user(1))

	if err := db.Create(&Plain{Name: "p"}).Error; err != nil {
		t.Fatal(err)
	}
	if err := db.Create(&Item{Name: "i"}).Error; err != nil {
		t.Fatal(err)
	}
	err := db.Transaction(func(tx *gorm.DB) error {
		if err := tx.Create(&Item{Name: "j"}).Error; err != nil {
			return err
		}

		return tx.Create(&Plain{Name: "q"}).Error
	})
	if err != nil {
		t.Fatal(err)
	}

	expectContexts(t, e.stored(t, 4), []change{
		{table: "public.plains", op: "CREATE", context: ""},
		{table: "public.items", op: "CREATE", context: ctxJSON(1)},
		{table: "public.items", op: "CREATE", context: ctxJSON(1)},
		// A write outside the list runs without context, so it gets the
		// reset instead of the earlier statement's context.
		{table: "public.plains", op: "CREATE", context: "{}"},
	})
}

func TestWithSQLAddsStatement(t *testing.T) {
	for _, simple := range []bool{false, true} {
		e := newEnv(t, envOptions{plugin: []gormbemi.Option{gormbemi.WithSQL("SQL")}, simple: simple})

		if err := e.db.WithContext(user(1)).Create(&Item{Name: "a"}).Error; err != nil {
			t.Fatal(err)
		}
		if err := e.db.Exec(`UPDATE items SET qty = 2`).Error; err != nil {
			t.Fatal(err)
		}

		got := e.stored(t, 2)
		if len(got) != 2 {
			t.Fatalf("simple=%v: got %d changes, want 2", simple, len(got))
		}
		var fields map[string]any
		if err := json.Unmarshal([]byte(got[0].context), &fields); err != nil {
			t.Fatalf("simple=%v: context %q: %v", simple, got[0].context, err)
		}
		wantSQL := `INSERT INTO "items" ("name","qty","owner_id","deleted_at") VALUES ($1,$2,$3,$4) RETURNING "id"`
		if fields["SQL"] != wantSQL || fields["userId"] != 1.0 {
			t.Errorf("simple=%v: context = %v, want userId 1 and SQL %q", simple, fields, wantSQL)
		}
		// A statement without application context gets no SQL key either.
		if !sameJSON(got[1].context, "{}") {
			t.Errorf("simple=%v: write without context has context %q", simple, got[1].context)
		}
	}
}

func TestWithMaxPayloadSizeTruncates(t *testing.T) {
	var logged bytes.Buffer
	var mu sync.Mutex
	log := slog.New(slog.NewTextHandler(lockedWriter{&mu, &logged}, nil))
	e := newEnv(t, envOptions{plugin: []gormbemi.Option{gormbemi.WithMaxPayloadSize(200), gormbemi.WithLogger(log)}})

	ctx := core.With(user(1), core.Fields{"params": strings.Repeat("x", 2000)})
	if err := e.db.WithContext(ctx).Create(&Item{Name: "a"}).Error; err != nil {
		t.Fatal(err)
	}

	got := e.stored(t, 1)
	if len(got) != 1 {
		t.Fatalf("got %d changes, want 1", len(got))
	}
	var fields map[string]any
	if err := json.Unmarshal([]byte(got[0].context), &fields); err != nil {
		t.Fatalf("context %q: %v", got[0].context, err)
	}
	if _, ok := fields[core.TruncatedKey]; !ok || fields["userId"] != 1.0 || fields["params"] != nil {
		t.Errorf("context = %s, want userId, the truncation marker and no params", got[0].context)
	}
	mu.Lock()
	defer mu.Unlock()
	if !strings.Contains(logged.String(), "WARN") {
		t.Errorf("no warning logged for the truncation; log: %q", logged.String())
	}
}

type lockedWriter struct {
	mu  *sync.Mutex
	buf *bytes.Buffer
}

func (w lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()

	return w.buf.Write(p)
}

func TestRejectsOtherDialects(t *testing.T) {
	db, err := gorm.Open(tests.DummyDialector{}, &gorm.Config{Logger: logger.Discard})
	if err != nil {
		t.Fatal(err)
	}

	err = db.Use(gormbemi.New())
	if err == nil || !strings.Contains(err.Error(), "PostgreSQL only") {
		t.Fatalf("Use on a non-PostgreSQL dialect returned %v, want an error", err)
	}
}

func TestInitializeIdempotent(t *testing.T) {
	warnings := &warnLogger{}
	e := newEnv(t, envOptions{gorm: gorm.Config{Logger: warnings}, wal: true})

	if err := e.db.Use(gormbemi.New()); !errors.Is(err, gorm.ErrRegistered) {
		t.Errorf("second Use returned %v, want gorm.ErrRegistered", err)
	}
	plugin := gormbemi.New()
	for range 2 {
		if err := plugin.Initialize(e.db); err != nil {
			t.Fatal(err)
		}
	}
	if w := warnings.all(); len(w) != 0 {
		t.Errorf("GORM warned: %q", w)
	}

	e.trace.take()
	if err := e.db.WithContext(user(1)).Create(&Item{Name: "a"}).Error; err != nil {
		t.Fatal(err)
	}
	sets := 0
	for _, sql := range e.trace.take() {
		sets += strings.Count(sql, "set_config")
	}
	if sets != 1 {
		t.Errorf("sent set_config %d times for one write, want 1", sets)
	}
	txs := e.readWAL(t)
	if len(txs) != 1 || len(txs[0].messages) != 1 {
		t.Errorf("got %d transactions with messages %v, want one message", len(txs), txs)
	}
}

// warnLogger is a GORM logger that records warnings, such as the one GORM
// logs for a callback registered twice.
type warnLogger struct {
	mu       sync.Mutex
	warnings []string
}

func (l *warnLogger) LogMode(logger.LogLevel) logger.Interface { return l }
func (l *warnLogger) Info(context.Context, string, ...any)     {}
func (l *warnLogger) Error(context.Context, string, ...any)    {}
func (l *warnLogger) Trace(context.Context, time.Time, func() (string, int64), error) {
}

func (l *warnLogger) Warn(_ context.Context, msg string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.warnings = append(l.warnings, fmt.Sprintf(msg, args...))
}

func (l *warnLogger) all() []string {
	l.mu.Lock()
	defer l.mu.Unlock()

	return l.warnings
}
