package httpserver

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/partizap/vendor-inbox/resolvers"
)

// ---- helpers shared by the package's tests ----

// syncBuffer collects log output written from a server's goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// textHandler writes log records as text without their time, so that tests compare whole lines.
func textHandler(w io.Writer) slog.Handler {
	return slog.NewTextHandler(w, &slog.HandlerOptions{ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
		if len(groups) == 0 && a.Key == slog.TimeKey {
			return slog.Attr{}
		}
		return a
	}})
}

var testLimits = resolvers.Limits{MaxTokens: 2000, MaxSelections: 500, MaxDepth: 12, MaxAliases: 30, MaxComplexity: 20000, MaxErrors: 100, Introspection: true}

// newServer is New with the settings opts leaves unset filled in; its logger writes to logs
// unless opts has one.
func newServer(opts Options, logs io.Writer) *Server {
	if opts.Logger == nil {
		opts.Logger = slog.New(textHandler(logs))
	}
	if opts.Metrics == nil {
		opts.Metrics = prometheus.NewRegistry()
	}
	if opts.GraphQL == (resolvers.Limits{}) {
		opts.GraphQL = testLimits
	}
	if opts.GraphQLCacheBytes == 0 {
		opts.GraphQLCacheBytes = 1 << 20
	}
	if opts.MaxBodyBytes == 0 {
		opts.MaxBodyBytes = 1024
	}
	if opts.RequestTimeout == 0 {
		opts.RequestTimeout = 10 * time.Second
	}
	if opts.ShutdownGrace == 0 {
		opts.ShutdownGrace = 5 * time.Second
	}
	if opts.Probe == nil {
		opts.Probe = probeFunc(func(context.Context) error { return nil })
	}
	return New(opts)
}

type probeFunc func(ctx context.Context) error

func (f probeFunc) Check(ctx context.Context) error { return f(ctx) }

// serve runs h for one request and returns the recorded answer.
func serve(h http.Handler, r *http.Request) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	return rec
}

// ---- the server ----

func TestHealthReadinessAndMetricsRoutes(t *testing.T) {
	t.Parallel()
	down := probeFunc(func(context.Context) error { return errors.New("dial tcp 127.0.0.1:5432: connection refused") })
	tests := []struct {
		name             string
		probe            Probe
		metricsElsewhere bool
		method, path     string
		status           int
		contentType      string
		body             string // exact, unless metrics
	}{
		{"healthz", nil, false, "GET", "/healthz", 200, "text/plain; charset=utf-8", "ok\n"},
		{"healthz ignores the database", down, false, "GET", "/healthz", 200, "text/plain; charset=utf-8", "ok\n"},
		{"readyz with the database up", nil, false, "GET", "/readyz", 200, "text/plain; charset=utf-8", "ready\n"},
		{"readyz with the database down", down, false, "GET", "/readyz", 503, "text/plain; charset=utf-8", "not ready: the database is unavailable\n"},
		{"metrics", nil, false, "GET", "/metrics", 200, "", ""},
		{"metrics elsewhere", nil, true, "GET", "/metrics", 404, "text/plain; charset=utf-8", "404 page not found\n"},
		{"POST healthz", nil, false, "POST", "/healthz", 405, "text/plain; charset=utf-8", "Method Not Allowed\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			reg := prometheus.NewRegistry()
			probe := prometheus.NewCounter(prometheus.CounterOpts{Name: "test_probe_total", Help: "A metric of the test's."})
			probe.Add(3)
			reg.MustRegister(probe)
			s := newServer(Options{Probe: tt.probe, Metrics: reg, MetricsElsewhere: tt.metricsElsewhere}, io.Discard)
			rec := serve(s.Handler(), httptest.NewRequest(tt.method, tt.path, nil))
			if rec.Code != tt.status {
				t.Fatalf("%s %s: %d %q, want %d", tt.method, tt.path, rec.Code, rec.Body, tt.status)
			}
			if tt.path == "/metrics" && tt.status == 200 {
				if !strings.Contains(rec.Body.String(), "\ntest_probe_total 3\n") {
					t.Fatalf("/metrics does not serve the registry:\n%s", rec.Body)
				}
				return
			}
			if got := rec.Header().Get("Content-Type"); got != tt.contentType || rec.Body.String() != tt.body {
				t.Fatalf("Content-Type %q, body %q; want %q, %q", got, rec.Body, tt.contentType, tt.body)
			}
		})
	}
}

func TestReadinessAsksTheProbeWithTheRequestContext(t *testing.T) {
	t.Parallel()
	var asked context.Context
	s := newServer(Options{Probe: probeFunc(func(ctx context.Context) error { asked = ctx; return nil })}, io.Discard)
	rec := serve(s.Handler(), httptest.NewRequest("GET", "/readyz", nil))
	if rec.Code != 200 || asked == nil {
		t.Fatalf("%d, probe asked: %v", rec.Code, asked != nil)
	}
	if _, ok := asked.Deadline(); !ok || RequestID(asked) == "" {
		t.Fatalf("the probe was not asked within the request (deadline %v, request id %q)", ok, RequestID(asked))
	}
}

func TestMetricsServerHandlerServesOnlyMetricsAndProfiles(t *testing.T) {
	t.Parallel()
	s := newServer(Options{MetricsElsewhere: true}, io.Discard)
	h := s.MetricsServerHandler()
	tests := []struct {
		method, path string
		status       int
	}{
		{"GET", "/metrics", 200},
		{"POST", "/metrics", 405},
		{"GET", "/debug/pprof/", 200},
		{"GET", "/debug/pprof/goroutine?debug=1", 200},
		{"POST", "/debug/pprof/profile", 405},
		{"GET", "/healthz", 404},
		{"GET", "/graphql", 404},
	}
	for _, tt := range tests {
		rec := serve(h, httptest.NewRequest(tt.method, tt.path, nil))
		if rec.Code != tt.status || rec.Header().Get("X-Content-Type-Options") != "nosniff" || rec.Header().Get("Content-Security-Policy") != "default-src 'none'; frame-ancestors 'none'" {
			t.Errorf("%s %s: %d, headers %v; want %d with the security headers", tt.method, tt.path, rec.Code, rec.Header(), tt.status)
		}
	}
}

// TestCPUProfileOnlyOnTheMetricsListener: the metrics server answers a CPU profile (gzipped
// protocol buffers), and the public handler knows no /debug/pprof/ at all, whether /metrics is
// on it or not.
func TestCPUProfileOnlyOnTheMetricsListener(t *testing.T) {
	t.Parallel()
	s := newServer(Options{MetricsElsewhere: true}, io.Discard)
	rec := serve(s.MetricsServerHandler(), httptest.NewRequest("GET", "/debug/pprof/profile?seconds=1", nil))
	if rec.Code != 200 || !bytes.HasPrefix(rec.Body.Bytes(), []byte{0x1f, 0x8b}) {
		t.Fatalf("metrics listener: /debug/pprof/profile: %d, %d bytes starting %q; want 200 and a gzipped profile", rec.Code, rec.Body.Len(), rec.Body.Bytes()[:min(rec.Body.Len(), 16)])
	}
	for _, elsewhere := range []bool{true, false} {
		public := newServer(Options{MetricsElsewhere: elsewhere}, io.Discard).Handler()
		for _, path := range []string{"/debug/pprof/profile?seconds=1", "/debug/pprof/", "/debug/pprof/heap", "/debug/pprof/cmdline"} {
			if rec := serve(public, httptest.NewRequest("GET", path, nil)); rec.Code != 404 {
				t.Errorf("public handler (metrics elsewhere %v): GET %s: %d, want 404", elsewhere, path, rec.Code)
			}
		}
	}
}

// TestHandlerPassesEveryRequestThroughTheMiddleware: whatever route answers (one mounted with
// Handle, one that panics, none), the answer has its request id, the security headers and
// CORS, and the route runs under the request deadline.
func TestHandlerPassesEveryRequestThroughTheMiddleware(t *testing.T) {
	t.Parallel()
	var logs syncBuffer
	s := newServer(Options{RequestTimeout: 7 * time.Second, CORSAllowedOrigins: []string{"https://app.partizap.ru"}}, &logs)
	var seen struct {
		id       string
		deadline time.Time
		ok       bool
	}
	s.Handle("GET /probe", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen.id = RequestID(r.Context())
		seen.deadline, seen.ok = r.Context().Deadline()
		_, _ = io.WriteString(w, "probed")
	}))
	s.Handle("GET /panic", http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("the handler broke") }))
	h := s.Handler()

	start := time.Now()
	req := httptest.NewRequest("GET", "/probe", nil)
	req.Header.Set("X-Request-ID", "lb-7f3a")
	req.Header.Set("Origin", "https://app.partizap.ru")
	rec := serve(h, req)
	if rec.Code != 200 || rec.Body.String() != "probed" || seen.id != "lb-7f3a" || rec.Header().Get("X-Request-ID") != "lb-7f3a" {
		t.Fatalf("%d %q, the route saw request id %q, X-Request-ID %q", rec.Code, rec.Body, seen.id, rec.Header().Get("X-Request-ID"))
	}
	if !seen.ok || seen.deadline.Before(start.Add(7*time.Second)) || seen.deadline.After(time.Now().Add(7*time.Second)) {
		t.Fatalf("the route's deadline is %v (set %v), want RequestTimeout from the start", seen.deadline, seen.ok)
	}
	if rec.Header().Get("Access-Control-Allow-Origin") != "https://app.partizap.ru" {
		t.Fatalf("no CORS: %v", rec.Header())
	}

	for _, path := range []string{"/probe", "/panic", "/no/such/page"} {
		rec := serve(h, httptest.NewRequest("GET", path, nil))
		for k, v := range map[string]string{"X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY", "Referrer-Policy": "no-referrer", "Vary": "Origin"} {
			if got := rec.Header().Get(k); got != v {
				t.Errorf("GET %s: %s %q, want %q", path, k, got, v)
			}
		}
		if !validRequestID(rec.Header().Get("X-Request-ID")) {
			t.Errorf("GET %s: X-Request-ID %q", path, rec.Header().Get("X-Request-ID"))
		}
		if path != "/panic" {
			continue
		}
		id := rec.Header().Get("X-Request-ID")
		want := `{"error":{"code":"internal_error","message":"internal error; quote request id ` + id + ` when reporting it"}}` + "\n"
		if rec.Code != 500 || rec.Body.String() != want {
			t.Errorf("GET /panic: %d %q, want 500 %q", rec.Code, rec.Body, want)
		}
		if !strings.Contains(logs.String(), `level=ERROR msg="handler panicked" path=/panic panic="the handler broke" stack=`) || !strings.Contains(logs.String(), "request_id="+id) {
			t.Errorf("the panic was not logged with its request id:\n%s", logs.String())
		}
	}

	preflight := httptest.NewRequest("OPTIONS", "/no/such/page", nil)
	preflight.Header.Set("Origin", "https://app.partizap.ru")
	preflight.Header.Set("Access-Control-Request-Method", "POST")
	if rec := serve(h, preflight); rec.Code != http.StatusNoContent {
		t.Errorf("a preflight reached the routes: %d", rec.Code)
	}
}

func TestNewHTTPServerBoundsEveryPartOfARequest(t *testing.T) {
	t.Parallel()
	var logs syncBuffer
	s := newServer(Options{}, &logs)
	h := http.NewServeMux()
	srv := s.NewHTTPServer(h)
	for _, tt := range []struct {
		name      string
		got, want time.Duration
	}{
		{"ReadHeaderTimeout", srv.ReadHeaderTimeout, 5 * time.Second},
		{"ReadTimeout", srv.ReadTimeout, 15 * time.Second},
		{"WriteTimeout", srv.WriteTimeout, 30 * time.Second},
		{"IdleTimeout", srv.IdleTimeout, 2 * time.Minute},
	} {
		if tt.got != tt.want {
			t.Errorf("%s = %v, want %v", tt.name, tt.got, tt.want)
		}
	}
	if srv.MaxHeaderBytes != 64<<10 {
		t.Errorf("MaxHeaderBytes = %d, want %d", srv.MaxHeaderBytes, 64<<10)
	}
	if srv.Handler != http.Handler(h) {
		t.Errorf("Handler = %v, want the one given", srv.Handler)
	}
	if srv.ErrorLog == nil {
		t.Fatal("no ErrorLog: net/http would log to stderr, outside the service's log")
	}
	srv.ErrorLog.Print("http: TLS handshake error from 10.0.0.1:4242: EOF")
	if got, want := logs.String(), `level=WARN msg="http: TLS handshake error from 10.0.0.1:4242: EOF"`+"\n"; got != want {
		t.Errorf("ErrorLog wrote %q, want %q", got, want)
	}
}

// listen returns a listener on a free local port.
func listen(t *testing.T) net.Listener {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// get asks url and returns its status and body, or fails the test.
func get(t *testing.T, url string) (int, string) {
	t.Helper()
	client := &http.Client{Timeout: 10 * time.Second}
	res, err := client.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(body)
}

// refused says whether addr refuses new connections.
func refused(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err == nil {
		c.Close()
	}
	return err != nil
}

// within waits for ch, failing the test after a generous bound.
func within[T any](t *testing.T, what string, ch <-chan T) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(15 * time.Second):
		t.Fatalf("%s did not happen", what)
		var zero T
		return zero
	}
}

// waitServe waits for Serve's result.
func waitServe(t *testing.T, done <-chan error) error {
	t.Helper()
	return within(t, "Serve's return", done)
}

func TestServeShutsDownWhenTheContextEnds(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name          string
		metricsServer bool
	}{
		{"one server", false},
		{"with a metrics server", true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var logs syncBuffer
			s := newServer(Options{MetricsElsewhere: tt.metricsServer}, &logs)
			listener := listen(t)
			var metricsListener net.Listener
			if tt.metricsServer {
				metricsListener = listen(t)
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			done := make(chan error, 1)
			go func() { done <- s.Serve(ctx, listener, metricsListener) }()

			addr := listener.Addr().String()
			if status, body := get(t, "http://"+addr+"/healthz"); status != 200 || body != "ok\n" {
				t.Fatalf("/healthz: %d %q", status, body)
			}
			if tt.metricsServer {
				if status, _ := get(t, "http://"+metricsListener.Addr().String()+"/metrics"); status != 200 {
					t.Fatalf("metrics server /metrics: %d", status)
				}
				if status, _ := get(t, "http://"+addr+"/metrics"); status != 404 {
					t.Fatalf("/metrics on the service's address: %d, want 404", status)
				}
			}
			cancel()
			if err := waitServe(t, done); err != nil {
				t.Fatalf("Serve returned %v after a clean shutdown, want nil", err)
			}
			if !refused(addr) || tt.metricsServer && !refused(metricsListener.Addr().String()) {
				t.Fatal("a listener still accepts connections after Serve returned")
			}
			var logged []string // besides the requests' access-log lines
			for _, line := range strings.SplitAfter(logs.String(), "\n") {
				if line != "" && !strings.HasPrefix(line, "level=INFO msg=request ") {
					logged = append(logged, line)
				}
			}
			if want := `level=INFO msg="shutting down: finishing in-flight requests" grace=5s` + "\n"; strings.Join(logged, "") != want {
				t.Fatalf("logged %q, want %q", logged, want)
			}
		})
	}
}

// TestServeFinishesInFlightRequests: after the context ends, a request already being served
// gets its answer and Serve waits for it.
func TestServeFinishesInFlightRequests(t *testing.T) {
	t.Parallel()
	s := newServer(Options{}, io.Discard)
	started, release := make(chan struct{}), make(chan struct{})
	s.Handle("GET /slow", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		close(started)
		<-release
		_, _ = io.WriteString(w, "finished")
	}))
	listener := listen(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, listener, nil) }()

	type answer struct {
		status int
		body   string
	}
	answered := make(chan answer, 1)
	go func() {
		res, err := http.Get("http://" + listener.Addr().String() + "/slow")
		if err != nil {
			answered <- answer{0, err.Error()}
			return
		}
		defer res.Body.Close()
		body, _ := io.ReadAll(res.Body)
		answered <- answer{res.StatusCode, string(body)}
	}()
	within(t, "the request's start", started)
	cancel()
	select {
	case err := <-done:
		t.Fatalf("Serve returned %v with a request in flight", err)
	case <-time.After(200 * time.Millisecond):
	}
	close(release)
	if a := within(t, "the answer", answered); a.status != 200 || a.body != "finished" {
		t.Fatalf("the in-flight request got %d %q", a.status, a.body)
	}
	if err := waitServe(t, done); err != nil {
		t.Fatalf("Serve returned %v", err)
	}
}

// TestServeClosesWhatOutlastsTheGrace: a request still running when ShutdownGrace is over has
// its connection closed, and Serve returns.
func TestServeClosesWhatOutlastsTheGrace(t *testing.T) {
	t.Parallel()
	var logs syncBuffer
	s := newServer(Options{ShutdownGrace: 100 * time.Millisecond}, &logs)
	started, release := make(chan struct{}), make(chan struct{})
	defer close(release)
	s.Handle("GET /stuck", http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		close(started)
		<-release
	}))
	listener := listen(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, listener, nil) }()
	clientErr := make(chan error, 1)
	go func() {
		res, err := http.Get("http://" + listener.Addr().String() + "/stuck")
		if err == nil {
			res.Body.Close()
		}
		clientErr <- err
	}()
	within(t, "the request's start", started)
	cancel()
	if err := waitServe(t, done); err != nil {
		t.Fatalf("Serve returned %v, want nil once the connections are closed", err)
	}
	select {
	case err := <-clientErr:
		if err == nil {
			t.Fatal("the stuck request got an answer")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the stuck request's connection was left open")
	}
	if want := `level=WARN msg="grace period over: closing the remaining connections" err="context deadline exceeded"`; !strings.Contains(logs.String(), want) {
		t.Fatalf("the log lacks %q:\n%s", want, logs.String())
	}
}

// TestServeStopsBothServersWhenOneFails: a server whose listener fails ends Serve with its
// error, and the other is shut down.
func TestServeStopsBothServersWhenOneFails(t *testing.T) {
	t.Parallel()
	s := newServer(Options{MetricsElsewhere: true}, io.Discard)
	listener, metricsListener := listen(t), listen(t)
	metricsListener.Close()
	done := make(chan error, 1)
	go func() { done <- s.Serve(context.Background(), listener, metricsListener) }()
	err := waitServe(t, done)
	if !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Serve returned %v, want the metrics listener's error", err)
	}
	if !refused(listener.Addr().String()) {
		t.Fatal("the service's server still accepts connections")
	}
}
