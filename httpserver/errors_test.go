package httpserver

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/partizap/vendor-inbox/models"
)

// requestLogger is the logger the package's functions get from a Server: with request ids.
func requestLogger(w io.Writer) *slog.Logger { return slog.New(RequestLogs{textHandler(w)}) }

// withRequestID is r as requestID passes it on, with id.
func withRequestID(r *http.Request, id string) *http.Request {
	return r.WithContext(context.WithValue(r.Context(), requestIDKey{}, id))
}

func TestEveryCodeHasItsStatusAndGraphQLCode(t *testing.T) {
	t.Parallel()
	tests := []struct {
		code    string
		status  int
		graphQL string
	}{
		{models.EINVALID, 400, "BAD_USER_INPUT"},
		{models.EUNAUTHENTICATED, 401, "UNAUTHENTICATED"},
		{models.ENOTFOUND, 404, "NOT_FOUND"},
		{models.EUNAVAILABLE, 503, "SERVICE_UNAVAILABLE"},
		{models.ETIMEOUT, 504, "TIMEOUT"},
		{models.ECONFLICT, 409, "CONFLICT"},
		{models.ERATELIMITED, 429, "RATE_LIMITED"},
		{models.ELIMIT, 429, "LIMIT_EXCEEDED"},
		{models.ERESYNC, 503, "RESYNC"},
		{models.EINTERNAL, 500, "INTERNAL_SERVER_ERROR"},
		{CodeMethodNotAllowed, 405, "METHOD_NOT_ALLOWED"},
		{CodeUnsupportedMediaType, 415, "UNSUPPORTED_MEDIA_TYPE"},
		{CodeNotAcceptable, 406, "NOT_ACCEPTABLE"},
		{CodeRequestTooLarge, 413, "REQUEST_TOO_LARGE"},
		{CodeBadRequest, 400, "BAD_REQUEST"},
		{CodeInvalidJSON, 400, "INVALID_JSON"},
		{CodeBatchNotSupported, 400, "BATCH_NOT_SUPPORTED"},
		{CodeForbiddenOrigin, 403, "FORBIDDEN"},
	}
	if len(presentations) != len(tests) {
		t.Fatalf("the table has %d codes and this test %d: test every code", len(presentations), len(tests))
	}
	for _, tt := range tests {
		t.Run(tt.code, func(t *testing.T) {
			err := &models.Error{Code: tt.code, Message: "m"}
			for name, err := range map[string]error{"error": err, "wrapped": fmt.Errorf("list conversations: %w", err)} {
				if got := Status(err); got != tt.status {
					t.Errorf("%s: Status = %d, want %d", name, got, tt.status)
				}
				if got := GraphQLCode(err); got != tt.graphQL {
					t.Errorf("%s: GraphQLCode = %q, want %q", name, got, tt.graphQL)
				}
			}
		})
	}
}

func TestErrorsWithoutAKnownCodeAreInternal(t *testing.T) {
	t.Parallel()
	for name, err := range map[string]error{
		"plain error":          errors.New(`pq: relation "sessions" does not exist`),
		"unknown code":         &models.Error{Code: "teapot", Message: "short and stout"},
		"empty code":           &models.Error{Message: "no code"},
		"a bare context error": context.DeadlineExceeded, // the request's end is clientError's to judge
	} {
		if got := Status(err); got != 500 {
			t.Errorf("%s: Status = %d, want 500", name, got)
		}
		if got := GraphQLCode(err); got != "INTERNAL_SERVER_ERROR" {
			t.Errorf("%s: GraphQLCode = %q, want INTERNAL_SERVER_ERROR", name, got)
		}
	}
}

// spyWriter records whether anything was written at all.
type spyWriter struct {
	*httptest.ResponseRecorder
	wrote bool
}

func (w *spyWriter) WriteHeader(status int) { w.wrote = true; w.ResponseRecorder.WriteHeader(status) }
func (w *spyWriter) Write(b []byte) (int, error) {
	w.wrote = true
	return w.ResponseRecorder.Write(b)
}

// ended is how a test request's context has ended, if it has.
type ended int

const (
	running ended = iota
	pastDeadline
	cancelled
)

// endedRequest is a request with request id req-42 whose context ended as e says.
func endedRequest(t *testing.T, method, target string, e ended) *http.Request {
	r := withRequestID(httptest.NewRequest(method, target, nil), "req-42")
	ctx := r.Context()
	var cancel context.CancelFunc
	switch e {
	case pastDeadline:
		ctx, cancel = context.WithDeadline(ctx, time.Now().Add(-time.Second))
	case cancelled:
		ctx, cancel = context.WithCancel(ctx)
		cancel()
	default:
		return r
	}
	t.Cleanup(cancel)
	return r.WithContext(ctx)
}

const timeoutMessage = "the request took longer than the service allows and was stopped; try again"

func TestWriteJSONError(t *testing.T) {
	t.Parallel()
	internalBody := `{"error":{"code":"internal_error","message":"internal error; quote request id req-42 when reporting it"}}` + "\n"
	tests := []struct {
		name       string
		ended      ended
		err        error
		status     int
		body       string // exact; "" with nothing written
		retryAfter []string
		log        string // exact
	}{
		{
			name:   "invalid with a field",
			err:    &models.Error{Code: models.EINVALID, Field: "limit", Message: "limit must be between 1 and 100"},
			status: 400,
			body:   `{"error":{"code":"invalid_limit","message":"limit must be between 1 and 100"}}` + "\n",
		},
		{
			name:   "invalid without a field",
			err:    &models.Error{Code: models.EINVALID, Message: "the request is invalid"},
			status: 400,
			body:   `{"error":{"code":"invalid","message":"the request is invalid"}}` + "\n",
		},
		{
			name:   "wrapped invalid",
			err:    fmt.Errorf("parse: %w", &models.Error{Code: models.EINVALID, Field: "cursor", Message: "cursor is not one this service issued"}),
			status: 400,
			body:   `{"error":{"code":"invalid_cursor","message":"cursor is not one this service issued"}}` + "\n",
		},
		{
			name:   "unauthenticated",
			err:    models.ErrUnauthenticated,
			status: 401,
			body:   `{"error":{"code":"unauthenticated","message":"sign in: a valid PARTIZAP_SESSION cookie is required"}}` + "\n",
		},
		{
			name:   "not found",
			err:    models.Errorf(models.ENOTFOUND, "user %d does not exist", 7),
			status: 404,
			body:   `{"error":{"code":"not_found","message":"user 7 does not exist"}}` + "\n",
		},
		{
			name:   "method not allowed",
			err:    &models.Error{Code: CodeMethodNotAllowed, Message: "only GET, HEAD is supported on /x"},
			status: 405,
			body:   `{"error":{"code":"method_not_allowed","message":"only GET, HEAD is supported on /x"}}` + "\n",
		},
		{
			name:       "unavailable, its cause kept from the client and the log",
			err:        &models.Error{Code: models.EUNAVAILABLE, Message: "the database is unavailable; try again shortly", Err: errors.New("dial tcp 10.1.2.3:5432: connection refused")},
			status:     503,
			body:       `{"error":{"code":"unavailable","message":"the database is unavailable; try again shortly"}}` + "\n",
			retryAfter: []string{"1"},
		},
		{
			name:   "timeout",
			err:    models.ErrTimeout,
			status: 504,
			body:   `{"error":{"code":"timeout","message":"` + timeoutMessage + `"}}` + "\n",
		},
		{
			name:   "text is not HTML-escaped",
			err:    &models.Error{Code: models.EINVALID, Field: "after", Message: `after must come from <pageInfo> & not be "edited"`},
			status: 400,
			body:   `{"error":{"code":"invalid_after","message":"after must come from <pageInfo> & not be \"edited\""}}` + "\n",
		},
		{
			name:   "internal: the cause is logged, not shown",
			err:    fmt.Errorf("list conversations: %w", errors.New(`relation "secret_table" does not exist`)),
			status: 500,
			body:   internalBody,
			log:    `level=ERROR msg="request failed" path=/vendor/conversations err="list conversations: relation \"secret_table\" does not exist" request_id=req-42` + "\n",
		},
		{
			name:   "an internal models.Error's message is not shown",
			err:    &models.Error{Code: models.EINTERNAL, Message: "scan row 3: secret_column"},
			status: 500,
			body:   internalBody,
			log:    `level=ERROR msg="request failed" path=/vendor/conversations err="internal: scan row 3: secret_column" request_id=req-42` + "\n",
		},
		{
			name:   "an unknown code is internal",
			err:    &models.Error{Code: "teapot", Message: "short and stout"},
			status: 500,
			body:   internalBody,
			log:    `level=ERROR msg="request failed" path=/vendor/conversations err="teapot: short and stout" request_id=req-42` + "\n",
		},
		{
			name:   "past the deadline, an internal error is a timeout",
			ended:  pastDeadline,
			err:    errors.New("context deadline exceeded"),
			status: 504,
			body:   `{"error":{"code":"timeout","message":"` + timeoutMessage + `"}}` + "\n",
		},
		{
			name:   "past the deadline, an unavailable database is a timeout",
			ended:  pastDeadline,
			err:    &models.Error{Code: models.EUNAVAILABLE, Message: "the database is unavailable; try again shortly"},
			status: 504,
			body:   `{"error":{"code":"timeout","message":"` + timeoutMessage + `"}}` + "\n",
		},
		{
			name:  "the client went away: nothing is written",
			ended: cancelled,
			err:   errors.New("context canceled"),
			log:   `level=INFO msg="client went away before its answer" path=/vendor/conversations request_id=req-42` + "\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var logs bytes.Buffer
			w := &spyWriter{ResponseRecorder: httptest.NewRecorder()}
			WriteJSONError(w, endedRequest(t, "GET", "/vendor/conversations?limit=500", tt.ended), requestLogger(&logs), tt.err)
			if logs.String() != tt.log {
				t.Errorf("logged %q, want %q", logs.String(), tt.log)
			}
			if tt.body == "" {
				if w.wrote || len(w.Header()) != 0 {
					t.Fatalf("wrote %d %v %q to a client that went away", w.Code, w.Header(), w.Body)
				}
				return
			}
			if w.Code != tt.status || w.Body.String() != tt.body {
				t.Fatalf("%d %q, want %d %q", w.Code, w.Body, tt.status, tt.body)
			}
			h := w.Header()
			if got := h.Get("Content-Type"); got != "application/json; charset=utf-8" {
				t.Errorf("Content-Type %q", got)
			}
			if got := h.Get("Content-Length"); got != strconv.Itoa(len(tt.body)) {
				t.Errorf("Content-Length %q, want %d", got, len(tt.body))
			}
			if got := h.Values("Retry-After"); !reflect.DeepEqual(got, tt.retryAfter) {
				t.Errorf("Retry-After %q, want %q", got, tt.retryAfter)
			}
		})
	}
}

func TestWriteGraphQLError(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		ended      ended
		err        error
		extensions map[string]any
		status     int
		body       string // exact; "" with nothing written
		log        string // exact
	}{
		{
			name:       "a refusal with a limit",
			err:        &models.Error{Code: CodeRequestTooLarge, Message: "the request body is over the limit of 1024 bytes"},
			extensions: map[string]any{"limit": 1024},
			status:     413,
			body:       `{"errors":[{"extensions":{"code":"REQUEST_TOO_LARGE","limit":1024},"message":"the request body is over the limit of 1024 bytes"}]}`,
		},
		{
			name:   "a refusal about a field",
			err:    &models.Error{Code: CodeBadRequest, Field: "variables", Message: `"variables" must be an object or null`},
			status: 400,
			body:   `{"errors":[{"extensions":{"code":"BAD_REQUEST","field":"variables"},"message":"\"variables\" must be an object or null"}]}`,
		},
		{
			name:   "unavailable",
			err:    &models.Error{Code: models.EUNAVAILABLE, Message: "the database is unavailable; try again shortly", Err: errors.New("dial tcp: refused")},
			status: 503,
			body:   `{"errors":[{"extensions":{"code":"SERVICE_UNAVAILABLE"},"message":"the database is unavailable; try again shortly"}]}`,
		},
		{
			name:   "internal: the request id, and the cause only in the log",
			err:    errors.New("resolver panicked: runtime error: invalid memory address"),
			status: 500,
			body:   `{"errors":[{"extensions":{"code":"INTERNAL_SERVER_ERROR","requestId":"req-42"},"message":"internal error; quote request id req-42 when reporting it"}]}`,
			log:    `level=ERROR msg="request failed" path=/graphql err="resolver panicked: runtime error: invalid memory address" request_id=req-42` + "\n",
		},
		{
			name:   "past the deadline",
			ended:  pastDeadline,
			err:    errors.New("context deadline exceeded"),
			status: 504,
			body:   `{"errors":[{"extensions":{"code":"TIMEOUT"},"message":"` + timeoutMessage + `"}]}`,
		},
		{
			name:  "the client went away",
			ended: cancelled,
			err:   &models.Error{Code: CodeInvalidJSON, Message: "not JSON"},
			log:   `level=INFO msg="client went away before its answer" path=/graphql request_id=req-42` + "\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var logs bytes.Buffer
			w := &spyWriter{ResponseRecorder: httptest.NewRecorder()}
			writeGraphQLError(w, endedRequest(t, "POST", "/graphql", tt.ended), requestLogger(&logs), tt.err, tt.extensions)
			if logs.String() != tt.log {
				t.Errorf("logged %q, want %q", logs.String(), tt.log)
			}
			if tt.body == "" {
				if w.wrote || len(w.Header()) != 0 {
					t.Fatalf("wrote %d %v %q to a client that went away", w.Code, w.Header(), w.Body)
				}
				return
			}
			if w.Code != tt.status || w.Body.String() != tt.body || w.Header().Get("Content-Type") != "application/json; charset=utf-8" {
				t.Fatalf("%d %q (Content-Type %q), want %d %q", w.Code, w.Body, w.Header().Get("Content-Type"), tt.status, tt.body)
			}
		})
	}
}

func TestPresentGraphQLError(t *testing.T) {
	t.Parallel()
	path := ast.Path{ast.PathName("vendorConversations"), ast.PathName("nodes"), ast.PathIndex(0), ast.PathName("product")}
	validation := &gqlerror.Error{Message: `Cannot query field "x" on type "Query".`, Extensions: map[string]any{"code": "GRAPHQL_VALIDATION_FAILED"}}
	tests := []struct {
		name  string
		ended ended
		err   error
		want  gqlerror.Error
		log   string // exact
	}{
		{
			name: "domain error with a field",
			err:  &models.Error{Code: models.EINVALID, Field: "first", Message: "first must be between 0 and 100"},
			want: gqlerror.Error{Message: "first must be between 0 and 100", Extensions: map[string]any{"code": "BAD_USER_INPUT", "field": "first"}},
		},
		{
			name: "domain error on a path, wrapped",
			err:  gqlerror.WrapPath(path, fmt.Errorf("product: %w", models.Errorf(models.ENOTFOUND, "product 9 does not exist"))),
			want: gqlerror.Error{Message: "product 9 does not exist", Path: path, Extensions: map[string]any{"code": "NOT_FOUND"}},
		},
		{
			name: "unavailable: not logged, its cause not shown",
			err:  &models.Error{Code: models.EUNAVAILABLE, Message: "the database is unavailable; try again shortly", Err: errors.New("dial tcp 10.1.2.3:5432: connection refused")},
			want: gqlerror.Error{Message: "the database is unavailable; try again shortly", Extensions: map[string]any{"code": "SERVICE_UNAVAILABLE"}},
		},
		{
			name: "gqlgen's own error as it is",
			err:  validation,
			want: *validation,
		},
		{
			name: "internal, logged with the request id",
			err:  gqlerror.WrapPath(path, errors.New(`scan: column "secret_column" does not exist`)),
			want: gqlerror.Error{Message: "internal error; quote request id req-42 when reporting it", Path: path,
				Extensions: map[string]any{"code": "INTERNAL_SERVER_ERROR", "requestId": "req-42"}},
			log: `level=ERROR msg="graphql resolver failed" path=vendorConversations.nodes[0].product err="input: vendorConversations.nodes[0].product scan: column \"secret_column\" does not exist" request_id=req-42` + "\n",
		},
		{
			name: "an internal models.Error's message is not shown",
			err:  &models.Error{Code: models.EINTERNAL, Message: "secret detail"},
			want: gqlerror.Error{Message: "internal error; quote request id req-42 when reporting it",
				Extensions: map[string]any{"code": "INTERNAL_SERVER_ERROR", "requestId": "req-42"}},
			log: `level=ERROR msg="graphql resolver failed" path="" err="internal: secret detail" request_id=req-42` + "\n",
		},
		{
			name:  "past the deadline, whatever failed is a timeout",
			ended: pastDeadline,
			err:   gqlerror.WrapPath(path, errors.New("context deadline exceeded")),
			want:  gqlerror.Error{Message: timeoutMessage, Path: path, Extensions: map[string]any{"code": "TIMEOUT"}},
		},
		{
			name:  "the client went away: a timeout, not logged",
			ended: cancelled,
			err:   &models.Error{Code: models.EINVALID, Field: "first", Message: "first must be between 0 and 100"},
			want:  gqlerror.Error{Message: timeoutMessage, Extensions: map[string]any{"code": "TIMEOUT"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var logs bytes.Buffer
			got := presentGraphQLError(requestLogger(&logs))(endedRequest(t, "POST", "/graphql", tt.ended).Context(), tt.err)
			if got.Message != tt.want.Message || got.Path.String() != tt.want.Path.String() || !reflect.DeepEqual(got.Extensions, tt.want.Extensions) {
				t.Errorf("presented %q at %q with %v; want %q at %q with %v", got.Message, got.Path, got.Extensions, tt.want.Message, tt.want.Path, tt.want.Extensions)
			}
			if logs.String() != tt.log {
				t.Errorf("logged %q, want %q", logs.String(), tt.log)
			}
			if strings.Contains(got.Message, "secret") {
				t.Errorf("the message shows the cause: %q", got.Message)
			}
		})
	}
}
