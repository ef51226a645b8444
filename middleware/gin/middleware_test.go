package bemigin_test

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
	bemigin "github.com/bemi-go/bemi/middleware/gin"
	"github.com/gin-contrib/requestid"
	"github.com/gin-gonic/gin"
)

func TestMain(m *testing.M) {
	gin.SetMode(gin.TestMode)
	os.Exit(pgtest.Run(m))
}

// requestID is created once because requestid.New stores its header name in
// a package-level variable that the handlers read: creating it in parallel
// tests would race.
var requestID = requestid.New()

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

// recorder is a gin handler that stores the encoded context of the last
// request.
type recorder struct {
	t      testing.TB
	fields map[string]any
	calls  int
}

func (rec *recorder) handle(c *gin.Context) {
	rec.fields = encoded(rec.t, c.Request.Context())
	rec.calls++
	c.Status(http.StatusNoContent)
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
	r := gin.New()
	r.Use(bemigin.Middleware(bemigin.Config{}))
	r.PUT("/todo/:id", rec.handle)

	serve(r, http.MethodPut, "/todo/27", nil)

	want := map[string]any{"method": "PUT", "endpoint": "/todo/:id"}
	if !reflect.DeepEqual(rec.fields, want) {
		t.Errorf("fields = %v, want %v", rec.fields, want)
	}
}

func TestMiddlewareRequestID(t *testing.T) {
	t.Parallel()

	// setHeader stands in for a request-id middleware that uses another
	// response header.
	setHeader := func(name, id string) gin.HandlerFunc {
		return func(c *gin.Context) {
			c.Header(name, id)
			c.Next()
		}
	}

	tests := []struct {
		name   string
		cfg    bemigin.Config
		before []gin.HandlerFunc
		after  []gin.HandlerFunc
		header http.Header
		want   any // nil: no requestId field; "generated": the response header
	}{
		{name: "without request-id middleware"},
		{name: "generated id", before: []gin.HandlerFunc{requestID}, want: "generated"},
		{
			name:   "id from request header",
			before: []gin.HandlerFunc{requestID},
			header: http.Header{"X-Request-Id": {"req-42"}},
			want:   "req-42",
		},
		{name: "incoming header without middleware", header: http.Header{"X-Request-Id": {"req-42"}}},
		{name: "request-id middleware after Middleware", after: []gin.HandlerFunc{requestID}},
		{
			name:   "custom header",
			cfg:    bemigin.Config{RequestIDHeader: "X-Trace-Request"},
			before: []gin.HandlerFunc{setHeader("X-Trace-Request", "custom-7")},
			want:   "custom-7",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			rec := &recorder{t: t}
			r := gin.New()
			r.Use(tt.before...)
			r.Use(bemigin.Middleware(tt.cfg))
			r.Use(tt.after...)
			r.GET("/", rec.handle)

			rw := serve(r, http.MethodGet, "/", tt.header)

			got, present := rec.fields["requestId"]
			switch tt.want {
			case nil:
				if present {
					t.Errorf("requestId = %v, want no requestId field", got)
				}
			case "generated":
				generated := rw.Header().Get("X-Request-ID")
				if generated == "" {
					t.Fatal("requestid.New set no X-Request-ID response header")
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
		{name: "version ff", headers: []string{"ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}},
		{name: "short parent id", headers: []string{"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b-01"}},
		{name: "repeated header", headers: []string{validTraceparent, validTraceparent}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			rec := &recorder{t: t}
			r := gin.New()
			r.Use(bemigin.Middleware(bemigin.Config{}))
			r.GET("/", rec.handle)

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
	r := gin.New()
	r.Use(requestID)
	r.Use(bemigin.Middleware(bemigin.Config{
		Fields: func(c *gin.Context) core.Fields {
			return core.Fields{
				"userId":    float64(187234),
				"endpoint":  "custom",
				"method":    "CUSTOM",
				"requestId": "app-id",
				"traceId":   "app-trace",
			}
		},
	}))
	r.POST("/todo", rec.handle)

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
		cfg  bemigin.Config
		want map[string]any
	}{
		{
			name: "renamed",
			cfg:  bemigin.Config{MethodKey: "verb", EndpointKey: "route", RequestIDKey: "rid", TraceIDKey: "trace"},
			want: map[string]any{
				"verb": "GET", "route": "/todo/:id", "rid": "req-1", "trace": "4bf92f3577b34da6a3ce929d0e0e4736",
			},
		},
		{
			name: "all omitted",
			cfg: bemigin.Config{
				MethodKey: bemigin.Omit, EndpointKey: bemigin.Omit, RequestIDKey: bemigin.Omit, TraceIDKey: bemigin.Omit,
			},
			want: nil,
		},
		{
			name: "endpoint omitted",
			cfg:  bemigin.Config{EndpointKey: bemigin.Omit},
			want: map[string]any{"method": "GET", "requestId": "req-1", "traceId": "4bf92f3577b34da6a3ce929d0e0e4736"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			rec := &recorder{t: t}
			r := gin.New()
			r.Use(requestID)
			r.Use(bemigin.Middleware(tt.cfg))
			r.GET("/todo/:id", rec.handle)

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
	r := gin.New()
	r.Use(bemigin.Middleware(bemigin.Config{}))
	r.GET("/", func(c *gin.Context) {
		p, _, err := core.Payload(c.Request.Context(), encoder)
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

func TestMiddlewareRestoresContext(t *testing.T) {
	t.Parallel()

	var before, during, after map[string]any
	r := gin.New()
	r.Use(func(c *gin.Context) {
		ctx := core.With(c.Request.Context(), core.Fields{"tenant": "acme"})
		c.Request = c.Request.WithContext(ctx)
		before = encoded(t, c.Request.Context())
		c.Next()
		after = encoded(t, c.Request.Context())
	})
	r.Use(bemigin.Middleware(bemigin.Config{}))
	r.DELETE("/todo/:id", func(c *gin.Context) {
		during = encoded(t, c.Request.Context())
	})

	serve(r, http.MethodDelete, "/todo/27", nil)

	if want := map[string]any{"tenant": "acme"}; !reflect.DeepEqual(before, want) {
		t.Errorf("context before Middleware = %v, want %v", before, want)
	}
	if want := map[string]any{"tenant": "acme", "method": "DELETE", "endpoint": "/todo/:id"}; !reflect.DeepEqual(during, want) {
		t.Errorf("context in the handler = %v, want %v", during, want)
	}
	if want := map[string]any{"tenant": "acme"}; !reflect.DeepEqual(after, want) {
		t.Errorf("context after the handlers = %v, want %v", after, want)
	}
}

func TestMiddlewareContextWithFallback(t *testing.T) {
	t.Parallel()

	for _, fallback := range []bool{true, false} {
		var fields core.Fields
		r := gin.New()
		r.ContextWithFallback = fallback
		r.Use(bemigin.Middleware(bemigin.Config{}))
		r.GET("/todo/:id", func(c *gin.Context) {
			fields = core.FieldsFrom(c)
		})

		serve(r, http.MethodGet, "/todo/27", nil)

		if fallback && fields["endpoint"] != "/todo/:id" {
			t.Errorf("with ContextWithFallback, core.FieldsFrom(c) = %v, want the endpoint /todo/:id", fields)
		}
		if !fallback && fields != nil {
			t.Errorf("without ContextWithFallback, core.FieldsFrom(c) = %v, want nil", fields)
		}
	}
}
