package gormbemi_test

import (
	"context"
	"errors"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bemi-go/bemi/gormbemi"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"
	"github.com/jackc/pgx/v5/stdlib"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"
	"gorm.io/gorm/logger"
)

// Record has columns that PostgreSQL fills in with their defaults, so GORM
// reads them back with RETURNING. The defaults are constant, so two tables
// written in the same order hold the same rows. GORM adds a column to
// RETURNING when its default tag is an expression, which the parentheses
// make it.
type Record struct {
	ID        int64
	Name      string
	Qty       int
	Code      string    `gorm:"default:upper('new')"`
	Amount    float64   `gorm:"default:(12.35)"`
	Due       time.Time `gorm:"default:('2024-02-29 12:34:56.789+02')"`
	Day       time.Time `gorm:"default:('2024-02-29')"`
	Token     string    `gorm:"default:('a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11')"`
	Blob      []byte    `gorm:"default:('\\xdead')"`
	Meta      string    `gorm:"default:('{\"a\": [1, 2]}')"`
	Active    bool      `gorm:"default:(1 = 1)"`
	Note      *string   `gorm:"default:(NULL)"`
	CreatedAt time.Time
	UpdatedAt time.Time
}

// recordsTable creates a table for Record with the defaults of its tags.
func recordsTable(name string) string {
	return `CREATE TABLE ` + name + ` (id bigserial PRIMARY KEY, name text NOT NULL UNIQUE, qty int NOT NULL DEFAULT 0,
		code text NOT NULL DEFAULT upper('new'), amount numeric(10,2) NOT NULL DEFAULT 12.35,
		due timestamptz NOT NULL DEFAULT '2024-02-29 12:34:56.789+02', day date NOT NULL DEFAULT '2024-02-29',
		token uuid NOT NULL DEFAULT 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', blob bytea NOT NULL DEFAULT '\xdead',
		meta jsonb NOT NULL DEFAULT '{"a": [1, 2]}', active bool NOT NULL DEFAULT 1 = 1, note text DEFAULT NULL,
		created_at timestamptz, updated_at timestamptz)`
}

// fixedNow is GORM's clock in these tests, so that CreatedAt and UpdatedAt
// are the same on both tables.
func fixedNow() time.Time { return time.Date(2024, 3, 1, 10, 0, 0, 0, time.UTC) }

// openPlain opens a *gorm.DB on url without the plugin.
func openPlain(t *testing.T, url string, cfg gorm.Config) *gorm.DB {
	t.Helper()

	cfg.Logger = logger.Discard
	db, err := gorm.Open(postgres.New(postgres.Config{DSN: url}), &cfg)
	if err != nil {
		t.Fatal(err)
	}
	sqlDB, err := db.DB()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sqlDB.Close() })

	return db
}

// TestReturningWritesMatchPlain runs each GORM write that returns rows
// outside a transaction twice: through the plugin with a context on table
// records, and without the plugin on table records_plain. The values that
// GORM sets must be the same, the plugin must send set_config and the
// statement as one batch, and each tracked change must carry its context.
func TestReturningWritesMatchPlain(t *testing.T) {
	cfg := gorm.Config{SkipDefaultTransaction: true, NowFunc: fixedNow}
	e := newEnv(t, envOptions{gorm: cfg, schema: []string{recordsTable("records"), recordsTable("records_plain")}})
	plain := openPlain(t, e.url, cfg)

	steps := []struct {
		name string
		op   string // the change on the tracked table, "" for none
		run  func(db *gorm.DB, table string) (any, error)
	}{
		{"Create", "CREATE", func(db *gorm.DB, table string) (any, error) {
			r := Record{Name: "create", Qty: 1}
			err := db.Table(table).Create(&r).Error

			return r, err
		}},
		{"CreateSlice", "CREATE", func(db *gorm.DB, table string) (any, error) {
			rs := []Record{{Name: "slice1"}, {Name: "slice2", Code: "GIVEN"}, {Name: "slice3", Qty: 3}}
			err := db.Table(table).Create(&rs).Error

			return rs, err
		}},
		{"SaveNew", "CREATE", func(db *gorm.DB, table string) (any, error) {
			r := Record{Name: "save"}
			err := db.Table(table).Save(&r).Error

			return r, err
		}},
		{"FirstOrCreateNew", "CREATE", func(db *gorm.DB, table string) (any, error) {
			var r Record
			err := db.Table(table).Where(Record{Name: "first"}).FirstOrCreate(&r).Error

			return r, err
		}},
		{"FirstOrCreateExisting", "", func(db *gorm.DB, table string) (any, error) {
			var r Record
			err := db.Table(table).Where(Record{Name: "first"}).FirstOrCreate(&r).Error

			return r, err
		}},
		{"UpsertInsert", "CREATE", func(db *gorm.DB, table string) (any, error) {
			r := Record{Name: "upsert", Qty: 1}
			err := db.Table(table).Clauses(upsertQty(), clause.Returning{}).Create(&r).Error

			return r, err
		}},
		{"UpsertUpdate", "UPDATE", func(db *gorm.DB, table string) (any, error) {
			r := Record{Name: "upsert", Qty: 2}
			err := db.Table(table).Clauses(upsertQty(), clause.Returning{}).Create(&r).Error

			return r, err
		}},
		{"RawRow", "CREATE", func(db *gorm.DB, table string) (any, error) {
			var id int64
			var code string
			var due time.Time
			err := db.Raw(`INSERT INTO `+table+` (name) VALUES (?) RETURNING id, code, due`, "row").Row().Scan(&id, &code, &due)

			return []any{id, code, due}, err
		}},
		{"RawScanMap", "CREATE", func(db *gorm.DB, table string) (any, error) {
			m := map[string]any{}
			err := db.Raw(`INSERT INTO `+table+` (name) VALUES (?) RETURNING *`, "map").Scan(&m).Error

			return m, err
		}},
	}

	var want []change
	for i, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			wantValue, err := s.run(plain, "records_plain")
			if err != nil {
				t.Fatalf("without the plugin: %v", err)
			}
			e.trace.take()
			got, err := s.run(e.db.WithContext(user(i)), "records")
			if err != nil {
				t.Fatalf("with the plugin: %v", err)
			}
			if !reflect.DeepEqual(got, wantValue) {
				t.Errorf("with the plugin GORM set\n%#v\nwithout it\n%#v", got, wantValue)
			}
			if reflect.ValueOf(got).IsZero() {
				t.Errorf("%s returned a zero value", s.name)
			}

			sent := strings.Join(e.trace.take(), "\n")
			if s.op != "" && !strings.Contains(sent, "BATCH[SELECT pg_catalog.set_config('bemi.context', $1, true) IS NULL | ") {
				t.Errorf("sent no batch of set_config and the statement:\n%s", sent)
			}
			if strings.Contains(sent, "/*Bemi") {
				t.Errorf("sent a comment:\n%s", sent)
			}

			if s.op != "" {
				want = append(want, change{table: "public.records", op: s.op, context: ctxJSON(i)})
			}
		})
	}

	// The create of three rows is one statement with three changes.
	want = slices.Insert(want, 1, want[1], want[1])
	var tracked []change
	for _, c := range e.stored(t, 2*len(want)) {
		if c.table == "public.records" {
			tracked = append(tracked, c)
		}
	}
	expectContexts(t, tracked, want)
}

func upsertQty() clause.OnConflict {
	return clause.OnConflict{Columns: []clause.Column{{Name: "name"}}, DoUpdates: clause.AssignmentColumns([]string{"qty"})}
}

// TestReturningErrorMatchesPlain checks that a unique violation of a write
// that returns rows reaches the caller as the error GORM returns without
// the plugin, on each of the three ways GORM sends such a write.
func TestReturningErrorMatchesPlain(t *testing.T) {
	cfg := gorm.Config{SkipDefaultTransaction: true}
	e := newEnv(t, envOptions{gorm: cfg})
	plain := openPlain(t, e.url, cfg)
	if err := plain.Create(&Item{Name: "taken"}).Error; err != nil {
		t.Fatal(err)
	}

	writes := []struct {
		name string
		run  func(db *gorm.DB) error
	}{
		{"Create", func(db *gorm.DB) error { return db.Create(&Item{Name: "taken"}).Error }},
		{"RawScan", func(db *gorm.DB) error {
			var id int64
			return db.Raw(`INSERT INTO items (name) VALUES (?) RETURNING id`, "taken").Scan(&id).Error
		}},
		{"RawRow", func(db *gorm.DB) error {
			var id int64
			return db.Raw(`INSERT INTO items (name) VALUES (?) RETURNING id`, "taken").Row().Scan(&id)
		}},
	}
	for i, w := range writes {
		t.Run(w.name, func(t *testing.T) {
			wantErr := w.run(plain)
			var want *pgconn.PgError
			if !errors.As(wantErr, &want) {
				t.Fatalf("without the plugin: %T %v, want a *pgconn.PgError", wantErr, wantErr)
			}

			e.trace.take()
			err := w.run(e.db.WithContext(user(i)))
			if reflect.TypeOf(err) != reflect.TypeOf(wantErr) {
				t.Fatalf("error %T %v, without the plugin %T", err, err, wantErr)
			}
			got := err.(*pgconn.PgError)
			if got.Code != "23505" {
				t.Errorf("SQLSTATE %s, want 23505 (unique_violation)", got.Code)
			}
			if got.Message != want.Message || got.Detail != want.Detail || got.ConstraintName != want.ConstraintName ||
				got.TableName != want.TableName {
				t.Errorf("error %+v, without the plugin %+v", got, want)
			}
			if sent := strings.Join(e.trace.take(), "\n"); !strings.Contains(sent, "BATCH[") {
				t.Errorf("the write did not go as a batch:\n%s", sent)
			}
		})
	}

	// The failed writes stored nothing, and the connection still works.
	if err := e.db.WithContext(user(9)).Create(&Item{Name: "after"}).Error; err != nil {
		t.Fatal(err)
	}
	expectContexts(t, e.stored(t, 2), []change{
		{table: "public.items", op: "CREATE", context: ""},
		{table: "public.items", op: "CREATE", context: ctxJSON(9)},
	})
}

// Slot has a time column, whose text form pgx would build differently from
// PostgreSQL's ("12:00:00.500000" for 12:00:00.5), so the plugin sends its
// Create with the comment instead of the batch.
type Slot struct {
	ID    int64
	Name  string
	Start string `gorm:"default:('12:00:00.5')"`
}

func TestReturningInexactTypeUsesComment(t *testing.T) {
	cfg := gorm.Config{SkipDefaultTransaction: true}
	e := newEnv(t, envOptions{gorm: cfg, schema: []string{
		`CREATE TABLE slots (id bigserial PRIMARY KEY, name text NOT NULL, start time NOT NULL DEFAULT '12:00:00.5')`,
	}})

	for i := range 2 {
		e.trace.take()
		s := Slot{Name: "s"}
		if err := e.db.WithContext(user(i)).Create(&s).Error; err != nil {
			t.Fatal(err)
		}
		if s.Start != "12:00:00.5" {
			t.Errorf("Start = %q, want PostgreSQL's text 12:00:00.5", s.Start)
		}
		sent := strings.Join(e.trace.take(), "\n")
		if !strings.Contains(sent, "/*Bemi") || strings.Contains(sent, "BATCH[") {
			t.Errorf("Create %d sent\n%s\nwant the commented statement and no batch", i, sent)
		}
	}

	expectContexts(t, e.stored(t, 2), []change{
		{table: "public.slots", op: "CREATE", context: ctxJSON(0)},
		{table: "public.slots", op: "CREATE", context: ctxJSON(1)},
	})
}

// protocolTrace records the protocol messages of one connection, from
// pgx's tracer in pgproto3.
type protocolTrace struct {
	mu    sync.Mutex
	lines strings.Builder
}

func (p *protocolTrace) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()

	return p.lines.Write(b)
}

// take returns the message lines recorded since the last call.
func (p *protocolTrace) take() []string {
	p.mu.Lock()
	defer p.mu.Unlock()

	lines := strings.Split(strings.TrimSpace(p.lines.String()), "\n")
	p.lines.Reset()

	return lines
}

// countMessages counts the lines that start with prefix.
func countMessages(lines []string, prefix string) int {
	n := 0
	for _, line := range lines {
		if strings.HasPrefix(line, prefix) {
			n++
		}
	}

	return n
}

// TestCreateOneRoundTrip counts, on the wire, the round trips of a Create
// outside a transaction: one with and one without the plugin. A round trip
// ends with ReadyForQuery. Each write runs once before it is counted, so
// pgx has prepared its statements.
func TestCreateOneRoundTrip(t *testing.T) {
	e := newEnv(t, envOptions{noTrace: true})

	trace := &protocolTrace{}
	open := func(plugin bool) *gorm.DB {
		t.Helper()

		cfg := postgres.Config{DSN: e.url, OptionOpenDB: []stdlib.OptionOpenDB{
			stdlib.OptionAfterConnect(func(_ context.Context, conn *pgx.Conn) error {
				conn.PgConn().Frontend().Trace(trace, pgproto3.TracerOptions{SuppressTimestamps: true})

				return nil
			}),
			// database/sql pings a connection idle for a second before
			// reusing it, which would add a round trip on a slow machine.
			stdlib.OptionShouldPing(func(context.Context, stdlib.ShouldPingParams) bool { return false }),
		}}
		db, err := gorm.Open(postgres.New(cfg), &gorm.Config{SkipDefaultTransaction: true, Logger: logger.Discard})
		if err != nil {
			t.Fatal(err)
		}
		sqlDB, err := db.DB()
		if err != nil {
			t.Fatal(err)
		}
		sqlDB.SetMaxOpenConns(1)
		t.Cleanup(func() { sqlDB.Close() })
		if plugin {
			if err := db.Use(gormbemi.New()); err != nil {
				t.Fatal(err)
			}
		}

		return db
	}

	cases := []struct {
		name       string
		plugin     bool
		statements int
	}{
		{name: "without the plugin", statements: 1},
		{name: "with the plugin", plugin: true, statements: 2},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			db := open(c.plugin).WithContext(user(1))
			if err := db.Create(&Item{Name: c.name + " warm-up"}).Error; err != nil {
				t.Fatal(err)
			}
			trace.take()

			item := Item{Name: c.name}
			if err := db.WithContext(user(2)).Create(&item).Error; err != nil {
				t.Fatal(err)
			}
			lines := trace.take()
			if item.ID == 0 {
				t.Error("Create returned no id")
			}
			if n := countMessages(lines, "B\tReadyForQuery\t"); n != 1 {
				t.Errorf("%d round trips, want 1:\n%s", n, strings.Join(lines, "\n"))
			}
			if n := countMessages(lines, "F\tExecute\t"); n != c.statements {
				t.Errorf("%d statements, want %d:\n%s", n, c.statements, strings.Join(lines, "\n"))
			}
		})
	}

	expectContexts(t, e.stored(t, 4), []change{
		{table: "public.items", op: "CREATE", context: ""},
		{table: "public.items", op: "CREATE", context: ""},
		{table: "public.items", op: "CREATE", context: ctxJSON(1)},
		{table: "public.items", op: "CREATE", context: ctxJSON(2)},
	})
}
