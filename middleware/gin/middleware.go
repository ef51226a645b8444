package bemigin

import (
	"maps"

	"github.com/bemi-go/bemi/core"
	"github.com/gin-gonic/gin"
)

// Omit, given as a key in Config, leaves that default field out of the
// context.
const Omit = "-"

// DefaultRequestIDHeader is the response header that request-id middleware
// for gin, such as github.com/gin-contrib/requestid, sets by default.
const DefaultRequestIDHeader = "X-Request-ID"

// Config configures Middleware. The zero value adds the default fields
// method, endpoint, requestId and traceId, and no application fields.
type Config struct {
	// Fields builds the application's fields from the request, such as the
	// user id from authentication and the request parameters (c.Param,
	// URLParams or JSONBody). Its fields replace default fields of the same
	// key. Optional: nil adds the default fields only.
	Fields func(c *gin.Context) core.Fields

	// MethodKey is the key of the HTTP method field. Optional: empty means
	// "method", and Omit leaves the field out.
	MethodKey string

	// EndpointKey is the key of the route pattern field, c.FullPath(), such
	// as "/todo/:id". Optional: empty means "endpoint", and Omit leaves the
	// field out. The value is null when no route matches.
	EndpointKey string

	// RequestIDKey is the key of the request id that a request-id middleware
	// set as the RequestIDHeader response header. Optional: empty means
	// "requestId", and Omit leaves the field out. The field is left out when
	// the response header is not set, so the request-id middleware must run
	// before Middleware to be recorded.
	RequestIDKey string

	// RequestIDHeader is the response header that contains the request id.
	// Optional: empty means DefaultRequestIDHeader. The request header of
	// the same name is not read, because a client can set it to anything.
	RequestIDHeader string

	// TraceIDKey is the key of the trace id from a valid W3C traceparent
	// request header. Optional: empty means "traceId", and Omit leaves the
	// field out. The field is left out when the header is missing, invalid
	// or repeated.
	TraceIDKey string
}

// Middleware returns gin middleware that attaches the request's fields to
// c.Request's context.Context with core.With, so that database adapters
// record them with every write that the handlers make with
// c.Request.Context(). The original context is put back when the handlers
// return. Headers other than traceparent and the request id response header,
// such as Authorization and Cookie, are never read.
func Middleware(cfg Config) gin.HandlerFunc {
	methodKey := keyOrDefault(cfg.MethodKey, "method")
	endpointKey := keyOrDefault(cfg.EndpointKey, "endpoint")
	requestIDKey := keyOrDefault(cfg.RequestIDKey, "requestId")
	requestIDHeader := keyOrDefault(cfg.RequestIDHeader, DefaultRequestIDHeader)
	traceIDKey := keyOrDefault(cfg.TraceIDKey, "traceId")
	build := cfg.Fields

	return func(c *gin.Context) {
		req := c.Request
		fields := make(core.Fields, 8)

		if methodKey != Omit {
			fields[methodKey] = req.Method
		}
		if endpointKey != Omit {
			if pattern := c.FullPath(); pattern != "" {
				fields[endpointKey] = pattern
			} else {
				fields[endpointKey] = nil
			}
		}
		if requestIDKey != Omit {
			if id := c.Writer.Header().Get(requestIDHeader); id != "" {
				fields[requestIDKey] = id
			}
		}
		if traceIDKey != Omit {
			if id, ok := core.TraceIDFromHeader(req.Header); ok {
				fields[traceIDKey] = id
			}
		}
		if build != nil {
			maps.Copy(fields, build(c))
		}

		saved := c.Request.Context()
		c.Request = c.Request.WithContext(core.With(saved, fields))
		defer func() {
			c.Request = c.Request.WithContext(saved)
		}()

		c.Next()
	}
}

func keyOrDefault(key, def string) string {
	if key == "" {
		return def
	}

	return key
}
