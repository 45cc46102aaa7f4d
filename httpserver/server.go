// Package httpserver is the service's HTTP layer: what every route shares. It owns the
// middleware every request passes (request ids, security headers, CORS, deadlines, panics),
// the session cookie, the GraphQL endpoint with its transports and request rules, readiness
// and metrics, the http.Servers with their timeouts and graceful shutdown, and the one table
// that turns error codes into HTTP statuses and GraphQL codes (errors.go).
//
// It is a top-level folder of its own because no package of the layout can own this: models
// is the domain, resolvers knows GraphQL's semantics, rest the REST shape and playground the
// page; each of them serves its routes through this package, and server.go mounts them.
package httpserver

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/partizap/vendor-inbox/models"
	"github.com/partizap/vendor-inbox/models/live"
	"github.com/partizap/vendor-inbox/resolvers"
)

// Options are what the HTTP layer needs: its dependencies and its settings.
type Options struct {
	Store   *models.Store
	Cursors *models.Cursors
	Probe   Probe                // readiness: asks the database over a connection of its own
	Metrics *prometheus.Registry // served at /metrics, unless MetricsElsewhere
	Logger  *slog.Logger         // wrapped in RequestLogs

	GraphQL            resolvers.Limits
	GraphQLCacheBytes  int64          // each of the parsed-document and persisted-query caches
	MaxBodyBytes       int            // largest POST /graphql body
	SendRateLimit      int            // messages a minute per sender (0: no limit)
	Live               *live.Hub      // subscriptions' fan-out; nil when live updates are off
	Notifier           *live.Notifier // announces the outbox's changes (for its metrics); nil but on PostgreSQL with Live
	WebSocket          WebSocketOptions
	CORSAllowedOrigins []string
	CORSAllowedHeaders []string // request headers a cross-origin client may send
	RequestTimeout     time.Duration
	ShutdownGrace      time.Duration
	// MaxConcurrentRequests bounds the data requests running at once (see Admit; 0: no bound).
	MaxConcurrentRequests int
	MetricsElsewhere      bool // /metrics is served by MetricsHandler on an address of its own
	// Tracer traces every request (nil: nothing is traced, at no cost): the HTTP request, its
	// GraphQL operation and, when the database was instrumented with the same provider, each
	// statement, joining the caller's trace when the request carries a traceparent.
	Tracer trace.TracerProvider
}

// Probe says whether the database answers.
type Probe interface {
	Check(ctx context.Context) error
}

// Server routes the service's endpoints behind the middleware every request passes.
type Server struct {
	opts           Options
	logger         *slog.Logger
	mux            *http.ServeMux
	sockets        *sockets
	metrics        *metrics
	operationNames operationNames
	tracer         trace.Tracer // nil when not tracing
	admission      *admission   // nil when unbounded
	shared         sharedResponses
}

// New returns a Server serving /healthz, /readyz and, unless it is served elsewhere, /metrics;
// the caller mounts the rest with Handle.
func New(opts Options) *Server {
	logger := opts.Logger
	if _, ok := logger.Handler().(RequestLogs); !ok {
		logger = slog.New(RequestLogs{logger.Handler()})
	}
	s := &Server{opts: opts, logger: logger, mux: http.NewServeMux(), metrics: newMetrics(opts.Metrics), admission: newAdmission(opts.MaxConcurrentRequests)}
	if opts.Tracer != nil {
		s.tracer = opts.Tracer.Tracer("github.com/partizap/vendor-inbox/httpserver")
	}
	s.sockets = &sockets{store: opts.Store, logger: logger, maxUser: opts.WebSocket.MaxConnectionsPerUser, interval: opts.WebSocket.SessionCheckInterval}
	s.registerLiveMetrics()
	s.registerAdmissionMetrics()
	s.Handle("GET /healthz", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = io.WriteString(w, "ok\n")
	}))
	s.Handle("GET /readyz", http.HandlerFunc(s.ready))
	if !opts.MetricsElsewhere {
		s.Handle("GET /metrics", s.MetricsHandler())
	}
	return s
}

// Logger is the server's logger: the options' one, with request ids.
func (s *Server) Logger() *slog.Logger { return s.logger }

// Handle mounts h on pattern (http.ServeMux's patterns); the pattern is the route that metrics,
// the access log and traces name its requests by.
func (s *Server) Handle(pattern string, h http.Handler) { s.mux.Handle(pattern, routed(pattern, h)) }

// WriteError answers err in the service's JSON error shape (see WriteJSONError).
func (s *Server) WriteError(w http.ResponseWriter, r *http.Request, err error) {
	WriteJSONError(w, r, s.logger, err)
}

// Handler is every route behind the middleware every request passes: from the outside, the
// trace span (when tracing), the request id, the access log and metrics, panics, security
// headers, CORS and the deadline.
func (s *Server) Handler() http.Handler {
	var h http.Handler = s.mux
	h = deadline(s.opts.RequestTimeout, h)
	h = cors(s.opts.CORSAllowedOrigins, s.opts.CORSAllowedHeaders, h)
	h = securityHeaders(h)
	h = recoverPanics(s.logger, s.WriteError, h)
	h = s.observe(h)
	h = requestID(h)
	if s.opts.Tracer != nil {
		// Spans are named by route once routed (see routed); a traceparent joins its trace.
		h = otelhttp.NewHandler(h, "HTTP", otelhttp.WithTracerProvider(s.opts.Tracer),
			otelhttp.WithPropagators(propagation.TraceContext{}))
	}
	return h
}

// MetricsHandler serves the Prometheus registry.
func (s *Server) MetricsHandler() http.Handler {
	return promhttp.HandlerFor(s.opts.Metrics, promhttp.HandlerOpts{})
}

// MetricsServerHandler is /metrics and the runtime's profiles (net/http/pprof's /debug/pprof/),
// for the server METRICS_ADDR gives an address of its own (one the internet need not reach).
// The profiles are an operator's tool, so they are served there only, never by Handler.
// (Importing net/http/pprof also mounts them on http.DefaultServeMux, which the service never
// serves.)
func (s *Server) MetricsServerHandler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", s.MetricsHandler())
	mux.HandleFunc("GET /debug/pprof/", pprof.Index)
	mux.HandleFunc("GET /debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("GET /debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("POST /debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
	return securityHeaders(mux)
}

// ready answers 200 while the database answers, 503 otherwise; /healthz only says the process
// is alive, so an orchestrator restarts nothing when the database is away. It asks the database
// itself, over the probe's own connection: a busy pool is no reason to take the instance out of
// rotation (that would only move its load onto the others).
func (s *Server) ready(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if err := s.opts.Probe.Check(r.Context()); err != nil {
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = io.WriteString(w, "not ready: the database is unavailable\n")
		return
	}
	_, _ = io.WriteString(w, "ready\n")
}

// NewHTTPServer bounds how long a client may take over each part of a request, so slow or idle
// clients cannot hold connections (and goroutines) forever.
func (s *Server) NewHTTPServer(h http.Handler) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(s.logger.Handler(), slog.LevelWarn),
	}
}

// Serve serves the service on listener, and /metrics and /debug/pprof/ on metricsListener
// unless it is nil, until ctx ends; then both stop accepting and finish their in-flight
// requests within ShutdownGrace, and then the WebSockets are closed with CloseGoingAway. When
// either server fails, the other is shut down the same way.
func (s *Server) Serve(ctx context.Context, listener, metricsListener net.Listener) error {
	type served struct {
		srv      *http.Server
		listener net.Listener
	}
	servers := []served{{s.NewHTTPServer(s.Handler()), listener}}
	if metricsListener != nil {
		servers = append(servers, served{s.NewHTTPServer(s.MetricsServerHandler()), metricsListener})
	}
	errc := make(chan error, len(servers))
	for _, sv := range servers {
		go func() { errc <- sv.srv.Serve(sv.listener) }()
	}
	var failed error
	running := len(servers)
	select {
	case failed = <-errc:
		running--
	case <-ctx.Done():
		s.logger.Info("shutting down: finishing in-flight requests", "grace", s.opts.ShutdownGrace)
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), s.opts.ShutdownGrace)
	defer cancel()
	errs := make([]error, len(servers))
	var wg sync.WaitGroup
	for i, sv := range servers {
		wg.Go(func() {
			if err := sv.srv.Shutdown(shutdownCtx); err != nil {
				s.logger.Warn("grace period over: closing the remaining connections", "err", err)
				errs[i] = sv.srv.Close()
			}
		})
	}
	wg.Wait()
	// Every Serve has returned, its listener closed, before Serve does: one whose goroutine
	// started only after Shutdown closes its listener then, and must not still accept.
	for ; running > 0; running-- {
		<-errc
	}
	// WebSockets are no in-flight requests to Shutdown: they are closed once those are done,
	// with a code that tells clients to reconnect (to another instance).
	drainCtx, cancelDrain := context.WithTimeout(context.Background(), socketDrainTimeout)
	s.sockets.closeAll(drainCtx, CloseGoingAway, "the server is shutting down: reconnect")
	cancelDrain()
	if failed != nil {
		return failed
	}
	return errors.Join(errs...)
}
