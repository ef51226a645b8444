package bemichi

import (
	"fmt"
	"net/http"

	"github.com/bemi-go/bemi/core"
)

// DefaultMaxBodySize is the size limit of JSONBody when its maxBytes is zero
// or negative: 64 KiB. The context of every write in the request carries the
// body, so a small limit keeps large uploads out of the changes table.
const DefaultMaxBodySize = core.DefaultMaxBodySize

// ErrBodyTooLarge is wrapped by the error of JSONBody when the body exceeds
// the size limit.
var ErrBodyTooLarge = core.ErrBodyTooLarge

// JSONBody decodes the JSON request body of r for the params field, such as
// {"task":"Sleep"}. It reads at most maxBytes+1 bytes (DefaultMaxBodySize
// when maxBytes <= 0) and then puts them back in front of the rest of r.Body,
// so the handler reads the same bytes. Numbers decode as json.Number, so
// large integers stay exact.
//
// JSONBody returns nil and no error when the body is empty or the
// Content-Type is not application/json or a +json type. It returns an error
// wrapping ErrBodyTooLarge when the body is larger than maxBytes, and a
// decode error for invalid JSON. The body is put back in every case.
//
// The body is stored with every change the request makes: remove secrets
// such as passwords from the result before you return it from Config.Fields.
func JSONBody(r *http.Request, maxBytes int64) (any, error) {
	v, err := core.JSONRequestBody(r, maxBytes)
	if err != nil {
		return nil, fmt.Errorf("bemichi: %w", err)
	}

	return v, nil
}
