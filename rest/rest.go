// Package rest serves the documented REST endpoint, GET /vendor/conversations, for legacy
// clients. It is a thin translation of shapes: it reads the same inbox page and the same
// per-request loaders as the GraphQL resolvers and only renders them as the contract says
// (its copy is in testdata/; the OpenAPI document openapi.json describes it).
package rest

import (
	"context"
	_ "embed"
	"net/http"
	"net/url"
	"strconv"
	"sync"

	"github.com/partizap/vendor-inbox/models"
	"github.com/partizap/vendor-inbox/models/loaders"
)

// OpenAPI is the OpenAPI 3 document of this package's endpoint, served at /openapi.json.
//
//go:embed openapi.json
var OpenAPI []byte

// Handler serves GET /vendor/conversations. It needs the request's viewer and loaders in the
// context (httpserver's WithViewer), and only GET and HEAD (httpserver's Methods, with
// Methods): the HTTP layer refuses the rest before anything runs.
type Handler struct {
	Cursors *models.Cursors
	// Errors answers an error in the contract's shape ({"error": {"code", "message"}}); the
	// HTTP layer's one error table gives the status and the code.
	Errors func(w http.ResponseWriter, r *http.Request, err error)
}

// Methods is the Allow header of the endpoint.
const Methods = "GET, HEAD"

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// Who asks comes before what they ask: an anonymous caller learns nothing, not even which
	// parameters are wrong.
	if _, err := models.RequireViewer(r.Context()); err != nil {
		h.Errors(w, r, err)
		return
	}
	args, err := parseParams(r.URL.RawQuery, h.Cursors)
	if err != nil {
		h.Errors(w, r, err)
		return
	}
	body, err := h.conversations(r.Context(), args)
	if err != nil {
		h.Errors(w, r, err)
		return
	}
	writePage(w, &body)
}

// pageBuffers holds the byte slices pages are encoded into, so that a steady stream of
// requests reuses a few buffers instead of growing a new one each time.
var pageBuffers = sync.Pool{New: func() any { return new([]byte) }}

// maxPooledBuffer is the largest buffer put back in pageBuffers: a rare huge page must not
// keep its memory pinned for every later small one.
const maxPooledBuffer = 1 << 20

// writePage answers page with status 200, as httpserver.WriteJSON would (the same bytes and
// headers) without its reflection. For HEAD, net/http drops the body and keeps the headers.
func writePage(w http.ResponseWriter, page *listResponse) {
	buf := pageBuffers.Get().(*[]byte)
	b := page.appendJSON((*buf)[:0])
	b = append(b, '\n') // json.Encoder.Encode ends each value with one
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
	if cap(b) <= maxPooledBuffer {
		*buf = b
		pageBuffers.Put(buf)
	}
}

// OpenAPIHandler serves OpenAPI.
func OpenAPIHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		_, _ = w.Write(OpenAPI)
	})
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
		if out.Data[i], err = renderConversation(c); err != nil {
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
