package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/caojiadu/hotline"
)

// ErrorStatus maps a hotline error code to its HTTP status. Unknown codes
// are internal errors.
func ErrorStatus(code string) int { return hotline.HTTPStatus(code) }

// errorBody is the one error shape of /api/v1 (docs/API.md).
type errorBody struct {
	Code   string            `json:"code"`
	Error  string            `json:"error"`
	Fields map[string]string `json:"fields,omitempty"`
}

// retryAfterer is implemented by errors that know when to retry; a
// rate-limit error carries one so Error can set Retry-After.
type retryAfterer interface{ RetryAfter() time.Duration }

// tooManyError is the cause inside an ETOOMANY error.
type tooManyError struct{ after time.Duration }

func (e tooManyError) Error() string             { return "rate limited for " + e.after.String() }
func (e tooManyError) RetryAfter() time.Duration { return e.after }

// tooMany returns the ETOOMANY error for a rate limit that frees up after d.
func tooMany(d time.Duration) error {
	return &hotline.Error{Code: hotline.ETOOMANY,
		Message: "too many requests; please wait a moment and try again", Err: tooManyError{d}}
}

// Error writes err as the API's JSON error. It is the one error writer of
// the HTTP layer: the status comes from ErrorStatus, internal errors show
// a generic message, and only internal and unavailable errors are logged
// with their detail (which never holds a phone number or a name: those
// only travel in EINVALID field messages, which are not logged).
func Error(w http.ResponseWriter, r *http.Request, err error) {
	code, status := hotline.ErrorCode(err), 0
	body := errorBody{Code: code, Error: hotline.ErrorMessage(err), Fields: hotline.ErrorFields(err)}

	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		// The body limit is a client mistake with its own status (413),
		// told in the invalid shape as docs/API.md says.
		code, status = hotline.EINVALID, http.StatusRequestEntityTooLarge
		body = errorBody{Code: code, Error: fmt.Sprintf("request body is larger than %d bytes", tooLarge.Limit)}
	} else {
		status = ErrorStatus(code)
	}

	if code == hotline.ETOOMANY {
		after := time.Minute
		var ra retryAfterer
		if errors.As(err, &ra) && ra.RetryAfter() > 0 {
			after = ra.RetryAfter()
		}
		// Retry-After is whole seconds; round up so a client that obeys it
		// is never refused again for being a few milliseconds early.
		w.Header().Set("Retry-After", strconv.Itoa(int((after+time.Second-1)/time.Second)))
	}

	if code == hotline.EINTERNAL || code == hotline.EUNAVAILABLE {
		level := slog.LevelError
		if code == hotline.EUNAVAILABLE {
			level = slog.LevelWarn
		}
		loggerFrom(r).Log(r.Context(), level, "request failed",
			"code", code, "method", r.Method, "path", r.URL.Path, "err", err.Error())
	}
	writeJSON(w, status, body)
}

// writeJSON writes v with status. API answers may hold personal data, so
// no cache along the way may keep them.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		// Only a programming error (a channel or func in v) gets here.
		status = http.StatusInternalServerError
		b = []byte(`{"code":"internal","error":"internal error"}`)
	}
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}
