// Package bemigin is the gin middleware of Bemi for Go. It attaches
// application context (who made a change, through which endpoint, with which
// parameters) to each request's context.Context, and the database adapters
// (gormbemi, entbemi, pgxbemi) record it with every write the handlers make
// with that context.
//
// # First example
//
//	r := gin.New()
//	r.Use(requestid.New()) // before bemigin, so the request id is recorded
//	r.Use(bemigin.Middleware(bemigin.Config{
//		Fields: func(c *gin.Context) core.Fields {
//			params, _ := bemigin.JSONBody(c, 0)
//			return core.Fields{"userId": userID(c), "params": params}
//		},
//	}))
//	r.PUT("/todo/:id", func(c *gin.Context) {
//		db.WithContext(c.Request.Context()).Save(&todo)
//	})
//
// A PUT /todo/27 then writes with the context
//
//	{"method":"PUT","endpoint":"/todo/:id","requestId":"6ba7b810-...",
//	 "userId":187234,"params":{"isCompleted":true}}
//
// # Default fields
//
//   - method: the HTTP method.
//   - endpoint: the matched route pattern, c.FullPath(), such as "/todo/:id",
//     never the request path "/todo/27". It includes the prefixes of route
//     groups. It is null when no route matches (the NoRoute and NoMethod
//     handlers).
//   - requestId: the X-Request-ID response header that a request-id
//     middleware, such as github.com/gin-contrib/requestid, has set before
//     Middleware runs.
//   - traceId: the trace id of a valid W3C traceparent header.
//
// Config renames each of them or leaves it out, and the fields from
// Config.Fields replace default fields of the same key. No other header is
// read: Authorization, Cookie and the rest stay out of the context unless
// Config.Fields adds them.
//
// # Which context to pass
//
// Middleware stores the fields in c.Request.Context(), so pass that context
// to the database. A *gin.Context is a context.Context too, but its Value
// method reads c.Request.Context() only when the engine's
// ContextWithFallback is true, and gin reuses a *gin.Context for later
// requests once the handlers return. A goroutine that writes after the
// response must take c.Request.Context() (or c.Copy()) before the handler
// returns.
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
//   - The request-id middleware must run before Middleware: a request id it
//     sets afterwards is not recorded.
//   - Middleware that runs before Middleware does not see the fields, and
//     neither do its statements after c.Next, because the original context
//     is put back when the handlers return.
package bemigin
