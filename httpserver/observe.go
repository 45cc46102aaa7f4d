package httpserver

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"regexp"
	"strconv"
	"sync"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/partizap/vendor-inbox/resolvers"
)

// requestRecord is what the access log and the HTTP metrics say of one request, filled in as it
// is served: the route by Handle, the operation by the GraphQL endpoint, the rest by
// recordingWriter.
type requestRecord struct {
	route     string // the pattern that routed it, without its method; "" when none did
	operation string // the GraphQL operation's name (operationNames), when it ran one
	status    int
	bytes     int64
}

type recordKey struct{}

func recordOf(ctx context.Context) *requestRecord {
	rec, _ := ctx.Value(recordKey{}).(*requestRecord)
	return rec
}

// recordingWriter notes the status and the bytes written (after compression: what went on the
// wire).
type recordingWriter struct {
	http.ResponseWriter
	rec *requestRecord
}

func (w *recordingWriter) WriteHeader(status int) {
	if w.rec.status == 0 || w.rec.status < 200 && status >= 200 {
		w.rec.status = status
	}
	w.ResponseWriter.WriteHeader(status)
}

func (w *recordingWriter) Write(b []byte) (int, error) {
	if w.rec.status == 0 {
		w.rec.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.rec.bytes += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController (and the WebSocket's hijack) reach the connection.
func (w *recordingWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// observe writes one access-log line and the HTTP metrics of every request. The line never
// holds a cookie, a session id or a query string (GET /graphql carries variables there).
func (s *Server) observe(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &requestRecord{}
		ctx := context.WithValue(r.Context(), recordKey{}, rec)
		next.ServeHTTP(&recordingWriter{ResponseWriter: w, rec: rec}, r.WithContext(ctx))
		elapsed := time.Since(start)
		status := rec.status
		if status == 0 {
			status = http.StatusOK // net/http answers an empty 200
		}
		route := rec.route
		if route == "" {
			route = "unmatched"
		}
		method := boundedMethod(r.Method)
		s.metrics.requests.WithLabelValues(route, method, strconv.Itoa(status)).Inc()
		s.metrics.duration.WithLabelValues(route, method).Observe(elapsed.Seconds())
		attrs := []slog.Attr{
			slog.String("method", r.Method), slog.String("route", route), slog.String("path", r.URL.Path),
			slog.Int("status", status), slog.Int64("bytes", rec.bytes), slog.Duration("duration", elapsed),
		}
		if rec.operation != "" {
			attrs = append(attrs, slog.String("operation", rec.operation))
		}
		s.logger.LogAttrs(ctx, slog.LevelInfo, "request", attrs...)
	})
}

// routed notes the route of a request for observe, and names its trace span by it.
func routed(pattern string, next http.Handler) http.Handler {
	route := pattern
	if _, path, ok := cutMethod(pattern); ok {
		route = path
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if rec := recordOf(r.Context()); rec != nil {
			rec.route = route
		}
		if span := trace.SpanFromContext(r.Context()); span.IsRecording() {
			span.SetName(r.Method + " " + route)
			span.SetAttributes(attribute.String("http.route", route))
		}
		next.ServeHTTP(w, r)
	})
}

// cutMethod splits "GET /path" into its method and path.
func cutMethod(pattern string) (method, path string, ok bool) {
	for i, c := range pattern {
		if c == ' ' {
			return pattern[:i], pattern[i+1:], true
		}
		if c == '/' {
			break
		}
	}
	return "", pattern, false
}

// boundedMethod is the method as a metric's label: one of HTTP's, or OTHER, so that a client
// cannot make up label values.
func boundedMethod(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodOptions:
		return m
	}
	return "OTHER"
}

// metrics are the HTTP layer's Prometheus metrics.
type metrics struct {
	requests   *prometheus.CounterVec
	duration   *prometheus.HistogramVec
	operations *prometheus.CounterVec
	errors     *prometheus.CounterVec
}

func newMetrics(reg *prometheus.Registry) *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bff_http_requests_total", Help: "HTTP requests by route (the pattern that served it, or unmatched), method and status.",
		}, []string{"route", "method", "status"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "bff_http_request_duration_seconds", Help: "How long HTTP requests took to answer, by route and method (a WebSocket: its whole life).",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"route", "method"}),
		operations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bff_graphql_operations_total", Help: "GraphQL operations run, by operation name (the first " + strconv.Itoa(maxOperationNames) + " names seen; others are \"other\", unnamed ones \"anonymous\") and type.",
		}, []string{"operation", "type"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bff_graphql_errors_total", Help: "Errors in GraphQL answers, by extensions.code.",
		}, []string{"code"}),
	}
	if reg != nil {
		m.requests = registered(reg, m.requests)
		m.duration = registered(reg, m.duration)
		m.operations = registered(reg, m.operations)
		m.errors = registered(reg, m.errors)
	}
	return m
}

// registered registers c, or returns the collector registered before it under its name (a
// server built twice over one registry, as tests do, counts into one).
func registered[C prometheus.Collector](reg *prometheus.Registry, c C) C {
	if err := reg.Register(c); err != nil {
		var already prometheus.AlreadyRegisteredError
		if errors.As(err, &already) {
			if existing, ok := already.ExistingCollector.(C); ok {
				return existing
			}
		}
	}
	return c
}

// maxOperationNames bounds the operation names metrics keep apart.
const maxOperationNames = 200

var operationNamePattern = regexp.MustCompile(`^[_A-Za-z][_0-9A-Za-z]{0,63}$`)

// operationNames folds the names clients give their operations into a bounded set, for
// metrics and logs: names are the clients' to choose, and a label value per made-up name would
// grow the metrics without end.
type operationNames struct {
	mu    sync.Mutex
	known map[string]bool
}

func (n *operationNames) bounded(name string) string {
	if name == "" {
		return "anonymous"
	}
	if !operationNamePattern.MatchString(name) {
		return "other"
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.known[name] {
		return name
	}
	if len(n.known) >= maxOperationNames {
		return "other"
	}
	if n.known == nil {
		n.known = map[string]bool{}
	}
	n.known[name] = true
	return name
}

// operationTelemetry counts each GraphQL operation, names it in its request's access-log line,
// and, when tracing, runs it in a span of its own with its cost (subscriptions, which last as
// long as their socket, get none).
func (s *Server) operationTelemetry(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
	op := graphql.GetOperationContext(ctx)
	typ := "unknown"
	if op.Operation != nil {
		typ = string(op.Operation.Operation)
	}
	name := s.operationNames.bounded(op.OperationName)
	if op.OperationName == "" && op.Operation != nil {
		name = s.operationNames.bounded(op.Operation.Name)
	}
	s.metrics.operations.WithLabelValues(name, typ).Inc()
	// A request's line names its operation; a WebSocket carries many, each counted here.
	if rec := recordOf(ctx); rec != nil && socketFrom(ctx) == nil {
		rec.operation = name
	}
	if s.tracer == nil || typ == string(ast.Subscription) {
		return next(ctx)
	}
	ctx, span := s.tracer.Start(ctx, "graphql."+typ+" "+name, trace.WithAttributes(
		attribute.String("graphql.operation.type", typ), attribute.String("graphql.operation.name", name)))
	if cost, ok := resolvers.OperationCost(op); ok {
		span.SetAttributes(attribute.Int("graphql.operation.cost", cost))
	}
	responses := next(ctx)
	var once sync.Once
	// A query or mutation answers once (HTTP asks for one response, a socket asks again and
	// gets nil): the span ends with the first.
	return func(ctx context.Context) *graphql.Response {
		r := responses(ctx)
		once.Do(func() {
			if r != nil && len(r.Errors) > 0 {
				span.SetAttributes(attribute.Int("graphql.errors", len(r.Errors)))
			}
			span.End()
		})
		return r
	}
}

// countErrors counts, by code, every error present shows.
func (s *Server) countErrors(present graphql.ErrorPresenterFunc) graphql.ErrorPresenterFunc {
	return func(ctx context.Context, err error) *gqlerror.Error {
		e := present(ctx, err)
		code, _ := e.Extensions["code"].(string)
		s.countError(code)
		return e
	}
}

func (s *Server) countError(code string) {
	if code == "" {
		code = "none"
	}
	s.metrics.errors.WithLabelValues(code).Inc()
}
