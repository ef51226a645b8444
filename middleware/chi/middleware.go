package bemichi

import (
	"context"
	"maps"
	"net/http"

	"github.com/bemi-go/bemi/core"
	"github.com/go-chi/chi/v5/middleware"
)

// Omit, given as a key in Config, leaves that default field out of the
// context.
const Omit = "-"

// Config configures Middleware. The zero value adds the default fields
// method, endpoint, requestId and traceId, and no application fields.
type Config struct {
	// Fields builds the application's fields from the request, such as the
	// user id from authentication and the request parameters. Its fields
	// replace default fields of the same key. Optional: nil adds the
	// default fields only.
	//
	// Fields runs before chi has routed the request, so chi.URLParam returns
	// "" there: use URLParams for route parameters and JSONBody for a JSON
	// request body.
	Fields func(r *http.Request) core.Fields

	// MethodKey is the key of the HTTP method field. Optional: empty means
	// "method", and Omit leaves the field out.
	MethodKey string

	// EndpointKey is the key of the route pattern field, such as
	// "/todo/{id}". Optional: empty means "endpoint", and Omit leaves the
	// field out. The value is a RoutePattern.
	EndpointKey string

	// RequestIDKey is the key of the request id that chi's
	// middleware.RequestID stored in the request context. Optional: empty
	// means "requestId", and Omit leaves the field out. The field is left
	// out when no request id is set, so middleware.RequestID must run
	// before Middleware to be recorded.
	RequestIDKey string

	// TraceIDKey is the key of the trace id from a valid W3C traceparent
	// request header. Optional: empty means "traceId", and Omit leaves the
	// field out. The field is left out when the header is missing, invalid
	// or repeated.
	TraceIDKey string
}

// Middleware returns chi middleware that attaches the request's fields to
// its context.Context with core.With, so that database adapters record them
// with every write the handler makes. Register it with Use on the root router
// or on any sub-router. Headers other than traceparent, such as Authorization
// and Cookie, are never read.
func Middleware(cfg Config) func(http.Handler) http.Handler {
	methodKey := keyOrDefault(cfg.MethodKey, "method")
	endpointKey := keyOrDefault(cfg.EndpointKey, "endpoint")
	requestIDKey := keyOrDefault(cfg.RequestIDKey, "requestId")
	traceIDKey := keyOrDefault(cfg.TraceIDKey, "traceId")
	build := cfg.Fields

	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			ctx := r.Context()
			fields := make(core.Fields, 8)

			// The route is only known after routing, which happens after
			// this middleware returns control to chi, so the endpoint is a
			// value that reads chi's routing context when it is encoded.
			rt := newRoute(r)
			if rt != nil {
				defer rt.freeze()
				ctx = context.WithValue(ctx, routeKey{}, rt)
				r = r.WithContext(ctx)
			}

			if methodKey != Omit {
				fields[methodKey] = r.Method
			}
			if endpointKey != Omit && rt != nil {
				fields[endpointKey] = RoutePattern{route: rt}
			}
			if requestIDKey != Omit {
				if id := middleware.GetReqID(ctx); id != "" {
					fields[requestIDKey] = id
				}
			}
			if traceIDKey != Omit {
				if id, ok := core.TraceIDFromHeader(r.Header); ok {
					fields[traceIDKey] = id
				}
			}
			if build != nil {
				maps.Copy(fields, build(r))
			}

			next.ServeHTTP(w, r.WithContext(core.With(ctx, fields)))
		})
	}
}

func keyOrDefault(key, def string) string {
	if key == "" {
		return def
	}

	return key
}

// routeFromContext returns the route that Middleware attached to ctx, or nil.
func routeFromContext(ctx context.Context) *route {
	rt, _ := ctx.Value(routeKey{}).(*route)

	return rt
}

// routeKey is the context key of the *route of a request.
type routeKey struct{}
