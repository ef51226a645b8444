package bemichi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/bemi-go/bemi/core"
	bemichi "github.com/bemi-go/bemi/middleware/chi"
	"github.com/go-chi/chi/v5"
)

// newIsolationRouter returns a router whose handler responds with the
// encoded context. userId comes from the X-User-Id header.
func newIsolationRouter(t *testing.T, handler http.HandlerFunc) http.Handler {
	r := chi.NewRouter()
	r.Use(bemichi.Middleware(bemichi.Config{
		Fields: func(r *http.Request) core.Fields {
			fields := core.Fields{"params": bemichi.URLParams(r)}
			if id := r.Header.Get("X-User-Id"); id != "" {
				fields["userId"] = id
			}

			return fields
		},
	}))
	r.Put("/todo/{id}", handler)
	r.Route("/api/{version}", func(r chi.Router) {
		r.Put("/users/{userID}/todos/{todoID}", handler)
	})
	admin := chi.NewRouter()
	admin.Put("/stats/{day}", handler)
	r.Mount("/admin", admin)

	return r
}

// isolationRequest returns request i of the concurrency test: its path, and
// the context the handler must see.
func isolationRequest(i int) (string, map[string]any) {
	n := strconv.Itoa(i)
	traceID := fmt.Sprintf("%032x", i+1)
	want := map[string]any{"method": "PUT", "userId": "user-" + n, "traceId": traceID}

	switch i % 3 {
	case 0:
		want["endpoint"] = "/todo/{id}"
		want["params"] = map[string]any{"id": n}

		return "/todo/" + n, want
	case 1:
		want["endpoint"] = "/api/{version}/users/{userID}/todos/{todoID}"
		want["params"] = map[string]any{"version": "v" + n, "userID": "u" + n, "todoID": n}

		return "/api/v" + n + "/users/u" + n + "/todos/" + n, want
	default:
		want["endpoint"] = "/admin/stats/{day}"
		want["params"] = map[string]any{"day": "day" + n}

		return "/admin/stats/day" + n, want
	}
}

func TestMiddlewareConcurrentRequests(t *testing.T) {
	t.Parallel()

	const requests = 100

	// Every handler waits until all requests have arrived, so the 100
	// requests are in flight at the same time.
	var arrived sync.WaitGroup
	arrived.Add(requests)
	allArrived := make(chan struct{})
	go func() {
		arrived.Wait()
		close(allArrived)
	}()

	srv := httptest.NewServer(newIsolationRouter(t, func(w http.ResponseWriter, r *http.Request) {
		arrived.Done()
		select {
		case <-allArrived:
		case <-time.After(20 * time.Second):
			t.Error("not all requests arrived within 20s")
		}
		payload, _, err := core.Payload(r.Context(), encoder)
		if err != nil {
			t.Errorf("core.Payload: %v", err)
		}
		_, _ = w.Write(payload)
	}))
	defer srv.Close()

	var wg sync.WaitGroup
	for i := range requests {
		wg.Go(func() {
			path, want := isolationRequest(i)
			req, err := http.NewRequest(http.MethodPut, srv.URL+path, nil)
			if err != nil {
				t.Error(err)

				return
			}
			req.Header.Set("X-User-Id", want["userId"].(string))
			req.Header.Set("Traceparent", "00-"+want["traceId"].(string)+"-00f067aa0ba902b7-01")

			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Errorf("request %d: %v", i, err)

				return
			}
			defer resp.Body.Close()
			body, err := io.ReadAll(resp.Body)
			if err != nil {
				t.Errorf("request %d: read response: %v", i, err)

				return
			}

			var got map[string]any
			if err := json.Unmarshal(body, &got); err != nil {
				t.Errorf("request %d: decode %s: %v", i, body, err)

				return
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("request %d (%s): context = %v, want %v", i, path, got, want)
			}
		})
	}
	wg.Wait()
}

func TestMiddlewareNoLeakBetweenRequests(t *testing.T) {
	t.Parallel()

	rec := &recorder{t: t}
	r := newIsolationRouter(t, rec.ServeHTTP)

	first := httptest.NewRequest(http.MethodPut, "/todo/1", nil)
	first.Header.Set("X-User-Id", "user-1")
	first.Header.Set("Traceparent", validTraceparent)
	r.ServeHTTP(httptest.NewRecorder(), first)
	if rec.fields["userId"] != "user-1" {
		t.Fatalf("first request: userId = %v, want user-1", rec.fields["userId"])
	}

	r.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodPut, "/admin/stats/monday", nil))

	want := map[string]any{
		"method":   "PUT",
		"endpoint": "/admin/stats/{day}",
		"params":   map[string]any{"day": "monday"},
	}
	if !reflect.DeepEqual(rec.fields, want) {
		t.Errorf("second request: context = %v, want %v", rec.fields, want)
	}
}

// TestMiddlewareContextOutlivesRequest covers a goroutine that writes with
// the request's context after the response, such as an audit write started
// with context.WithoutCancel. chi resets the routing context of a finished
// request and reuses it, so the context must keep its own route.
func TestMiddlewareContextOutlivesRequest(t *testing.T) {
	t.Parallel()

	var kept context.Context
	r := newIsolationRouter(t, func(w http.ResponseWriter, req *http.Request) {
		if kept == nil {
			kept = context.WithoutCancel(req.Context())
		}
	})

	r.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodPut, "/todo/1", nil))
	if kept == nil {
		t.Fatal("handler did not run")
	}

	want := map[string]any{"method": "PUT", "endpoint": "/todo/{id}", "params": map[string]any{"id": "1"}}
	check := func(phase string) {
		t.Helper()

		// A new encoder on each call, so the lazy values are read again
		// instead of coming from core's cache.
		payload, _, err := core.Payload(kept, &core.Encoder{})
		if err != nil {
			t.Fatalf("core.Payload: %v", err)
		}
		var got map[string]any
		if err := json.Unmarshal(payload, &got); err != nil {
			t.Fatalf("decode %s: %v", payload, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("context %s = %v, want %v", phase, got, want)
		}
	}

	// Later requests in this goroutine take the finished request's routing
	// context from chi's pool and route other paths with it.
	for i := range 10 {
		path, _ := isolationRequest(3*i + 2)
		r.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodPut, path, nil))
	}
	check("after later requests")

	// Encode the kept context while other requests run; -race reports a
	// read of a routing context that chi has reused.
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Go(func() {
			path, _ := isolationRequest(i + 1)
			r.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodPut, path, nil))
		})
	}
	for range 50 {
		check("during later requests")
	}
	wg.Wait()
}
