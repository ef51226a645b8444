package bemigin_test

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"github.com/bemi-go/bemi/core"
	bemigin "github.com/bemi-go/bemi/middleware/gin"
	"github.com/gin-gonic/gin"
)

func TestJSONBody(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name        string
		contentType string
		body        string
		maxBytes    int64
		want        any
		wantErr     string
		tooLarge    bool
	}{
		{
			name: "object", contentType: "application/json", body: `{"task":"Sleep","isCompleted":false}`,
			want: map[string]any{"task": "Sleep", "isCompleted": false},
		},
		{
			name: "charset parameter", contentType: "application/json; charset=utf-8", body: `{"id":27}`,
			want: map[string]any{"id": json.Number("27")},
		},
		{
			name: "large integer stays exact", contentType: "application/json", body: `{"id":9007199254740993}`,
			want: map[string]any{"id": json.Number("9007199254740993")},
		},
		{
			name: "merge patch type", contentType: "application/merge-patch+json", body: `{"task":null}`,
			want: map[string]any{"task": nil},
		},
		{name: "array", contentType: "application/json", body: `[1,2]`, want: []any{json.Number("1"), json.Number("2")}},
		{name: "empty body", contentType: "application/json", body: "", want: nil},
		{name: "whitespace body", contentType: "application/json", body: " \n", want: nil},
		{name: "form body", contentType: "application/x-www-form-urlencoded", body: "task=Sleep", want: nil},
		{name: "no content type", contentType: "", body: `{"task":"Sleep"}`, want: nil},
		{name: "exactly the limit", contentType: "application/json", body: `{"a":"bcdef"}`, maxBytes: 13, want: map[string]any{"a": "bcdef"}},
		{name: "over the limit", contentType: "application/json", body: `{"a":"bcdefg"}`, maxBytes: 13, wantErr: "more than 13 bytes", tooLarge: true},
		{
			name: "over the default limit", contentType: "application/json",
			body:    `{"a":"` + strings.Repeat("x", bemigin.DefaultMaxBodySize) + `"}`,
			wantErr: "more than 65536 bytes", tooLarge: true,
		},
		{name: "invalid JSON", contentType: "application/json", body: `{"task":`, wantErr: "decode JSON request body"},
		{name: "data after the value", contentType: "application/json", body: `{"a":1} {"b":2}`, wantErr: "data after the first JSON value"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			req := httptest.NewRequest(http.MethodPost, "/todo", strings.NewReader(tt.body))
			if tt.contentType != "" {
				req.Header.Set("Content-Type", tt.contentType)
			}

			got, err := bemigin.JSONBody(testContext(req), tt.maxBytes)

			if tt.wantErr == "" && err != nil {
				t.Fatalf("JSONBody error: %v", err)
			}
			if tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("JSONBody error = %v, want one containing %q", err, tt.wantErr)
			}
			if errors.Is(err, bemigin.ErrBodyTooLarge) != tt.tooLarge {
				t.Errorf("errors.Is(%v, ErrBodyTooLarge) = %v, want %v", err, !tt.tooLarge, tt.tooLarge)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("JSONBody = %#v, want %#v", got, tt.want)
			}

			rest, err := io.ReadAll(req.Body)
			if err != nil {
				t.Fatalf("read body after JSONBody: %v", err)
			}
			if string(rest) != tt.body {
				t.Errorf("body after JSONBody is %d bytes, want the original %d bytes", len(rest), len(tt.body))
			}
		})
	}
}

// closeCounter is a request body that counts Close calls.
type closeCounter struct {
	io.Reader
	closed int
}

func (c *closeCounter) Close() error {
	c.closed++

	return nil
}

func TestJSONBodyClosesOriginalBody(t *testing.T) {
	t.Parallel()

	body := &closeCounter{Reader: strings.NewReader(`{"a":1}`)}
	req := httptest.NewRequest(http.MethodPost, "/", nil)
	req.Body = body
	req.Header.Set("Content-Type", "application/json")

	if _, err := bemigin.JSONBody(testContext(req), 0); err != nil {
		t.Fatal(err)
	}
	if body.closed != 0 {
		t.Fatalf("JSONBody closed the body %d times, want 0", body.closed)
	}
	if err := req.Body.Close(); err != nil {
		t.Fatal(err)
	}
	if body.closed != 1 {
		t.Errorf("closing the restored body closed the original %d times, want 1", body.closed)
	}
}

func TestJSONBodyHandlerReadsSameBody(t *testing.T) {
	t.Parallel()

	var handlerBody struct {
		Task string `json:"task"`
	}
	var fields map[string]any
	r := gin.New()
	r.Use(bemigin.Middleware(bemigin.Config{
		Fields: func(c *gin.Context) core.Fields {
			params, err := bemigin.JSONBody(c, 0)
			if err != nil {
				t.Errorf("JSONBody: %v", err)
			}

			return core.Fields{"params": params}
		},
	}))
	r.POST("/todo", func(c *gin.Context) {
		if err := c.ShouldBindJSON(&handlerBody); err != nil {
			t.Errorf("handler ShouldBindJSON: %v", err)
		}
		fields = encoded(t, c.Request.Context())
	})

	req := httptest.NewRequest(http.MethodPost, "/todo", strings.NewReader(`{"task":"Sleep"}`))
	req.Header.Set("Content-Type", "application/json")
	r.ServeHTTP(httptest.NewRecorder(), req)

	if handlerBody.Task != "Sleep" {
		t.Errorf("handler read task %q, want %q", handlerBody.Task, "Sleep")
	}
	want := map[string]any{"method": "POST", "endpoint": "/todo", "params": map[string]any{"task": "Sleep"}}
	if !reflect.DeepEqual(fields, want) {
		t.Errorf("fields = %v, want %v", fields, want)
	}
}

// testContext returns a *gin.Context for req outside an engine.
func testContext(req *http.Request) *gin.Context {
	c, _ := gin.CreateTestContext(httptest.NewRecorder())
	c.Request = req

	return c
}
