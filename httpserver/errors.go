package httpserver

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/partizap/vendor-inbox/models"
)

// Codes of refusals made by the HTTP layer itself, before any domain code runs. They are
// models.Error codes like the domain's, so one table and one writer serve both.
const (
	CodeMethodNotAllowed     = "method_not_allowed"
	CodeUnsupportedMediaType = "unsupported_media_type"
	CodeNotAcceptable        = "not_acceptable"
	CodeRequestTooLarge      = "request_too_large"
	CodeBadRequest           = "bad_request"
	CodeInvalidJSON          = "invalid_json"
	CodeBatchNotSupported    = "batch_not_supported"
	CodeForbiddenOrigin      = "forbidden_origin"
)

// presentation is how one error code is shown over HTTP.
type presentation struct {
	status  int    // the HTTP status
	graphQL string // GraphQL's extensions.code
}

// presentations is the one table from error codes to what clients see. REST's code is the
// error code itself, made specific by the field at fault (invalid_limit); see writeJSONError.
var presentations = map[string]presentation{
	models.EINVALID:          {http.StatusBadRequest, "BAD_USER_INPUT"},
	models.EUNAUTHENTICATED:  {http.StatusUnauthorized, "UNAUTHENTICATED"},
	models.ENOTFOUND:         {http.StatusNotFound, "NOT_FOUND"},
	models.EUNAVAILABLE:      {http.StatusServiceUnavailable, "SERVICE_UNAVAILABLE"},
	models.ETIMEOUT:          {http.StatusGatewayTimeout, "TIMEOUT"},
	models.ECONFLICT:         {http.StatusConflict, "CONFLICT"},
	models.ERATELIMITED:      {http.StatusTooManyRequests, "RATE_LIMITED"},
	models.ELIMIT:            {http.StatusTooManyRequests, "LIMIT_EXCEEDED"},
	models.ERESYNC:           {http.StatusServiceUnavailable, "RESYNC"},
	models.EINTERNAL:         {http.StatusInternalServerError, "INTERNAL_SERVER_ERROR"},
	CodeMethodNotAllowed:     {http.StatusMethodNotAllowed, "METHOD_NOT_ALLOWED"},
	CodeUnsupportedMediaType: {http.StatusUnsupportedMediaType, "UNSUPPORTED_MEDIA_TYPE"},
	CodeNotAcceptable:        {http.StatusNotAcceptable, "NOT_ACCEPTABLE"},
	CodeRequestTooLarge:      {http.StatusRequestEntityTooLarge, "REQUEST_TOO_LARGE"},
	CodeBadRequest:           {http.StatusBadRequest, "BAD_REQUEST"},
	CodeInvalidJSON:          {http.StatusBadRequest, "INVALID_JSON"},
	CodeBatchNotSupported:    {http.StatusBadRequest, "BATCH_NOT_SUPPORTED"},
	CodeForbiddenOrigin:      {http.StatusForbidden, "FORBIDDEN"},
}

// Status is the HTTP status of err: that of its code, 500 for anything without one.
func Status(err error) int {
	if p, ok := presentations[models.ErrorCode(err)]; ok {
		return p.status
	}
	return http.StatusInternalServerError
}

// GraphQLCode is the GraphQL extensions.code of err.
func GraphQLCode(err error) string {
	if p, ok := presentations[models.ErrorCode(err)]; ok {
		return p.graphQL
	}
	return presentations[models.EINTERNAL].graphQL
}

// InternalMessage is what a client is told of an internal error: nothing but the request id,
// which the log line with the details carries too.
func InternalMessage(ctx context.Context) string {
	return "internal error; quote request id " + RequestID(ctx) + " when reporting it"
}

// clientError is err as a client may see it: once the request has ended, whatever failed,
// failed because of that (a timeout); an internal error's details are logged here and never
// shown. It returns nil when the client went away, leaving nobody to answer.
func clientError(r *http.Request, logger *slog.Logger, err error) *models.Error {
	ctx := r.Context()
	switch ctx.Err() {
	case context.Canceled:
		logger.InfoContext(ctx, "client went away before its answer", "path", r.URL.Path)
		return nil
	case context.DeadlineExceeded:
		return models.ErrTimeout
	}
	var e *models.Error
	if errors.As(err, &e) && e.Code != models.EINTERNAL {
		if _, known := presentations[e.Code]; known {
			return e
		}
	}
	if _, ok := err.(logged); !ok {
		// Outages are not logged per request: the database layer counts them (database.ReportOutages).
		logger.ErrorContext(ctx, "request failed", "path", r.URL.Path, "err", err)
	}
	return &models.Error{Code: models.EINTERNAL, Message: InternalMessage(ctx)}
}

// logged is an internal error whose details have been logged already (a recovered panic, with
// its stack): writing it logs nothing more.
type logged struct{ error }

type jsonErrorBody struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// WriteJSONError answers with the service's JSON error shape, the REST contract's:
// {"error": {"code": …, "message": …}}. The code is the error's, made specific by the field at
// fault (invalid_limit, invalid_cursor); an internal error is "internal_error".
func WriteJSONError(w http.ResponseWriter, r *http.Request, logger *slog.Logger, err error) {
	e := clientError(r, logger, err)
	if e == nil {
		return
	}
	var body jsonErrorBody
	body.Error.Code, body.Error.Message = e.Code, e.Message
	switch {
	case e.Code == models.EINVALID && e.Field != "":
		body.Error.Code = "invalid_" + e.Field
	case e.Code == models.EINTERNAL:
		body.Error.Code = "internal_error"
	case e.Code == models.EUNAVAILABLE:
		w.Header().Set("Retry-After", "1")
	case e.RetryAfter > 0:
		w.Header().Set("Retry-After", strconv.Itoa(int(e.RetryAfter.Seconds())))
	}
	WriteJSON(w, Status(e), body)
}

// WriteJSON answers v as JSON with status.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // texts are shown as written; this is JSON, not HTML
	if err := enc.Encode(v); err != nil {
		http.Error(w, `{"error":{"code":"internal_error","message":"internal error"}}`, http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// writeGraphQLError answers a request refused before GraphQL ran, in GraphQL's error shape.
// extensions adds to the code (a limit, say).
// It returns the code it answered with ("" when the client was gone).
func writeGraphQLError(w http.ResponseWriter, r *http.Request, logger *slog.Logger, err error, extensions map[string]any) string {
	e := clientError(r, logger, err)
	if e == nil {
		return ""
	}
	ext := map[string]any{"code": GraphQLCode(e)}
	if e.Field != "" {
		ext["field"] = e.Field
	}
	if e.Code == models.EINTERNAL {
		ext["requestId"] = RequestID(r.Context())
	}
	for k, v := range extensions {
		ext[k] = v
	}
	body, _ := json.Marshal(map[string]any{"errors": []map[string]any{{"message": e.Message, "extensions": ext}}})
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(Status(e))
	_, _ = w.Write(body)
	return ext["code"].(string)
}

// presentGraphQLError is the GraphQL handler's error presenter: domain errors with their code
// and field, gqlgen's own errors (syntax, validation, limits) as they are, anything else a
// generic internal error after logging it in full.
func presentGraphQLError(logger *slog.Logger) graphql.ErrorPresenterFunc {
	return func(ctx context.Context, err error) *gqlerror.Error {
		presented := graphql.DefaultErrorPresenter(ctx, err)
		if ctx.Err() != nil {
			// The request ended (deadline, or the client went away): whatever failed failed
			// because of that, and graphQLRequests answers and logs it once.
			return &gqlerror.Error{Message: models.ErrTimeout.Message, Path: presented.Path, Extensions: map[string]any{"code": GraphQLCode(models.ErrTimeout)}}
		}
		var domain *models.Error
		if errors.As(err, &domain) && domain.Code != models.EINTERNAL && presentations[domain.Code].graphQL != "" {
			presented.Message = domain.Message
			presented.Extensions = map[string]any{"code": GraphQLCode(domain)}
			if domain.Field != "" {
				presented.Extensions["field"] = domain.Field
			}
			if domain.RetryAfter > 0 {
				presented.Extensions["retryAfter"] = int(domain.RetryAfter.Seconds())
			}
			return presented // outages are not logged per request: database.ReportOutages counts them
		}
		var gqlErr *gqlerror.Error
		if errors.As(err, &gqlErr) && gqlErr.Unwrap() == nil {
			return presented
		}
		logger.ErrorContext(ctx, "graphql resolver failed", "path", presented.Path.String(), "err", err)
		return &gqlerror.Error{
			Message:    InternalMessage(ctx),
			Path:       presented.Path,
			Extensions: map[string]any{"code": presentations[models.EINTERNAL].graphQL, "requestId": RequestID(ctx)},
		}
	}
}
