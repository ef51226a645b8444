package bemigin_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/bemi-go/bemi/core"
	bemigin "github.com/bemi-go/bemi/middleware/gin"
	"github.com/gin-gonic/gin"
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
	r := gin.New()
	r.Use(bemigin.Middleware(bemigin.Config{
		Fields: func(c *gin.Context) core.Fields {
			params, _ := bemigin.JSONBody(c, 0)

			// A real application takes the user from its authentication.
			return core.Fields{"userId": 187234, "params": params}
		},
	}))
	todo := r.Group("/todo")
	todo.PUT("/:id", func(c *gin.Context) {
		// A write such as db.WithContext(c.Request.Context()).Save(&todo)
		// records this context.
		printContext(c.Request.Context())
	})

	req := httptest.NewRequest(http.MethodPut, "/todo/27", strings.NewReader(`{"isCompleted":true}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	r.ServeHTTP(httptest.NewRecorder(), req)

	// Output:
	// {"endpoint":"/todo/:id","method":"PUT","params":{"isCompleted":true},"traceId":"4bf92f3577b34da6a3ce929d0e0e4736","userId":187234}
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

// URLParams records the route parameters that gin matched.
func ExampleURLParams() {
	r := gin.New()
	r.Use(bemigin.Middleware(bemigin.Config{
		Fields: func(c *gin.Context) core.Fields {
			return core.Fields{"params": bemigin.URLParams(c)}
		},
	}))
	r.DELETE("/todo/:id", func(c *gin.Context) {
		printContext(c.Request.Context())
	})

	r.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodDelete, "/todo/27", nil))

	// Output:
	// {"endpoint":"/todo/:id","method":"DELETE","params":{"id":"27"}}
}

// Config renames or leaves out the default fields.
func ExampleConfig() {
	r := gin.New()
	r.Use(bemigin.Middleware(bemigin.Config{
		MethodKey:   bemigin.Omit,
		EndpointKey: "route",
		TraceIDKey:  bemigin.Omit,
	}))
	r.GET("/todo/:id", func(c *gin.Context) {
		printContext(c.Request.Context())
	})

	r.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/todo/27", nil))

	// Output:
	// {"route":"/todo/:id"}
}
