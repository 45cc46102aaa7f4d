package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/partizap/vendor-inbox/bench/floor"
	"github.com/partizap/vendor-inbox/models"
	"github.com/partizap/vendor-inbox/models/database"
)

// benchCursorSecret signs cursors in both the server and the floor: the same key makes their
// cursors, and so their pages, byte-identical, and lets the deep cursor work on both.
const benchCursorSecret = "partizap-bench-cursor-secret-0123456789"

// buildServer builds the real server binary, as deployed, from the repository root.
func buildServer(ctx context.Context, root, dir string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	bin := filepath.Join(dir, "vendor-inbox")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, ".")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build of the server: %w\n%s", err, out)
	}
	return bin, nil
}

// serviceVariables are the environment variables the service reads (README.md,
// "Configuration").
var serviceVariables = []string{
	"ADDR", "METRICS_ADDR", "DATABASE_URL", "DATA_DIR", "DEMO", "AUTO_MIGRATE", "CURSOR_SECRET",
	"GRAPHQL_INTROSPECTION", "GRAPHQL_MAX_DEPTH", "GRAPHQL_MAX_COMPLEXITY", "GRAPHQL_MAX_ALIASES",
	"MAX_BODY_BYTES", "CORS_ALLOWED_ORIGINS", "REQUEST_TIMEOUT", "SHUTDOWN_GRACE",
	"DB_MAX_OPEN_CONNS", "DB_TIMEOUT", "DB_STATEMENT_TIMEOUT", "SEND_RATE_LIMIT", "LIVE_UPDATES",
	"WS_INIT_TIMEOUT", "WS_PING_INTERVAL", "WS_SESSION_CHECK_INTERVAL", "WS_MAX_SUBSCRIPTIONS",
	"WS_MAX_CONNECTIONS_PER_USER", "SESSION_CACHE_TTL",
}

// serviceEnv is this process's environment with set replacing or adding variables. The rest
// passes through, so a run can try a setting (DB_MAX_OPEN_CONNS=40 make bench); the report
// lists every service variable that came from outside (inheritedServiceEnv).
func serviceEnv(set map[string]string) []string {
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if _, ok := set[name]; !ok {
			env = append(env, kv)
		}
	}
	for k, v := range set {
		env = append(env, k+"="+v)
	}
	return env
}

// fixedServiceEnv are the variables the bench sets itself for the server.
var fixedServiceEnv = []string{"ADDR", "METRICS_ADDR", "DATABASE_URL", "DEMO", "CURSOR_SECRET", "SEND_RATE_LIMIT", "SESSION_CACHE_TTL"}

// inheritedServiceEnv lists the service's variables this run passed through from its own
// environment: settings that make it differ from the defaults.
func inheritedServiceEnv() []string {
	var out []string
	for _, name := range serviceVariables {
		if v, ok := os.LookupEnv(name); ok && !slices.Contains(fixedServiceEnv, name) {
			out = append(out, name+"="+v)
		}
	}
	return out
}

// child is a process the bench started and must end.
type child struct {
	name   string
	cmd    *exec.Cmd
	cancel context.CancelFunc
	log    string
	done   chan struct{} // closed when the process has exited
}

// startChild starts bin with its output in logPath. Cancelling ctx, or stop, sends SIGTERM
// (the server then finishes in-flight requests) and SIGKILL if it is still there 5s later.
func startChild(ctx context.Context, name, logPath, bin string, args, env []string) (*child, error) {
	f, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = f, f
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Start(); err != nil {
		cancel()
		f.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	c := &child{name: name, cmd: cmd, cancel: cancel, log: logPath, done: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		f.Close()
		close(c.done)
	}()
	return c, nil
}

func (c *child) stop() {
	if c == nil {
		return
	}
	c.cancel()
	<-c.done // bounded by WaitDelay
}

func (c *child) pid() int { return c.cmd.Process.Pid }

// logTail is the end of the child's log, for an error message.
func (c *child) logTail() string {
	b, _ := os.ReadFile(c.log)
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return fmt.Sprintf("last lines of %s (%s):\n%s", c.name, c.log, b)
}

// freeAddr returns a loopback address with a port nobody listens on now. Another process
// could take it before the child does; the readiness check would then fail, not mislead.
func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// waitReady polls url until it answers 200, the child exits, or 60 seconds pass.
func waitReady(ctx context.Context, client *http.Client, c *child, url string) error {
	const every, attempts = 100 * time.Millisecond, 600
	for range attempts {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		if resp, err := client.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-c.done:
			return fmt.Errorf("%s exited before it was ready\n%s", c.name, c.logTail())
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(every):
		}
	}
	return fmt.Errorf("%s was not ready after %s\n%s", c.name, every*attempts, c.logTail())
}

// bench is the state of a run once the server and the floor are up.
type bench struct {
	client     *http.Client
	server     *child
	floor      *child
	serverURL  string
	metricsURL string // the service's METRICS_ADDR: /metrics and /debug/pprof/
	floorURL   string
	session    string // the busiest vendor's PARTIZAP_SESSION
	// writer is another vendor's session and the newest of their conversations, which the
	// send scenario writes in: away from the inbox every other scenario reads, which its
	// messages would otherwise change from run to run.
	writer, writerConversation string
	// application is the application_name of the service's and the floor's connections; pg
	// asks PostgreSQL which backends are other clients' (cpu.go).
	application string
	pg          *pgx.Conn
}

// service is one instance of the server the bench started, on loopback ports of its own.
type service struct {
	*child
	url        string // where it serves
	metricsURL string // its METRICS_ADDR: /metrics and /debug/pprof/
}

// startService starts the server binary as name (its log in dir/name.log) on databaseURL,
// with the bench's settings (benchServiceEnv) and set over them, and returns once it is
// started, not ready: waitServices waits for that.
func startService(ctx context.Context, name, bin, dir, databaseURL string, set map[string]string) (*service, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	metricsAddr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	vars := map[string]string{
		"DATABASE_URL":  databaseURL,
		"ADDR":          addr,
		"DEMO":          "false",
		"CURSOR_SECRET": benchCursorSecret,
		// /metrics (the statements) and /debug/pprof/ (the profiles) are served there only.
		"METRICS_ADDR": metricsAddr,
		// The send scenario measures what one sender's messages cost, not the limit on them.
		"SEND_RATE_LIMIT": strconv.Itoa(benchSendRateLimit),
		// A run's statements per request are its pages' own, not a session lookup every TTL.
		"SESSION_CACHE_TTL": benchSessionCacheTTL,
	}
	for k, v := range set {
		vars[k] = v
	}
	c, err := startChild(ctx, name, filepath.Join(dir, name+".log"), bin, []string{"serve"}, serviceEnv(vars))
	if err != nil {
		return nil, err
	}
	return &service{child: c, url: "http://" + addr, metricsURL: "http://" + metricsAddr}, nil
}

// waitServices waits until each service answers /readyz and /metrics.
func waitServices(ctx context.Context, client *http.Client, services ...*service) error {
	for _, s := range services {
		if err := waitReady(ctx, client, s.child, s.url+"/readyz"); err != nil {
			return err
		}
		if err := waitReady(ctx, client, s.child, s.metricsURL+"/metrics"); err != nil {
			return err
		}
	}
	return nil
}

// startTargets starts the server (its METRICS_ADDR on a second port) and the floor, each on a
// free loopback port, and waits until both are ready.
func startTargets(ctx context.Context, opts options, server, dir string, logf func(string, ...any)) (_ *bench, err error) {
	b := &bench{client: newClient(opts.Concurrency[len(opts.Concurrency)-1])}
	defer func() {
		if err != nil {
			b.stop()
		}
	}()
	databaseURL, application, err := tagDatabaseURL(opts.DatabaseURL, runApplicationName())
	if err != nil {
		return nil, err
	}
	b.application = application
	if b.pg, err = pgx.Connect(ctx, opts.DatabaseURL); err != nil {
		return nil, fmt.Errorf("connect to %s: %w", database.RedactURL(opts.DatabaseURL), err)
	}
	srv, err := startService(ctx, "server", server, dir, databaseURL, nil)
	if err != nil {
		return nil, err
	}
	b.server = srv.child
	b.serverURL = srv.url
	b.metricsURL = srv.metricsURL

	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	floorAddr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	args := []string{floorCommand, "-addr", floorAddr, "-database-url", databaseURL, "-cursor-secret", benchCursorSecret}
	if b.floor, err = startChild(ctx, "floor", filepath.Join(dir, "floor.log"), self, args, os.Environ()); err != nil {
		return nil, err
	}
	b.floorURL = "http://" + floorAddr

	logf("waiting for the server (%s, pid %d) and the floor (%s, pid %d)", b.serverURL, b.server.pid(), b.floorURL, b.floor.pid())
	if err := waitServices(ctx, b.client, srv); err != nil {
		return nil, err
	}
	if err := waitReady(ctx, b.client, b.floor, b.floorURL+"/readyz"); err != nil {
		return nil, err
	}
	return b, nil
}

func (b *bench) stop() {
	b.server.stop()
	b.floor.stop()
	b.client.CloseIdleConnections()
	if b.pg != nil {
		_ = b.pg.Close(context.Background())
		b.pg = nil
	}
}

// highWaterMarks reads each process's peak resident memory since it started (VmHWM).
func (b *bench) highWaterMarks() map[string]float64 {
	hwm := map[string]float64{}
	for _, c := range []*child{b.server, b.floor} {
		if c == nil {
			continue
		}
		if kb, err := procStatusKB(c.pid(), "VmHWM"); err == nil {
			hwm[c.name] = float64(kb) / 1024
		}
	}
	return hwm
}

// signIn creates a session for the vendor with the server's own command, as an operator would.
func signIn(ctx context.Context, server, databaseURL string, userID int64) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, server, "session", "--user", strconv.FormatInt(userID, 10), "--ttl", "2h")
	cmd.Env = serviceEnv(map[string]string{"DATABASE_URL": databaseURL, "CURSOR_SECRET": benchCursorSecret})
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("server session: %w: %s", err, strings.TrimSpace(stderr.String()))
	}
	session := strings.TrimSpace(string(out))
	if session == "" || strings.ContainsAny(session, " \n;") {
		return "", fmt.Errorf("server session printed %q, not a cookie value", out)
	}
	return session, nil
}

// procStatusKB reads one "Name: N kB" line of /proc/<pid>/status.
func procStatusKB(pid int, name string) (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if rest, ok := strings.CutPrefix(s.Text(), name+":"); ok {
			return strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
		}
	}
	if err := s.Err(); err != nil {
		return 0, err
	}
	return 0, fmt.Errorf("no %s in /proc/%d/status", name, pid)
}

// sampleRSS samples the process's resident memory every 100ms until stop is called, which
// returns the peak in MiB. A process's VmHWM is its peak since it started; sampling gives the
// peak of one run.
func sampleRSS(pid int) (stop func() float64) {
	quit, done := make(chan struct{}), make(chan struct{})
	var peak int64
	go func() {
		defer close(done)
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			if kb, err := procStatusKB(pid, "VmRSS"); err == nil {
				peak = max(peak, kb)
			}
			select {
			case <-quit:
				return
			case <-t.C:
			}
		}
	}()
	return func() float64 {
		close(quit)
		<-done
		return float64(peak) / 1024
	}
}

// floorRowsPrefix is where the floor serves its rows form: the same endpoint under this path.
const floorRowsPrefix = "/rows"

// floorCommand is the hidden subcommand that serves the floor: the bench re-executes itself
// with it, so the floor is a process of its own, measured like the server.
const floorCommand = "floor"

// runFloor serves bench/floor at GET /vendor/conversations until SIGTERM.
func runFloor(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet(floorCommand, flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:0", "address to listen on")
	databaseURL := fs.String("database-url", defaultDatabaseURL, "PostgreSQL database")
	secret := fs.String("cursor-secret", benchCursorSecret, "key signing cursors; the server's CURSOR_SECRET")
	// The service's pool holds DB_MAX_OPEN_CONNS (20 by default) connections; the same number
	// keeps the comparison about the code, not the pool.
	maxConns := fs.Int("max-conns", 20, "connection pool size")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg, err := pgxpool.ParseConfig(*databaseURL)
	if err != nil {
		return err
	}
	cfg.MaxConns = int32(min(max(*maxConns, 1), 1000))
	// The floor's statement has one plan for every viewer (BENCHMARKS.md, "The service's
	// statements and their plans": the same buffers and rows under a generic and a custom
	// plan), so planning it again for each execution, as plan_cache_mode=auto would, is work
	// the least work does not do.
	if _, set := cfg.ConnConfig.RuntimeParams["plan_cache_mode"]; !set {
		cfg.ConnConfig.RuntimeParams["plan_cache_mode"] = database.GenericPlans
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return err
	}
	defer pool.Close()

	mux := http.NewServeMux()
	cursors := models.NewCursors([]byte(*secret))
	mux.Handle("GET /vendor/conversations", floor.New(pool, cursors, floor.JSON))
	mux.Handle("GET "+floorRowsPrefix+"/vendor/conversations", floor.New(pool, cursors, floor.Rows))
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), time.Second)
		defer cancel()
		if err := pool.Ping(ctx); err != nil {
			http.Error(w, "not ready", http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ready\n"))
	})
	// The server's timeouts, so neither side has an edge in connection handling.
	srv := &http.Server{
		Addr:              *addr,
		Handler:           mux,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return nil
}
