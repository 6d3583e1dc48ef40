package whip

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// httpError is a refusal with its HTTP status; its text is the response
// body.
type httpError struct {
	status int
	msg    string
}

func (e *httpError) Error() string { return e.msg }

// httpErrorf returns an *httpError.
func httpErrorf(status int, format string, args ...any) error {
	return &httpError{status: status, msg: fmt.Sprintf(format, args...)}
}

// statusOf returns the HTTP status of err: an *httpError's, else 500.
func statusOf(err error) int {
	if he, ok := errors.AsType[*httpError](err); ok {
		return he.status
	}
	return http.StatusInternalServerError
}

// joinStatus is the HTTP status of a refused mediasoup join.
func joinStatus(err error) int {
	msg := err.Error()
	switch {
	case strings.Contains(msg, "duplicated Peer"):
		return http.StatusConflict
	case strings.Contains(msg, "room is full"), strings.Contains(msg, "Room closed"):
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

// writeError answers err as plain text with its status.
func writeError(w http.ResponseWriter, err error) {
	status := statusOf(err)
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="gosoup"`)
	}
	http.Error(w, err.Error(), status)
}
