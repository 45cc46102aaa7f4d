package models

import (
	"errors"
	"fmt"
)

// Error codes are stable and machine-readable. The HTTP and GraphQL layers map each of them once
// to a status or an extensions.code; any other error is internal and only ever logged.
const (
	EINVALID         = "invalid"
	EUNAUTHENTICATED = "unauthenticated"
	ENOTFOUND        = "not_found"
	EINTERNAL        = "internal"
)

// Error is an error meant for the client: a stable code and a message a developer can act on.
// Field names a request parameter or argument when the error is about one (e.g. "first", "after").
type Error struct {
	Code    string
	Field   string
	Message string
}

func (e *Error) Error() string { return fmt.Sprintf("%s: %s", e.Code, e.Message) }

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
