package httpserver

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/partizap/vendor-inbox/models"
	"github.com/partizap/vendor-inbox/models/database"
	"github.com/partizap/vendor-inbox/models/dbtest"
	"github.com/partizap/vendor-inbox/models/loaders"
)

var generatedID = regexp.MustCompile(`^[0-9a-f]{24}$`)

func TestRequestIDKeepsWellFormedIDsAndReplacesOthers(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, incoming string
		kept           bool
	}{
		{"none", "", false},
		{"a proxy's", "lb-7f3a", true},
		{"letters, digits, - and _", "Req_2024-abc-XYZ", true},
		{"64 characters", strings.Repeat("a", 64), true},
		{"65 characters", strings.Repeat("a", 65), false},
		{"a space", "bad id", false},
		{"a tab", "bad\tid", false},
		{"a dot", "a.b", false},
		{"a slash", "a/b", false},
		{"a quote", `a"b`, false},
		{"a newline", "a\nb", false},
		{"non-ASCII", "запрос", false},
		{"a log injection", "x level=ERROR msg=forged", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var seen string
			h := requestID(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) { seen = RequestID(r.Context()) }))
			r := httptest.NewRequest("GET", "/", nil)
			if tt.incoming != "" {
				r.Header["X-Request-Id"] = []string{tt.incoming}
			}
			rec := serve(h, r)
			got := rec.Header().Get("X-Request-ID")
			if got != seen {
				t.Fatalf("X-Request-ID %q, but the handler saw %q", got, seen)
			}
			if tt.kept && got != tt.incoming {
				t.Fatalf("X-Request-ID %q, want the incoming %q kept", got, tt.incoming)
			}
			if !tt.kept && !generatedID.MatchString(got) {
				t.Fatalf("X-Request-ID %q for incoming %q, want a fresh one of 24 hex digits", got, tt.incoming)
			}
		})
	}
}

func TestRequestIDsAreFreshForEachRequest(t *testing.T) {
	t.Parallel()
	h := requestID(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	seen := map[string]bool{}
	for range 100 {
		id := serve(h, httptest.NewRequest("GET", "/", nil)).Header().Get("X-Request-ID")
		if seen[id] {
			t.Fatalf("request id %q given twice", id)
		}
		seen[id] = true
	}
	if got := RequestID(context.Background()); got != "" {
		t.Fatalf("RequestID outside a request = %q, want \"\"", got)
	}
}

func TestRequestLogsAddsTheRequestID(t *testing.T) {
	t.Parallel()
	ctx := context.WithValue(context.Background(), requestIDKey{}, "req-42")
	tests := []struct {
		name string
		log  func(*slog.Logger)
		want string
	}{
		{"with a request id", func(l *slog.Logger) { l.InfoContext(ctx, "served", "status", 200) },
			"level=INFO msg=served status=200 request_id=req-42\n"},
		{"without one", func(l *slog.Logger) { l.InfoContext(context.Background(), "started") },
			"level=INFO msg=started\n"},
		{"without a context", func(l *slog.Logger) { l.Info("started") }, "level=INFO msg=started\n"},
		{"after With", func(l *slog.Logger) { l.With("component", "rest").WarnContext(ctx, "slow") },
			"level=WARN msg=slow component=rest request_id=req-42\n"},
		{"after WithGroup", func(l *slog.Logger) { l.WithGroup("http").ErrorContext(ctx, "failed", "status", 500) },
			"level=ERROR msg=failed http.status=500 http.request_id=req-42\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var logs bytes.Buffer
			tt.log(slog.New(RequestLogs{textHandler(&logs)}))
			if logs.String() != tt.want {
				t.Fatalf("logged %q, want %q", logs.String(), tt.want)
			}
		})
	}
}

// jsonErrors writes errors as Server.WriteError does.
func jsonErrors(logger *slog.Logger) errorWriter {
	return func(w http.ResponseWriter, r *http.Request, err error) { WriteJSONError(w, r, logger, err) }
}

func graphQLErrors(logger *slog.Logger) errorWriter {
	return func(w http.ResponseWriter, r *http.Request, err error) { writeGraphQLError(w, r, logger, err, nil) }
}

func TestRecoverPanicsAnswersAnInternalErrorInTheGivenShape(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		shape  func(*slog.Logger) errorWriter
		panic  any
		logged string
		body   string
	}{
		{"JSON", jsonErrors, "nil map write", `panic="nil map write"`,
			`{"error":{"code":"internal_error","message":"internal error; quote request id req-42 when reporting it"}}` + "\n"},
		{"GraphQL", graphQLErrors, errors.New("index out of range"), `panic="index out of range"`,
			`{"errors":[{"extensions":{"code":"INTERNAL_SERVER_ERROR","requestId":"req-42"},"message":"internal error; quote request id req-42 when reporting it"}]}`},
		{"panic(nil)", jsonErrors, nil, `panic="panic called with nil argument"`,
			`{"error":{"code":"internal_error","message":"internal error; quote request id req-42 when reporting it"}}` + "\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var logs bytes.Buffer
			logger := requestLogger(&logs)
			h := recoverPanics(logger, tt.shape(logger), http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic(tt.panic) }))
			rec := serve(h, withRequestID(httptest.NewRequest("GET", "/x", nil), "req-42"))
			if rec.Code != 500 || rec.Body.String() != tt.body {
				t.Fatalf("%d %q, want 500 %q", rec.Code, rec.Body, tt.body)
			}
			first, _, _ := strings.Cut(logs.String(), "\n")
			if want := `level=ERROR msg="handler panicked" path=/x ` + tt.logged + ` stack="goroutine `; !strings.HasPrefix(first, want) {
				t.Fatalf("first log line %q, want it to start with %q", first, want)
			}
			if !strings.HasSuffix(first, " request_id=req-42") || !strings.Contains(first, "middleware_test.go") {
				t.Fatalf("the panic's log line lacks its stack or request id: %q", first)
			}
			if strings.Count(logs.String(), "handler panicked") != 1 || strings.Count(logs.String(), "level=ERROR") != 1 {
				t.Fatalf("the panic was logged in more than one ERROR line:\n%s", logs.String())
			}
		})
	}
}

func TestRecoverPanicsLeavesOtherRequestsAlone(t *testing.T) {
	t.Parallel()
	var logs bytes.Buffer
	logger := requestLogger(&logs)
	h := recoverPanics(logger, jsonErrors(logger), http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusTeapot)
		_, _ = io.WriteString(w, "fine")
	}))
	rec := serve(h, httptest.NewRequest("GET", "/x", nil))
	if rec.Code != http.StatusTeapot || rec.Body.String() != "fine" || logs.Len() != 0 {
		t.Fatalf("%d %q, logged %q", rec.Code, rec.Body, logs.String())
	}
}

// TestRecoverPanicsLetsAbortHandlerThrough: http.ErrAbortHandler is net/http's way to abort a
// response; it must reach net/http, unlogged and unanswered.
func TestRecoverPanicsLetsAbortHandlerThrough(t *testing.T) {
	t.Parallel()
	var logs bytes.Buffer
	logger := requestLogger(&logs)
	var wrote atomic.Bool
	write := func(http.ResponseWriter, *http.Request, error) { wrote.Store(true) }
	h := recoverPanics(logger, write, http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic(http.ErrAbortHandler) }))
	var recovered any
	func() {
		defer func() { recovered = recover() }()
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/x", nil))
	}()
	if recovered != http.ErrAbortHandler {
		t.Fatalf("recovered %v, want http.ErrAbortHandler panicking on", recovered)
	}
	if wrote.Load() || logs.Len() != 0 {
		t.Fatalf("an aborted request was answered (%v) or logged: %q", wrote.Load(), logs.String())
	}
}

func TestSecurityHeadersAreOnEveryAnswer(t *testing.T) {
	t.Parallel()
	want := http.Header{
		"X-Content-Type-Options":  {"nosniff"},
		"X-Frame-Options":         {"DENY"},
		"Referrer-Policy":         {"no-referrer"},
		"Content-Security-Policy": {"default-src 'none'; frame-ancestors 'none'"},
	}
	for _, status := range []int{200, 404, 500} {
		h := securityHeaders(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(status) }))
		rec := serve(h, httptest.NewRequest("GET", "/", nil))
		if rec.Code != status || !reflect.DeepEqual(rec.Header(), want) {
			t.Errorf("%d: %d %v, want %v", status, rec.Code, rec.Header(), want)
		}
	}
}

func TestNoStoreForbidsCachingWhoeverWrites(t *testing.T) {
	t.Parallel()
	var logs bytes.Buffer
	logger := requestLogger(&logs)
	for name, next := range map[string]http.Handler{
		"data":      http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, `{"data":{}}`) }),
		"a refusal": http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { WriteJSONError(w, r, logger, models.ErrUnauthenticated) }),
		"a panic":   recoverPanics(logger, jsonErrors(logger), http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("boom") })),
		"nothing":   http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}),
	} {
		rec := serve(NoStore(next), httptest.NewRequest("GET", "/vendor/conversations", nil))
		if got := rec.Header().Values("Cache-Control"); !reflect.DeepEqual(got, []string{"private, no-store"}) {
			t.Errorf("%s: Cache-Control %q, want [\"private, no-store\"]", name, got)
		}
	}
}

func TestCORS(t *testing.T) {
	t.Parallel()
	allowed := []string{"https://app.partizap.ru", "http://localhost:5173"}
	allowedAnswer := http.Header{
		"Access-Control-Allow-Origin":      {"https://app.partizap.ru"},
		"Access-Control-Allow-Credentials": {"true"},
		"Access-Control-Expose-Headers":    {"X-Request-ID"},
		"Vary":                             {"Origin"},
	}
	preflightAnswer := http.Header{
		"Access-Control-Allow-Origin":      {"https://app.partizap.ru"},
		"Access-Control-Allow-Credentials": {"true"},
		"Access-Control-Expose-Headers":    {"X-Request-ID"},
		"Access-Control-Allow-Methods":     {"GET, POST"},
		"Access-Control-Allow-Headers":     {"Content-Type, Accept, X-Request-ID, traceparent, tracestate, apollographql-client-name, apollographql-client-version, apollo-require-preflight"},
		"Access-Control-Max-Age":           {"600"},
		"Vary":                             {"Origin", "Access-Control-Request-Method", "Access-Control-Request-Headers"},
		"Cache-Control":                    {"private, no-store"},
	}
	refusedPreflight := http.Header{"Vary": {"Origin"}, "Cache-Control": {"private, no-store"}}
	noCORS := http.Header{"Vary": {"Origin"}}
	tests := []struct {
		name, method, origin string
		preflight            bool // with Access-Control-Request-Method
		allowed              []string
		status               int
		nextRuns             bool
		header               http.Header // exact, besides what next sets
	}{
		{"no origin", "GET", "", false, allowed, 200, true, noCORS},
		{"allowed origin", "POST", "https://app.partizap.ru", false, allowed, 200, true, allowedAnswer},
		{"another allowed origin", "GET", "http://localhost:5173", false, allowed, 200, true, http.Header{
			"Access-Control-Allow-Origin":      {"http://localhost:5173"},
			"Access-Control-Allow-Credentials": {"true"},
			"Access-Control-Expose-Headers":    {"X-Request-ID"},
			"Vary":                             {"Origin"},
		}},
		{"other origin", "POST", "https://evil.example", false, allowed, 200, true, noCORS},
		{"lookalike origin", "POST", "https://app.partizap.ru.evil.example", false, allowed, 200, true, noCORS},
		{"origin in other case", "POST", "https://APP.partizap.ru", false, allowed, 200, true, noCORS},
		{"null origin", "POST", "null", false, allowed, 200, true, noCORS},
		{"no origins allowed", "POST", "https://app.partizap.ru", false, nil, 200, true, noCORS},
		{"allowed preflight", "OPTIONS", "https://app.partizap.ru", true, allowed, 204, false, preflightAnswer},
		{"refused preflight", "OPTIONS", "https://evil.example", true, allowed, 403, false, refusedPreflight},
		{"preflight without origin", "OPTIONS", "", true, allowed, 403, false, refusedPreflight},
		{"preflight with no origins allowed", "OPTIONS", "https://app.partizap.ru", true, nil, 403, false, refusedPreflight},
		{"OPTIONS that is no preflight", "OPTIONS", "https://app.partizap.ru", false, allowed, 200, true, allowedAnswer},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ran := false
			h := cors(tt.allowed, BrowserClientHeaders, http.HandlerFunc(func(http.ResponseWriter, *http.Request) { ran = true }))
			r := httptest.NewRequest(tt.method, "/graphql", nil)
			if tt.origin != "" {
				r.Header.Set("Origin", tt.origin)
			}
			if tt.preflight {
				r.Header.Set("Access-Control-Request-Method", "POST")
				r.Header.Set("Access-Control-Request-Headers", "content-type")
			}
			rec := serve(h, r)
			if rec.Code != tt.status || ran != tt.nextRuns {
				t.Fatalf("%d, next ran: %v; want %d, %v", rec.Code, ran, tt.status, tt.nextRuns)
			}
			if !reflect.DeepEqual(rec.Header(), tt.header) {
				t.Fatalf("headers %v\nwant    %v", rec.Header(), tt.header)
			}
		})
	}
}

func TestDeadlineBoundsTheRequest(t *testing.T) {
	t.Parallel()
	var ctx context.Context
	h := deadline(3*time.Second, http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) { ctx = r.Context() }))
	start := time.Now()
	serve(h, httptest.NewRequest("GET", "/", nil))
	end := time.Now()
	d, ok := ctx.Deadline()
	if !ok || d.Before(start.Add(3*time.Second)) || d.After(end.Add(3*time.Second)) {
		t.Fatalf("deadline %v (set: %v), want 3s after the request started (%v)", d, ok, start)
	}
	if !errors.Is(ctx.Err(), context.Canceled) {
		t.Fatalf("the request's context is %v once answered, want cancelled (its timer released)", ctx.Err())
	}
}

func TestDeadlinePassesAndEndsTheContext(t *testing.T) {
	t.Parallel()
	var err error
	h := deadline(time.Millisecond, http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
			err = r.Context().Err()
		case <-time.After(10 * time.Second):
		}
	}))
	serve(h, httptest.NewRequest("GET", "/", nil))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("the context ended with %v, want DeadlineExceeded", err)
	}
}

func TestMethodsRefusesOthersBeforeTheHandler(t *testing.T) {
	t.Parallel()
	s := newServer(Options{}, io.Discard)
	tests := []struct {
		allowed, method string
		ok              bool
		named           string // what the refusal says is supported: HEAD goes without saying
	}{
		{"GET, HEAD", "GET", true, ""},
		{"GET, HEAD", "HEAD", true, ""},
		{"GET, HEAD", "POST", false, "GET"},
		{"GET, HEAD", "DELETE", false, "GET"},
		{"GET, HEAD", "OPTIONS", false, "GET"},
		{"GET, HEAD", "get", false, "GET"},
		{"GET,HEAD", "HEAD", true, ""},
		{"POST", "GET", false, "POST"},
	}
	for _, tt := range tests {
		t.Run(tt.allowed+" "+tt.method, func(t *testing.T) {
			t.Parallel()
			ran := false
			h := s.Methods(tt.allowed, http.HandlerFunc(func(http.ResponseWriter, *http.Request) { ran = true }))
			rec := serve(h, httptest.NewRequest(tt.method, "/vendor/conversations", nil))
			if tt.ok {
				if rec.Code != 200 || !ran || rec.Header().Get("Allow") != "" {
					t.Fatalf("%d, ran %v, Allow %q: want the handler to answer", rec.Code, ran, rec.Header().Get("Allow"))
				}
				return
			}
			want := fmt.Sprintf(`{"error":{"code":"method_not_allowed","message":"only %s is supported on /vendor/conversations"}}`+"\n", tt.named)
			if rec.Code != 405 || rec.Body.String() != want || ran {
				t.Fatalf("%d %q, next ran: %v; want 405 %q without the handler", rec.Code, rec.Body, ran, want)
			}
			if got := rec.Header().Values("Allow"); !reflect.DeepEqual(got, []string{tt.allowed}) {
				t.Fatalf("Allow %q, want %q", got, tt.allowed)
			}
		})
	}
}

const testCursorSecret = "a-test-secret-of-at-least-32-bytes!"

// withStore gives opts a fresh migrated database's store and cursors, and returns the database.
func withStore(t *testing.T, opts *Options) *gorm.DB {
	t.Helper()
	_, db := dbtest.New(t)
	opts.Store = models.NewStore(db)
	opts.Cursors = models.NewCursors([]byte(testCursorSecret))
	return db
}

// viewerSeen is what WithViewer passed on to the handler behind it.
type viewerSeen struct {
	user    *models.User
	err     error
	loaders *loaders.Loaders
}

func seeViewer(seen *viewerSeen) http.Handler {
	return http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		seen.user, seen.err = models.Viewer(r.Context())
		seen.loaders = loaders.For(r.Context())
	})
}

func TestWithViewerResolvesTheSessionCookie(t *testing.T) {
	t.Parallel()
	var logs syncBuffer
	opts := Options{}
	db := withStore(t, &opts)
	s := newServer(opts, &logs)
	var statements atomic.Int64
	if err := database.CountStatements(db, func() { statements.Add(1) }); err != nil {
		t.Fatal(err)
	}
	vendor := &models.User{DisplayName: "Vendor", Rating: "4.50"}
	if err := db.Create(vendor).Error; err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	live, err := opts.Store.CreateSession(ctx, vendor.ID, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	expired, err := opts.Store.CreateSession(ctx, vendor.ID, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	dbtest.ExpireSession(t, db, expired)

	tests := []struct {
		name       string
		cookie     *http.Cookie
		user       int64 // 0: anonymous
		statements int64
	}{
		{"no cookie: anonymous, no query", nil, 0, 0},
		{"another cookie: anonymous, no query", &http.Cookie{Name: "theme", Value: "dark"}, 0, 0},
		{"a live session", &http.Cookie{Name: SessionCookie, Value: live}, vendor.ID, 1},
		{"an unknown session", &http.Cookie{Name: SessionCookie, Value: "not-a-session"}, 0, 1},
		{"an expired session", &http.Cookie{Name: SessionCookie, Value: expired}, 0, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var seen viewerSeen
			r := httptest.NewRequest("GET", "/vendor/conversations", nil)
			if tt.cookie != nil {
				r.AddCookie(tt.cookie)
			}
			before := statements.Load()
			serve(s.WithViewer(seeViewer(&seen)), r)
			if ran := statements.Load() - before; ran != tt.statements {
				t.Errorf("%d statements, want %d", ran, tt.statements)
			}
			if seen.err != nil || tt.user == 0 && seen.user != nil || tt.user != 0 && (seen.user == nil || seen.user.ID != tt.user) {
				t.Fatalf("viewer %+v, error %v; want user %d", seen.user, seen.err, tt.user)
			}
			if seen.loaders == nil {
				t.Fatal("no loaders for the request")
			}
		})
	}
	if logs.String() != "" {
		t.Fatalf("logged %q", logs.String())
	}
}

// TestWithViewerKeepsAFailedLookup: a session that cannot be looked up leaves the request with
// the error, not anonymous; it is logged unless the request ended first.
func TestWithViewerKeepsAFailedLookup(t *testing.T) {
	t.Parallel()
	var logs syncBuffer
	opts := Options{}
	db := withStore(t, &opts)
	s := newServer(opts, &logs)
	if err := db.Exec("DROP TABLE sessions").Error; err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name   string
		ended  ended
		logged bool
	}{
		{"logged", running, true},
		{"the request ended: not logged", cancelled, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			before := logs.String()
			var seen viewerSeen
			r := endedRequest(t, "GET", "/vendor/conversations", tt.ended)
			r.AddCookie(&http.Cookie{Name: SessionCookie, Value: "abc"})
			serve(s.WithViewer(seeViewer(&seen)), r)
			if seen.user != nil || models.ErrorCode(seen.err) != models.EINTERNAL {
				t.Fatalf("viewer %+v, error %v; want no viewer and an internal error", seen.user, seen.err)
			}
			if _, err := models.RequireViewer(models.WithViewer(context.Background(), seen.user, seen.err)); models.ErrorCode(err) != models.EINTERNAL {
				t.Fatalf("RequireViewer: %v, want the lookup's error, not unauthenticated", err)
			}
			logged := strings.TrimPrefix(logs.String(), before)
			if !tt.logged {
				if logged != "" {
					t.Fatalf("logged %q", logged)
				}
				return
			}
			if !strings.HasPrefix(logged, `level=ERROR msg="resolve session" err="resolve session: `) || !strings.HasSuffix(logged, " request_id=req-42\n") || strings.Count(logged, "\n") != 1 {
				t.Fatalf("logged %q, want one ERROR line with the cause and the request id", logged)
			}
		})
	}
}

// TestServerLogsEachRequestIDOnce: a logger that adds request ids already is not wrapped again.
func TestServerLogsEachRequestIDOnce(t *testing.T) {
	t.Parallel()
	var logs bytes.Buffer
	for _, logger := range []*slog.Logger{slog.New(textHandler(&logs)), slog.New(RequestLogs{textHandler(&logs)})} {
		logs.Reset()
		s := newServer(Options{Logger: logger}, &logs)
		s.Logger().InfoContext(context.WithValue(context.Background(), requestIDKey{}, "req-1"), "hello")
		if n := strings.Count(logs.String(), "request_id=req-1"); n != 1 {
			t.Fatalf("the request id is logged %d times: %q", n, logs.String())
		}
	}
}
