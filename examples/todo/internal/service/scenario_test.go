package service_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bemi-go/bemi/core/pgtest"
	"github.com/bemi-go/bemi/examples/todo/internal/api"
	"github.com/bemi-go/bemi/examples/todo/internal/demo"
	"github.com/bemi-go/bemi/examples/todo/internal/service"
	"github.com/bemi-go/bemi/examples/todo/internal/store"
	"github.com/gin-gonic/gin"
	"github.com/jackc/pgx/v5"
)

func TestMain(m *testing.M) {
	// gin's debug mode prints every route of every engine.
	gin.SetMode(gin.ReleaseMode)
	os.Exit(pgtest.Run(m))
}

// capturedChange is a change with the JSON columns decoded, for comparison.
type capturedChange struct {
	PrimaryKey string
	Table      string
	Operation  string
	Before     map[string]any
	After      map[string]any
	Context    map[string]any
}

// endpoint writes a chi route pattern in the router's syntax.
func endpoint(router, chiPattern string) string {
	if router == api.Gin {
		return strings.ReplaceAll(chiPattern, "{id}", ":id")
	}

	return chiPattern
}

// expectedChanges returns the changes that the README scenario must yield,
// built from the todos it created.
func expectedChanges(router string, res demo.ScenarioResult) []capturedChange {
	row := func(t store.Todo, completed bool) map[string]any {
		return map[string]any{"id": float64(t.ID), "task": t.Task, "is_completed": completed}
	}
	ctx := func(method, pattern string, params map[string]any) map[string]any {
		return map[string]any{
			"userId":   float64(demo.ScenarioUserID),
			"method":   method,
			"endpoint": endpoint(router, pattern),
			"params":   params,
		}
	}
	id := func(t store.Todo) string { return strconv.FormatInt(t.ID, 10) }
	created := func(t store.Todo) capturedChange {
		return capturedChange{
			PrimaryKey: id(t), Table: "todo", Operation: "CREATE",
			Before: map[string]any{}, After: row(t, false),
			Context: ctx("POST", "/todo", map[string]any{"task": t.Task}),
		}
	}

	return []capturedChange{
		created(res.Sleep),
		created(res.Eat),
		created(res.Repeat),
		{
			PrimaryKey: id(res.Sleep), Table: "todo", Operation: "UPDATE",
			Before: row(res.Sleep, false), After: row(res.Sleep, true),
			Context: ctx("PUT", "/todo/{id}/complete", map[string]any{"id": id(res.Sleep)}),
		},
		{
			PrimaryKey: id(res.Eat), Table: "todo", Operation: "DELETE",
			Before: row(res.Eat, false), After: map[string]any{},
			Context: ctx("DELETE", "/todo/{id}", map[string]any{"id": id(res.Eat)}),
		},
	}
}

func decode(t *testing.T, changes []demo.Change) []capturedChange {
	t.Helper()

	out := make([]capturedChange, 0, len(changes))
	for _, c := range changes {
		d := capturedChange{PrimaryKey: c.PrimaryKey, Table: c.Table, Operation: c.Operation}
		for _, col := range []struct {
			raw json.RawMessage
			dst *map[string]any
		}{{c.Before, &d.Before}, {c.After, &d.After}, {c.Context, &d.Context}} {
			if err := json.Unmarshal(col.raw, col.dst); err != nil {
				t.Fatalf("decode %s: %v", col.raw, err)
			}
		}
		out = append(out, d)
	}

	return out
}

// normalize replaces what legitimately differs between runs (ids, and the
// route syntax of the router) so the changes of every combination compare
// equal.
func normalize(changes []capturedChange, res demo.ScenarioResult) string {
	b, _ := json.Marshal(changes)
	s := string(b)
	for name, id := range map[string]int64{"SLEEP": res.Sleep.ID, "EAT": res.Eat.ID, "REPEAT": res.Repeat.ID} {
		n := strconv.FormatInt(id, 10)
		s = strings.ReplaceAll(s, `"`+n+`"`, `"`+name+`"`)
		s = strings.ReplaceAll(s, `"id":`+n+`,`, `"id":"`+name+`",`)
	}

	return strings.ReplaceAll(s, ":id", "{id}")
}

// TestScenarioEveryStoreAndRouter plays the Bemi README's scenario over
// HTTP against each store and router, with the capture worker running in
// the service, and checks the five captured changes.
func TestScenarioEveryStoreAndRouter(t *testing.T) {
	var baseline string
	for _, storeName := range store.Names() {
		for _, router := range api.Routers() {
			name := storeName + "_" + router
			t.Run(name, func(t *testing.T) {
				got, res := playScenario(t, storeName, router)
				want := expectedChanges(router, res)

				if len(got) != len(want) {
					t.Fatalf("captured %d changes, want %d:\n%+v", len(got), len(want), got)
				}
				for i := range want {
					if !reflect.DeepEqual(got[i], want[i]) {
						t.Errorf("change %d:\n got  %+v\n want %+v", i, got[i], want[i])
					}
				}

				normalized := normalize(got, res)
				if baseline == "" {
					baseline = normalized
				} else if normalized != baseline {
					t.Errorf("changes differ from the first combination's:\n got  %s\n want %s", normalized, baseline)
				}
			})
		}
	}
}

// playScenario starts the service with the store and router on a new
// database, plays the scenario and returns the decoded changes.
func playScenario(t *testing.T, storeName, router string) ([]capturedChange, demo.ScenarioResult) {
	t.Helper()

	ctx := context.Background()
	url := pgtest.NewDatabase(t)
	svc, err := service.Start(ctx, service.Config{
		DatabaseURL: url,
		Store:       storeName,
		Router:      router,
		Addr:        "127.0.0.1:0",
		// Slot names are unique per server, and the tests share one.
		Slot: fmt.Sprintf("todo_%s_%s", storeName, router),
	}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatalf("start service: %v", err)
	}
	t.Cleanup(func() {
		if err := svc.Close(context.Background()); err != nil {
			t.Errorf("close service: %v", err)
		}
	})

	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })

	var start int64
	if err := conn.QueryRow(ctx, "SELECT (pg_current_wal_lsn() - '0/0')::bigint").Scan(&start); err != nil {
		t.Fatal(err)
	}

	var log strings.Builder
	res, err := demo.PlayScenario(ctx, &http.Client{Timeout: 10 * time.Second}, svc.URL, &log)
	if err != nil {
		t.Fatalf("play scenario: %v\n%s", err, log.String())
	}

	changes, err := demo.WaitForChanges(ctx, conn, "todo", start, 5, time.Minute)
	if err != nil {
		t.Fatal(err)
	}

	return decode(t, changes), res
}
