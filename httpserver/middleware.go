package httpserver

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strings"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/partizap/vendor-inbox/models"
	"github.com/partizap/vendor-inbox/models/loaders"
)

// SessionCookie is the name of the cookie that carries a session id.
const SessionCookie = "PARTIZAP_SESSION"

type requestIDKey struct{}

// RequestID returns the id of the request ctx serves, or "".
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

// RequestLogs adds the request's ids, when the context has them, to every log record: the
// request id and, when the request is traced, its trace and span ids.
type RequestLogs struct{ slog.Handler }

func (h RequestLogs) Handle(ctx context.Context, r slog.Record) error {
	if id := RequestID(ctx); id != "" {
		r.AddAttrs(slog.String("request_id", id))
	}
	if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
		r.AddAttrs(slog.String("trace_id", sc.TraceID().String()), slog.String("span_id", sc.SpanID().String()))
	}
	return h.Handler.Handle(ctx, r)
}

func (h RequestLogs) WithAttrs(attrs []slog.Attr) slog.Handler {
	return RequestLogs{h.Handler.WithAttrs(attrs)}
}

func (h RequestLogs) WithGroup(name string) slog.Handler {
	return RequestLogs{h.Handler.WithGroup(name)}
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
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), requestIDKey{}, id)))
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

// errorWriter answers err in the shape of the routes it serves.
type errorWriter func(w http.ResponseWriter, r *http.Request, err error)

// recoverPanics turns a panic in a handler into an internal error written by write, which
// quotes the request id; the panic and its stack are logged. Each family of routes recovers
// in its own error shape.
func recoverPanics(logger *slog.Logger, write errorWriter, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			p := recover()
			if p == nil || p == http.ErrAbortHandler {
				if p != nil {
					panic(p)
				}
				return
			}
			logger.ErrorContext(r.Context(), "handler panicked", "path", r.URL.Path, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			write(w, r, logged{fmt.Errorf("handler panicked: %v", p)})
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

// NoStore forbids caching every response of next, whoever writes it (a refusal, a recovered
// panic, the data): private answers depend on the session cookie, and a GET's URL would
// otherwise let a shared cache hand one viewer's data to another.
func NoStore(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "private, no-store")
		next.ServeHTTP(w, r)
	})
}

// BrowserClientHeaders are the request headers browser GraphQL clients send (Apollo Client's
// name, version and CSRF-prevention headers, OpenTelemetry's trace context, our request id):
// what a preflight allows unless CORS_ALLOWED_HEADERS says otherwise.
var BrowserClientHeaders = []string{"Content-Type", "Accept", "X-Request-ID", "traceparent", "tracestate",
	"apollographql-client-name", "apollographql-client-version", "apollo-require-preflight"}

// cors lets the listed origins, and only them, call the API with the browser's cookies.
// Preflights from them are answered here; from anyone else they are refused.
func cors(allowed, headers []string, next http.Handler) http.Handler {
	allowHeaders := strings.Join(headers, ", ")
	allow := make(map[string]bool, len(allowed))
	for _, o := range allowed {
		allow[o] = true
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		origin := r.Header.Get("Origin")
		h := w.Header()
		h.Add("Vary", "Origin")
		preflight := r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != ""
		if preflight {
			// Answered here, before any route: an answer that depends on who asks is never
			// stored by a shared cache (browsers keep preflights by Access-Control-Max-Age).
			h.Set("Cache-Control", "private, no-store")
		}
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
		h.Set("Access-Control-Allow-Headers", allowHeaders)
		h.Set("Access-Control-Max-Age", "600")
		w.WriteHeader(http.StatusNoContent)
	})
}

// deadline bounds every request; the context carries it down to the database, which cancels
// a statement still running when it passes. A WebSocket is no request: it lives as long as its
// client and session, and bounds each operation it carries (socketOperations).
func deadline(d time.Duration, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if isWebSocketUpgrade(r) {
			next.ServeHTTP(w, r)
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), d)
		defer cancel()
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// Methods refuses, with 405 and Allow, requests whose method is not among allowed (e.g. "GET,
// HEAD"), before anything behind it runs: a refused request costs no query.
func (s *Server) Methods(allowed string, next http.Handler) http.Handler {
	ok := map[string]bool{}
	var named []string // HEAD goes without saying beside GET
	for _, m := range strings.Split(allowed, ",") {
		m = strings.TrimSpace(m)
		ok[m] = true
		if m != http.MethodHead {
			named = append(named, m)
		}
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !ok[r.Method] {
			w.Header().Set("Allow", allowed)
			s.WriteError(w, r, &models.Error{Code: CodeMethodNotAllowed, Message: "only " + strings.Join(named, " and ") + " is supported on " + r.URL.Path})
			return
		}
		next.ServeHTTP(w, r)
	})
}

// WithViewer resolves the session cookie into the request's viewer and gives the request its
// loaders. A missing, unknown or expired session makes the request anonymous; a failed lookup
// is kept as the viewer's error so that data needing a viewer fails rather than pretends
// nobody signed in.
func (s *Server) WithViewer(next http.Handler) http.Handler {
	next = loaders.Middleware(s.opts.Store)(next)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var user *models.User
		var err error
		if c, cookieErr := r.Cookie(SessionCookie); cookieErr == nil {
			user, err = s.opts.Store.UserBySession(r.Context(), c.Value)
			switch models.ErrorCode(err) {
			case models.EUNAUTHENTICATED:
				user, err = nil, nil
			case models.EINTERNAL:
				// EUNAVAILABLE is not logged per request: database.ReportOutages sums it up; a lookup
				// cut short by the end of the request is no fault either.
				if r.Context().Err() == nil {
					s.logger.ErrorContext(r.Context(), "resolve session", "err", err)
				}
			}
		}
		next.ServeHTTP(w, r.WithContext(models.WithViewer(r.Context(), user, err)))
	})
}
