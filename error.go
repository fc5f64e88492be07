package hotline

import (
	"errors"
	"fmt"
	"sort"
	"strings"
)

// Error codes. They are only ever appended to; each maps to one HTTP status
// (see server.ErrorStatus), one Open311 error and one spoken TwiML apology.
const (
	EINVALID      = "invalid"      // the caller sent something we cannot accept; fix and retry
	ENOTFOUND     = "not_found"    // no such thing, or not visible to the caller
	ECONFLICT     = "conflict"     // the thing changed underneath, or the action does not fit its state
	EUNAUTHORIZED = "unauthorized" // no valid session or key
	EFORBIDDEN    = "forbidden"    // a valid session that may not do this
	ETOOMANY      = "too_many"     // rate limited; retry later
	EUNAVAILABLE  = "unavailable"  // the store cannot be reached; nothing was written
	EINTERNAL     = "internal"     // a bug or an unexpected failure; details only in the log
	EGONE         = "gone"         // what was asked for existed but is no longer kept (trimmed history)
)

// HTTPStatus is the HTTP status of an error code: the one mapping every
// HTTP surface (the JSON API, Open311, webhooks) starts from.
func HTTPStatus(code string) int {
	switch code {
	case EINVALID:
		return 400
	case EUNAUTHORIZED:
		return 401
	case EFORBIDDEN:
		return 403
	case ENOTFOUND:
		return 404
	case ECONFLICT:
		return 409
	case EGONE:
		return 410
	case ETOOMANY:
		return 429
	case EUNAVAILABLE:
		return 503
	}
	return 500
}

// Error is the one error type of the hotline. Message is safe to show to the
// person who made the request; Err (internal errors only) is for the log.
type Error struct {
	Code    string
	Message string
	// Fields holds one message per invalid input field, for EINVALID.
	Fields map[string]string
	// Err is the underlying cause, kept for logging and errors.Is.
	Err error
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Code)
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	if len(e.Fields) > 0 {
		keys := make([]string, 0, len(e.Fields))
		for k := range e.Fields {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			fmt.Fprintf(&b, "; %s: %s", k, e.Fields[k])
		}
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error with the given code and a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Internal wraps an unexpected error. Its message is generic on purpose.
func Internal(err error) *Error {
	return &Error{Code: EINTERNAL, Message: "internal error", Err: err}
}

// Unavailable wraps a failure to reach the store.
func Unavailable(err error) *Error {
	return &Error{Code: EUNAVAILABLE, Message: "the service is temporarily unavailable; nothing was saved, please try again", Err: err}
}

// FieldErrors collects per-field validation messages.
type FieldErrors map[string]string

// Add records msg for field unless the field already has a message.
func (f FieldErrors) Add(field, msg string) {
	if _, ok := f[field]; !ok {
		f[field] = msg
	}
}

// Err returns nil when no field failed, else an EINVALID *Error.
func (f FieldErrors) Err() error {
	if len(f) == 0 {
		return nil
	}
	return &Error{Code: EINVALID, Message: "some fields need attention", Fields: map[string]string(f)}
}

// ErrorCode returns the code of err: "" for nil, EINTERNAL for anything that
// is not an *Error.
func ErrorCode(err error) string {
	var e *Error
	if err == nil {
		return ""
	} else if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage returns the human message of err, generic for non-*Error values
// and for internal errors so that no detail leaks.
func ErrorMessage(err error) string {
	var e *Error
	if err == nil {
		return ""
	} else if errors.As(err, &e) && e.Code != EINTERNAL {
		return e.Message
	}
	return "internal error"
}

// ErrorFields returns the per-field messages of an EINVALID error, or nil.
func ErrorFields(err error) map[string]string {
	var e *Error
	if errors.As(err, &e) {
		return e.Fields
	}
	return nil
}
