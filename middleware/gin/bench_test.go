package bemigin_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/bemi-go/bemi/core"
	bemigin "github.com/bemi-go/bemi/middleware/gin"
	"github.com/gin-gonic/gin"
)

// BenchmarkMiddleware measures one request through a gin engine without
// Middleware, with Middleware and a handler that makes no write, and with
// Middleware and a handler that encodes the context once, as its first
// database write does.
func BenchmarkMiddleware(b *testing.B) {
	write := func(c *gin.Context) {
		if _, _, err := core.Payload(c.Request.Context(), encoder); err != nil {
			b.Fatal(err)
		}
	}
	noWrite := func(c *gin.Context) {}
	bemi := bemigin.Middleware(bemigin.Config{
		Fields: func(c *gin.Context) core.Fields {
			return core.Fields{"userId": 187234, "params": bemigin.URLParams(c)}
		},
	})
	cases := []struct {
		name       string
		middleware []gin.HandlerFunc
		handler    gin.HandlerFunc
	}{
		{name: "without", handler: write},
		{name: "with/no-write", middleware: []gin.HandlerFunc{bemi}, handler: noWrite},
		{name: "with/write", middleware: []gin.HandlerFunc{bemi}, handler: write},
	}
	for _, bc := range cases {
		b.Run(bc.name, func(b *testing.B) {
			r := gin.New()
			r.Use(bc.middleware...)
			r.Group("/api").PUT("/todo/:id", bc.handler)
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
