package core

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
)

// DefaultMaxBodySize is the size limit of JSONRequestBody when its maxBytes
// is zero or negative: 64 KiB. The context of every write in the request carries the
// body, so a small limit keeps large uploads out of the changes table.
const DefaultMaxBodySize = 64 << 10

// ErrBodyTooLarge is wrapped by the error of JSONRequestBody when the body
// exceeds the size limit.
var ErrBodyTooLarge = errors.New("request body exceeds the size limit")

// JSONRequestBody decodes the JSON request body of r for a params field, such as
// {"task":"Sleep"}. It reads at most maxBytes+1 bytes (DefaultMaxBodySize
// when maxBytes <= 0) and then puts them back in front of the rest of r.Body,
// so the handler reads the same bytes. Numbers decode as json.Number, so large integers stay exact.
//
// JSONRequestBody returns nil and no error when the body is empty or the
// Content-Type is not application/json or a +json type. It returns an error
// wrapping ErrBodyTooLarge when the body is larger than maxBytes, and a
// decode error for invalid JSON. The body is put back in every case.
//
// The body is stored with every change the request makes: remove secrets
// such as passwords from the result before you put it into the fields. The
// HTTP middlewares (bemichi.JSONBody, bemigin.JSONBody) call it and prefix
// its errors with their package name.
func JSONRequestBody(r *http.Request, maxBytes int64) (any, error) {
	if r.Body == nil || r.Body == http.NoBody || !isJSON(r.Header.Get("Content-Type")) {
		return nil, nil
	}
	if maxBytes <= 0 {
		maxBytes = DefaultMaxBodySize
	}

	// Read one byte over the limit to tell a body of exactly maxBytes from a
	// larger one.
	head, err := io.ReadAll(io.LimitReader(r.Body, maxBytes+1))
	r.Body = &replayBody{Reader: io.MultiReader(bytes.NewReader(head), r.Body), body: r.Body}
	if err != nil {
		return nil, fmt.Errorf("read request body: %w", err)
	}
	if int64(len(head)) > maxBytes {
		return nil, fmt.Errorf("read request body: %w: more than %d bytes (pass a larger maxBytes to JSONBody to record it)",
			ErrBodyTooLarge, maxBytes)
	}
	if len(bytes.TrimSpace(head)) == 0 {
		return nil, nil
	}

	dec := json.NewDecoder(bytes.NewReader(head))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("decode JSON request body: %w", err)
	}
	if dec.More() {
		return nil, errors.New("decode JSON request body: data after the first JSON value")
	}

	return v, nil
}

// replayBody serves the bytes JSONRequestBody has read, then the rest of the
// original body, and closes the original body.
type replayBody struct {
	io.Reader
	body io.ReadCloser
}

func (b *replayBody) Close() error { return b.body.Close() }

// isJSON reports whether a Content-Type header value names JSON:
// application/json or a structured syntax suffix such as
// application/merge-patch+json.
func isJSON(contentType string) bool {
	mediaType, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return false
	}

	return mediaType == "application/json" || strings.HasSuffix(mediaType, "+json")
}
