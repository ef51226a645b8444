package bemichi_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"testing"

	"github.com/bemi-go/bemi/core"
	bemichi "github.com/bemi-go/bemi/middleware/chi"
	"github.com/go-chi/chi/v5"
)

// routeCase is a router and a request whose recorded endpoint and params
// are checked. A nil endpoint means JSON null: no route matched.
type routeCase struct {
	name     string
	method   string
	target   string
	endpoint any
	params   map[string]any
}

// newRouteTestRouter returns a router with the middleware at the root and
// routes of every kind that chi offers, all served by h. The Fields
// function records the URL parameters under "params".
func newRouteTestRouter(h http.Handler) http.Handler {
	r := chi.NewRouter()
	r.Use(bemichi.Middleware(bemichi.Config{
		Fields: func(r *http.Request) core.Fields {
			return core.Fields{"params": bemichi.URLParams(r)}
		},
	}))
	r.NotFound(h.ServeHTTP)
	r.MethodNotAllowed(h.ServeHTTP)

	r.Method(http.MethodGet, "/", h)
	r.Method(http.MethodGet, "/todo/{id}", h)
	r.Method(http.MethodGet, "/files/*", h)
	r.With(passThrough).Method(http.MethodGet, "/inline/{id}", h)

	r.Route("/api/{version}", func(r chi.Router) {
		r.Method(http.MethodGet, "/", h)
		r.Route("/users/{userID}", func(r chi.Router) {
			r.Method(http.MethodGet, "/todos/{todoID}", h)
		})
		r.Group(func(r chi.Router) {
			r.Use(passThrough)
			r.Method(http.MethodPost, "/grouped/{id}", h)
		})
	})

	admin := chi.NewRouter()
	admin.Method(http.MethodGet, "/stats/{day}", h)
	admin.NotFound(h.ServeHTTP)
	r.Mount("/admin", admin)

	// A mounted http.Handler that is not a chi router: chi records only the
	// mount pattern.
	r.Mount("/legacy", h)

	return r
}

func passThrough(next http.Handler) http.Handler { return next }

func TestEndpointRoutePatterns(t *testing.T) {
	t.Parallel()

	tests := []routeCase{
		{name: "root", method: "GET", target: "/", endpoint: "/", params: map[string]any{}},
		{name: "URL parameter", method: "GET", target: "/todo/27", endpoint: "/todo/{id}", params: map[string]any{"id": "27"}},
		{name: "query string", method: "GET", target: "/todo/27?secret=1", endpoint: "/todo/{id}", params: map[string]any{"id": "27"}},
		{name: "catch-all", method: "GET", target: "/files/a/b.txt", endpoint: "/files/*", params: map[string]any{}},
		{name: "inline middleware", method: "GET", target: "/inline/5", endpoint: "/inline/{id}", params: map[string]any{"id": "5"}},
		{name: "Route root", method: "GET", target: "/api/v1/", endpoint: "/api/{version}", params: map[string]any{"version": "v1"}},
		{
			name: "nested Route", method: "GET", target: "/api/v2/users/7/todos/9",
			endpoint: "/api/{version}/users/{userID}/todos/{todoID}",
			params:   map[string]any{"version": "v2", "userID": "7", "todoID": "9"},
		},
		{
			name: "Group in Route", method: "POST", target: "/api/v1/grouped/3",
			endpoint: "/api/{version}/grouped/{id}", params: map[string]any{"version": "v1", "id": "3"},
		},
		{name: "Mount", method: "GET", target: "/admin/stats/monday", endpoint: "/admin/stats/{day}", params: map[string]any{"day": "monday"}},
		{name: "Mount of a plain handler", method: "GET", target: "/legacy/old/page", endpoint: "/legacy/*", params: map[string]any{}},
		{name: "not found", method: "GET", target: "/nothing/here", endpoint: nil, params: map[string]any{}},
		{name: "not found in Mount", method: "GET", target: "/admin/nothing", endpoint: nil, params: map[string]any{}},
		{name: "method not allowed", method: "DELETE", target: "/todo/27", endpoint: nil, params: map[string]any{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			rec := &recorder{t: t}
			r := newRouteTestRouter(rec)

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

func TestEndpointMiddlewarePlacement(t *testing.T) {
	t.Parallel()

	bemi := func() func(http.Handler) http.Handler {
		return bemichi.Middleware(bemichi.Config{
			Fields: func(r *http.Request) core.Fields {
				return core.Fields{"params": bemichi.URLParams(r)}
			},
		})
	}
	tests := []struct {
		name  string
		build func(h http.Handler) http.Handler
	}{
		{name: "Use in Route", build: func(h http.Handler) http.Handler {
			r := chi.NewRouter()
			r.Route("/api", func(r chi.Router) {
				r.Use(bemi())
				r.Method(http.MethodGet, "/todo/{id}", h)
			})

			return r
		}},
		{name: "Use in mounted router", build: func(h http.Handler) http.Handler {
			api := chi.NewRouter()
			api.Use(bemi())
			api.Method(http.MethodGet, "/todo/{id}", h)
			r := chi.NewRouter()
			r.Mount("/api", api)

			return r
		}},
		{name: "Use in Group", build: func(h http.Handler) http.Handler {
			r := chi.NewRouter()
			r.Group(func(r chi.Router) {
				r.Use(bemi())
				r.Method(http.MethodGet, "/api/todo/{id}", h)
			})

			return r
		}},
		{name: "inline With", build: func(h http.Handler) http.Handler {
			r := chi.NewRouter()
			r.With(bemi()).Method(http.MethodGet, "/api/todo/{id}", h)

			return r
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			rec := &recorder{t: t}

			serve(tt.build(rec), http.MethodGet, "/api/todo/27", nil)

			want := map[string]any{"method": "GET", "endpoint": "/api/todo/{id}", "params": map[string]any{"id": "27"}}
			if !reflect.DeepEqual(rec.fields, want) {
				t.Errorf("fields = %v, want %v", rec.fields, want)
			}
		})
	}
}

// TestEndpointWriteBeforeRouting covers a write made by a middleware that
// runs after Middleware but before chi routes the request. core encodes a
// context once, so the handler's later write reuses that first encoding and
// must not get a partial pattern from it.
func TestEndpointWriteBeforeRouting(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name     string
		target   string
		endpoint any
	}{
		{name: "root route", target: "/todo/27", endpoint: "/todo/{id}"},
		{name: "nested route", target: "/api/v1/users/7/todos/9", endpoint: "/api/{version}/users/{userID}/todos/{todoID}"},
		{name: "mounted route", target: "/admin/stats/monday", endpoint: "/admin/stats/{day}"},
		{name: "not found", target: "/nothing", endpoint: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			var early map[string]any
			rec := &recorder{t: t}
			r := chi.NewRouter()
			r.Use(bemichi.Middleware(bemichi.Config{}))
			r.Use(func(next http.Handler) http.Handler {
				return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
					early = encoded(t, req.Context())
					next.ServeHTTP(w, req)
				})
			})
			r.NotFound(rec.ServeHTTP)
			r.Method(http.MethodGet, "/todo/{id}", rec)
			r.Route("/api/{version}", func(r chi.Router) {
				r.Method(http.MethodGet, "/users/{userID}/todos/{todoID}", rec)
			})
			admin := chi.NewRouter()
			admin.Method(http.MethodGet, "/stats/{day}", rec)
			r.Mount("/admin", admin)

			serve(r, http.MethodGet, tt.target, nil)

			if rec.calls != 1 {
				t.Fatalf("handler ran %d times, want 1", rec.calls)
			}
			if early["endpoint"] != tt.endpoint {
				t.Errorf("endpoint before routing = %#v, want %#v", early["endpoint"], tt.endpoint)
			}
			if rec.fields["endpoint"] != tt.endpoint {
				t.Errorf("endpoint in handler = %#v, want %#v", rec.fields["endpoint"], tt.endpoint)
			}
		})
	}
}

func TestEndpointWriteInSubRouterMiddleware(t *testing.T) {
	t.Parallel()

	var early map[string]any
	rec := &recorder{t: t}
	r := chi.NewRouter()
	r.Use(bemichi.Middleware(bemichi.Config{}))
	r.Route("/api", func(r chi.Router) {
		// Runs after the root router matched "/api/*" and before the
		// sub-router matched "/todo/{id}".
		r.Use(func(next http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
				early = encoded(t, req.Context())
				next.ServeHTTP(w, req)
			})
		})
		r.Method(http.MethodGet, "/todo/{id}", rec)
	})

	serve(r, http.MethodGet, "/api/todo/27", nil)

	if early["endpoint"] != "/api/todo/{id}" {
		t.Errorf("endpoint in sub-router middleware = %#v, want %q", early["endpoint"], "/api/todo/{id}")
	}
	if rec.fields["endpoint"] != "/api/todo/{id}" {
		t.Errorf("endpoint in handler = %#v, want %q", rec.fields["endpoint"], "/api/todo/{id}")
	}
}

func TestRoutePatternString(t *testing.T) {
	t.Parallel()

	var got string
	r := chi.NewRouter()
	r.Use(bemichi.Middleware(bemichi.Config{}))
	r.Get("/todo/{id}", func(w http.ResponseWriter, req *http.Request) {
		got = fmt.Sprint(core.FieldsFrom(req.Context())["endpoint"])
	})

	serve(r, http.MethodGet, "/todo/27", nil)

	if got != "/todo/{id}" {
		t.Errorf("endpoint printed as %q, want %q", got, "/todo/{id}")
	}
	if s := (bemichi.RoutePattern{}).String(); s != "" {
		t.Errorf("zero RoutePattern.String() = %q, want \"\"", s)
	}
}

func TestURLParamsOutsideMiddleware(t *testing.T) {
	t.Parallel()

	var params map[string]string
	var payload string
	r := chi.NewRouter()
	r.Get("/todo/{id}/{part}", func(w http.ResponseWriter, req *http.Request) {
		p := bemichi.URLParams(req)
		params = p.Map()
		b, err := p.MarshalJSON()
		if err != nil {
			t.Errorf("MarshalJSON: %v", err)
		}
		payload = string(b)
	})

	serve(r, http.MethodGet, "/todo/27/title", nil)

	want := map[string]string{"id": "27", "part": "title"}
	if !reflect.DeepEqual(params, want) {
		t.Errorf("URLParams(r).Map() = %v, want %v", params, want)
	}
	if payload != `{"id":"27","part":"title"}` {
		t.Errorf("URLParams(r).MarshalJSON() = %s, want %s", payload, `{"id":"27","part":"title"}`)
	}

	outside := bemichi.URLParams(httptest.NewRequest(http.MethodGet, "/todo/27", nil))
	if b, _ := outside.MarshalJSON(); string(b) != "{}" {
		t.Errorf("URLParams without chi = %s, want {}", b)
	}
}
