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
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/99designs/gqlgen/graphql/playground"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/vektah/gqlparser/v2/ast"
	"gorm.io/gorm"

	"github.com/partizap/vendor-inbox/graph"
	"github.com/partizap/vendor-inbox/models"
	"github.com/partizap/vendor-inbox/models/loaders"
	"github.com/partizap/vendor-inbox/models/seed"
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

// config is the service's configuration, read from the environment.
type config struct {
	Addr         string // ADDR
	DatabaseURL  string // DATABASE_URL; empty means the embedded SQLite file in DataDir
	DataDir      string // DATA_DIR
	CursorSecret string // CURSOR_SECRET
	AutoMigrate  bool   // AUTO_MIGRATE
	Demo         bool   // DEMO: seed an empty database and print a vendor's session at start
}

// devCursorSecret signs cursors when CURSOR_SECRET is unset. Cursors only ever position a
// viewer within their own data, so a known key lets a client forge a position, not read more.
const devCursorSecret = "partizap-development-cursor-secret"

func loadConfig(getenv func(string) string) (config, error) {
	cfg := config{
		Addr:         getenv("ADDR"),
		DatabaseURL:  getenv("DATABASE_URL"),
		DataDir:      getenv("DATA_DIR"),
		CursorSecret: getenv("CURSOR_SECRET"),
	}
	if cfg.Addr == "" {
		cfg.Addr = ":8080"
	}
	if cfg.DataDir == "" {
		cfg.DataDir = "data"
	}
	if cfg.CursorSecret == "" {
		cfg.CursorSecret = devCursorSecret
	}
	embedded := cfg.DatabaseURL == ""
	if embedded {
		cfg.DatabaseURL = "sqlite:" + filepath.Join(cfg.DataDir, "partizap.db")
	}
	for _, b := range []struct {
		name string
		dst  *bool
		def  bool
	}{
		{"AUTO_MIGRATE", &cfg.AutoMigrate, true},
		{"DEMO", &cfg.Demo, embedded},
	} {
		*b.dst = b.def
		if v := getenv(b.name); v != "" {
			parsed, err := strconv.ParseBool(v)
			if err != nil {
				return config{}, fmt.Errorf("%s must be true or false, not %q", b.name, v)
			}
			*b.dst = parsed
		}
	}
	return cfg, nil
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
	if err := a.greet(ctx, cfg, listener.Addr(), os.Stderr); err != nil {
		listener.Close()
		return err
	}
	return a.serve(ctx, listener)
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
	fmt.Fprintf(w, "  playground: %s/playground\n", base)
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
	fmt.Fprintf(w, "  browser:    in the playground's console, document.cookie = '%s=%s; path=/'\n", models.SessionCookie, session)
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
	store   *models.Store
	cursors *models.Cursors
	metrics *prometheus.Registry
	logger  *slog.Logger
}

func openApp(ctx context.Context, cfg config, logger *slog.Logger) (*app, error) {
	// Fail fast on an unreachable server rather than wait for the OS to give up.
	openCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	db, err := models.Open(openCtx, cfg.DatabaseURL)
	if err != nil {
		return nil, err
	}
	a := &app{
		db:      db,
		store:   models.NewStore(db),
		cursors: models.NewCursors([]byte(cfg.CursorSecret)),
		metrics: prometheus.NewRegistry(),
		logger:  logger,
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
	return a, nil
}

func (a *app) close() {
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
	fs.IntVar(&opts.Messages, "messages", 8, "messages per conversation")
	fs.Int64Var(&opts.Seed, "seed", 1, "random seed; the same seed gives the same data")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := a.migrate(ctx); err != nil {
		return err
	}
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

func (a *app) serve(ctx context.Context, listener net.Listener) error {
	srv := &http.Server{
		Handler:           a.handler(),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(listener) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	a.logger.Info("shutting down: finishing in-flight requests")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	return srv.Shutdown(shutdownCtx)
}

// handler routes every endpoint of the service.
func (a *app) handler() http.Handler {
	gql := handler.New(graph.NewExecutableSchema(resolvers.NewConfig(a.store, a.cursors)))
	gql.AddTransport(transport.GET{})
	gql.AddTransport(transport.POST{})
	gql.SetQueryCache(lru.New[*ast.QueryDocument](1000))
	gql.Use(extension.Introspection{})
	gql.SetErrorPresenter(resolvers.ErrorPresenter(a.logger))
	gql.SetRecoverFunc(resolvers.Recover(a.logger))

	withViewer := func(h http.Handler) http.Handler {
		return authenticate(a.store, a.logger, loaders.Middleware(a.store)(h))
	}

	mux := http.NewServeMux()
	mux.Handle("GET /graphql", withViewer(gql))
	mux.Handle("POST /graphql", withViewer(gql))
	mux.Handle("/vendor/conversations", withViewer(&rest.Handler{Cursors: a.cursors, Logger: a.logger}))
	mux.HandleFunc("GET /openapi.json", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		_, _ = w.Write(rest.OpenAPI)
	})
	mux.Handle("GET /playground", playground.Handler("Partizap vendor inbox", "/graphql"))
	mux.Handle("GET /metrics", promhttp.HandlerFor(a.metrics, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = io.WriteString(w, "ok\n")
	})
	return mux
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
			if models.ErrorCode(err) == models.EUNAUTHENTICATED {
				user, err = nil, nil
			} else if err != nil {
				logger.ErrorContext(r.Context(), "resolve session", "err", err)
			}
		}
		next.ServeHTTP(w, r.WithContext(models.WithViewer(r.Context(), user, err)))
	})
}
