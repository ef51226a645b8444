package api

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/bemi-go/bemi/core/pgtest"
	"github.com/bemi-go/bemi/examples/todo/internal/store"
	"github.com/gin-gonic/gin"
	"github.com/jackc/pgx/v5"
)

func TestMain(m *testing.M) {
	gin.SetMode(gin.ReleaseMode)
	os.Exit(pgtest.Run(m))
}

// newStore returns the manual store on a new database with the todo table.
func newStore(t *testing.T) store.Store {
	t.Helper()

	ctx := context.Background()
	url := pgtest.NewDatabase(t)
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if err := store.Migrate(ctx, conn); err != nil {
		t.Fatal(err)
	}

	s, err := store.Open(ctx, store.Manual, url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })

	return s
}

func TestAPIResponses(t *testing.T) {
	s := newStore(t)
	for _, router := range Routers() {
		t.Run(router, func(t *testing.T) {
			handler, err := New(router, s, slog.New(slog.NewTextHandler(io.Discard, nil)))
			if err != nil {
				t.Fatal(err)
			}
			srv := httptest.NewServer(handler)
			defer srv.Close()

			tests := []struct {
				name       string
				method     string
				path       string
				body       string
				wantStatus int
				wantBody   string // a substring of the response body
			}{
				{"create", "POST", "/todo", `{"task":"Sleep"}`, http.StatusCreated, `"task":"Sleep","isCompleted":false`},
				{"create invalid JSON", "POST", "/todo", `{"task":`, http.StatusBadRequest, "invalid JSON body"},
				{"create unknown field", "POST", "/todo", `{"title":"Sleep"}`, http.StatusBadRequest, "invalid JSON body"},
				{"create empty task", "POST", "/todo", `{"task":"  "}`, http.StatusBadRequest, "missing task"},
				{"create long task", "POST", "/todo", `{"task":"` + strings.Repeat("x", maxTaskBytes+1) + `"}`, http.StatusBadRequest, "the limit is 1000"},
				{"list", "GET", "/todo", "", http.StatusOK, `"task":"Sleep"`},
				{"complete invalid id", "PUT", "/todo/abc/complete", "", http.StatusBadRequest, `invalid todo id \"abc\"`},
				{"complete zero id", "PUT", "/todo/0/complete", "", http.StatusBadRequest, "use a positive integer"},
				{"complete missing", "PUT", "/todo/999999/complete", "", http.StatusNotFound, "todo 999999 not found"},
				{"delete missing", "DELETE", "/todo/999999", "", http.StatusNotFound, "todo 999999 not found"},
			}
			for _, tt := range tests {
				req, err := http.NewRequest(tt.method, srv.URL+tt.path, strings.NewReader(tt.body))
				if err != nil {
					t.Fatal(err)
				}
				req.Header.Set("Content-Type", "application/json")
				resp, err := srv.Client().Do(req)
				if err != nil {
					t.Fatal(err)
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()

				if resp.StatusCode != tt.wantStatus {
					t.Errorf("%s: status %d, want %d: %s", tt.name, resp.StatusCode, tt.wantStatus, body)
				}
				if !strings.Contains(string(body), tt.wantBody) {
					t.Errorf("%s: body %s does not contain %s", tt.name, body, tt.wantBody)
				}
			}
		})
	}
}

func TestCompleteThenDelete(t *testing.T) {
	s := newStore(t)
	handler, err := New(Chi, s, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(handler)
	defer srv.Close()

	do := func(method, path, body string) (int, []byte) {
		req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)

		return resp.StatusCode, b
	}

	_, body := do("POST", "/todo", `{"task":"Eat"}`)
	var created store.Todo
	if err := json.Unmarshal(body, &created); err != nil {
		t.Fatalf("decode %s: %v", body, err)
	}
	path := "/todo/" + jsonNumber(created.ID)

	status, body := do("PUT", path+"/complete", "")
	if status != http.StatusOK || !strings.Contains(string(body), `"isCompleted":true`) {
		t.Errorf("complete: %d %s, want 200 with isCompleted true", status, body)
	}
	if status, body := do("DELETE", path, ""); status != http.StatusNoContent || len(body) != 0 {
		t.Errorf("delete: %d %q, want 204 without a body", status, body)
	}
	if status, _ := do("DELETE", path, ""); status != http.StatusNotFound {
		t.Errorf("second delete: %d, want 404", status)
	}
}

func jsonNumber(n int64) string {
	b, _ := json.Marshal(n)

	return string(b)
}

func TestNewUnknownRouter(t *testing.T) {
	_, err := New("echo", nil, slog.Default())
	if err == nil || !strings.Contains(err.Error(), `unknown router "echo": use one of chi, gin`) {
		t.Errorf("err = %v, want the unknown router and the choices", err)
	}
}

func TestUserID(t *testing.T) {
	tests := []struct {
		name   string
		header string
		want   any
		wantOK bool
	}{
		{"integer", "187234", int64(187234), true},
		{"padded integer", " 42 ", int64(42), true},
		{"text", "ann@example.com", "ann@example.com", true},
		{"too large for int64", "99999999999999999999", "99999999999999999999", true},
		{"missing", "", nil, false},
		{"blank", "   ", nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{}
			if tt.header != "" {
				h.Set(UserIDHeader, tt.header)
			}

			got, ok := userID(h)
			if ok != tt.wantOK {
				t.Errorf("ok = %v, want %v", ok, tt.wantOK)
			}
			if got != tt.want {
				t.Errorf("userID = %#v, want %#v", got, tt.want)
			}
		})
	}
}

func TestContextFieldsWithoutUser(t *testing.T) {
	fields := contextFields(http.Header{}, map[string]string{"id": "1"})
	if _, ok := fields["userId"]; ok {
		t.Errorf("fields %v have a userId without the %s header", fields, UserIDHeader)
	}
	if _, ok := fields["params"]; !ok {
		t.Errorf("fields %v have no params", fields)
	}
}
