package bemichi_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"reflect"
	"strings"
	"testing"

	"github.com/bemi-go/bemi/core"
	"github.com/bemi-go/bemi/core/pgtest"
	bemichi "github.com/bemi-go/bemi/middleware/chi"
	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"
)

// psql runs sql in the database at url and returns psql's unaligned output.
func psql(t *testing.T, c *pgtest.Cluster, url, sql string) string {
	t.Helper()

	out, err := exec.Command(c.Bin("psql"), "-X", "-A", "-t", "-q", "-v", "ON_ERROR_STOP=1",
		"-d", url, "-c", sql).CombinedOutput()
	if err != nil {
		t.Fatalf("psql %q: %v\n%s", sql, err, out)
	}

	return strings.TrimSpace(string(out))
}

// TestMiddlewareContextReachesWAL sends a request through a chi router whose
// handler writes the encoded context as a transactional _bemi logical
// decoding message, the message that the database trigger emits, and reads
// the messages back from the WAL with test_decoding.
func TestMiddlewareContextReachesWAL(t *testing.T) {
	url := pgtest.NewDatabase(t)
	c := pgtest.Shared(t)
	psql(t, c, url, "CREATE TABLE todo (id int PRIMARY KEY, task text)")
	psql(t, c, url, "SELECT pg_create_logical_replication_slot('bemichi_test', 'test_decoding')")

	r := chi.NewRouter()
	r.Use(middleware.RequestID)
	r.Use(bemichi.Middleware(bemichi.Config{
		Fields: func(r *http.Request) core.Fields {
			params, err := bemichi.JSONBody(r, 0)
			if err != nil {
				t.Errorf("JSONBody: %v", err)
			}

			return core.Fields{"userId": 187234, "params": params}
		},
	}))
	write := func(w http.ResponseWriter, req *http.Request) {
		payload, ok, err := core.Payload(req.Context(), encoder)
		if err != nil || !ok {
			t.Errorf("core.Payload = %s, %v, %v", payload, ok, err)

			return
		}
		quoted := "'" + strings.ReplaceAll(string(payload), "'", "''") + "'"
		// The test cluster runs with synchronous_commit off, and logical
		// decoding reads only flushed WAL, so this commit waits for its flush.
		psql(t, c, url, "BEGIN; SET LOCAL synchronous_commit = on; SELECT pg_logical_emit_message(true, '"+
			core.MessagePrefix+"', "+quoted+"); INSERT INTO todo VALUES (27, 'Sleep'); COMMIT")
	}
	r.Route("/api", func(r chi.Router) {
		r.Put("/todo/{id}", write)
	})

	req := httptest.NewRequest(http.MethodPut, "/api/todo/27", strings.NewReader(`{"task":"it's */ done /*"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Request-Id", "req-27")
	req.Header.Set("Traceparent", validTraceparent)
	rw := httptest.NewRecorder()
	r.ServeHTTP(rw, req)
	if rw.Code != http.StatusOK {
		t.Fatalf("status = %d, want 200", rw.Code)
	}

	rows := psql(t, c, url, `SELECT substring(data from 'content:(.*)$')::jsonb
		FROM pg_logical_slot_get_changes('bemichi_test', NULL, NULL)
		WHERE data LIKE 'message: transactional: 1 prefix: `+core.MessagePrefix+`,%'`)
	lines := strings.Split(rows, "\n")
	if len(lines) != 1 || lines[0] == "" {
		t.Fatalf("WAL messages = %q, want one", rows)
	}

	var got map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &got); err != nil {
		t.Fatalf("decode message %s: %v", lines[0], err)
	}
	want := map[string]any{
		"method":    "PUT",
		"endpoint":  "/api/todo/{id}",
		"requestId": "req-27",
		"traceId":   "4bf92f3577b34da6a3ce929d0e0e4736",
		"userId":    float64(187234),
		"params":    map[string]any{"task": "it's */ done /*"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("context in the WAL = %v, want %v", got, want)
	}
}
