package resolvers

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/partizap/vendor-inbox/models"
)

// extensionCodes maps the domain's error codes to GraphQL's extensions.code, once.
var extensionCodes = map[string]string{
	models.EINVALID:         "BAD_USER_INPUT",
	models.EUNAUTHENTICATED: "UNAUTHENTICATED",
	models.ENOTFOUND:        "NOT_FOUND",
	models.EUNAVAILABLE:     "SERVICE_UNAVAILABLE",
	models.ETIMEOUT:         CodeTimeout,
	models.EINTERNAL:        "INTERNAL_SERVER_ERROR",
}

// ErrorPresenter shows clients domain errors with their code and message, keeps gqlgen's own
// errors (syntax, validation, argument types) as they are, and replaces anything else by a
// generic internal error after logging it in full.
func ErrorPresenter(logger *slog.Logger) graphql.ErrorPresenterFunc {
	return func(ctx context.Context, err error) *gqlerror.Error {
		presented := graphql.DefaultErrorPresenter(ctx, err)
		if ctx.Err() != nil {
			// The request ended (deadline, or the client went away): whatever failed failed
			// because of that, and the HTTP layer answers and logs it once.
			return &gqlerror.Error{Message: models.ErrTimeout.Message, Path: presented.Path, Extensions: map[string]any{"code": CodeTimeout}}
		}
		var domain *models.Error
		if errors.As(err, &domain) && domain.Code != models.EINTERNAL {
			presented.Message = domain.Message
			presented.Extensions = map[string]any{"code": extensionCodes[domain.Code]}
			if domain.Field != "" {
				presented.Extensions["field"] = domain.Field
			}
			// EUNAVAILABLE is not logged per error either: models.ReportOutages logs an
			// outage once per interval.
			return presented
		}
		var gqlErr *gqlerror.Error
		if errors.As(err, &gqlErr) && gqlErr.Unwrap() == nil {
			return presented
		}
		requestID := models.RequestID(ctx)
		logger.ErrorContext(ctx, "graphql resolver failed", "path", presented.Path.String(), "err", err)
		return &gqlerror.Error{
			Message:    "internal error; quote request id " + requestID + " when reporting it",
			Path:       presented.Path,
			Extensions: map[string]any{"code": extensionCodes[models.EINTERNAL], "requestId": requestID},
		}
	}
}

// Recover turns a panic in a resolver into an internal error; ErrorPresenter logs it with its
// stack and shows the client a generic message.
func Recover(_ context.Context, p any) error {
	return fmt.Errorf("resolver panicked: %v\n%s", p, debug.Stack())
}
