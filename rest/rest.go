// Package rest serves the documented REST endpoint, GET /vendor/conversations, for legacy
// clients. It is a thin translation of shapes: it reads the same inbox page and the same
// per-request loaders as the GraphQL resolvers and only renders them as the contract says
// (../shared/contract/README.md; the OpenAPI document openapi.json describes it).
package rest

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"

	"github.com/partizap/vendor-inbox/models"
	"github.com/partizap/vendor-inbox/models/loaders"
)

// OpenAPI is the OpenAPI 3 document of this package's endpoint, served at /openapi.json.
//
//go:embed openapi.json
var OpenAPI []byte

// Handler serves GET /vendor/conversations. It needs the request's viewer and loaders in the
// context (models.WithViewer, loaders.Middleware).
type Handler struct {
	Cursors *models.Cursors
	Logger  *slog.Logger
}

// allowed is the Allow header of the endpoint.
const allowed = "GET, HEAD"

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// Private data and the errors about it are for this client only, and never stored.
	w.Header().Set("Cache-Control", "private, no-store")
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", allowed)
		h.writeError(w, r, &models.Error{Code: codeMethodNotAllowed, Message: "only GET is supported on " + r.URL.Path})
		return
	}
	// Who asks comes before what they ask: an anonymous caller learns nothing, not even which
	// parameters are wrong.
	if _, err := models.RequireViewer(r.Context()); err != nil {
		h.writeError(w, r, err)
		return
	}
	args, err := parseParams(r.URL.RawQuery, h.Cursors)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	body, err := h.conversations(r.Context(), args)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, body)
}

// conversations reads a page of the inbox and renders it.
func (h *Handler) conversations(ctx context.Context, args models.PageArgs) (listResponse, error) {
	l := loaders.For(ctx)
	page, err := l.VendorInbox(ctx, args, loaders.AllConversationFields)
	if err != nil {
		return listResponse{}, err
	}
	out := listResponse{Data: make([]conversation, len(page.Items)), Meta: meta{HasMore: page.HasNextPage}}
	for i, c := range page.Items {
		if out.Data[i], err = renderConversation(ctx, l, c); err != nil {
			return listResponse{}, err
		}
	}
	if page.HasNextPage && len(page.Items) > 0 {
		next := h.Cursors.Encode(page.Items[len(page.Items)-1].InboxKey())
		out.Meta.NextCursor = &next
	}
	return out, nil
}

// Parameter bounds, as documented.
const (
	minLimit = 1
	maxLimit = models.MaxPageSize
)

// parseParams reads limit and cursor strictly: each at most once, limit a plain decimal
// integer in range, cursor one this service issued. Other parameters are ignored.
func parseParams(rawQuery string, cursors *models.Cursors) (models.PageArgs, error) {
	q, err := url.ParseQuery(rawQuery)
	if err != nil {
		return models.PageArgs{}, &models.Error{Code: models.EINVALID, Field: "query", Message: "the query string is malformed; percent-encode parameter values"}
	}
	for _, name := range []string{"limit", "cursor"} {
		if len(q[name]) > 1 {
			return models.PageArgs{}, &models.Error{Code: models.EINVALID, Field: "parameter", Message: name + " is given more than once; pass it once"}
		}
	}
	limit := models.DefaultPageSize
	if v, ok := q["limit"]; ok {
		n, err := strconv.Atoi(v[0])
		if err != nil || n < minLimit || n > maxLimit || strconv.Itoa(n) != v[0] {
			return models.PageArgs{}, &models.Error{Code: models.EINVALID, Field: "limit",
				Message: "limit must be an integer from " + strconv.Itoa(minLimit) + " to " + strconv.Itoa(maxLimit)}
		}
		limit = n
	}
	args := models.PageArgs{First: &limit}
	if v, ok := q["cursor"]; ok {
		key, err := cursors.Decode(v[0])
		if err != nil {
			return models.PageArgs{}, &models.Error{Code: models.EINVALID, Field: "cursor",
				Message: "cursor must be a meta.next_cursor value from a previous page, passed unchanged; omit it for the first page"}
		}
		args.After = &key
	}
	return args, nil
}

// codeMethodNotAllowed is a REST-only error code: GraphQL has no methods to refuse.
const codeMethodNotAllowed = "method_not_allowed"

// statuses maps error codes to HTTP statuses, once.
var statuses = map[string]int{
	models.EINVALID:         http.StatusBadRequest,
	models.EUNAUTHENTICATED: http.StatusUnauthorized,
	models.ENOTFOUND:        http.StatusNotFound,
	codeMethodNotAllowed:    http.StatusMethodNotAllowed,
	models.EUNAVAILABLE:     http.StatusServiceUnavailable,
	models.ETIMEOUT:         http.StatusGatewayTimeout,
	models.EINTERNAL:        http.StatusInternalServerError,
}

type errorBody struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// writeError answers with the error shape of the contract. The REST code is the domain code,
// made specific by the field at fault (invalid_limit, invalid_cursor). Internal errors are
// logged and shown as a generic message.
func (h *Handler) writeError(w http.ResponseWriter, r *http.Request, err error) {
	// Once the request has ended, whatever failed failed because of that.
	switch r.Context().Err() {
	case context.Canceled:
		h.Logger.InfoContext(r.Context(), "client went away before its answer", "path", r.URL.Path)
		return
	case context.DeadlineExceeded:
		err = models.ErrTimeout
	}
	code := models.ErrorCode(err)
	status, ok := statuses[code]
	if !ok {
		status, code = http.StatusInternalServerError, models.EINTERNAL
	}
	var body errorBody
	body.Error.Code = code
	body.Error.Message = models.ErrorMessage(err)
	if e, ok := err.(*models.Error); ok && e.Code == models.EINVALID && e.Field != "" {
		body.Error.Code = "invalid_" + e.Field
	}
	switch code {
	case models.EUNAVAILABLE:
		// Not logged per request: an outage fails every request, and models.ReportOutages
		// logs it once per interval.
		w.Header().Set("Retry-After", "1")
	case models.EINTERNAL:
		requestID := models.RequestID(r.Context())
		body.Error.Code = "internal_error"
		body.Error.Message = "internal error; quote request id " + requestID + " when reporting it"
		h.Logger.ErrorContext(r.Context(), "rest request failed", "path", r.URL.Path, "err", err)
	}
	writeJSON(w, status, body)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
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
