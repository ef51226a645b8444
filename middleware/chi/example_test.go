package bemichi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/bemi-go/bemi/core"
	bemichi "github.com/bemi-go/bemi/middleware/chi"
	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"
)

// printContext prints the context that the adapters would record for ctx.
func printContext(ctx context.Context) {
	b, err := json.Marshal(core.FieldsFrom(ctx))
	if err != nil {
		fmt.Println("error:", err)

		return
	}
	fmt.Println(string(b))
}

func Example() {
	r := chi.NewRouter()
	r.Use(middleware.RequestID)
	r.Use(bemichi.Middleware(bemichi.Config{
		Fields: func(r *http.Request) core.Fields {
			params, _ := bemichi.JSONBody(r, 0)

			// A real application takes the user from its authentication.
			return core.Fields{"userId": 187234, "params": params}
		},
	}))
	r.Route("/todo", func(r chi.Router) {
		r.Put("/{id}", func(w http.ResponseWriter, r *http.Request) {
			// A write such as db.WithContext(r.Context()).Save(&todo)
			// records this context.
			printContext(r.Context())
		})
	})

	req := httptest.NewRequest(http.MethodPut, "/todo/27", strings.NewReader(`{"isCompleted":true}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Request-Id", "req-1")
	r.ServeHTTP(httptest.NewRecorder(), req)

	// Output:
	// {"endpoint":"/todo/{id}","method":"PUT","params":{"isCompleted":true},"requestId":"req-1","userId":187234}
}

// A background job or worker has no HTTP request: it attaches its context
// with core.With before it runs the job, and every write the job makes with
// that context records it.
func Example_backgroundJob() {
	type job struct {
		name string
		id   int
		run  func(ctx context.Context) error
	}
	sendReminders := job{name: "SendReminders", id: 42, run: func(ctx context.Context) error {
		// db.WithContext(ctx).Model(&todo).Update("reminded", true)
		printContext(ctx)

		return nil
	}}

	runJob := func(ctx context.Context, j job) error {
		ctx = core.With(ctx, core.Fields{"job": j.name, "jobId": j.id})

		return j.run(ctx)
	}

	if err := runJob(context.Background(), sendReminders); err != nil {
		fmt.Println("error:", err)
	}

	// Output:
	// {"job":"SendReminders","jobId":42}
}

// URLParams records the route parameters from Config.Fields, which runs
// before chi has routed the request.
func ExampleURLParams() {
	r := chi.NewRouter()
	r.Use(bemichi.Middleware(bemichi.Config{
		Fields: func(r *http.Request) core.Fields {
			return core.Fields{"params": bemichi.URLParams(r)}
		},
	}))
	r.Delete("/todo/{id}", func(w http.ResponseWriter, r *http.Request) {
		printContext(r.Context())
	})

	r.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodDelete, "/todo/27", nil))

	// Output:
	// {"endpoint":"/todo/{id}","method":"DELETE","params":{"id":"27"}}
}

// JSONBody reads the body for the context and leaves it in place for the
// handler.
func ExampleJSONBody() {
	req := httptest.NewRequest(http.MethodPost, "/todo", strings.NewReader(`{"task":"Sleep","password":"hunter2"}`))
	req.Header.Set("Content-Type", "application/json")

	params, err := bemichi.JSONBody(req, 0)
	if err != nil {
		fmt.Println("error:", err)

		return
	}
	if m, ok := params.(map[string]any); ok {
		delete(m, "password") // keep secrets out of the changes table
	}

	var todo struct{ Task string }
	_ = json.NewDecoder(req.Body).Decode(&todo)
	fmt.Println(params)
	fmt.Println("handler reads:", todo.Task)

	// Output:
	// map[task:Sleep]
	// handler reads: Sleep
}

// Config renames or leaves out the default fields.
func ExampleConfig() {
	r := chi.NewRouter()
	r.Use(bemichi.Middleware(bemichi.Config{
		MethodKey:   bemichi.Omit,
		EndpointKey: "route",
		TraceIDKey:  "trace",
	}))
	r.Get("/todo/{id}", func(w http.ResponseWriter, r *http.Request) {
		printContext(r.Context())
	})

	req := httptest.NewRequest(http.MethodGet, "/todo/27", nil)
	req.Header.Set("Traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	r.ServeHTTP(httptest.NewRecorder(), req)

	// Output:
	// {"route":"/todo/{id}","trace":"4bf92f3577b34da6a3ce929d0e0e4736"}
}
