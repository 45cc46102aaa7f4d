package main

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/partizap/vendor-inbox/httpserver"
)

// config is the service's configuration, read from the environment. settings lists every
// variable with its default and meaning; `vendor-inbox help` prints that list.
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
	SendRateLimit int  // SEND_RATE_LIMIT: messages a minute per sender

	CORSAllowedOrigins []string // CORS_ALLOWED_ORIGINS, comma-separated
	CORSAllowedHeaders []string // CORS_ALLOWED_HEADERS, comma-separated

	LogFormat string     // LOG_FORMAT: text or json
	LogLevel  slog.Level // LOG_LEVEL
	// Tracing: the OTEL_* environment asks for traces (httpserver.TracingRequested).
	Tracing bool
	// tracerProvider, when set (by tests), traces in place of the one Tracing would make.
	tracerProvider trace.TracerProvider

	SessionCacheTTL time.Duration // SESSION_CACHE_TTL

	LiveUpdates             bool          // LIVE_UPDATES
	WSInitTimeout           time.Duration // WS_INIT_TIMEOUT
	WSPingInterval          time.Duration // WS_PING_INTERVAL
	WSSessionCheckInterval  time.Duration // WS_SESSION_CHECK_INTERVAL
	WSMaxSubscriptions      int           // WS_MAX_SUBSCRIPTIONS
	WSMaxConnectionsPerUser int           // WS_MAX_CONNECTIONS_PER_USER

	RequestTimeout        time.Duration // REQUEST_TIMEOUT
	MaxConcurrentRequests int           // MAX_CONCURRENT_REQUESTS
	ShutdownGrace         time.Duration // SHUTDOWN_GRACE
	DBMaxOpenConns        int           // DB_MAX_OPEN_CONNS
	DBTimeout             time.Duration // DB_TIMEOUT
	DBStatementTimeout    time.Duration // DB_STATEMENT_TIMEOUT
}

// setting is one environment variable: its default, as `help` shows it, and what it does.
type setting struct{ name, def, meaning string }

// settings are every variable loadConfig reads, in the order `help` lists them. A default that
// parses is the one loadConfig uses; the others are computed and said in words.
var settings = []setting{
	{"ADDR", ":8080", "address the HTTP server listens on"},
	{"METRICS_ADDR", "", "serve /metrics only there, on a server of its own (empty: on ADDR)"},
	{"DATABASE_URL", "", "postgres://user:pass@host:port/db?sslmode=… or sqlite:path/to/file.db (empty: embedded SQLite in DATA_DIR)"},
	{"DATA_DIR", "data", "where the embedded database and the demo's cursor key live"},
	{"CURSOR_SECRET", "", "key signing pagination cursors, at least 32 bytes, the same on every instance; required outside demo mode"},
	{"AUTO_MIGRATE", "true", "apply pending migrations at start"},
	{"DEMO", "true with the embedded database", "seed an empty database with demo data and print a demo vendor's session"},
	{"DEMO_LOGIN", "the value of DEMO", "serve GET /demo/login, which signs anyone in as any user"},
	{"GRAPHQL_INTROSPECTION", "true", "serve the schema to introspection; false also drops \"Did you mean …\" suggestions"},
	{"GRAPHQL_MAX_TOKENS", "2000", "most lexical tokens in one document"},
	{"GRAPHQL_MAX_SELECTIONS", "500", "most selections of any operation or fragment, fragments expanded"},
	{"GRAPHQL_MAX_DEPTH", "12", "deepest selection nesting"},
	{"GRAPHQL_MAX_COMPLEXITY", "20000", "highest cost of an operation"},
	{"GRAPHQL_MAX_ALIASES", "30", "most aliased fields in one operation"},
	{"GRAPHQL_MAX_ERRORS", "100", "most errors in one response"},
	{"GRAPHQL_CACHE_BYTES", "33554432", "bytes each of the parsed-document and persisted-query caches may hold"},
	{"MAX_BODY_BYTES", "65536", "largest POST /graphql body"},
	{"SEND_RATE_LIMIT", "30", "messages a sender may send a minute, per instance"},
	{"CORS_ALLOWED_ORIGINS", "", "comma-separated origins allowed to call with cookies, and to open WebSockets"},
	{"CORS_ALLOWED_HEADERS", strings.Join(httpserver.BrowserClientHeaders, ","), "comma-separated request headers a cross-origin client may send (the preflight's Access-Control-Allow-Headers)"},
	{"LOG_FORMAT", "text", "text (logfmt) or json: one line per record, one access-log line per request"},
	{"LOG_LEVEL", "info", "debug, info, warn or error: the least severe records written"},
	{"OTEL_EXPORTER_OTLP_ENDPOINT", "", "export traces over OTLP/HTTP there (e.g. http://localhost:4318); the other standard OTEL_* variables apply; empty: no tracing, at no cost"},
	{"LIVE_UPDATES", "true", "serve subscriptions; on PostgreSQL every write records its change in the outbox table and each instance keeps one LISTEN and one notifier connection"},
	{"WS_INIT_TIMEOUT", "10s", "how long a new WebSocket may take to send connection_init"},
	{"WS_PING_INTERVAL", "25s", "how often the server pings each WebSocket; one silent for two intervals is closed"},
	{"SESSION_CACHE_TTL", "5s", "how long an instance trusts a session it looked up without looking again (0: look up every request); a session that ends keeps working that long, as on a WebSocket until its next check"},
	{"WS_SESSION_CHECK_INTERVAL", "30s", "how soon a session that ends (signed out, expired) closes its WebSockets"},
	{"WS_MAX_SUBSCRIPTIONS", "20", "subscriptions at once on one WebSocket"},
	{"WS_MAX_CONNECTIONS_PER_USER", "10", "WebSockets one user may hold open on one instance"},
	{"REQUEST_TIMEOUT", "10s", "deadline of every request"},
	{"MAX_CONCURRENT_REQUESTS", "4 per core (GOMAXPROCS)", "GraphQL (over HTTP) and REST requests run at once; the others wait their turn within REQUEST_TIMEOUT, so memory follows the cores, not the clients"},
	{"SHUTDOWN_GRACE", "15s", "how long in-flight requests may finish after SIGTERM"},
	{"GOGC", strconv.Itoa(defaultGCPercent), "Go's garbage collector, while serving: collect when the heap has grown by this percent since the last collection (the other commands keep Go's own default, 100)"},
	{"GOMEMLIMIT", strconv.Itoa(defaultMemoryLimit>>20) + "MiB", "Go's soft memory limit while serving (the other commands have none): nearing it, the collector runs sooner whatever GOGC says; set it to about 80% of the memory an instance may use, and raise it for many thousands of WebSockets"},
	{"DB_MAX_OPEN_CONNS", "20", "connection pool size"},
	{"DB_TIMEOUT", "2s", "the service's own bound on every statement and new connection"},
	{"DB_STATEMENT_TIMEOUT", "3/4 of DB_TIMEOUT", "PostgreSQL's statement_timeout, below DB_TIMEOUT"},
}

// The garbage collector's settings when GOGC and GOMEMLIMIT are unset. A GraphQL page allocates
// a few times its answer's size, mostly short-lived (a field context, a context and a marshaler
// per field), while what lives on is small: at Go's default GOGC of 100 the collector ran every
// few requests (BENCHMARKS.md measures what that cost). Letting the heap grow to
// five times what lives, but no further than the soft limit, makes collections rare at any
// load; admission (MAX_CONCURRENT_REQUESTS) bounds what lives at once, so the limit is
// reached under load, not exceeded (BENCHMARKS.md measures both).
const (
	defaultGCPercent   = 400
	defaultMemoryLimit = 64 << 20 // bytes
)

// applyGCDefaults sets the collector's serving defaults, unless the environment set GOGC or
// GOMEMLIMIT itself (the runtime has read those already). Only serve applies them (see
// command.serves).
func applyGCDefaults(getenv func(string) string) {
	if getenv("GOGC") == "" {
		debug.SetGCPercent(defaultGCPercent)
	}
	if getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(defaultMemoryLimit)
	}
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
func statementTimeoutFor(dbTimeout time.Duration) time.Duration { return dbTimeout * 3 / 4 }

// dbTimeoutFor is the inverse of statementTimeoutFor, rounded up to a millisecond, so that it is
// always above statementTimeout.
func dbTimeoutFor(statementTimeout time.Duration) time.Duration {
	return (statementTimeout*4/3 + time.Millisecond - 1).Truncate(time.Millisecond)
}

// environment reads typed settings, collecting every bad one rather than stopping at the first.
type environment struct {
	getenv func(string) string
	errs   []error
}

// lookup is the variable's value, or its default in settings when unset.
func (e *environment) lookup(name string) (value string, set bool) {
	if v := e.getenv(name); v != "" {
		return v, true
	}
	for _, s := range settings {
		if s.name == name {
			return s.def, false
		}
	}
	panic("config: " + name + " is not in settings")
}

func (e *environment) string(name string) string {
	v, _ := e.lookup(name)
	return v
}

// bool is the variable as a boolean; def is used for defaults settings says in words.
func (e *environment) bool(name string, def bool) bool {
	v, set := e.lookup(name)
	if !set {
		if b, err := strconv.ParseBool(v); err == nil {
			return b
		}
		return def
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		e.errs = append(e.errs, fmt.Errorf("%s must be true or false, not %q", name, v))
	}
	return b
}

func (e *environment) positiveInt(name string) int { return e.positiveIntOr(name, 0) }

// positiveIntOr is positiveInt with def for a default settings says in words.
func (e *environment) positiveIntOr(name string, def int) int {
	v, set := e.lookup(name)
	if !set {
		if n, err := strconv.Atoi(v); err == nil {
			return n
		}
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		e.errs = append(e.errs, fmt.Errorf("%s must be a positive integer, not %q", name, v))
	}
	return n
}

// duration is the variable as a positive duration; def is used for defaults settings says in
// words.
func (e *environment) duration(name string, def time.Duration) time.Duration {
	v, set := e.lookup(name)
	if !set {
		if d, err := time.ParseDuration(v); err == nil {
			return d
		}
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		e.errs = append(e.errs, fmt.Errorf("%s must be a positive duration such as 5s, not %q", name, v))
	}
	return d
}

// durationOrOff is duration where 0 also parses: it turns something off.
func (e *environment) durationOrOff(name string) time.Duration {
	v, _ := e.lookup(name)
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		e.errs = append(e.errs, fmt.Errorf("%s must be a duration such as 5s, or 0 for none, not %q", name, v))
	}
	return d
}

// headers is a comma-separated list of HTTP header names.
func (e *environment) headers(name string) []string {
	var names []string
	for _, h := range strings.Split(e.string(name), ",") {
		if h = strings.TrimSpace(h); h == "" {
			continue
		}
		if !validHeaderName(h) {
			e.errs = append(e.errs, fmt.Errorf("%s: %q is not a header name", name, h))
			continue
		}
		names = append(names, h)
	}
	return names
}

// validHeaderName: a token of RFC 9110 (letters, digits and !#$%&'*+-.^_`|~).
func validHeaderName(h string) bool {
	for _, c := range h {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("!#$%&'*+-.^_`|~", c)) {
			return false
		}
	}
	return h != ""
}

// newLogger writes records at level and above to w, as logfmt text or JSON lines.
func newLogger(w io.Writer, format string, level slog.Level) *slog.Logger {
	opts := &slog.HandlerOptions{Level: level}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

func (e *environment) origins(name string) []string {
	var origins []string
	for _, o := range strings.Split(e.string(name), ",") {
		if o = strings.TrimSuffix(strings.TrimSpace(o), "/"); o == "" {
			continue
		}
		if u, err := url.Parse(o); err != nil || o == "*" || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Path != "" {
			e.errs = append(e.errs, fmt.Errorf("%s: %q is not an origin like https://app.example.com (a wildcard cannot carry credentials)", name, o))
			continue
		}
		origins = append(origins, o)
	}
	return origins
}

// loadConfig reads and checks the configuration, reporting every bad setting at once. Every
// command reads the same one, so an environment that can start the service can also migrate,
// seed and sign in.
func loadConfig(getenv func(string) string) (config, error) {
	e := &environment{getenv: getenv}
	cfg := config{
		Addr:         e.string("ADDR"),
		MetricsAddr:  e.string("METRICS_ADDR"),
		DatabaseURL:  e.string("DATABASE_URL"),
		DataDir:      e.string("DATA_DIR"),
		CursorSecret: e.string("CURSOR_SECRET"),
	}
	embedded := cfg.DatabaseURL == ""
	if embedded {
		cfg.DatabaseURL = "sqlite:" + filepath.Join(cfg.DataDir, "partizap.db")
	}
	cfg.CORSAllowedOrigins = e.origins("CORS_ALLOWED_ORIGINS")
	cfg.CORSAllowedHeaders = e.headers("CORS_ALLOWED_HEADERS")
	switch cfg.LogFormat = e.string("LOG_FORMAT"); cfg.LogFormat {
	case "text", "json":
	default:
		e.errs = append(e.errs, fmt.Errorf("LOG_FORMAT must be text or json, not %q", cfg.LogFormat))
	}
	if err := cfg.LogLevel.UnmarshalText([]byte(e.string("LOG_LEVEL"))); err != nil {
		e.errs = append(e.errs, fmt.Errorf("LOG_LEVEL must be debug, info, warn or error, not %q", e.string("LOG_LEVEL")))
	}
	e.string("OTEL_EXPORTER_OTLP_ENDPOINT") // listed for help; the exporter reads it, and its siblings
	cfg.Tracing = httpserver.TracingRequested(getenv)
	cfg.AutoMigrate = e.bool("AUTO_MIGRATE", true)
	demoErrs := len(e.errs)
	cfg.Demo = e.bool("DEMO", embedded)
	demoKnown := len(e.errs) == demoErrs // an unreadable DEMO says nothing of the rules below
	cfg.DemoLogin = e.bool("DEMO_LOGIN", cfg.Demo)
	cfg.Introspection = e.bool("GRAPHQL_INTROSPECTION", true)
	cfg.MaxTokens = e.positiveInt("GRAPHQL_MAX_TOKENS")
	cfg.MaxSelections = e.positiveInt("GRAPHQL_MAX_SELECTIONS")
	cfg.MaxDepth = e.positiveInt("GRAPHQL_MAX_DEPTH")
	cfg.MaxComplexity = e.positiveInt("GRAPHQL_MAX_COMPLEXITY")
	cfg.MaxAliases = e.positiveInt("GRAPHQL_MAX_ALIASES")
	cfg.MaxErrors = e.positiveInt("GRAPHQL_MAX_ERRORS")
	cfg.CacheBytes = e.positiveInt("GRAPHQL_CACHE_BYTES")
	cfg.MaxBodyBytes = e.positiveInt("MAX_BODY_BYTES")
	cfg.SendRateLimit = e.positiveInt("SEND_RATE_LIMIT")
	cfg.LiveUpdates = e.bool("LIVE_UPDATES", true)
	cfg.WSInitTimeout = e.duration("WS_INIT_TIMEOUT", 0)
	cfg.WSPingInterval = e.duration("WS_PING_INTERVAL", 0)
	cfg.WSSessionCheckInterval = e.duration("WS_SESSION_CHECK_INTERVAL", 0)
	cfg.SessionCacheTTL = e.durationOrOff("SESSION_CACHE_TTL")
	cfg.WSMaxSubscriptions = e.positiveInt("WS_MAX_SUBSCRIPTIONS")
	cfg.WSMaxConnectionsPerUser = e.positiveInt("WS_MAX_CONNECTIONS_PER_USER")
	cfg.RequestTimeout = e.duration("REQUEST_TIMEOUT", 0)
	cfg.MaxConcurrentRequests = e.positiveIntOr("MAX_CONCURRENT_REQUESTS", 4*runtime.GOMAXPROCS(0))
	cfg.ShutdownGrace = e.duration("SHUTDOWN_GRACE", 0)
	cfg.DBMaxOpenConns = e.positiveInt("DB_MAX_OPEN_CONNS")
	cfg.DBTimeout = e.duration("DB_TIMEOUT", 0)
	cfg.DBStatementTimeout = e.duration("DB_STATEMENT_TIMEOUT", statementTimeoutFor(cfg.DBTimeout))
	switch timeoutSet, statementSet := getenv("DB_TIMEOUT") != "", getenv("DB_STATEMENT_TIMEOUT") != ""; {
	case statementSet && !timeoutSet:
		cfg.DBTimeout = dbTimeoutFor(cfg.DBStatementTimeout)
	case statementSet && cfg.DBStatementTimeout >= cfg.DBTimeout:
		e.errs = append(e.errs, fmt.Errorf("DB_STATEMENT_TIMEOUT (%s) must be below DB_TIMEOUT (%s), so that PostgreSQL cancels a slow statement before the service gives up on it",
			cfg.DBStatementTimeout, cfg.DBTimeout))
	}
	// A forgotten key must stop the start, not fall back to one anyone can read: with it, a
	// client could forge cursors. Demo mode alone may go without; openApp then uses a random
	// key kept in DataDir (demoCursorSecret).
	switch n := len(cfg.CursorSecret); {
	case n == 0 && !cfg.Demo && demoKnown:
		e.errs = append(e.errs, fmt.Errorf("CURSOR_SECRET is required outside demo mode: set it to at least %d random bytes, the same on every instance (e.g. openssl rand -hex 32)", minCursorSecret))
	case n > 0 && n < minCursorSecret:
		e.errs = append(e.errs, fmt.Errorf("CURSOR_SECRET is %d bytes long; it must be at least %d (e.g. openssl rand -hex 32)", n, minCursorSecret))
	}
	if len(e.errs) > 0 {
		return config{}, errors.Join(e.errs...)
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
