package httpserver

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"runtime/debug"
	"strings"

	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/partizap/vendor-inbox/graph"
	"github.com/partizap/vendor-inbox/models"
	"github.com/partizap/vendor-inbox/resolvers"
)

// GraphQL is the GraphQL endpoint, for every method (it refuses those it does not serve): the
// request rules of graphQLRequests, then the viewer, then gqlgen's executor over the resolvers,
// with the documents' limits and caches. Its answers are never stored. A WebSocket upgrade
// goes to serveWebSocket instead, which admits it for gqlgen's WebSocket transport.
func (s *Server) GraphQL() http.Handler {
	o := s.opts
	present := s.countErrors(presentGraphQLError(s.logger))
	gql := handler.New(graph.NewExecutableSchema(resolvers.NewConfig(resolvers.Options{
		Store: o.Store, Cursors: o.Cursors, SendsPerMinute: o.SendRateLimit, Live: o.Live,
	})))
	gql.AddTransport(s.websocketTransport())
	gql.AddTransport(transport.GET{}) // runs queries only: it refuses mutations, as CSRF demands
	gql.AddTransport(postTransport{})
	if o.GraphQL.Introspection {
		gql.Use(extension.Introspection{})
	}
	docs := resolvers.NewDocuments(o.GraphQL, o.GraphQLCacheBytes)
	docs.Install(gql)
	s.registerDocumentMetrics(docs)
	operations, responses := s.socketOperations(present)
	gql.AroundOperations(s.operationTelemetry)
	gql.AroundOperations(operations)
	gql.AroundResponses(responses)
	gql.SetErrorPresenter(present)
	gql.SetRecoverFunc(func(_ context.Context, p any) error {
		// presentGraphQLError logs it, with its stack, and shows a generic message.
		return fmt.Errorf("resolver panicked: %v\n%s", p, debug.Stack())
	})
	requests := s.graphQLRequests(s.Admit(s.WithViewer(gql)))
	sockets := s.WithViewer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { s.serveWebSocket(w, r, gql) }))
	return NoStore(recoverPanics(s.logger, s.writeGraphQLError, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if isWebSocketUpgrade(r) {
			sockets.ServeHTTP(w, r)
			return
		}
		// Any other upgrade (curl --http2 offers h2c) is declined by answering in HTTP/1.1;
		// gqlgen would take the header for a WebSocket's.
		r.Header.Del("Upgrade")
		requests.ServeHTTP(w, r)
	})))
}

func (s *Server) writeGraphQLError(w http.ResponseWriter, r *http.Request, err error) {
	s.countError(writeGraphQLError(w, r, s.logger, err, nil))
}

// registerDocumentMetrics shows what checking GraphQL documents costs and what the caches hold.
func (s *Server) registerDocumentMetrics(docs *resolvers.Documents) {
	counter := func(name, help string, v func() int64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help}, func() float64 { return float64(v()) })
	}
	gauge := func(cache string, v func() int64) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "bff_graphql_cache_bytes", Help: "Bytes held by a GraphQL cache (estimated), bounded by GRAPHQL_CACHE_BYTES.",
			ConstLabels: prometheus.Labels{"cache": cache}}, func() float64 { return float64(v()) })
	}
	// A handler built twice (tests do) registers once.
	for _, c := range []prometheus.Collector{
		counter("bff_graphql_selections_visited_total", "Selections the GraphQL document limits walked: linear in the documents' size, never in their fragments' expansion.", docs.Stats.Visited.Load),
		counter("bff_graphql_validations_total", "GraphQL documents validated against the schema: cache misses within every limit.", docs.Stats.Validated.Load),
		gauge("documents", docs.Parsed.Bytes),
		gauge("persisted", docs.Persisted.Bytes),
	} {
		_ = s.opts.Metrics.Register(c)
	}
}

// graphQLRequests admits only what a GraphQL client sends on purpose: a POST must carry a JSON
// body (a cross-site form or text/plain "simple request" is refused, so cookies cannot be
// ridden) of at most MaxBodyBytes, shaped as GraphQL over HTTP says, and must accept a JSON
// answer. Its refusals come before the session is looked up, so they cost no query. A request
// whose deadline passes before its answer is written gets 504 TIMEOUT instead.
func (s *Server) graphQLRequests(next http.Handler) http.Handler {
	maxBody := s.opts.MaxBodyBytes
	refuse := func(w http.ResponseWriter, r *http.Request, code, field, message string, extensions map[string]any) {
		s.countError(writeGraphQLError(w, r, s.logger, &models.Error{Code: code, Field: field, Message: message}, extensions))
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodPost {
			w.Header().Set("Allow", "GET, POST")
			refuse(w, r, CodeMethodNotAllowed, "", "send GraphQL operations with GET (queries) or POST", nil)
			return
		}
		if accept := r.Header.Get("Accept"); accept != "" && !acceptsJSON(accept) {
			refuse(w, r, CodeNotAcceptable, "", "this endpoint answers application/json or application/graphql-response+json", nil)
			return
		}
		if r.Method == http.MethodGet {
			if err := checkGraphQLQueryString(r.URL.RawQuery); err != nil {
				s.writeGraphQLError(w, r, err)
				return
			}
		}
		if r.Method == http.MethodPost {
			if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
				refuse(w, r, CodeUnsupportedMediaType, "", "send the operation as JSON with Content-Type: application/json", nil)
				return
			}
			body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, int64(maxBody)))
			if err != nil {
				var tooLarge *http.MaxBytesError
				if errors.As(err, &tooLarge) {
					refuse(w, r, CodeRequestTooLarge, "", fmt.Sprintf("the request body is over the limit of %d bytes", maxBody), map[string]any{"limit": maxBody})
					return
				}
				refuse(w, r, CodeBadRequest, "", "the request body could not be read", nil)
				return
			}
			if err := checkGraphQLBody(body); err != nil {
				s.writeGraphQLError(w, r, err)
				return
			}
			r.Body = io.NopCloser(bytes.NewReader(body))
		}
		next.ServeHTTP(&deadlineGuard{ResponseWriter: w, r: r, s: s}, r)
		if errors.Is(r.Context().Err(), context.Canceled) {
			s.logger.InfoContext(r.Context(), "client went away before its answer", "path", r.URL.Path)
		}
	})
}

// checkGraphQLBody accepts a JSON object whose GraphQL members have their types; gqlgen's own
// decoding errors would echo the body and name Go types. Other members are ignored, as GraphQL
// over HTTP says.
func checkGraphQLBody(body []byte) *models.Error {
	trimmed := bytes.TrimLeft(body, " \t\r\n")
	if len(trimmed) > 0 && trimmed[0] == '[' {
		return &models.Error{Code: CodeBatchNotSupported, Message: "batches are not supported: send one operation per request"}
	}
	var members map[string]json.RawMessage
	if err := json.Unmarshal(body, &members); err != nil || members == nil {
		return &models.Error{Code: CodeInvalidJSON, Message: `the request body must be a JSON object such as {"query": "{ viewer { id } }"}`}
	}
	for _, m := range []struct {
		name   string
		want   byte // the first byte of the JSON value the member must be
		phrase string
	}{
		{"query", '"', "a string"},
		{"operationName", '"', "a string"},
		{"variables", '{', "an object"},
		{"extensions", '{', "an object"},
	} {
		v, ok := members[m.name]
		if !ok || string(v) == "null" || len(v) > 0 && v[0] == m.want {
			continue
		}
		return &models.Error{Code: CodeBadRequest, Field: m.name, Message: fmt.Sprintf("%q must be %s or null", m.name, m.phrase)}
	}
	return nil
}

// checkGraphQLQueryString is checkGraphQLBody for GET: variables and extensions, when given,
// are JSON objects.
func checkGraphQLQueryString(rawQuery string) *models.Error {
	values, err := url.ParseQuery(rawQuery)
	if err != nil {
		return &models.Error{Code: CodeBadRequest, Message: "the query string is not valid URL encoding"}
	}
	for _, name := range []string{"variables", "extensions"} {
		if !values.Has(name) {
			continue
		}
		var object map[string]json.RawMessage
		if err := json.Unmarshal([]byte(values.Get(name)), &object); err != nil {
			return &models.Error{Code: CodeBadRequest, Field: name, Message: fmt.Sprintf("the %q parameter must be a JSON object", name)}
		}
	}
	return nil
}

// deadlineGuard answers 504 TIMEOUT in place of whatever the handler writes once the request's
// deadline has passed: gqlgen writes `null` with 200 when the context ended before execution,
// and partial data when it ended during it.
type deadlineGuard struct {
	http.ResponseWriter
	r        *http.Request
	s        *Server
	decided  bool
	replaced bool
}

func (g *deadlineGuard) decide() bool {
	if !g.decided {
		g.decided = true
		if errors.Is(g.r.Context().Err(), context.DeadlineExceeded) {
			g.replaced = true
			g.s.writeGraphQLError(g.ResponseWriter, g.r, models.ErrTimeout)
		}
	}
	return g.replaced
}

func (g *deadlineGuard) WriteHeader(status int) {
	if !g.decide() {
		g.ResponseWriter.WriteHeader(status)
	}
}

func (g *deadlineGuard) Write(b []byte) (int, error) {
	if g.decide() {
		return len(b), nil
	}
	return g.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection.
func (g *deadlineGuard) Unwrap() http.ResponseWriter { return g.ResponseWriter }

func acceptsJSON(accept string) bool {
	for _, part := range strings.Split(accept, ",") {
		mt, _, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		switch mt {
		case "application/json", "application/graphql-response+json", "application/*", "*/*":
			return true
		}
	}
	return false
}
