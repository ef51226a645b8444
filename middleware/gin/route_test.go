package bemigin_test

import (
	"net/http"
	"reflect"
	"testing"

	"github.com/bemi-go/bemi/core"
	bemigin "github.com/bemi-go/bemi/middleware/gin"
	"github.com/gin-gonic/gin"
)

// newRouteTestEngine returns an engine with the middleware at the root and
// routes of every kind that gin offers, all served by h. The Fields function
// records the URL parameters under "params".
func newRouteTestEngine(h gin.HandlerFunc) *gin.Engine {
	r := gin.New()
	r.HandleMethodNotAllowed = true
	r.Use(bemigin.Middleware(bemigin.Config{
		Fields: func(c *gin.Context) core.Fields {
			return core.Fields{"params": bemigin.URLParams(c)}
		},
	}))
	r.NoRoute(h)
	r.NoMethod(h)

	r.GET("/", h)
	r.GET("/todo/:id", h)
	r.GET("/files/*filepath", h)

	api := r.Group("/api/:version")
	api.GET("", h)
	users := api.Group("/users/:userID")
	users.GET("/todos/:todoID", h)

	admin := r.Group("/admin", func(c *gin.Context) { c.Next() })
	admin.POST("/stats/:day", h)

	return r
}

func TestEndpointRoutePatterns(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name     string
		method   string
		target   string
		endpoint any // nil: JSON null, no route matched
		params   map[string]any
	}{
		{name: "root", method: "GET", target: "/", endpoint: "/", params: map[string]any{}},
		{name: "URL parameter", method: "GET", target: "/todo/27", endpoint: "/todo/:id", params: map[string]any{"id": "27"}},
		{name: "query string", method: "GET", target: "/todo/27?secret=1", endpoint: "/todo/:id", params: map[string]any{"id": "27"}},
		{name: "catch-all", method: "GET", target: "/files/a/b.txt", endpoint: "/files/*filepath", params: map[string]any{"filepath": "/a/b.txt"}},
		{name: "group root", method: "GET", target: "/api/v1", endpoint: "/api/:version", params: map[string]any{"version": "v1"}},
		{
			name: "nested groups", method: "GET", target: "/api/v2/users/7/todos/9",
			endpoint: "/api/:version/users/:userID/todos/:todoID",
			params:   map[string]any{"version": "v2", "userID": "7", "todoID": "9"},
		},
		{name: "group with middleware", method: "POST", target: "/admin/stats/monday", endpoint: "/admin/stats/:day", params: map[string]any{"day": "monday"}},
		{name: "not found", method: "GET", target: "/nothing/here", endpoint: nil, params: map[string]any{}},
		{name: "method not allowed", method: "DELETE", target: "/todo/27", endpoint: nil, params: map[string]any{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			rec := &recorder{t: t}
			r := newRouteTestEngine(rec.handle)

			serve(r, tt.method, tt.target, nil)

			if rec.calls != 1 {
				t.Fatalf("handler ran %d times, want 1", rec.calls)
			}
			endpoint, present := rec.fields["endpoint"]
			if !present {
				t.Fatalf("no endpoint field in %v", rec.fields)
			}
			if endpoint != tt.endpoint {
				t.Errorf("endpoint = %#v, want %#v", endpoint, tt.endpoint)
			}
			if !reflect.DeepEqual(rec.fields["params"], tt.params) {
				t.Errorf("params = %#v, want %#v", rec.fields["params"], tt.params)
			}
		})
	}
}

func TestEndpointMiddlewareInGroup(t *testing.T) {
	t.Parallel()

	rec := &recorder{t: t}
	r := gin.New()
	api := r.Group("/api")
	api.Use(bemigin.Middleware(bemigin.Config{}))
	api.GET("/todo/:id", rec.handle)

	serve(r, http.MethodGet, "/api/todo/27", nil)

	want := map[string]any{"method": "GET", "endpoint": "/api/todo/:id"}
	if !reflect.DeepEqual(rec.fields, want) {
		t.Errorf("fields = %v, want %v", rec.fields, want)
	}
}
