// Command vendor-inbox is the Partizap vendor-inbox backend-for-frontend: GraphQL for the web
// app, the documented REST endpoint for legacy clients, and a GraphQL playground, over one data
// path. `vendor-inbox help` lists its commands and settings (commands.go, config.go); this file
// wires them: configuration, then dependencies, then routes, then start and stop.
package main

//go:generate go tool gqlgen generate

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"go.opentelemetry.io/otel/trace"
	"gorm.io/gorm"

	"github.com/partizap/vendor-inbox/httpserver"
	"github.com/partizap/vendor-inbox/models"
	"github.com/partizap/vendor-inbox/models/database"
	"github.com/partizap/vendor-inbox/models/live"
	"github.com/partizap/vendor-inbox/playground"
	"github.com/partizap/vendor-inbox/resolvers"
	"github.com/partizap/vendor-inbox/rest"
)

func main() {
	if serves(os.Args[1:]) {
		applyGCDefaults(os.Getenv)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, program+":", err)
	}
	os.Exit(exitStatus(err))
}

// app holds what every command shares: the database, the queries and the metrics.
type app struct {
	db      *gorm.DB
	probe   *database.Probe   // readiness: the database over a connection of its own
	outages *database.Outages // logs failed-unavailable statements once per interval
	store   *models.Store
	cursors *models.Cursors
	live    *live.Hub // nil when live updates are off
	// notifier announces the changes the writes record (PostgreSQL); nil when live updates
	// are off and on SQLite, where store feeds live directly.
	notifier *live.Notifier
	metrics  *prometheus.Registry
	logger   *slog.Logger
	cfg      config

	cursorSecretFile string // where demo mode's generated key is, to say so at start; else empty

	tracer          trace.TracerProvider            // nil when not tracing
	shutdownTracing func(ctx context.Context) error // flushes the exporter's last spans; nil when none
}

// Readiness asks the database at most once per readyMaxAge and gives it readyTimeout to answer.
const (
	readyTimeout = time.Second
	readyMaxAge  = time.Second
)

func openApp(ctx context.Context, cfg config, logger *slog.Logger) (*app, error) {
	secret, secretFile := []byte(cfg.CursorSecret), ""
	if len(secret) == 0 { // demo mode: loadConfig allows no other way
		var err error
		if secret, secretFile, err = demoCursorSecret(cfg.DataDir); err != nil {
			return nil, err
		}
	}
	// Fail fast on an unreachable server rather than wait for the OS to give up.
	openCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	db, err := database.OpenWith(openCtx, cfg.DatabaseURL, database.DBOptions{
		MaxOpenConns:     cfg.DBMaxOpenConns,
		StatementTimeout: cfg.DBStatementTimeout,
		ConnectTimeout:   cfg.DBTimeout,
		Timeout:          cfg.DBTimeout,
	})
	if err != nil {
		return nil, err
	}
	a := &app{
		cfg:              cfg,
		db:               db,
		store:            models.NewStore(db),
		cursors:          models.NewCursors(secret),
		cursorSecretFile: secretFile,
		metrics:          prometheus.NewRegistry(),
		logger:           slog.New(httpserver.RequestLogs{Handler: logger.Handler()}),
	}
	a.store.CacheSessions(cfg.SessionCacheTTL)
	if cfg.LiveUpdates {
		// PostgreSQL tells every instance of each write; SQLite has one process to tell.
		if db.Dialector.Name() == "postgres" {
			if a.notifier, err = live.NewNotifier(cfg.DatabaseURL, a.logger); err != nil {
				a.close()
				return nil, err
			}
			a.live = live.NewListenedHub()
			a.store.Announce(models.Announcing{Outbox: true, Recorded: a.notifier.Wake})
		} else {
			a.live = live.NewHub()
			a.store.Announce(models.Announcing{Local: a.live.Publish})
		}
	}
	if a.probe, err = database.OpenProbe(cfg.DatabaseURL, readyTimeout, readyMaxAge); err != nil {
		a.close()
		return nil, err
	}
	if err := a.instrument(ctx, db); err != nil {
		a.close()
		return nil, err
	}
	// A failed statement of the pool means a cached "ready" may be out of date.
	if a.outages, err = database.ReportOutages(db, a.logger, database.DefaultOutageInterval, a.probe.Invalidate); err != nil {
		a.close()
		return nil, err
	}
	return a, nil
}

// instrument registers the metrics (the runtime, the build, the pool, every statement) and,
// when the OTEL_* environment asks for it (or a test gave a provider), traces.
func (a *app) instrument(ctx context.Context, db *gorm.DB) error {
	tracer := a.cfg.tracerProvider
	if tracer == nil && a.cfg.Tracing {
		provider, err := httpserver.NewTracerProvider(ctx, os.Getenv, version())
		if err != nil {
			return err
		}
		a.shutdownTracing, tracer = provider.Shutdown, provider
	}
	a.tracer = tracer
	sqlDB, err := db.DB()
	if err != nil {
		return err
	}
	statements := prometheus.NewCounter(prometheus.CounterOpts{
		Name: "bff_db_queries_total",
		Help: "SQL statements executed against the database.",
	})
	durations := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "bff_db_statement_duration_seconds", Help: "How long SQL statements took, by command (SELECT, INSERT, …); failed ones too.",
		Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
	}, []string{"operation"})
	build := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "bff_build_info", Help: "Always 1: the build serving, in its labels.", ConstLabels: prometheus.Labels{"version": version()},
	})
	build.Set(1)
	a.metrics.MustRegister(statements, durations, build,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		collectors.NewBuildInfoCollector(), collectors.NewDBStatsCollector(sqlDB, "vendor_inbox"))
	telemetry := database.Telemetry{Observe: func(operation string, d time.Duration, _ bool) {
		statements.Inc()
		durations.WithLabelValues(operation).Observe(d.Seconds())
	}}
	if tracer != nil {
		telemetry.Tracer = tracer.Tracer("github.com/partizap/vendor-inbox/models/database")
	}
	return database.Instrument(db, telemetry)
}

func (a *app) close() {
	if a.shutdownTracing != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = a.shutdownTracing(ctx) // flushes the last spans
		cancel()
	}
	if a.outages != nil {
		a.outages.Close()
	}
	if a.probe != nil {
		_ = a.probe.Close()
	}
	if sqlDB, err := a.db.DB(); err == nil {
		_ = sqlDB.Close()
	}
}

// server is the HTTP layer with every route of the service mounted.
func (a *app) server() *httpserver.Server {
	srv := httpserver.New(httpserver.Options{
		Store: a.store, Cursors: a.cursors, Probe: a.probe, Metrics: a.metrics, Logger: a.logger,
		GraphQL: resolvers.Limits{
			MaxTokens:     a.cfg.MaxTokens,
			MaxSelections: a.cfg.MaxSelections,
			MaxDepth:      a.cfg.MaxDepth,
			MaxAliases:    a.cfg.MaxAliases,
			MaxComplexity: a.cfg.MaxComplexity,
			MaxErrors:     a.cfg.MaxErrors,
			Introspection: a.cfg.Introspection,
		},
		GraphQLCacheBytes: int64(a.cfg.CacheBytes),
		MaxBodyBytes:      a.cfg.MaxBodyBytes,
		SendRateLimit:     a.cfg.SendRateLimit,
		Live:              a.live,
		Notifier:          a.notifier,
		WebSocket: httpserver.WebSocketOptions{
			InitTimeout:           a.cfg.WSInitTimeout,
			PingInterval:          a.cfg.WSPingInterval,
			SessionCheckInterval:  a.cfg.WSSessionCheckInterval,
			MaxSubscriptions:      a.cfg.WSMaxSubscriptions,
			MaxConnectionsPerUser: a.cfg.WSMaxConnectionsPerUser,
		},
		CORSAllowedOrigins: a.cfg.CORSAllowedOrigins,
		CORSAllowedHeaders: a.cfg.CORSAllowedHeaders,
		Tracer:             a.tracer,
		RequestTimeout:     a.cfg.RequestTimeout,
		ShutdownGrace:      a.cfg.ShutdownGrace,
		MetricsElsewhere:   a.cfg.MetricsAddr != "",

		MaxConcurrentRequests: a.cfg.MaxConcurrentRequests,
	})
	srv.Handle("/graphql", httpserver.Compress(srv.GraphQL()))
	srv.Handle("/vendor/conversations", httpserver.Compress(httpserver.NoStore(srv.Methods(rest.Methods, srv.Admit(srv.WithViewer(&rest.Handler{Cursors: a.cursors, Errors: srv.WriteError}))))))
	srv.Handle("GET /openapi.json", httpserver.Compress(rest.OpenAPIHandler()))
	demoLogin := ""
	if a.cfg.DemoLogin {
		demoLogin = playground.DemoLoginPath
		srv.Handle("GET "+playground.DemoLoginPath, playground.DemoLogin(a.store, demoSessionTTL, srv.Logger()))
	} else {
		srv.Handle("GET "+playground.DemoLoginPath, playground.DemoLoginOff())
	}
	endpoints := []httpserver.Endpoint{
		{Path: "/graphql", What: "GraphQL: POST, GET for queries, WebSocket (graphql-transport-ws) for subscriptions"},
		{Path: "/vendor/conversations", What: "the REST inbox, described by /openapi.json"},
		{Path: "/openapi.json", What: "the REST endpoint's OpenAPI document"},
		{Path: playground.Path, What: "the GraphQL playground (a browser asking for / is sent there)"},
		{Path: "/healthz", What: "liveness"},
		{Path: "/readyz", What: "readiness: 503 while the database does not answer"},
	}
	if demoLogin != "" {
		endpoints = append(endpoints, httpserver.Endpoint{Path: demoLogin, What: "demo mode: sign in as any user (?user=ID) and open the playground"})
	}
	if a.cfg.MetricsAddr == "" {
		endpoints = append(endpoints, httpserver.Endpoint{Path: "/metrics", What: "Prometheus metrics"})
	}
	srv.Handle("GET /{$}", httpserver.Index(playground.Path, endpoints))
	page := playground.Handler(playground.Options{Endpoint: "/graphql", Introspection: a.cfg.Introspection, DemoLogin: demoLogin})
	srv.Handle("GET "+playground.Path, page)
	srv.Handle("GET "+playground.AssetsPath, page)
	return srv
}

// handler is every route behind the middleware every request passes.
func (a *app) handler() http.Handler { return a.server().Handler() }

// serve serves the service on listener, and /metrics and /debug/pprof/ on metricsListener
// unless it is nil, until ctx ends, then shuts both down gracefully.
func (a *app) serve(ctx context.Context, listener, metricsListener net.Listener) error {
	srv := a.server()
	defer a.startListening()() // stopped after the server, whose sockets it feeds
	return srv.Serve(ctx, listener, metricsListener)
}

// startListening feeds the live updates' hub from PostgreSQL and runs the notifier that
// announces this instance's writes (and any others' left unannounced), until the returned stop
// is called; what the last writes recorded after the notifier's last sweep, another instance's
// sweep announces (or this one's next start). Elsewhere it does nothing: the store feeds the
// hub itself.
func (a *app) startListening() (stop func()) {
	if a.notifier == nil {
		return func() {}
	}
	ctx, cancel := context.WithCancel(context.Background())
	listened, notified := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(listened)
		if err := live.Listen(ctx, a.cfg.DatabaseURL, a.live, a.logger); err != nil {
			a.logger.Error("live updates stopped", "err", err)
		}
	}()
	go func() {
		defer close(notified)
		a.notifier.Run(ctx)
	}()
	return func() { cancel(); <-listened; <-notified }
}
