package bemichi

import (
	"encoding/json"
	"maps"
	"net/http"
	"strings"
	"sync"

	"github.com/go-chi/chi/v5"
)

// RoutePattern is the value of the endpoint field: the pattern of the route
// that chi matched, such as "/todo/{id}", including the patterns of the
// routers it is mounted in ("/api/todo/{id}"). It never contains the
// request's path, such as "/todo/27".
//
// chi routes a request only after the middleware registered with Use has
// run, so a RoutePattern is resolved when it is read: when core encodes the
// context at the first database write, or when String is called. In the
// handler, it reads chi's routing context. Before routing, in a middleware,
// it looks the request's method and path up in the root router. When the request
// ends, the pattern is fixed, so a goroutine that outlives the request still
// reads its own request's pattern.
type RoutePattern struct {
	route *route
}

// String returns the route pattern, or "" when no route matches the request.
func (p RoutePattern) String() string {
	m := p.route.resolve()

	return m.pattern
}

// MarshalJSON encodes the route pattern as a JSON string, or as null when no
// route matches the request (a 404 or 405 response).
func (p RoutePattern) MarshalJSON() ([]byte, error) {
	m := p.route.resolve()
	if !m.ok {
		return []byte("null"), nil
	}

	return json.Marshal(m.pattern)
}

// Params is a value for core.Fields that encodes as a JSON object of the URL
// parameters of the matched route, such as {"id":"27"}. It is resolved like
// RoutePattern. The wildcard parameter "*" is left out, because chi also sets
// it to the rest of the path at every mount.
type Params struct {
	route  *route
	values map[string]string
}

// URLParams returns the URL parameters of the route that r matches. It works
// in Config.Fields, before chi has routed the request, because the result is
// resolved when it is encoded. Outside Middleware, it holds the parameters
// that chi has matched when URLParams is called.
func URLParams(r *http.Request) Params {
	if rt := routeFromContext(r.Context()); rt != nil {
		return Params{route: rt}
	}

	rctx := chi.RouteContext(r.Context())
	if rctx == nil {
		return Params{}
	}

	return Params{values: paramMap(rctx.URLParams)}
}

// Map returns a copy of the URL parameters, resolved now.
func (p Params) Map() map[string]string {
	if p.route == nil {
		return maps.Clone(p.values)
	}

	return maps.Clone(p.route.resolve().params)
}

// MarshalJSON encodes the URL parameters as a JSON object of strings.
func (p Params) MarshalJSON() ([]byte, error) {
	values := p.Map()
	if values == nil {
		values = map[string]string{}
	}

	return json.Marshal(values)
}

// route is the routing state of one request, shared by its RoutePattern
// and Params values.
type route struct {
	mu sync.Mutex

	// rctx is chi's routing context of the request. It is nil once the
	// request has ended, because chi then resets it and reuses it for
	// another request.
	rctx   *chi.Context
	method string
	path   string

	frozen bool
	final  match
}

// match is a resolved route: its pattern and URL parameters, and ok=false
// when no route matches.
type match struct {
	pattern string
	params  map[string]string
	ok      bool
}

// newRoute returns the route state of r, or nil when r is not served by a
// chi router.
func newRoute(r *http.Request) *route {
	rctx := chi.RouteContext(r.Context())
	if rctx == nil {
		return nil
	}

	path := r.URL.RawPath
	if path == "" {
		path = r.URL.Path
	}
	if path == "" {
		path = "/"
	}

	return &route{rctx: rctx, method: r.Method, path: path}
}

// resolve returns the route of the request: fixed once the request has
// ended, read from chi's routing context before that.
func (rt *route) resolve() match {
	if rt == nil {
		return match{}
	}

	rt.mu.Lock()
	defer rt.mu.Unlock()

	if rt.frozen {
		return rt.final
	}

	return rt.lookup()
}

// freeze fixes the route when the request ends, before chi reuses its
// routing context.
func (rt *route) freeze() {
	rt.mu.Lock()
	defer rt.mu.Unlock()

	rt.final = rt.lookup()
	rt.frozen = true
	rt.rctx = nil
}

// lookup reads the route from chi's routing context. The caller holds rt.mu.
func (rt *route) lookup() match {
	rctx := rt.rctx
	n := len(rctx.RoutePatterns)
	if n > 0 && !strings.HasSuffix(rctx.RoutePatterns[n-1], "/*") {
		return match{pattern: rctx.RoutePattern(), params: paramMap(rctx.URLParams), ok: true}
	}

	// Routing has not reached a route yet (the write comes from a middleware
	// that runs before routing), or it stopped at a pattern that ends in
	// "/*": a mount, a catch-all route or a sub-router that found no route.
	// Mux.Find on the root router returns the full pattern of the route
	// that the method and path match, or "" when none matches.
	if rctx.Routes == nil {
		return match{}
	}
	probe := chi.NewRouteContext()
	pattern := rctx.Routes.Find(probe, rt.method, rt.path)
	if pattern == "" {
		return match{}
	}

	return match{pattern: normalizePattern(pattern), params: paramMap(probe.URLParams), ok: true}
}

// normalizePattern writes a pattern from Mux.Find the way
// chi.Context.RoutePattern writes it, without the trailing slash that a
// sub-router's "/" route adds.
func normalizePattern(p string) string {
	for strings.Contains(p, "/*/") {
		p = strings.ReplaceAll(p, "/*/", "/")
	}
	if p != "/" {
		p = strings.TrimSuffix(p, "//")
		p = strings.TrimSuffix(p, "/")
	}

	return p
}

// paramMap returns URL parameters as a map. A later value of the same key
// wins, as in chi.URLParam.
func paramMap(params chi.RouteParams) map[string]string {
	values := make(map[string]string, len(params.Keys))
	for i, key := range params.Keys {
		if key == "*" || i >= len(params.Values) {
			continue
		}
		values[key] = params.Values[i]
	}

	return values
}
