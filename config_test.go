package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/partizap/vendor-inbox/httpserver"
	"github.com/partizap/vendor-inbox/models"
	"github.com/partizap/vendor-inbox/models/dbtest"
)

// The configuration and the start-up: what config.go reads and what the first start does.

func TestLoadConfig(t *testing.T) {
	t.Parallel()
	const secret = "0123456789abcdef0123456789abcdef" // 32 bytes: the shortest accepted
	defaults := func(change func(*config)) config {
		c := config{Addr: ":8080", DataDir: "data", CursorSecret: secret, AutoMigrate: true,
			Introspection: true, MaxTokens: 2000, MaxSelections: 500, MaxDepth: 12, MaxComplexity: 20000, MaxAliases: 30,
			MaxErrors: 100, CacheBytes: 32 << 20, MaxBodyBytes: 64 << 10, SendRateLimit: 30,
			CORSAllowedHeaders: httpserver.BrowserClientHeaders, LogFormat: "text", LogLevel: slog.LevelInfo,
			LiveUpdates: true, WSInitTimeout: 10 * time.Second, WSPingInterval: 25 * time.Second,
			SessionCacheTTL: 5 * time.Second, WSSessionCheckInterval: 30 * time.Second, WSMaxSubscriptions: 20, WSMaxConnectionsPerUser: 10,
			RequestTimeout: 10 * time.Second, MaxConcurrentRequests: 4 * runtime.GOMAXPROCS(0), ShutdownGrace: 15 * time.Second, DBMaxOpenConns: 20,
			DBTimeout: 2 * time.Second, DBStatementTimeout: 1500 * time.Millisecond}
		change(&c)
		return c
	}
	tests := []struct {
		name    string
		env     map[string]string
		want    config
		wantErr string
	}{
		{"nothing set: embedded database in demo mode, with the demo's key", nil,
			defaults(func(c *config) {
				c.DatabaseURL, c.Demo, c.DemoLogin, c.CursorSecret = "sqlite:data/partizap.db", true, true, ""
			}), ""},
		{"logs, headers and traces", map[string]string{"DATABASE_URL": "postgres://u@h/db", "CURSOR_SECRET": secret, "LOG_FORMAT": "json", "LOG_LEVEL": "warn",
			"CORS_ALLOWED_HEADERS": "Content-Type, X-Custom", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"},
			defaults(func(c *config) {
				c.DatabaseURL, c.LogFormat, c.LogLevel, c.CORSAllowedHeaders, c.Tracing = "postgres://u@h/db", "json", slog.LevelWarn, []string{"Content-Type", "X-Custom"}, true
			}), ""},
		{"PostgreSQL: no demo", map[string]string{"DATABASE_URL": "postgres://u@h/db", "ADDR": ":9000", "CURSOR_SECRET": secret},
			defaults(func(c *config) { c.DatabaseURL, c.Addr = "postgres://u@h/db", ":9000" }), ""},
		{"data dir and switches", map[string]string{"DATA_DIR": "/var/lib/pz", "AUTO_MIGRATE": "false", "DEMO": "0", "GRAPHQL_INTROSPECTION": "false", "CURSOR_SECRET": secret},
			defaults(func(c *config) {
				c.DatabaseURL, c.DataDir, c.AutoMigrate, c.Introspection = "sqlite:/var/lib/pz/partizap.db", "/var/lib/pz", false, false
			}), ""},
		{"limits and timeouts", map[string]string{"DATABASE_URL": "sqlite:x.db", "GRAPHQL_MAX_DEPTH": "5", "GRAPHQL_MAX_COMPLEXITY": "100",
			"GRAPHQL_MAX_ALIASES": "2", "MAX_BODY_BYTES": "1024", "REQUEST_TIMEOUT": "2s", "MAX_CONCURRENT_REQUESTS": "3", "SHUTDOWN_GRACE": "1m",
			"DB_MAX_OPEN_CONNS": "4", "DB_STATEMENT_TIMEOUT": "500ms", "CURSOR_SECRET": secret},
			defaults(func(c *config) {
				c.DatabaseURL, c.MaxDepth, c.MaxComplexity, c.MaxAliases, c.MaxBodyBytes = "sqlite:x.db", 5, 100, 2, 1024
				c.RequestTimeout, c.ShutdownGrace, c.DBMaxOpenConns, c.DBStatementTimeout = 2*time.Second, time.Minute, 4, 500*time.Millisecond
				c.DBTimeout = 667 * time.Millisecond // a third above DB_STATEMENT_TIMEOUT, rounded up
				c.MaxConcurrentRequests = 3
			}), ""},
		{"CORS origins", map[string]string{"DATABASE_URL": "sqlite:x.db", "CORS_ALLOWED_ORIGINS": "https://app.partizap.ru, http://localhost:5173/", "CURSOR_SECRET": secret},
			defaults(func(c *config) {
				c.DatabaseURL, c.CORSAllowedOrigins = "sqlite:x.db", []string{"https://app.partizap.ru", "http://localhost:5173"}
			}), ""},
		{"CORS wildcard", map[string]string{"CORS_ALLOWED_ORIGINS": "*"}, config{}, `CORS_ALLOWED_ORIGINS: "*" is not an origin like https://app.example.com (a wildcard cannot carry credentials)`},
		{"CORS path", map[string]string{"CORS_ALLOWED_ORIGINS": "https://a.ru/app"}, config{}, `CORS_ALLOWED_ORIGINS: "https://a.ru/app" is not an origin like https://app.example.com (a wildcard cannot carry credentials)`},
		{"bad switch", map[string]string{"DEMO": "yes please"}, config{}, `DEMO must be true or false, not "yes please"`},
		{"bad number", map[string]string{"GRAPHQL_MAX_DEPTH": "-1"}, config{}, `GRAPHQL_MAX_DEPTH must be a positive integer, not "-1"`},
		{"bad computed default", map[string]string{"MAX_CONCURRENT_REQUESTS": "0"}, config{}, `MAX_CONCURRENT_REQUESTS must be a positive integer, not "0"`},
		{"bad duration", map[string]string{"REQUEST_TIMEOUT": "10"}, config{}, `REQUEST_TIMEOUT must be a positive duration such as 5s, not "10"`},
		{"sessions looked up every request", map[string]string{"DATABASE_URL": "sqlite:x.db", "SESSION_CACHE_TTL": "0", "CURSOR_SECRET": secret},
			defaults(func(c *config) { c.DatabaseURL, c.SessionCacheTTL = "sqlite:x.db", 0 }), ""},
		{"sessions kept a minute", map[string]string{"DATABASE_URL": "sqlite:x.db", "SESSION_CACHE_TTL": "1m", "CURSOR_SECRET": secret},
			defaults(func(c *config) { c.DatabaseURL, c.SessionCacheTTL = "sqlite:x.db", time.Minute }), ""},
		{"negative session cache ttl", map[string]string{"SESSION_CACHE_TTL": "-1s"}, config{}, `SESSION_CACHE_TTL must be a duration such as 5s, or 0 for none, not "-1s"`},
		{"session cache ttl without a unit", map[string]string{"SESSION_CACHE_TTL": "5"}, config{}, `SESSION_CACHE_TTL must be a duration such as 5s, or 0 for none, not "5"`},
		{"bad log format", map[string]string{"LOG_FORMAT": "xml"}, config{}, `LOG_FORMAT must be text or json, not "xml"`},
		{"bad log level", map[string]string{"LOG_LEVEL": "loud"}, config{}, `LOG_LEVEL must be debug, info, warn or error, not "loud"`},
		{"bad header name", map[string]string{"CORS_ALLOWED_HEADERS": "Content-Type, Bad Header"}, config{}, `CORS_ALLOWED_HEADERS: "Bad Header" is not a header name`},
		{"every bad setting at once", map[string]string{"DATABASE_URL": "postgres://u@h/db", "CORS_ALLOWED_ORIGINS": "*",
			"AUTO_MIGRATE": "maybe", "GRAPHQL_MAX_DEPTH": "deep", "REQUEST_TIMEOUT": "-1s"}, config{},
			`CORS_ALLOWED_ORIGINS: "*" is not an origin like https://app.example.com (a wildcard cannot carry credentials)` + "\n" +
				`AUTO_MIGRATE must be true or false, not "maybe"` + "\n" +
				`GRAPHQL_MAX_DEPTH must be a positive integer, not "deep"` + "\n" +
				`REQUEST_TIMEOUT must be a positive duration such as 5s, not "-1s"` + "\n" +
				`CURSOR_SECRET is required outside demo mode: set it to at least 32 random bytes, the same on every instance (e.g. openssl rand -hex 32)`},
		{"metrics on their own address", map[string]string{"METRICS_ADDR": "127.0.0.1:9090"},
			defaults(func(c *config) {
				c.DatabaseURL, c.Demo, c.DemoLogin, c.CursorSecret, c.MetricsAddr = "sqlite:data/partizap.db", true, true, "", "127.0.0.1:9090"
			}), ""},
		{"PostgreSQL without a cursor secret", map[string]string{"DATABASE_URL": "postgres://u@h/db"}, config{}, missingSecret},
		{"embedded database with DEMO=false and no cursor secret", map[string]string{"DEMO": "false"}, config{}, missingSecret},
		{"31-byte cursor secret", map[string]string{"DATABASE_URL": "postgres://u@h/db", "CURSOR_SECRET": secret[:31]}, config{},
			"CURSOR_SECRET is 31 bytes long; it must be at least 32 (e.g. openssl rand -hex 32)"},
		{"short cursor secret in demo mode", map[string]string{"CURSOR_SECRET": "test-secret"}, config{},
			"CURSOR_SECRET is 11 bytes long; it must be at least 32 (e.g. openssl rand -hex 32)"},
		{"32-byte cursor secret", map[string]string{"DATABASE_URL": "postgres://u@h/db", "CURSOR_SECRET": secret},
			defaults(func(c *config) { c.DatabaseURL = "postgres://u@h/db" }), ""},
		{"demo mode on PostgreSQL without a cursor secret", map[string]string{"DATABASE_URL": "postgres://u@h/db", "DEMO": "true"},
			defaults(func(c *config) {
				c.DatabaseURL, c.Demo, c.DemoLogin, c.CursorSecret = "postgres://u@h/db", true, true, ""
			}), ""},
		{"demo mode with a cursor secret", map[string]string{"CURSOR_SECRET": secret + "-and-more"},
			defaults(func(c *config) {
				c.DatabaseURL, c.Demo, c.DemoLogin, c.CursorSecret = "sqlite:data/partizap.db", true, true, secret+"-and-more"
			}), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := loadConfig(func(k string) string { return tt.env[k] })
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("error = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("loadConfig = %+v, %v\nwant %+v", got, err, tt.want)
			}
		})
	}
}

const missingSecret = "CURSOR_SECRET is required outside demo mode: set it to at least 32 random bytes, the same on every instance (e.g. openssl rand -hex 32)"

// TestBadDatabaseURLFailsInOneLine runs the real command with databases it cannot use.
func TestBadDatabaseURLFailsInOneLine(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, url, want string }{
		{"unknown scheme", "mysql://root@localhost/db", "DATABASE_URL must start with postgres:// or sqlite:"},
		{"malformed", "postgres://user:secret@host:notaport/db", "DATABASE_URL is not a valid PostgreSQL URL"},
		{"unreachable", "postgres://user:secret@127.0.0.1:1/db?connect_timeout=5", "connect to postgres://user:xxxxx@127.0.0.1:1/db?connect_timeout=5: failed to connect"},
		{"no such database", strings.Replace(dbtest.ServerURL(), "/test?", "/no_such_db_here?", 1), "no_such_db_here"},
		{"empty sqlite path", "sqlite:", "needs a file path"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := map[string]string{"DATABASE_URL": tt.url, "CURSOR_SECRET": testCursorSecret}
			err := run(context.Background(), []string{"migrate"}, func(k string) string { return env[k] }, io.Discard, io.Discard)
			if err == nil {
				t.Fatal("no error")
			}
			msg := err.Error()
			if !strings.Contains(msg, tt.want) || strings.Contains(msg, "\n") || strings.Contains(msg, "secret") {
				t.Fatalf("error %q: want one line containing %q and no password", msg, tt.want)
			}
		})
	}
}

// TestFirstStartSeedsAndPrintsAWorkingSession starts on an empty embedded database, as
// `go run .` does, and follows the printed instructions.
func TestFirstStartSeedsAndPrintsAWorkingSession(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cfg, err := loadConfig(func(k string) string { return map[string]string{"DATA_DIR": dir}[k] })
	if err != nil {
		t.Fatal(err)
	}
	a, err := openApp(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer a.close()
	if err := a.migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(a.handler())
	defer srv.Close()
	addr := srv.Listener.Addr()
	for start := 1; start <= 2; start++ { // the second start keeps the data
		var out bytes.Buffer
		if err := a.greet(context.Background(), cfg, addr, &out); err != nil {
			t.Fatal(err)
		}
		greeting := out.String()
		if seeded := strings.Contains(greeting, "demo data:  seeded"); seeded != (start == 1) {
			t.Fatalf("start %d: seeded = %v:\n%s", start, seeded, greeting)
		}
		port := addr.(*net.TCPAddr).Port
		for _, want := range []string{
			fmt.Sprintf("listening on http://localhost:%d\n", port),
			"database:   SQLite " + filepath.Join(dir, "partizap.db"),
			fmt.Sprintf("playground: http://localhost:%d/playground\n", port),
			"(vendor 1 «", ", 30 conversations; valid 720h0m0s)",
		} {
			if !strings.Contains(greeting, want) {
				t.Fatalf("start %d: greeting lacks %q:\n%s", start, want, greeting)
			}
		}
		_, cookie, _ := strings.Cut(greeting, httpserver.SessionCookie+"=")
		cookie, _, _ = strings.Cut(cookie, " ")
		s := &testServer{t: t, url: srv.URL}
		if p := s.restPage("limit=2", cookie); len(p.Data) != 2 || !p.Meta.HasMore {
			t.Fatalf("start %d: the printed session got %d conversations", start, len(p.Data))
		}
	}
}

// TestDemoCursorKeySurvivesARestart: in demo mode without CURSOR_SECRET the key is random,
// kept in DATA_DIR, so a cursor handed out before a restart still pages after it; another
// data directory has another key; a damaged key file stops the start in one line.
func TestDemoCursorKeySurvivesARestart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	start := func(dataDir string) (*app, *testServer, string) {
		t.Helper()
		cfg, err := loadConfig(func(k string) string { return map[string]string{"DATA_DIR": dataDir}[k] })
		if err != nil {
			t.Fatal(err)
		}
		a, err := openApp(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
		if err != nil {
			t.Fatal(err)
		}
		if err := a.migrate(context.Background()); err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewServer(a.handler())
		var out bytes.Buffer
		if err := a.greet(context.Background(), cfg, srv.Listener.Addr(), &out); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { srv.Close(); a.close() })
		return a, &testServer{t: t, url: srv.URL, db: a.db, app: a}, out.String()
	}
	keyFile := filepath.Join(dir, "cursor-secret")
	first, s, greeting := start(dir)
	if want := "  cursors:    signed with the demo key in " + keyFile + " (outside demo mode, set CURSOR_SECRET)\n"; !strings.Contains(greeting, want) {
		t.Fatalf("greeting lacks %q:\n%s", want, greeting)
	}
	info, err := os.Stat(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	key, _ := os.ReadFile(keyFile)
	if info.Mode().Perm() != 0o600 || len(key) != 65 || strings.Trim(string(key[:64]), "0123456789abcdef") != "" || key[64] != '\n' {
		t.Fatalf("%s: mode %v, content %q; want 0600 and 64 hex digits", keyFile, info.Mode().Perm(), key)
	}
	cookie := s.session(1)
	next := *s.restPage("limit=2", cookie).Meta.NextCursor
	first.close()

	_, s, _ = start(dir)
	if got, want := s.restPage("limit=2&cursor="+next, cookie).ids(), s.inboxOrder(1)[2:4]; !slices.Equal(got, want) {
		t.Fatalf("after a restart, the page after the old cursor = %v, want %v", got, want)
	}
	if after, _ := os.ReadFile(keyFile); !bytes.Equal(after, key) {
		t.Fatalf("the restart replaced the key")
	}

	other, _, _ := start(t.TempDir())
	if _, err := other.cursors.Decode(next); err != models.ErrInvalidCursor {
		t.Fatalf("another data directory accepts the cursor (%v): its key is not its own", err)
	}

	damaged := t.TempDir()
	if err := os.WriteFile(filepath.Join(damaged, "cursor-secret"), []byte("short\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"DATA_DIR": damaged}
	err = run(context.Background(), []string{"migrate"}, func(k string) string { return env[k] }, io.Discard, io.Discard)
	if want := filepath.Join(damaged, "cursor-secret") + " holds no key of at least 32 bytes: delete it, and the next start makes a new one"; err == nil || err.Error() != want {
		t.Fatalf("start with a damaged key file: %v, want %q", err, want)
	}
}

// TestNoCursorSecretFailsBeforeConnecting runs the real command against a listener standing in
// for PostgreSQL: without a usable CURSOR_SECRET it stops with one line and never dials; with
// one, it does dial (so the listener would have seen the others).
func TestNoCursorSecretFailsBeforeConnecting(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, command, secret, wantErr string
	}{
		{"serve, no secret", "serve", "", missingSecret},
		{"serve, 31 bytes", "serve", strings.Repeat("k", 31), "CURSOR_SECRET is 31 bytes long; it must be at least 32 (e.g. openssl rand -hex 32)"},
		{"migrate, no secret", "migrate", "", missingSecret},
		{"serve, a good secret dials", "serve", testCursorSecret, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fake, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer fake.Close()
			dialed := make(chan struct{}, 1)
			go func() {
				if c, err := fake.Accept(); err == nil {
					dialed <- struct{}{} // before Close, so that run cannot return before it
					c.Close()
				}
			}()
			env := map[string]string{
				"DATABASE_URL":  "postgres://postgres@" + fake.Addr().String() + "/db?sslmode=disable&connect_timeout=5",
				"ADDR":          "127.0.0.1:0",
				"CURSOR_SECRET": tt.secret,
			}
			err = run(context.Background(), []string{tt.command}, func(k string) string { return env[k] }, io.Discard, io.Discard)
			if err == nil {
				t.Fatal("run succeeded")
			}
			select {
			case <-dialed:
				if tt.wantErr != "" {
					t.Fatalf("run dialled the database before refusing (%v)", err)
				}
			default:
				if tt.wantErr == "" {
					t.Fatalf("run failed without dialling: %v", err)
				}
			}
			if tt.wantErr != "" && err.Error() != tt.wantErr {
				t.Fatalf("error %q, want %q", err, tt.wantErr)
			}
		})
	}
}

// TestApplyGCDefaults: the service's collector settings apply only where the environment set
// none of its own. Not parallel: it changes the test process's collector, and puts it back.
func TestApplyGCDefaults(t *testing.T) {
	percent, limit := debug.SetGCPercent(100), debug.SetMemoryLimit(math.MaxInt64)
	defer func() { debug.SetGCPercent(percent); debug.SetMemoryLimit(limit) }()
	for _, tt := range []struct {
		name    string
		env     map[string]string
		percent int
		limit   int64
	}{
		{"neither set", nil, defaultGCPercent, defaultMemoryLimit},
		{"GOGC set", map[string]string{"GOGC": "100"}, 100, defaultMemoryLimit},
		{"GOMEMLIMIT set", map[string]string{"GOMEMLIMIT": "1GiB"}, defaultGCPercent, math.MaxInt64},
		{"both set", map[string]string{"GOGC": "off", "GOMEMLIMIT": "1GiB"}, 100, math.MaxInt64},
	} {
		debug.SetGCPercent(100)
		debug.SetMemoryLimit(math.MaxInt64)
		applyGCDefaults(func(k string) string { return tt.env[k] })
		if got := debug.SetGCPercent(100); got != tt.percent {
			t.Errorf("%s: GOGC %d, want %d", tt.name, got, tt.percent)
		}
		if got := debug.SetMemoryLimit(-1); got != tt.limit {
			t.Errorf("%s: memory limit %d, want %d", tt.name, got, tt.limit)
		}
	}
}
