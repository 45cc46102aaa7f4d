package models

import (
	"errors"
	"fmt"
	"time"

	"github.com/partizap/vendor-inbox/models/database"
)

// Error codes are stable and machine-readable. The HTTP and GraphQL layers map each of them once
// to a status or an extensions.code; any other error is internal and only ever logged.
const (
	EINVALID         = "invalid"
	EUNAUTHENTICATED = "unauthenticated"
	ENOTFOUND        = "not_found"
	EUNAVAILABLE     = "unavailable"
	ETIMEOUT         = "timeout"
	ECONFLICT        = "conflict"
	ERATELIMITED     = "rate_limited"
	ELIMIT           = "limit_exceeded" // a per-connection or per-user limit, not a rate
	ERESYNC          = "resync"         // a live stream may have missed events: reload, then subscribe again
	EINTERNAL        = "internal"
)

// Error is an error meant for the client: a stable code and a message a developer can act on.
// Field names a request parameter or argument when the error is about one (e.g. "first", "after").
type Error struct {
	Code    string
	Field   string
	Message string
	// RetryAfter, when set, is how long the client should wait before trying again (a rate
	// limit): shown as Retry-After and extensions.retryAfter, in whole seconds.
	RetryAfter time.Duration
	Err        error // the cause, for logs only
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.Err)
	}
	return fmt.Sprintf("%s: %s", e.Code, e.Message)
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error with the code and a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of the first *Error in err's chain, EINTERNAL for any other error
// and "" for nil.
func ErrorCode(err error) string {
	var e *Error
	switch {
	case err == nil:
		return ""
	case errors.As(err, &e):
		return e.Code
	default:
		return EINTERNAL
	}
}

// ErrorMessage returns the client-facing message of err: the *Error's own, or a generic one for
// internal errors, whose details must not reach clients.
func ErrorMessage(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	return "internal error"
}

// ErrUnauthenticated is returned for private data when there is no valid session.
var ErrUnauthenticated = &Error{Code: EUNAUTHENTICATED, Message: "sign in: a valid PARTIZAP_SESSION cookie is required"}

// ErrTimeout is returned when a request's deadline passed before its answer was ready: the
// work it started was stopped, and nothing of it is shown.
var ErrTimeout = &Error{Code: ETIMEOUT, Message: "the request took longer than the service allows and was stopped; try again"}

// dbError wraps a failed database operation. Failures of the database itself (unreachable,
// restarting, too slow for the request's deadline, locked) become EUNAVAILABLE, which clients
// may retry; anything else stays internal.
func dbError(op string, err error) error {
	wrapped := fmt.Errorf("%s: %w", op, err)
	if !database.Unavailable(err) {
		return wrapped
	}
	return &Error{Code: EUNAVAILABLE, Message: "the database is unavailable; try again shortly", Err: wrapped}
}
