package bemichi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"reflect"
	"testing"

	"github.com/bemi-go/bemi/core"
	"github.com/bemi-go/bemi/core/pgtest"
	bemichi "github.com/bemi-go/bemi/middleware/chi"
	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Run(m)) }

const validTraceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

// encoder is shared by all tests, as an adapter shares one: core caches the
// payload of a context per encoder, so a second write with the same context
// reuses the first encoding.
var encoder = &core.Encoder{}

// encoded returns the context of ctx as an adapter sends it to the database:
// the wire-format payload, decoded back into a map.
func encoded(t testing.TB, ctx context.Context) map[string]any {
	t.Helper()

	payload, ok, err := core.Payload(ctx, encoder)
	if err != nil {
		t.Fatalf("core.Payload: %v", err)
	}
	if !ok {
		return nil
	}

	var fields map[string]any
	if err := json.Unmarshal(payload, &fields); err != nil {
		t.Fatalf("decode payload %s: %v", payload, err)
	}

	return fields
}

// recorder is a handler that stores the encoded context of the last request.
type recorder struct {
	t      testing.TB
	fields map[string]any
	calls  int
}

func (rec *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rec.fields = encoded(rec.t, r.Context())
	rec.calls++
	w.WriteHeader(http.StatusNoContent)
}

// serve sends one request to h and returns the response.
func serve(h http.Handler, method, target string, header http.Header) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, target, nil)
	for k, v := range header {
		req.Header[k] = v
	}
	rw := httptest.NewRecorder()
	h.ServeHTTP(rw, req)

	return rw
}

func TestMiddlewareDefaultFields(t *testing.T) {
	t.Parallel()

	rec := &recorder{t: t}
	r := chi.NewRouter()
	r.Use(bemichi.Middleware(bemichi.Config{}))
	r.Method(http.MethodPut, "/todo/{id}", rec)

	serve(r, http.MethodPut, "/todo/27", nil)

	want := map[string]any{"method": "PUT", "endpoint": "/todo/{id}"}
	if !reflect.DeepEqual(rec.fields, want) {
		t.Errorf("fields = %v, want %v", rec.fields, want)
	}
}

func TestMiddlewareRequestID(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name   string
		before []func(http.Handler) http.Handler
		after  []func(http.Handler) http.Handler
		header http.Header
		want   any // nil: no requestId field
	}{
		{name: "without RequestID"},
		{name: "generated id", before: []func(http.Handler) http.Handler{middleware.RequestID}, want: "generated"},
		{
			name:   "id from header",
			before: []func(http.Handler) http.Handler{middleware.RequestID},
			header: http.Header{"X-Request-Id": {"req-42"}},
			want:   "req-42",
		},
		{
			name:   "incoming header without RequestID",
			header: http.Header{"X-Request-Id": {"req-42"}},
		},
		{name: "RequestID after Middleware", after: []func(http.Handler) http.Handler{middleware.RequestID}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			var generated string
			rec := &recorder{t: t}
			r := chi.NewRouter()
			r.Use(tt.before...)
			r.Use(bemichi.Middleware(bemichi.Config{}))
			r.Use(tt.after...)
			r.Get("/", func(w http.ResponseWriter, req *http.Request) {
				generated = middleware.GetReqID(req.Context())
				rec.ServeHTTP(w, req)
			})

			serve(r, http.MethodGet, "/", tt.header)

			got, present := rec.fields["requestId"]
			switch tt.want {
			case nil:
				if present {
					t.Errorf("requestId = %v, want no requestId field", got)
				}
			case "generated":
				if generated == "" {
					t.Fatal("middleware.RequestID stored no request id")
				}
				if got != generated {
					t.Errorf("requestId = %v, want %q", got, generated)
				}
			default:
				if got != tt.want {
					t.Errorf("requestId = %v, want %v", got, tt.want)
				}
			}
		})
	}
}

func TestMiddlewareTraceparent(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name    string
		headers []string
		want    any // nil: no traceId field
	}{
		{name: "valid", headers: []string{validTraceparent}, want: "4bf92f3577b34da6a3ce929d0e0e4736"},
		{name: "missing"},
		{name: "uppercase trace id", headers: []string{"00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01"}},
		{name: "zero trace id", headers: []string{"00-00000000000000000000000000000000-00f067aa0ba902b7-01"}},
		{name: "zero parent id", headers: []string{"00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01"}},
		{name: "version 01", headers: []string{"01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}},
		{name: "short trace id", headers: []string{"00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01"}},
		{name: "repeated header", headers: []string{validTraceparent, validTraceparent}},
		{name: "two values in one header", headers: []string{validTraceparent + "," + validTraceparent}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			rec := &recorder{t: t}
			r := chi.NewRouter()
			r.Use(bemichi.Middleware(bemichi.Config{}))
			r.Method(http.MethodGet, "/", rec)

			serve(r, http.MethodGet, "/", http.Header{"Traceparent": tt.headers})

			got, present := rec.fields["traceId"]
			if tt.want == nil {
				if present {
					t.Errorf("traceId = %v, want no traceId field", got)
				}

				return
			}
			if got != tt.want {
				t.Errorf("traceId = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestMiddlewareApplicationFieldsWin(t *testing.T) {
	t.Parallel()

	rec := &recorder{t: t}
	r := chi.NewRouter()
	r.Use(middleware.RequestID)
	r.Use(bemichi.Middleware(bemichi.Config{
		Fields: func(r *http.Request) core.Fields {
			return core.Fields{
				"userId":    float64(187234),
				"endpoint":  "custom",
				"method":    "CUSTOM",
				"requestId": "app-id",
				"traceId":   "app-trace",
			}
		},
	}))
	r.Method(http.MethodPost, "/todo", rec)

	serve(r, http.MethodPost, "/todo", http.Header{"Traceparent": {validTraceparent}})

	want := map[string]any{
		"userId":    float64(187234),
		"endpoint":  "custom",
		"method":    "CUSTOM",
		"requestId": "app-id",
		"traceId":   "app-trace",
	}
	if !reflect.DeepEqual(rec.fields, want) {
		t.Errorf("fields = %v, want %v", rec.fields, want)
	}
}

func TestMiddlewareKeysRenamedAndOmitted(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name string
		cfg  bemichi.Config
		want map[string]any
	}{
		{
			name: "renamed",
			cfg:  bemichi.Config{MethodKey: "verb", EndpointKey: "route", RequestIDKey: "rid", TraceIDKey: "trace"},
			want: map[string]any{
				"verb": "GET", "route": "/todo/{id}", "rid": "req-1", "trace": "4bf92f3577b34da6a3ce929d0e0e4736",
			},
		},
		{
			name: "all omitted",
			cfg: bemichi.Config{
				MethodKey: bemichi.Omit, EndpointKey: bemichi.Omit, RequestIDKey: bemichi.Omit, TraceIDKey: bemichi.Omit,
			},
			want: nil,
		},
		{
			name: "endpoint omitted",
			cfg:  bemichi.Config{EndpointKey: bemichi.Omit},
			want: map[string]any{"method": "GET", "requestId": "req-1", "traceId": "4bf92f3577b34da6a3ce929d0e0e4736"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			rec := &recorder{t: t}
			r := chi.NewRouter()
			r.Use(middleware.RequestID)
			r.Use(bemichi.Middleware(tt.cfg))
			r.Method(http.MethodGet, "/todo/{id}", rec)

			serve(r, http.MethodGet, "/todo/27", http.Header{
				"Traceparent":  {validTraceparent},
				"X-Request-Id": {"req-1"},
			})

			if rec.calls != 1 {
				t.Fatalf("handler ran %d times, want 1", rec.calls)
			}
			if !reflect.DeepEqual(rec.fields, tt.want) {
				t.Errorf("fields = %v, want %v", rec.fields, tt.want)
			}
		})
	}
}

func TestMiddlewareIgnoresCredentials(t *testing.T) {
	t.Parallel()

	var payload []byte
	r := chi.NewRouter()
	r.Use(bemichi.Middleware(bemichi.Config{}))
	r.Get("/", func(w http.ResponseWriter, req *http.Request) {
		p, _, err := core.Payload(req.Context(), encoder)
		if err != nil {
			t.Errorf("core.Payload: %v", err)
		}
		payload = p
	})

	serve(r, http.MethodGet, "/", http.Header{
		"Authorization": {"Bearer secret-token"},
		"Cookie":        {"session=secret-session"},
	})

	for _, secret := range []string{"secret-token", "secret-session", "Authorization", "Cookie"} {
		if bytes.Contains(payload, []byte(secret)) {
			t.Errorf("context %s contains %q", payload, secret)
		}
	}
	want := `{"endpoint":"\/","method":"GET"}`
	if string(payload) != want {
		t.Errorf("payload = %s, want %s", payload, want)
	}
}

func TestMiddlewareKeepsEarlierFields(t *testing.T) {
	t.Parallel()

	rec := &recorder{t: t}
	r := chi.NewRouter()
	r.Use(func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			ctx := core.With(req.Context(), core.Fields{"tenant": "acme", "method": "earlier"})
			next.ServeHTTP(w, req.WithContext(ctx))
		})
	})
	r.Use(bemichi.Middleware(bemichi.Config{}))
	r.Method(http.MethodDelete, "/todo/{id}", rec)

	serve(r, http.MethodDelete, "/todo/27", nil)

	want := map[string]any{"tenant": "acme", "method": "DELETE", "endpoint": "/todo/{id}"}
	if !reflect.DeepEqual(rec.fields, want) {
		t.Errorf("fields = %v, want %v", rec.fields, want)
	}
}

func TestMiddlewareOutsideRouter(t *testing.T) {
	t.Parallel()

	rec := &recorder{t: t}
	r := chi.NewRouter()
	r.Method(http.MethodGet, "/todo/{id}", rec)
	h := bemichi.Middleware(bemichi.Config{})(r)

	serve(h, http.MethodGet, "/todo/27", nil)

	if rec.calls != 1 {
		t.Fatalf("handler ran %d times, want 1", rec.calls)
	}
	want := map[string]any{"method": "GET"}
	if !reflect.DeepEqual(rec.fields, want) {
		t.Errorf("fields = %v, want %v", rec.fields, want)
	}
}
