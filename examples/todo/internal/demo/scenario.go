package demo

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/bemi-go/bemi/examples/todo/internal/api"
	"github.com/bemi-go/bemi/examples/todo/internal/store"
)

// ScenarioUserID is the user id that the scenario sends in the X-User-ID
// header, the one in the Bemi README.
const ScenarioUserID = 187234

// ScenarioResult holds the todos that the scenario created.
type ScenarioResult struct {
	Sleep, Eat, Repeat store.Todo
}

// PlayScenario plays the Bemi README's scenario against the todo API at
// baseURL: it creates "Sleep", "Eat" and "Repeat", completes "Sleep" and
// deletes "Eat", as user ScenarioUserID. It writes each request and response
// to out.
func PlayScenario(ctx context.Context, client *http.Client, baseURL string, out io.Writer) (ScenarioResult, error) {
	c := apiClient{http: client, baseURL: strings.TrimSuffix(baseURL, "/"), out: out}

	var res ScenarioResult
	for _, t := range []struct {
		task string
		dst  *store.Todo
	}{{"Sleep", &res.Sleep}, {"Eat", &res.Eat}, {"Repeat", &res.Repeat}} {
		body := fmt.Sprintf(`{"task":%q}`, t.task)
		if err := c.do(ctx, http.MethodPost, "/todo", body, http.StatusCreated, t.dst); err != nil {
			return res, err
		}
	}

	path := "/todo/" + strconv.FormatInt(res.Sleep.ID, 10) + "/complete"
	if err := c.do(ctx, http.MethodPut, path, "", http.StatusOK, &res.Sleep); err != nil {
		return res, err
	}

	path = "/todo/" + strconv.FormatInt(res.Eat.ID, 10)
	if err := c.do(ctx, http.MethodDelete, path, "", http.StatusNoContent, nil); err != nil {
		return res, err
	}

	return res, nil
}

// apiClient sends requests to the todo API as user ScenarioUserID.
type apiClient struct {
	http    *http.Client
	baseURL string
	out     io.Writer
}

// do sends a request with an optional JSON body, checks the response status
// and decodes the response body into dst unless dst is nil.
func (c apiClient) do(ctx context.Context, method, path, body string, want int, dst any) error {
	var reqBody io.Reader
	if body != "" {
		reqBody = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.baseURL+path, reqBody)
	if err != nil {
		return fmt.Errorf("build request %s %s: %w", method, path, err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set(api.UserIDHeader, strconv.Itoa(ScenarioUserID))

	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("send %s %s: %w", method, path, err)
	}
	defer resp.Body.Close()

	respBody, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("read response of %s %s: %w", method, path, err)
	}
	fmt.Fprintf(c.out, "  %s %s %s  ->  %d %s\n", method, path, body, resp.StatusCode, bytes.TrimSpace(respBody))
	if resp.StatusCode != want {
		return fmt.Errorf("%s %s: status %d, want %d: %s", method, path, resp.StatusCode, want, bytes.TrimSpace(respBody))
	}
	if dst == nil {
		return nil
	}
	if err := json.Unmarshal(respBody, dst); err != nil {
		return fmt.Errorf("decode response of %s %s: %w", method, path, err)
	}

	return nil
}
