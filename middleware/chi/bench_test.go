package bemichi_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/bemi-go/bemi/core"
	bemichi "github.com/bemi-go/bemi/middleware/chi"
	"github.com/go-chi/chi/v5"
)

// BenchmarkMiddleware measures one request through a chi router without
// Middleware, with Middleware and a handler that makes no write, and with
// Middleware and a handler that encodes the context once, as its first
// database write does.
func BenchmarkMiddleware(b *testing.B) {
	write := func(w http.ResponseWriter, r *http.Request) {
		if _, _, err := core.Payload(r.Context(), encoder); err != nil {
			b.Fatal(err)
		}
	}
	noWrite := func(w http.ResponseWriter, r *http.Request) {}
	bemi := bemichi.Middleware(bemichi.Config{
		Fields: func(r *http.Request) core.Fields {
			return core.Fields{"userId": 187234, "params": bemichi.URLParams(r)}
		},
	})
	cases := []struct {
		name       string
		middleware []func(http.Handler) http.Handler
		handler    http.HandlerFunc
	}{
		{name: "without", handler: write},
		{name: "with/no-write", middleware: []func(http.Handler) http.Handler{bemi}, handler: noWrite},
		{name: "with/write", middleware: []func(http.Handler) http.Handler{bemi}, handler: write},
	}
	for _, bc := range cases {
		b.Run(bc.name, func(b *testing.B) {
			r := chi.NewRouter()
			r.Use(bc.middleware...)
			r.Route("/api", func(r chi.Router) {
				r.Put("/todo/{id}", bc.handler)
			})
			req := httptest.NewRequest(http.MethodPut, "/api/todo/27", nil)
			req.Header.Set("Traceparent", validTraceparent)
			rw := httptest.NewRecorder()

			b.ReportAllocs()
			for b.Loop() {
				r.ServeHTTP(rw, req)
			}
		})
	}
}
