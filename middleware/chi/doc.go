// Package bemichi is the chi middleware of Bemi for Go. It attaches
// application context (who made a change, through which endpoint, with which
// parameters) to each request's context.Context, and the database adapters
// (gormbemi, entbemi, pgxbemi) record it with every write the handler makes
// with that context.
//
// # First example
//
//	r := chi.NewRouter()
//	r.Use(middleware.RequestID) // before bemichi, so the request id is recorded
//	r.Use(bemichi.Middleware(bemichi.Config{
//		Fields: func(r *http.Request) core.Fields {
//			params, _ := bemichi.JSONBody(r, 0)
//			return core.Fields{"userId": userID(r), "params": params}
//		},
//	}))
//	r.Put("/todo/{id}", updateTodo) // db.WithContext(r.Context()) inside
//
// A PUT /todo/27 then writes with the context
//
//	{"method":"PUT","endpoint":"/todo/{id}","requestId":"host/abc-000001",
//	 "userId":187234,"params":{"isCompleted":true}}
//
// # Default fields
//
//   - method: the HTTP method.
//   - endpoint: the matched route pattern (a RoutePattern), such as
//     "/todo/{id}", never the request path "/todo/27". Patterns of all
//     routers on the way are joined, across Route, Group and Mount. It is
//     null when no route matches (404 and 405 responses).
//   - requestId: the id that chi's middleware.RequestID stored, when it runs
//     before Middleware.
//   - traceId: the trace id of a valid W3C traceparent header.
//
// Config renames each of them or leaves it out, and the fields from
// Config.Fields replace default fields of the same key. No other header is
// read: Authorization, Cookie and the rest stay out of the context unless
// Config.Fields adds them.
//
// # Route patterns and URL parameters
//
// chi routes a request after the middleware registered with Use has run, so
// the route pattern and chi.URLParam are not known yet when Middleware and
// Config.Fields run. The endpoint field therefore holds a RoutePattern, which
// is resolved when the context is encoded: at the first database write, which
// happens in the handler, after routing. URLParams gives the URL parameters
// the same way. A write made by a middleware before routing gets the route
// that the router predicts for the request's method and path.
//
// # Background jobs
//
// Work that does not come from an HTTP request attaches its context with
// core.With, in the job runner or the worker loop:
//
//	ctx = core.With(ctx, core.Fields{"job": "SendReminders", "jobId": id})
//	err := sendReminders(ctx) // db.WithContext(ctx) inside
//
// # Limits
//
//   - Middleware must run inside a chi router (registered with Use, With or
//     Group). Wrapped around a router from outside, it has no routing context
//     and leaves the endpoint field out.
//   - middleware.RequestID must run before Middleware: the request id it
//     stores after Middleware has run is not recorded.
//   - A middleware after Middleware can change the routing path by setting
//     chi.Context.RoutePath. Then a write made before routing, or under a
//     route whose pattern ends in "/*", can record another route than the one
//     that serves the request. Other writes in the handler record the route
//     that serves the request.
//   - A goroutine that a middleware starts before routing and that encodes the
//     context while chi routes the request races with chi's routing.
package bemichi
