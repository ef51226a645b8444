package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"

	"github.com/bemi-go/bemi/core"
	"github.com/bemi-go/bemi/examples/todo/internal/store"
)

// UserIDHeader is the request header that names the user who makes the
// request. A real service takes the user from its authentication instead.
const UserIDHeader = "X-User-ID"

// Router names accepted by New.
const (
	Chi = "chi"
	Gin = "gin"
)

// Routers returns the router names that New accepts.
func Routers() []string { return []string{Chi, Gin} }

// New returns the todo API served by the named router, reading and writing
// through s. Unexpected errors are logged on logger.
func New(router string, s store.Store, logger *slog.Logger) (http.Handler, error) {
	h := &handlers{store: s, log: logger}
	switch router {
	case Chi:
		return newChi(h), nil
	case Gin:
		return newGin(h), nil
	default:
		return nil, fmt.Errorf("unknown router %q: use one of %s", router, strings.Join(Routers(), ", "))
	}
}

// handlers holds the API's logic, shared by both routers. Each method
// returns the response to send.
type handlers struct {
	store store.Store
	log   *slog.Logger
}

// response is an HTTP status and the value to send as JSON, or no body when
// body is nil.
type response struct {
	status int
	body   any
}

// createRequest is the body of POST /todo.
type createRequest struct {
	Task string `json:"task"`
}

// errorResponse is the body of every error response.
type errorResponse struct {
	Error string `json:"error"`
}

// maxTaskBytes bounds the task text of a new todo.
const maxTaskBytes = 1000

func (h *handlers) create(ctx context.Context, body io.Reader) response {
	var req createRequest
	dec := json.NewDecoder(io.LimitReader(body, 64<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return response{http.StatusBadRequest, errorResponse{fmt.Sprintf(`invalid JSON body: %v: send {"task": "..."}`, err)}}
	}
	req.Task = strings.TrimSpace(req.Task)
	if req.Task == "" {
		return response{http.StatusBadRequest, errorResponse{`missing task: send {"task": "..."}`}}
	}
	if len(req.Task) > maxTaskBytes {
		return response{http.StatusBadRequest, errorResponse{fmt.Sprintf("task is %d bytes long, the limit is %d", len(req.Task), maxTaskBytes)}}
	}

	todo, err := h.store.Create(ctx, req.Task)
	if err != nil {
		return h.internal(ctx, err)
	}

	return response{http.StatusCreated, todo}
}

func (h *handlers) list(ctx context.Context) response {
	todos, err := h.store.List(ctx)
	if err != nil {
		return h.internal(ctx, err)
	}
	if todos == nil {
		todos = []store.Todo{}
	}

	return response{http.StatusOK, todos}
}

func (h *handlers) complete(ctx context.Context, idParam string) response {
	id, err := parseID(idParam)
	if err != nil {
		return response{http.StatusBadRequest, errorResponse{err.Error()}}
	}

	todo, err := h.store.Complete(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return response{http.StatusNotFound, errorResponse{fmt.Sprintf("todo %d not found", id)}}
	}
	if err != nil {
		return h.internal(ctx, err)
	}

	return response{http.StatusOK, todo}
}

func (h *handlers) remove(ctx context.Context, idParam string) response {
	id, err := parseID(idParam)
	if err != nil {
		return response{http.StatusBadRequest, errorResponse{err.Error()}}
	}

	err = h.store.Delete(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return response{http.StatusNotFound, errorResponse{fmt.Sprintf("todo %d not found", id)}}
	}
	if err != nil {
		return h.internal(ctx, err)
	}

	return response{http.StatusNoContent, nil}
}

// internal logs an unexpected error and returns a response that does not
// reveal it.
func (h *handlers) internal(ctx context.Context, err error) response {
	h.log.ErrorContext(ctx, "todo request failed", "error", err)

	return response{http.StatusInternalServerError, errorResponse{"internal error, see the service log"}}
}

// parseID parses the {id} URL parameter.
func parseID(s string) (int64, error) {
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id <= 0 {
		return 0, fmt.Errorf("invalid todo id %q: use a positive integer", s)
	}

	return id, nil
}

// userID reads the user id from the X-User-ID header: a JSON number when it
// is a decimal integer, such as 187234, else the header's text. It returns
// false when the header is missing or empty.
func userID(h http.Header) (any, bool) {
	v := strings.TrimSpace(h.Get(UserIDHeader))
	if v == "" {
		return nil, false
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		return n, true
	}

	return v, true
}

// contextFields returns the application's Bemi fields of a request: the user
// id and the request parameters. The middleware adds method and endpoint.
func contextFields(h http.Header, params any) core.Fields {
	fields := core.Fields{"params": params}
	if id, ok := userID(h); ok {
		fields["userId"] = id
	}

	return fields
}
