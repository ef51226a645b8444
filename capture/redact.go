package capture

import (
	"net/url"
	"regexp"
	"strings"
)

// redacted replaces a password in logs and errors.
const redacted = "xxxxx"

// keywordPassword matches password=... in a keyword/value connection string,
// quoted or not.
var keywordPassword = regexp.MustCompile(`(?i)(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)`)

// RedactURL returns the connection string with its password replaced, for
// logs and error messages. It handles both URLs
// (postgres://user:secret@host/db) and keyword/value strings
// (host=h password=secret).
func RedactURL(conn string) string {
	if strings.Contains(conn, "://") {
		u, err := url.Parse(conn)
		if err != nil {
			// An unparsable URL may still hold a password: show nothing of
			// its user information.
			return "(invalid URL)"
		}
		if _, ok := u.User.Password(); ok {
			u.User = url.UserPassword(u.User.Username(), redacted)
		}
		q := u.Query()
		if q.Has("password") {
			q.Set("password", redacted)
			u.RawQuery = q.Encode()
		}

		return u.String()
	}

	return keywordPassword.ReplaceAllString(conn, "${1}"+redacted)
}

// passwordOf returns the password in a connection string, so errors can be
// scrubbed of it; "" when there is none.
func passwordOf(conn string) string {
	if strings.Contains(conn, "://") {
		u, err := url.Parse(conn)
		if err != nil {
			return ""
		}
		if p, ok := u.User.Password(); ok {
			return p
		}

		return u.Query().Get("password")
	}

	m := keywordPassword.FindStringSubmatch(conn)
	if m == nil {
		return ""
	}

	return strings.Trim(m[2], "'")
}

// scrubError hides the passwords of the given connection strings in err's
// text while keeping err in the chain for errors.Is and errors.As.
func scrubError(err error, conns ...string) error {
	if err == nil {
		return nil
	}

	text := err.Error()
	changed := false
	for _, c := range conns {
		if p := passwordOf(c); len(p) >= 3 && strings.Contains(text, p) {
			text = strings.ReplaceAll(text, p, redacted)
			changed = true
		}
	}
	if !changed {
		return err
	}

	return &scrubbedError{text: text, err: err}
}

type scrubbedError struct {
	text string
	err  error
}

func (e *scrubbedError) Error() string { return e.text }
func (e *scrubbedError) Unwrap() error { return e.err }
