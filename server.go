// Command server is the Partizap vendor-inbox backend-for-frontend: GraphQL for the web app,
// the documented REST endpoint for legacy clients, and a GraphQL playground, over one data path.
//
// Usage:
//
//	server [serve]                       start the HTTP server (the default)
//	server migrate                       apply pending database migrations
//	server seed [flags]                  fill an empty database with demo data
//	server session --user ID [--ttl D]   sign a user in; print the cookie value
//
// Configuration is read from the environment; see README.md.
package main

//go:generate go tool gqlgen generate

import (
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"gorm.io/gorm"

	"github.com/partizap/vendor-inbox/graph"
	"github.com/partizap/vendor-inbox/models"
	"github.com/partizap/vendor-inbox/models/loaders"
	"github.com/partizap/vendor-inbox/models/seed"
	"github.com/partizap/vendor-inbox/playground"
	"github.com/partizap/vendor-inbox/resolvers"
	"github.com/partizap/vendor-inbox/rest"
)

func main() {
	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, logger); err != nil {
		fmt.Fprintln(os.Stderr, "partizap:", err)
		stop()
		os.Exit(1)
	}
}

// config is the service's configuration, read from the environment; README.md lists it.
type config struct {
	Addr         string // ADDR
	MetricsAddr  string // METRICS_ADDR: serve /metrics there, on its own server, instead of on Addr
	DatabaseURL  string // DATABASE_URL; empty means the embedded SQLite file in DataDir
	DataDir      string // DATA_DIR
	CursorSecret string // CURSOR_SECRET
	AutoMigrate  bool   // AUTO_MIGRATE
	Demo         bool   // DEMO: seed an empty database and print a vendor's session at start
	DemoLogin    bool   // DEMO_LOGIN: serve GET /demo/login, which signs anyone in as any user

	Introspection bool // GRAPHQL_INTROSPECTION
	MaxTokens     int  // GRAPHQL_MAX_TOKENS
	MaxSelections int  // GRAPHQL_MAX_SELECTIONS
	MaxDepth      int  // GRAPHQL_MAX_DEPTH
	MaxComplexity int  // GRAPHQL_MAX_COMPLEXITY
	MaxAliases    int  // GRAPHQL_MAX_ALIASES
	MaxErrors     int  // GRAPHQL_MAX_ERRORS
	CacheBytes    int  // GRAPHQL_CACHE_BYTES: each of the parsed-document and persisted-query caches
	MaxBodyBytes  int  // MAX_BODY_BYTES

	CORSAllowedOrigins []string // CORS_ALLOWED_ORIGINS, comma-separated

	RequestTimeout     time.Duration // REQUEST_TIMEOUT
	ShutdownGrace      time.Duration // SHUTDOWN_GRACE
	DBMaxOpenConns     int           // DB_MAX_OPEN_CONNS
	DBTimeout          time.Duration // DB_TIMEOUT
	DBStatementTimeout time.Duration // DB_STATEMENT_TIMEOUT
}

// minCursorSecret is the shortest CURSOR_SECRET accepted: RFC 2104 asks for an HMAC key at
// least as long as the hash's output, 32 bytes for SHA-256.
const minCursorSecret = 32

// The database's two bounds on a statement. DB_TIMEOUT is the service's own: past it a
// statement (or a new connection) fails with EUNAVAILABLE whatever the server does, which is
// what ends a request when the server hangs. DB_STATEMENT_TIMEOUT is PostgreSQL's
// statement_timeout, kept below DB_TIMEOUT so that PostgreSQL normally cancels a slow statement
// first: its error is clean and the connection stays usable, whereas a client-side cancellation
// costs the connection. Setting one derives the other by the same ratio; setting both requires
// the order.
const defaultDBTimeout = 2 * time.Second

func statementTimeoutFor(dbTimeout time.Duration) time.Duration { return dbTimeout * 3 / 4 }

// dbTimeoutFor is the inverse of statementTimeoutFor, rounded up to a millisecond, so that it is
// always above statementTimeout.
func dbTimeoutFor(statementTimeout time.Duration) time.Duration {
	return (statementTimeout*4/3 + time.Millisecond - 1).Truncate(time.Millisecond)
}

// loadConfig reads and checks the configuration. Every command reads the same one, so an
// environment that can start the service can also migrate, seed and sign in.
func loadConfig(getenv func(string) string) (config, error) {
	cfg := config{
		Addr:         cmp.Or(getenv("ADDR"), ":8080"),
		MetricsAddr:  getenv("METRICS_ADDR"),
		DatabaseURL:  getenv("DATABASE_URL"),
		DataDir:      cmp.Or(getenv("DATA_DIR"), "data"),
		CursorSecret: getenv("CURSOR_SECRET"),
	}
	embedded := cfg.DatabaseURL == ""
	if embedded {
		cfg.DatabaseURL = "sqlite:" + filepath.Join(cfg.DataDir, "partizap.db")
	}
	if origins := getenv("CORS_ALLOWED_ORIGINS"); origins != "" {
		for _, o := range strings.Split(origins, ",") {
			o = strings.TrimSuffix(strings.TrimSpace(o), "/")
			if u, err := url.Parse(o); err != nil || o == "*" || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Path != "" {
				return config{}, fmt.Errorf("CORS_ALLOWED_ORIGINS: %q is not an origin like https://app.example.com (a wildcard cannot carry credentials)", o)
			}
			cfg.CORSAllowedOrigins = append(cfg.CORSAllowedOrigins, o)
		}
	}
	var errs []error
	parse := func(name string, dst any, def any) {
		v := getenv(name)
		switch dst := dst.(type) {
		case *bool:
			*dst = def.(bool)
			if v != "" {
				b, err := strconv.ParseBool(v)
				if err != nil {
					errs = append(errs, fmt.Errorf("%s must be true or false, not %q", name, v))
				}
				*dst = b
			}
		case *int:
			*dst = def.(int)
			if v != "" {
				n, err := strconv.Atoi(v)
				if err != nil || n <= 0 {
					errs = append(errs, fmt.Errorf("%s must be a positive integer, not %q", name, v))
				}
				*dst = n
			}
		case *time.Duration:
			*dst = def.(time.Duration)
			if v != "" {
				d, err := time.ParseDuration(v)
				if err != nil || d <= 0 {
					errs = append(errs, fmt.Errorf("%s must be a positive duration such as 5s, not %q", name, v))
				}
				*dst = d
			}
		}
	}
	parse("AUTO_MIGRATE", &cfg.AutoMigrate, true)
	parse("DEMO", &cfg.Demo, embedded)
	parse("DEMO_LOGIN", &cfg.DemoLogin, cfg.Demo)
	parse("GRAPHQL_INTROSPECTION", &cfg.Introspection, true)
	parse("GRAPHQL_MAX_TOKENS", &cfg.MaxTokens, 2000)
	parse("GRAPHQL_MAX_SELECTIONS", &cfg.MaxSelections, 500)
	parse("GRAPHQL_MAX_DEPTH", &cfg.MaxDepth, 12)
	parse("GRAPHQL_MAX_COMPLEXITY", &cfg.MaxComplexity, 20000)
	parse("GRAPHQL_MAX_ALIASES", &cfg.MaxAliases, 30)
	parse("GRAPHQL_MAX_ERRORS", &cfg.MaxErrors, 100)
	parse("GRAPHQL_CACHE_BYTES", &cfg.CacheBytes, 32<<20)
	parse("MAX_BODY_BYTES", &cfg.MaxBodyBytes, 64<<10)
	parse("REQUEST_TIMEOUT", &cfg.RequestTimeout, 10*time.Second)
	parse("SHUTDOWN_GRACE", &cfg.ShutdownGrace, 15*time.Second)
	parse("DB_MAX_OPEN_CONNS", &cfg.DBMaxOpenConns, 20)
	parse("DB_TIMEOUT", &cfg.DBTimeout, defaultDBTimeout)
	parse("DB_STATEMENT_TIMEOUT", &cfg.DBStatementTimeout, statementTimeoutFor(cfg.DBTimeout))
	if len(errs) > 0 {
		return config{}, errs[0]
	}
	switch timeoutSet, statementSet := getenv("DB_TIMEOUT") != "", getenv("DB_STATEMENT_TIMEOUT") != ""; {
	case statementSet && !timeoutSet:
		cfg.DBTimeout = dbTimeoutFor(cfg.DBStatementTimeout)
	case statementSet && cfg.DBStatementTimeout >= cfg.DBTimeout:
		return config{}, fmt.Errorf("DB_STATEMENT_TIMEOUT (%s) must be below DB_TIMEOUT (%s), so that PostgreSQL cancels a slow statement before the service gives up on it",
			cfg.DBStatementTimeout, cfg.DBTimeout)
	}
	// A forgotten key must stop the start, not fall back to one anyone can read: with it, a
	// client could forge cursors. Demo mode alone may go without; openApp then uses a random
	// key kept in DataDir (demoCursorSecret).
	switch n := len(cfg.CursorSecret); {
	case n == 0 && !cfg.Demo:
		return config{}, fmt.Errorf("CURSOR_SECRET is required outside demo mode: set it to at least %d random bytes, the same on every instance (e.g. openssl rand -hex 32)", minCursorSecret)
	case n > 0 && n < minCursorSecret:
		return config{}, fmt.Errorf("CURSOR_SECRET is %d bytes long; it must be at least %d (e.g. openssl rand -hex 32)", n, minCursorSecret)
	}
	return cfg, nil
}

// demoCursorSecretFile, in DATA_DIR, holds the key signing cursors in demo mode when
// CURSOR_SECRET is unset.
const demoCursorSecretFile = "cursor-secret"

// demoCursorSecret returns the demo's cursor key, made at random on the first start. It is kept
// in dataDir, beside the embedded database, rather than made anew by each process, so that the
// cursors a client holds survive a restart of the demo; it costs one small file, and deleting
// the data directory resets both the data and the key.
func demoCursorSecret(dataDir string) (secret []byte, path string, err error) {
	path = filepath.Join(dataDir, demoCursorSecretFile)
	if b, err := os.ReadFile(path); err == nil {
		if key := bytes.TrimSpace(b); len(key) >= minCursorSecret {
			return key, path, nil
		}
		return nil, path, fmt.Errorf("%s holds no key of at least %d bytes: delete it, and the next start makes a new one", path, minCursorSecret)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, path, fmt.Errorf("read the demo cursor key: %w", err)
	}
	if err := os.MkdirAll(dataDir, 0o755); err != nil {
		return nil, path, fmt.Errorf("create DATA_DIR: %w", err)
	}
	raw := make([]byte, minCursorSecret)
	_, _ = rand.Read(raw)
	key := []byte(hex.EncodeToString(raw))
	// Written aside (CreateTemp makes it 0600) and linked into place: two demos starting at
	// once end up with one key, and none reads a half-written file.
	tmp, err := os.CreateTemp(dataDir, demoCursorSecretFile+".*")
	if err != nil {
		return nil, path, fmt.Errorf("write the demo cursor key: %w", err)
	}
	defer os.Remove(tmp.Name())
	_, err = tmp.Write(append(key, '\n'))
	if closeErr := tmp.Close(); err == nil {
		err = closeErr
	}
	if err == nil {
		err = os.Link(tmp.Name(), path)
	}
	switch {
	case errors.Is(err, fs.ErrExist): // another start was first: use its key
		return demoCursorSecret(dataDir)
	case err != nil:
		return nil, path, fmt.Errorf("write the demo cursor key: %w", err)
	}
	return key, path, nil
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer, logger *slog.Logger) error {
	command := "serve"
	if len(args) > 0 {
		command, args = args[0], args[1:]
	}
	switch command {
	case "serve", "migrate", "seed", "session":
	case "help", "-h", "-help", "--help":
		fmt.Fprintln(stdout, "usage: server [serve | migrate | seed [flags] | session --user ID [--ttl D]]")
		return nil
	default:
		return fmt.Errorf("unknown command %q; commands: serve, migrate, seed, session", command)
	}
	cfg, err := loadConfig(getenv)
	if err != nil {
		return err
	}
	a, err := openApp(ctx, cfg, logger)
	if err != nil {
		return err
	}
	defer a.close()
	switch command {
	case "migrate":
		return a.migrate(ctx)
	case "seed":
		return a.seed(ctx, args, stdout)
	case "session":
		return a.session(ctx, args, stdout)
	}
	if cfg.AutoMigrate {
		if err := a.migrate(ctx); err != nil {
			return err
		}
	}
	listener, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return err
	}
	var metricsListener net.Listener
	if cfg.MetricsAddr != "" {
		if metricsListener, err = net.Listen("tcp", cfg.MetricsAddr); err != nil {
			listener.Close()
			return fmt.Errorf("METRICS_ADDR: %w", err)
		}
		a.logger.Info("serving /metrics on its own address only", "addr", metricsListener.Addr().String())
	}
	if err := a.greet(ctx, cfg, listener.Addr(), os.Stderr); err != nil {
		listener.Close()
		if metricsListener != nil {
			metricsListener.Close()
		}
		return err
	}
	return a.serve(ctx, listener, metricsListener)
}

// demoSeed is the demo data of a first start: small enough to load in a blink, large enough
// to page through.
var demoSeed = seed.Options{Vendors: 5, Conversations: 30, Messages: 8, Seed: 1}

// greet says in a few lines where the service listens, on which database, and, in demo mode,
// how to sign in (seeding an empty database first).
func (a *app) greet(ctx context.Context, cfg config, addr net.Addr, w io.Writer) error {
	base := "http://" + displayAddr(addr)
	fmt.Fprintf(w, "Partizap vendor inbox listening on %s\n", base)
	fmt.Fprintf(w, "  database:   %s\n", describeDatabase(cfg.DatabaseURL))
	fmt.Fprintf(w, "  playground: %s%s\n", base, playground.Path)
	if cfg.DemoLogin {
		fmt.Fprintf(w, "  sign in:    %s%s  (opens the playground as the demo vendor; ?user=ID for another user)\n", base, playground.DemoLoginPath)
	}
	if a.cursorSecretFile != "" {
		fmt.Fprintf(w, "  cursors:    signed with the demo key in %s (outside demo mode, set CURSOR_SECRET)\n", a.cursorSecretFile)
	}
	if !cfg.Demo {
		return nil
	}
	if _, err := seed.Seed(ctx, a.db, demoSeed); err == nil {
		fmt.Fprintf(w, "  demo data:  seeded %d vendors with %d conversations each\n", demoSeed.Vendors, demoSeed.Conversations)
	} else if !errors.Is(err, seed.ErrNotEmpty) {
		return fmt.Errorf("seed demo data: %w", err)
	}
	vendor, n, err := a.store.BusiestVendor(ctx)
	if err != nil || vendor == nil {
		return err
	}
	session, err := a.store.CreateSession(ctx, vendor.ID, demoSessionTTL)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "  session:    %s=%s  (vendor %d «%s», %d conversations; valid %s)\n",
		models.SessionCookie, session, vendor.ID, vendor.DisplayName, n, demoSessionTTL)
	fmt.Fprintf(w, "  try:        curl -s '%s/vendor/conversations?limit=2' --cookie '%s=%s'\n", base, models.SessionCookie, session)
	return nil
}

const demoSessionTTL = 30 * 24 * time.Hour

// displayAddr turns a listening address into one a browser can open.
func displayAddr(addr net.Addr) string {
	host, port, err := net.SplitHostPort(addr.String())
	if err != nil {
		return addr.String()
	}
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() || ip.IsLoopback() {
		host = "localhost"
	}
	return net.JoinHostPort(host, port)
}

func describeDatabase(databaseURL string) string {
	if path, ok := strings.CutPrefix(databaseURL, "sqlite:"); ok {
		return "SQLite " + path + " (embedded; set DATABASE_URL=postgres://… for PostgreSQL)"
	}
	return "PostgreSQL " + models.RedactURL(databaseURL)
}

// app holds what every command shares: the database, the queries and the metrics.
type app struct {
	db      *gorm.DB
	probe   *models.Probe   // readiness: the database over a connection of its own
	outages *models.Outages // logs failed-unavailable statements once per interval
	store   *models.Store
	cursors *models.Cursors
	metrics *prometheus.Registry
	logger  *slog.Logger
	cfg     config

	cursorSecretFile string // where demo mode's generated key is, to say so at start; else empty
}

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
	db, err := models.OpenWith(openCtx, cfg.DatabaseURL, models.DBOptions{
		MaxOpenConns:     cfg.DBMaxOpenConns,
		StatementTimeout: cfg.DBStatementTimeout,
		ConnectTimeout:   cfg.DBTimeout,
		Timeout:          cfg.DBTimeout,
	})
	if err != nil {
		return nil, err
	}
	probe, err := models.OpenProbe(cfg.DatabaseURL, readyTimeout, readyMaxAge)
	if err != nil {
		if sqlDB, err := db.DB(); err == nil {
			_ = sqlDB.Close()
		}
		return nil, err
	}
	a := &app{
		cfg:              cfg,
		db:               db,
		probe:            probe,
		store:            models.NewStore(db),
		cursors:          models.NewCursors(secret),
		cursorSecretFile: secretFile,
		metrics:          prometheus.NewRegistry(),
		logger:           slog.New(requestIDLogs{logger.Handler()}),
	}
	queries := prometheus.NewCounter(prometheus.CounterOpts{
		Name: "bff_db_queries_total",
		Help: "SQL statements executed against the database.",
	})
	a.metrics.MustRegister(queries, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if err := models.CountStatements(db, queries.Inc); err != nil {
		a.close()
		return nil, err
	}
	// A failed statement of the pool means a cached "ready" may be out of date.
	if a.outages, err = models.ReportOutages(db, a.logger, models.DefaultOutageInterval, probe.Invalidate); err != nil {
		a.close()
		return nil, err
	}
	return a, nil
}

func (a *app) close() {
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

func (a *app) migrate(ctx context.Context) error {
	applied, err := models.Migrate(ctx, a.db)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	a.logger.Info("database migrated", "applied", applied)
	return nil
}

func (a *app) seed(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("seed", flag.ContinueOnError)
	var opts seed.Options
	fs.IntVar(&opts.Vendors, "vendors", 5, "number of vendors")
	fs.IntVar(&opts.Conversations, "conversations", 30, "conversations per vendor")
	fs.IntVar(&opts.BusiestConversations, "busiest", 0, "conversations of vendor 1, the busiest, when more than --conversations (0: as many as the others)")
	fs.IntVar(&opts.Messages, "messages", 8, "messages per conversation")
	fs.Int64Var(&opts.Seed, "seed", 1, "random seed; the same seed gives the same data")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("seed: unexpected arguments %q", fs.Args())
	}
	if err := a.migrate(ctx); err != nil {
		return err
	}
	// Progress goes to stderr; stdout gets only the summary's one JSON line.
	opts.Progress = os.Stderr
	summary, err := seed.Seed(ctx, a.db, opts)
	if err != nil {
		return err
	}
	return json.NewEncoder(stdout).Encode(summary)
}

func (a *app) session(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("session", flag.ContinueOnError)
	userID := fs.Int64("user", 0, "id of the user to sign in (required)")
	ttl := fs.Duration("ttl", 24*time.Hour, "how long the session lasts")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *userID <= 0 {
		return errors.New("session: --user must be a user id")
	}
	id, err := a.store.CreateSession(ctx, *userID, *ttl)
	if err != nil {
		return fmt.Errorf("session: %s", models.ErrorMessage(err))
	}
	_, err = fmt.Fprintln(stdout, id)
	return err
}

// httpServer is the server of the service's endpoints.
func (a *app) httpServer() *http.Server { return a.newHTTPServer(a.handler()) }

// metricsServer is the server of /metrics alone, when METRICS_ADDR gives it an address of its
// own (one the internet need not reach).
func (a *app) metricsServer() *http.Server {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", a.metricsHandler())
	return a.newHTTPServer(securityHeaders(mux))
}

func (a *app) metricsHandler() http.Handler {
	return promhttp.HandlerFor(a.metrics, promhttp.HandlerOpts{})
}

// newHTTPServer bounds how long a client may take over each part of a request, so slow or idle
// clients cannot hold connections (and goroutines) forever.
func (a *app) newHTTPServer(h http.Handler) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(a.logger.Handler(), slog.LevelWarn),
	}
}

// serve serves the service on listener, and /metrics on metricsListener unless it is nil,
// until ctx ends; then both stop accepting and finish their in-flight requests within
// SHUTDOWN_GRACE. When either server fails, the other is shut down the same way.
func (a *app) serve(ctx context.Context, listener, metricsListener net.Listener) error {
	type served struct {
		srv      *http.Server
		listener net.Listener
	}
	servers := []served{{a.httpServer(), listener}}
	if metricsListener != nil {
		servers = append(servers, served{a.metricsServer(), metricsListener})
	}
	errc := make(chan error, len(servers))
	for _, s := range servers {
		go func() { errc <- s.srv.Serve(s.listener) }()
	}
	var failed error
	select {
	case failed = <-errc:
	case <-ctx.Done():
		a.logger.Info("shutting down: finishing in-flight requests", "grace", a.cfg.ShutdownGrace)
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), a.cfg.ShutdownGrace)
	defer cancel()
	errs := make([]error, len(servers))
	var wg sync.WaitGroup
	for i, s := range servers {
		wg.Go(func() {
			if err := s.srv.Shutdown(shutdownCtx); err != nil {
				a.logger.Warn("grace period over: closing the remaining connections", "err", err)
				errs[i] = s.srv.Close()
			}
		})
	}
	wg.Wait()
	if failed != nil {
		return failed
	}
	return errors.Join(errs...)
}

// handler routes every endpoint of the service, behind the middleware every request passes.
func (a *app) handler() http.Handler {
	gql := handler.New(graph.NewExecutableSchema(resolvers.NewConfig(a.store, a.cursors)))
	gql.AddTransport(transport.GET{}) // runs queries only: it refuses mutations, as CSRF demands
	gql.AddTransport(transport.POST{})
	if a.cfg.Introspection {
		gql.Use(extension.Introspection{})
	}
	docs := resolvers.NewDocuments(resolvers.Limits{
		MaxTokens:     a.cfg.MaxTokens,
		MaxSelections: a.cfg.MaxSelections,
		MaxDepth:      a.cfg.MaxDepth,
		MaxAliases:    a.cfg.MaxAliases,
		MaxComplexity: a.cfg.MaxComplexity,
		MaxErrors:     a.cfg.MaxErrors,
		Introspection: a.cfg.Introspection,
	}, int64(a.cfg.CacheBytes))
	docs.Install(gql)
	a.registerDocumentMetrics(docs)
	gql.SetErrorPresenter(resolvers.ErrorPresenter(a.logger))
	gql.SetRecoverFunc(resolvers.Recover)

	withViewer := func(h http.Handler) http.Handler {
		return authenticate(a.store, a.logger, loaders.Middleware(a.store)(h))
	}
	graphQL := graphQLRequests(a.cfg.MaxBodyBytes, a.logger, withViewer(gql))

	mux := http.NewServeMux()
	mux.Handle("GET /graphql", graphQL)
	mux.Handle("POST /graphql", graphQL)
	mux.Handle("/vendor/conversations", withViewer(&rest.Handler{Cursors: a.cursors, Logger: a.logger}))
	mux.HandleFunc("GET /openapi.json", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		_, _ = w.Write(rest.OpenAPI)
	})
	demoLogin := ""
	if a.cfg.DemoLogin {
		demoLogin = playground.DemoLoginPath
		mux.Handle("GET "+playground.DemoLoginPath, playground.DemoLogin(a.store, demoSessionTTL, a.logger))
	}
	page := playground.Handler(playground.Options{Endpoint: "/graphql", Introspection: a.cfg.Introspection, DemoLogin: demoLogin})
	mux.Handle("GET "+playground.Path, page)
	mux.Handle("GET "+playground.AssetsPath, page)
	if a.cfg.MetricsAddr == "" { // else metricsServer serves it, and only there
		mux.Handle("GET /metrics", a.metricsHandler())
	}
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = io.WriteString(w, "ok\n")
	})
	mux.HandleFunc("GET /readyz", a.ready)

	var h http.Handler = mux
	h = deadline(a.cfg.RequestTimeout, h)
	h = cors(a.cfg.CORSAllowedOrigins, h)
	h = noStore("/graphql", h)
	h = securityHeaders(h)
	h = recoverPanics(a.logger, h)
	h = requestID(h)
	return h
}

// registerDocumentMetrics shows what checking GraphQL documents costs and what the caches hold.
func (a *app) registerDocumentMetrics(docs *resolvers.Documents) {
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
		_ = a.metrics.Register(c)
	}
}

// Readiness asks the database at most once per readyMaxAge and gives it readyTimeout to answer.
const (
	readyTimeout = time.Second
	readyMaxAge  = time.Second
)

// ready answers 200 while the database answers, 503 otherwise; /healthz only says the process
// is alive, so an orchestrator restarts nothing when the database is away. It asks the database
// itself, over the probe's own connection: a busy pool is no reason to take the instance out of
// rotation (that would only move its load onto the others).
func (a *app) ready(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if err := a.probe.Check(r.Context()); err != nil {
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = io.WriteString(w, "not ready: the database is unavailable\n")
		return
	}
	_, _ = io.WriteString(w, "ready\n")
}

// requestIDLogs adds the request id, when the context has one, to every log record.
type requestIDLogs struct{ slog.Handler }

func (h requestIDLogs) Handle(ctx context.Context, r slog.Record) error {
	if id := models.RequestID(ctx); id != "" {
		r.AddAttrs(slog.String("request_id", id))
	}
	return h.Handler.Handle(ctx, r)
}

func (h requestIDLogs) WithAttrs(attrs []slog.Attr) slog.Handler {
	return requestIDLogs{h.Handler.WithAttrs(attrs)}
}

func (h requestIDLogs) WithGroup(name string) slog.Handler {
	return requestIDLogs{h.Handler.WithGroup(name)}
}

// requestID gives every request an id, returned as X-Request-ID and quoted by internal errors
// and logs. A well-formed id from a proxy in front is kept.
func requestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get("X-Request-ID")
		if !validRequestID(id) {
			b := make([]byte, 12)
			_, _ = rand.Read(b)
			id = hex.EncodeToString(b)
		}
		w.Header().Set("X-Request-ID", id)
		next.ServeHTTP(w, r.WithContext(models.WithRequestID(r.Context(), id)))
	})
}

func validRequestID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for _, c := range id {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// recoverPanics turns a panic in a handler into a generic 500 that quotes the request id; the
// panic and its stack are logged.
func recoverPanics(logger *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			p := recover()
			if p == nil || p == http.ErrAbortHandler {
				if p != nil {
					panic(p)
				}
				return
			}
			id := models.RequestID(r.Context())
			logger.ErrorContext(r.Context(), "handler panicked", "path", r.URL.Path, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			message := "internal error; quote request id " + id + " when reporting it"
			if strings.HasPrefix(r.URL.Path, "/graphql") {
				writeGraphQLError(w, http.StatusInternalServerError, message, map[string]any{"code": "INTERNAL_SERVER_ERROR", "requestId": id})
				return
			}
			writeJSONError(w, http.StatusInternalServerError, "internal_error", message)
		}()
		next.ServeHTTP(w, r)
	})
}

// securityHeaders are sent with every response: no MIME sniffing, no framing, no referrer, and
// a policy that lets an API response load nothing.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
		next.ServeHTTP(w, r)
	})
}

// noStore forbids caching every response to path, whoever writes it (the mux's 405, CORS, the
// body checks, a recovered panic): GraphQL answers depend on the session cookie, and a GET
// query's URL would otherwise let a shared cache hand one viewer's data to another.
func noStore(path string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == path {
			w.Header().Set("Cache-Control", "private, no-store")
		}
		next.ServeHTTP(w, r)
	})
}

// cors lets the listed origins, and only them, call the API with the browser's cookies.
// Preflights from them are answered here; from anyone else they are refused.
func cors(allowed []string, next http.Handler) http.Handler {
	allow := make(map[string]bool, len(allowed))
	for _, o := range allowed {
		allow[o] = true
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		origin := r.Header.Get("Origin")
		h := w.Header()
		h.Add("Vary", "Origin")
		preflight := r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != ""
		if origin == "" || !allow[origin] {
			if preflight {
				w.WriteHeader(http.StatusForbidden)
				return
			}
			next.ServeHTTP(w, r)
			return
		}
		h.Set("Access-Control-Allow-Origin", origin)
		h.Set("Access-Control-Allow-Credentials", "true")
		h.Set("Access-Control-Expose-Headers", "X-Request-ID")
		if !preflight {
			next.ServeHTTP(w, r)
			return
		}
		h.Add("Vary", "Access-Control-Request-Method")
		h.Add("Vary", "Access-Control-Request-Headers")
		h.Set("Access-Control-Allow-Methods", "GET, POST")
		h.Set("Access-Control-Allow-Headers", "Content-Type, Accept, X-Request-ID")
		h.Set("Access-Control-Max-Age", "600")
		w.WriteHeader(http.StatusNoContent)
	})
}

// deadline bounds every request; the context carries it down to the database, which cancels
// a statement still running when it passes.
func deadline(d time.Duration, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), d)
		defer cancel()
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// graphQLRequests admits only what a GraphQL client sends on purpose: a POST must carry a JSON
// body (a cross-site form or text/plain "simple request" is refused, so cookies cannot be
// ridden) of at most maxBody bytes, shaped as GraphQL over HTTP says, and must accept a JSON
// answer. Its refusals come before the session is looked up, so they cost no query. A request
// whose deadline passes before its answer is written gets 504 TIMEOUT instead.
func graphQLRequests(maxBody int, logger *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if accept := r.Header.Get("Accept"); accept != "" && !acceptsJSON(accept) {
			writeGraphQLError(w, http.StatusNotAcceptable, "this endpoint answers application/json or application/graphql-response+json",
				map[string]any{"code": "NOT_ACCEPTABLE"})
			return
		}
		if r.Method == http.MethodGet {
			if status, message, ext := checkGraphQLQueryString(r.URL.RawQuery); status != 0 {
				writeGraphQLError(w, status, message, ext)
				return
			}
		}
		if r.Method == http.MethodPost {
			if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
				writeGraphQLError(w, http.StatusUnsupportedMediaType, "send the operation as JSON with Content-Type: application/json",
					map[string]any{"code": "UNSUPPORTED_MEDIA_TYPE"})
				return
			}
			body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, int64(maxBody)))
			if err != nil {
				var tooLarge *http.MaxBytesError
				if errors.As(err, &tooLarge) {
					writeGraphQLError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("the request body is over the limit of %d bytes", maxBody),
						map[string]any{"code": "REQUEST_TOO_LARGE", "limit": maxBody})
					return
				}
				writeGraphQLError(w, http.StatusBadRequest, "the request body could not be read", map[string]any{"code": "BAD_REQUEST"})
				return
			}
			if status, message, ext := checkGraphQLBody(body); status != 0 {
				writeGraphQLError(w, status, message, ext)
				return
			}
			r.Body = io.NopCloser(bytes.NewReader(body))
		}
		guard := &deadlineGuard{ResponseWriter: w, ctx: r.Context()}
		next.ServeHTTP(guard, r)
		if errors.Is(r.Context().Err(), context.Canceled) {
			logger.InfoContext(r.Context(), "client went away before its answer", "path", r.URL.Path)
		}
	})
}

// checkGraphQLBody accepts a JSON object whose GraphQL members have their types; gqlgen's own
// decoding errors would echo the body and name Go types. Other members are ignored, as GraphQL
// over HTTP says. It returns a zero status when the body is fine.
func checkGraphQLBody(body []byte) (status int, message string, extensions map[string]any) {
	trimmed := bytes.TrimLeft(body, " \t\r\n")
	if len(trimmed) > 0 && trimmed[0] == '[' {
		return http.StatusBadRequest, "batches are not supported: send one operation per request",
			map[string]any{"code": "BATCH_NOT_SUPPORTED"}
	}
	var members map[string]json.RawMessage
	if err := json.Unmarshal(body, &members); err != nil || members == nil {
		return http.StatusBadRequest, `the request body must be a JSON object such as {"query": "{ viewer { id } }"}`,
			map[string]any{"code": "INVALID_JSON"}
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
		return http.StatusBadRequest, fmt.Sprintf("%q must be %s or null", m.name, m.phrase),
			map[string]any{"code": "BAD_REQUEST", "field": m.name}
	}
	return 0, "", nil
}

// checkGraphQLQueryString is checkGraphQLBody for GET: variables and extensions, when given,
// are JSON objects.
func checkGraphQLQueryString(rawQuery string) (status int, message string, extensions map[string]any) {
	values, err := url.ParseQuery(rawQuery)
	if err != nil {
		return http.StatusBadRequest, "the query string is not valid URL encoding", map[string]any{"code": "BAD_REQUEST"}
	}
	for _, name := range []string{"variables", "extensions"} {
		if !values.Has(name) {
			continue
		}
		var object map[string]json.RawMessage
		if err := json.Unmarshal([]byte(values.Get(name)), &object); err != nil {
			return http.StatusBadRequest, fmt.Sprintf("the %q parameter must be a JSON object", name),
				map[string]any{"code": "BAD_REQUEST", "field": name}
		}
	}
	return 0, "", nil
}

// deadlineGuard answers 504 TIMEOUT in place of whatever the handler writes once the request's
// deadline has passed: gqlgen writes `null` with 200 when the context ended before execution,
// and partial data when it ended during it.
type deadlineGuard struct {
	http.ResponseWriter
	ctx      context.Context
	decided  bool
	replaced bool
}

func (g *deadlineGuard) decide() bool {
	if !g.decided {
		g.decided = true
		if errors.Is(g.ctx.Err(), context.DeadlineExceeded) {
			g.replaced = true
			writeGraphQLError(g.ResponseWriter, http.StatusGatewayTimeout, models.ErrTimeout.Message, map[string]any{"code": resolvers.CodeTimeout})
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

func writeGraphQLError(w http.ResponseWriter, status int, message string, extensions map[string]any) {
	body, _ := json.Marshal(map[string]any{"errors": []map[string]any{{"message": message, "extensions": extensions}}})
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

func writeJSONError(w http.ResponseWriter, status int, code, message string) {
	body, _ := json.Marshal(map[string]any{"error": map[string]string{"code": code, "message": message}})
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// authenticate resolves the PARTIZAP_SESSION cookie into the request's viewer. A missing,
// unknown or expired session makes the request anonymous; a failed lookup is kept as the
// viewer's error so that data needing a viewer fails rather than pretends nobody signed in.
func authenticate(store *models.Store, logger *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var user *models.User
		var err error
		if c, cookieErr := r.Cookie(models.SessionCookie); cookieErr == nil {
			user, err = store.UserBySession(r.Context(), c.Value)
			switch models.ErrorCode(err) {
			case models.EUNAUTHENTICATED:
				user, err = nil, nil
			case models.EINTERNAL:
				// EUNAVAILABLE is not logged per request: models.ReportOutages sums it up; a lookup
				// cut short by the end of the request is no fault either.
				if r.Context().Err() != nil {
					break
				}
				logger.ErrorContext(r.Context(), "resolve session", "err", err)
			}
		}
		next.ServeHTTP(w, r.WithContext(models.WithViewer(r.Context(), user, err)))
	})
}
