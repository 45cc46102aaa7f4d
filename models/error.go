package models

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
)

// Error codes are stable and machine-readable. The HTTP and GraphQL layers map each of them once
// to a status or an extensions.code; any other error is internal and only ever logged.
const (
	EINVALID         = "invalid"
	EUNAUTHENTICATED = "unauthenticated"
	ENOTFOUND        = "not_found"
	EUNAVAILABLE     = "unavailable"
	ETIMEOUT         = "timeout"
	EINTERNAL        = "internal"
)

// Error is an error meant for the client: a stable code and a message a developer can act on.
// Field names a request parameter or argument when the error is about one (e.g. "first", "after").
type Error struct {
	Code    string
	Field   string
	Message string
	Err     error // the cause, for logs only
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
	if !unavailable(err) {
		return wrapped
	}
	return &Error{Code: EUNAVAILABLE, Message: "the database is unavailable; try again shortly", Err: wrapped}
}

func unavailable(err error) bool {
	var pgErr *pgconn.PgError
	var connectErr *pgconn.ConnectError
	var netErr net.Error
	switch {
	case errors.As(err, &pgErr):
		// Class 08: connection exceptions; 57P0x: the server is shutting down or starting up;
		// 57014: the statement timeout cancelled the query.
		return strings.HasPrefix(pgErr.Code, "08") || strings.HasPrefix(pgErr.Code, "57P0") || pgErr.Code == "57014"
	case errors.As(err, &connectErr), errors.As(err, &netErr),
		errors.Is(err, driver.ErrBadConn), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF),
		errors.Is(err, context.DeadlineExceeded), pgconn.Timeout(err):
		return true
	}
	// SQLite's writer lock outlasted the busy timeout.
	msg := err.Error()
	return strings.Contains(msg, "database is locked") || strings.Contains(msg, "conn closed")
}
