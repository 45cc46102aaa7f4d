package playground

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/partizap/vendor-inbox/httpserver"
	"github.com/partizap/vendor-inbox/models"
)

// Sessions is what the demo sign-in needs of the store (*models.Store has it).
type Sessions interface {
	UsersByID(ctx context.Context, ids []int64) ([]*models.User, error)
	BusiestVendor(ctx context.Context) (*models.User, int, error)
	CreateSession(ctx context.Context, userID int64, ttl time.Duration) (string, error)
}

// DemoLogin signs a user in for exploring, for demo mode only (register it only then: it lets
// anyone who can reach the server act as any user). GET DemoLoginPath?user=ID creates a real
// session of ttl for user ID, sets it as the PARTIZAP_SESSION cookie (HttpOnly, SameSite=Lax,
// Path=/, Secure over TLS) and redirects (303) to the playground; without user it signs in
// the demo vendor, the one selling in the most conversations. A user that is not a positive
// integer is 400, one that does not exist 404.
func DemoLogin(store Sessions, ttl time.Duration, logger *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		// Errors are plain text, for a person in a browser; the one error table gives the status.
		fail := func(code, format string, args ...any) {
			err := &models.Error{Code: code, Message: fmt.Sprintf(format, args...)}
			w.Header().Set("Cache-Control", "no-store")
			http.Error(w, err.Message, httpserver.Status(err))
		}
		if r.Method != http.MethodGet { // not even HEAD: a probe must not sign anyone in
			w.Header().Set("Allow", http.MethodGet)
			fail(httpserver.CodeMethodNotAllowed, "sign in with GET %s", DemoLoginPath)
			return
		}
		internal := func(op string, err error) {
			if models.ErrorCode(err) == models.EUNAVAILABLE {
				w.Header().Set("Retry-After", "5")
				fail(models.EUNAVAILABLE, "%s", models.ErrorMessage(err))
				return
			}
			logger.ErrorContext(ctx, "demo login: "+op, "err", err)
			fail(models.EINTERNAL, "%s", httpserver.InternalMessage(ctx))
		}

		var user *models.User
		switch values := r.URL.Query()["user"]; {
		case len(values) > 1:
			fail(models.EINVALID, "give user once: /demo/login?user=ID")
			return
		case len(values) == 1:
			id, err := strconv.ParseInt(values[0], 10, 64)
			if err != nil || id <= 0 {
				fail(models.EINVALID, "user must be a user id, a positive integer like /demo/login?user=1; not %q", values[0])
				return
			}
			users, err := store.UsersByID(ctx, []int64{id})
			if err != nil {
				internal("find user", err)
				return
			}
			if len(users) == 0 {
				fail(models.ENOTFOUND, "there is no user %d", id)
				return
			}
			user = users[0]
		default:
			vendor, _, err := store.BusiestVendor(ctx)
			if err != nil {
				internal("find the demo vendor", err)
				return
			}
			if vendor == nil {
				fail(models.ENOTFOUND, "no vendor to sign in: the database has no conversations yet (fill it with `go run . seed`), or name a user: /demo/login?user=ID")
				return
			}
			user = vendor
		}

		session, err := store.CreateSession(ctx, user.ID, ttl)
		if err != nil {
			if models.ErrorCode(err) == models.ENOTFOUND { // deleted in the meantime
				fail(models.ENOTFOUND, "there is no user %d", user.ID)
				return
			}
			internal("create session", err)
			return
		}
		http.SetCookie(w, &http.Cookie{
			Name:     httpserver.SessionCookie,
			Value:    session,
			Path:     "/",
			MaxAge:   int(ttl / time.Second),
			HttpOnly: true,
			Secure:   r.TLS != nil,
			SameSite: http.SameSiteLaxMode,
		})
		w.Header().Set("Cache-Control", "no-store")
		http.Redirect(w, r, Path, http.StatusSeeOther)
	})
}

// DemoLoginOff answers DemoLoginPath where demo sign-in is off (outside demo mode, unless
// DEMO_LOGIN=true): 404, with a short page that says how to sign in instead, rather than a bare
// "not found" that leaves a newcomer guessing.
func DemoLoginOff() http.Handler {
	const page = `<!doctype html>
<meta charset="utf-8">
<title>Demo sign-in is off</title>
<h1>Demo sign-in is off on this instance</h1>
<p>It signs anyone in as any user, so it is served only in demo mode. To explore with it, start
the service with <code>DEMO_LOGIN=true</code> (never in production).</p>
<p>Otherwise sign in with a <code>PARTIZAP_SESSION</code> cookie that the session command prints:
<code>go run . session --user ID</code>.</p>
`
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusNotFound)
		_, _ = fmt.Fprint(w, page)
	})
}
