package httpserver

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	coderws "github.com/coder/websocket"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/partizap/vendor-inbox/models"
	"github.com/partizap/vendor-inbox/models/live"
	"github.com/partizap/vendor-inbox/models/loaders"
	"github.com/partizap/vendor-inbox/resolvers"
)

// WebSocketOptions bound the GraphQL WebSockets (subscriptions, and any operation a client
// sends over them).
type WebSocketOptions struct {
	InitTimeout           time.Duration // from the upgrade to connection_init
	PingInterval          time.Duration // between the server's pings; a socket silent for two is closed
	SessionCheckInterval  time.Duration // how soon a session that ends closes its sockets
	MaxSubscriptions      int           // at once on one socket
	MaxConnectionsPerUser int           // sockets one user may hold open on this instance
}

// Close codes of the GraphQL WebSocket, besides the protocols' own. README.md lists them for
// client authors. Clients of graphql-ws reconnect after CloseGoingAway and CloseTryAgainLater,
// and stop after CloseUnauthorized.
const (
	CloseGoingAway      = 1001 // the instance is shutting down: reconnect (to another one)
	CloseTryAgainLater  = 1013 // this client fell too far behind: reload what it shows, reconnect
	CloseUnauthorized   = 4401 // the session ended (signed out or expired): sign in again
	CloseInitTimeout    = 4408 // no connection_init in time
	closeProtocolError  = 1002 // gqlgen's code for everything that went wrong with a handshake
	initTimeoutMessage  = "connection initialisation timeout"
	socketWriteTimeout  = 10 * time.Second
	socketDrainTimeout  = 2 * time.Second // at shutdown, for the close handshakes
	sessionCheckTimeout = 5 * time.Second
)

// isWebSocketUpgrade reports whether r asks to become a WebSocket.
func isWebSocketUpgrade(r *http.Request) bool {
	return strings.EqualFold(r.Header.Get("Upgrade"), "websocket") && headerHasToken(r.Header, "Connection", "upgrade")
}

func headerHasToken(h http.Header, name, token string) bool {
	for _, v := range h.Values(name) {
		for _, t := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}

// serveWebSocket admits a WebSocket for gql: from a page of the service's own origin or of
// CORS_ALLOWED_ORIGINS only (a browser sends the cookie with a WebSocket from any site: the
// Origin check is its CSRF protection), signed in, within the viewer's connection limit. The
// refusals are HTTP answers in GraphQL's error shape, before the upgrade.
func (s *Server) serveWebSocket(w http.ResponseWriter, r *http.Request, gql http.Handler) {
	if origin := r.Header.Get("Origin"); origin != "" && !s.allowedOrigin(origin, r.Host) {
		s.writeGraphQLError(w, r, &models.Error{Code: CodeForbiddenOrigin, Message: "WebSockets are accepted from the service's own pages and CORS_ALLOWED_ORIGINS only"})
		return
	}
	viewer, err := models.RequireViewer(r.Context())
	if err != nil {
		s.writeGraphQLError(w, r, err)
		return
	}
	cookie, _ := r.Cookie(SessionCookie) // there is one: the viewer came from it
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	sock := &socket{user: viewer, session: cookie.Value, cancel: cancel}
	if err := s.sockets.add(sock); err != nil {
		s.writeGraphQLError(w, r, err)
		return
	}
	defer s.sockets.remove(sock)
	ctx = context.WithValue(ctx, socketKey{}, sock)
	ctx = live.WithOverflow(ctx, func() {
		sock.close(CloseTryAgainLater, "fell behind: live updates were dropped; reload and reconnect")
	})
	gql.ServeHTTP(w, r.WithContext(ctx))
}

// allowedOrigin: the origin of a page of this host, or one CORS_ALLOWED_ORIGINS lists.
func (s *Server) allowedOrigin(origin, host string) bool {
	for _, o := range s.opts.CORSAllowedOrigins {
		if o == origin {
			return true
		}
	}
	u, err := url.Parse(origin)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && strings.EqualFold(u.Host, host)
}

// websocketTransport is gqlgen's WebSocket transport (graphql-transport-ws and graphql-ws) over
// our own connections.
func (s *Server) websocketTransport() transport.Websocket {
	o := s.opts.WebSocket
	return transport.Websocket{
		Implementation:        socketImplementation{},
		InitTimeout:           o.InitTimeout,
		KeepAlivePingInterval: o.PingInterval, // graphql-ws: "ka" messages
		PingPongInterval:      o.PingInterval, // graphql-transport-ws: ping, and a pong is due
		ErrorFunc: func(ctx context.Context, err error) {
			if !errors.Is(err, context.Canceled) && ctx.Err() == nil {
				s.logger.InfoContext(ctx, "websocket failed", "err", err)
			}
		},
	}
}

// socketOperations applies to operations what sockets need: a subscription only on a socket,
// within the socket's limit; a query or mutation on a socket is bounded like a request; and
// every response on a socket (each event of a subscription) reads through fresh loaders, since
// a socket lives far longer than a request's cache may.
func (s *Server) socketOperations(present graphql.ErrorPresenterFunc) (graphql.OperationMiddleware, graphql.ResponseMiddleware) {
	refuse := func(ctx context.Context, err error) graphql.ResponseHandler {
		return graphql.OneShot(&graphql.Response{Errors: gqlerror.List{present(ctx, err)}})
	}
	operations := func(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
		sock := socketFrom(ctx)
		op := graphql.GetOperationContext(ctx)
		subscription := op.Operation != nil && op.Operation.Operation == ast.Subscription
		switch {
		case sock == nil && subscription:
			return refuse(ctx, &models.Error{Code: CodeBadRequest, Message: "subscriptions are served over a WebSocket on this endpoint (graphql-transport-ws), not over HTTP requests"})
		case sock == nil:
			return next(ctx)
		case !subscription:
			ctx, cancel := context.WithTimeout(ctx, s.opts.RequestTimeout)
			responses := next(ctx)
			return func(ctx context.Context) *graphql.Response {
				r := responses(ctx)
				if r == nil {
					cancel()
				}
				return r
			}
		}
		if max := s.opts.WebSocket.MaxSubscriptions; max > 0 && sock.subscriptions.Add(1) > int32(max) {
			sock.subscriptions.Add(-1)
			return refuse(ctx, &models.Error{Code: models.ELIMIT, Message: "too many subscriptions on this connection: stop one first, or open another connection"})
		}
		ctx, end := resolvers.WithStreamEnd(ctx)
		var gate *resolvers.EventGate
		if key := operationKey(op); key != "" {
			ctx, gate = resolvers.WithEventGate(ctx, key)
		}
		responses := next(ctx)
		if gate != nil && !gate.Attached() {
			gate = nil // refused before its stream began: its answer is gqlgen's error
		}
		var ended atomic.Bool
		return func(ctx context.Context) *graphql.Response {
			var r *graphql.Response
			if gate != nil {
				r = s.shared.respond(ctx, gate, sock.user.ID, responses)
			} else {
				r = responses(ctx)
			}
			if r != nil || ended.Swap(true) {
				return r
			}
			if s.opts.WebSocket.MaxSubscriptions > 0 {
				sock.subscriptions.Add(-1)
			}
			if err := end.Err(); err != nil && ctx.Err() == nil {
				// The protocol's "error" message, which ends the operation.
				transport.AddSubscriptionError(ctx, present(ctx, err))
			}
			return nil
		}
	}
	responses := func(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
		if sock := socketFrom(ctx); sock != nil {
			ctx = loaders.NewContext(ctx, loaders.New(s.opts.Store, sock.user.ID))
		}
		return next(ctx)
	}
	return operations, responses
}

// registerLiveMetrics shows the live updates: sockets and subscriptions open, what the hub did
// with the changes it heard, and what this instance's notifier announced.
func (s *Server) registerLiveMetrics() {
	hub, notifier := s.opts.Live, s.opts.Notifier
	if s.opts.Metrics == nil {
		return
	}
	gauge := func(name, help string, v func() float64) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, v)
	}
	counter := func(name, help string, v *atomic.Int64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help}, func() float64 { return float64(v.Load()) })
	}
	collectors := []prometheus.Collector{
		gauge("bff_live_websockets", "GraphQL WebSockets open on this instance.", func() float64 { return float64(s.sockets.count()) }),
	}
	if hub != nil {
		collectors = append(collectors,
			gauge("bff_live_subscriptions", "Subscriptions open on this instance.", func() float64 { return float64(hub.Stats.Active.Load()) }),
			counter("bff_live_changes_total", "Committed changes this instance heard of (from every instance).", &hub.Stats.Published),
			counter("bff_live_events_delivered_total", "Changes handed to subscriptions.", &hub.Stats.Delivered),
			counter("bff_live_subscribers_dropped_total", "Subscriptions dropped for falling too far behind (their sockets closed with 1013).", &hub.Stats.Overflowed),
			counter("bff_live_resyncs_total", "Times the changes stopped arriving (the listening connection was lost) and every subscription was told to resync.", &hub.Stats.Resyncs),
			counter("bff_live_responses_executed_total", "Events of subscriptions that executed their selection.", &s.shared.Executed),
			counter("bff_live_responses_shared_total", "Events of subscriptions answered with the response another subscription of the same viewer, operation and variables executed for the same event.", &s.shared.Shared),
		)
	}
	if notifier != nil {
		collectors = append(collectors,
			counter("bff_live_changes_announced_total", "Committed changes this instance's notifier took from the outbox and announced (for every instance).", &notifier.Stats.Announced),
			counter("bff_live_notifications_total", "NOTIFYs this instance's notifier sent, each with one or more changes.", &notifier.Stats.Notifications),
			counter("bff_live_announce_failures_total", "Sweeps of the outbox by this instance's notifier that failed (retried a second later).", &notifier.Stats.Failures),
			gauge("bff_live_outbox_lag_seconds", "How long the longest-waiting change of this notifier's latest batch waited in the outbox: from its write's transaction start to its announcement.",
				func() float64 { return float64(notifier.Stats.LagMicros.Load()) / 1e6 }),
		)
	}
	for _, c := range collectors {
		_ = s.opts.Metrics.Register(c) // a server built twice (tests do) registers once
	}
}

type socketKey struct{}

func socketFrom(ctx context.Context) *socket {
	sock, _ := ctx.Value(socketKey{}).(*socket)
	return sock
}

// socket is one GraphQL WebSocket: whose it is, and how to close it with a code of ours.
type socket struct {
	user    *models.User
	session string // the cookie's session id, checked every SessionCheckInterval
	cancel  context.CancelFunc

	subscriptions atomic.Int32

	mu   sync.Mutex
	conn *socketConn // once upgraded
	code int         // the close code chosen, once closing
	why  string
}

// close closes the socket with code and reason: the close frame is sent (in the background,
// so a client that stopped reading cannot hold anyone up) and gqlgen's connection ends.
func (s *socket) close(code int, reason string) {
	s.mu.Lock()
	if s.code != 0 {
		s.mu.Unlock()
		return
	}
	s.code, s.why = code, reason
	conn := s.conn
	s.mu.Unlock()
	if conn != nil {
		conn.closeWith(code, reason)
	}
	s.cancel()
}

// closeCode is the code chosen by close, or 0.
func (s *socket) closeCode() (int, string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.code, s.why
}

func (s *socket) attach(c *socketConn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.conn = c
	c.socket = s
}

// sockets are this instance's open GraphQL WebSockets: counted per user, closed when their
// session ends, closed with CloseGoingAway at shutdown.
type sockets struct {
	store    *models.Store
	logger   *slog.Logger
	maxUser  int
	interval time.Duration

	mu       sync.Mutex
	all      map[*socket]struct{}
	perUser  map[int64]int
	checking bool // the session checker runs while there are sockets
	closed   bool // shutting down: no new sockets
	empty    chan struct{}
}

func (ss *sockets) add(s *socket) error {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if ss.closed {
		return &models.Error{Code: models.EUNAVAILABLE, Message: "the server is shutting down: connect again"}
	}
	if ss.maxUser > 0 && ss.perUser[s.user.ID] >= ss.maxUser {
		return &models.Error{Code: models.ELIMIT, Message: "too many live connections for this user: close one (another tab, say) first"}
	}
	if ss.all == nil {
		ss.all, ss.perUser = map[*socket]struct{}{}, map[int64]int{}
	}
	ss.all[s] = struct{}{}
	ss.perUser[s.user.ID]++
	if !ss.checking && ss.interval > 0 {
		ss.checking = true
		go ss.checkSessions()
	}
	return nil
}

func (ss *sockets) remove(s *socket) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if _, ok := ss.all[s]; !ok {
		return
	}
	delete(ss.all, s)
	if ss.perUser[s.user.ID]--; ss.perUser[s.user.ID] == 0 {
		delete(ss.perUser, s.user.ID)
	}
	if len(ss.all) == 0 && ss.empty != nil {
		close(ss.empty)
		ss.empty = nil
	}
}

func (ss *sockets) count() int {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	return len(ss.all)
}

func (ss *sockets) snapshot() []*socket {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	out := make([]*socket, 0, len(ss.all))
	for s := range ss.all {
		out = append(out, s)
	}
	return out
}

// checkSessions closes, every interval, the sockets whose session has ended, with one query for
// all of them; it stops when no socket is left.
func (ss *sockets) checkSessions() {
	ticker := time.NewTicker(ss.interval)
	defer ticker.Stop()
	for range ticker.C {
		open := ss.snapshot()
		if len(open) == 0 {
			ss.mu.Lock()
			if len(ss.all) == 0 {
				ss.checking = false
				ss.mu.Unlock()
				return
			}
			ss.mu.Unlock()
			continue
		}
		ids := make([]string, 0, len(open))
		seen := map[string]bool{}
		for _, s := range open {
			if !seen[s.session] {
				seen[s.session] = true
				ids = append(ids, s.session)
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), sessionCheckTimeout)
		alive, err := ss.store.SessionsAlive(ctx, ids)
		cancel()
		if err != nil {
			// The database is away: nothing is known, so nothing is closed; the next tick asks again.
			ss.logger.Warn("websocket sessions could not be checked", "err", err)
			continue
		}
		for _, s := range open {
			if !alive[s.session] {
				s.close(CloseUnauthorized, "the session ended: sign in again")
			}
		}
	}
}

// closeAll refuses new sockets, closes every open one with code and reason and waits, at most
// until ctx ends, for them to be gone.
func (ss *sockets) closeAll(ctx context.Context, code int, reason string) {
	ss.mu.Lock()
	ss.closed = true
	var empty chan struct{}
	if len(ss.all) > 0 {
		empty = make(chan struct{})
		ss.empty = empty
	}
	ss.mu.Unlock()
	for _, s := range ss.snapshot() {
		s.close(code, reason)
	}
	if empty != nil {
		select {
		case <-empty:
		case <-ctx.Done():
		}
	}
}

// socketImplementation accepts WebSockets for gqlgen's transport with coder/websocket (the
// library gqlgen uses by default), on connections whose close code we can choose.
type socketImplementation struct{}

func (socketImplementation) Accept(w http.ResponseWriter, r *http.Request, o transport.WebsocketAcceptOptions) (transport.WebsocketConn, error) {
	for k, vs := range o.ResponseHeader {
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
	conn, err := coderws.Accept(w, r, &coderws.AcceptOptions{
		Subprotocols: o.Subprotocols,
		// serveWebSocket has checked the Origin against our own rules, which include
		// CORS_ALLOWED_ORIGINS.
		InsecureSkipVerify: true,
	})
	if err != nil {
		return nil, err
	}
	c := &socketConn{conn: conn}
	if sock := socketFrom(r.Context()); sock != nil {
		sock.attach(c)
	}
	return c, nil
}

// socketConn is transport.WebsocketConn over coder/websocket. Writes are bounded in time, so a
// client that stops reading cannot hold a socket (and gqlgen's lock on it) forever; the close
// code is the socket's when it chose one.
type socketConn struct {
	conn   *coderws.Conn
	socket *socket

	closing  atomic.Bool
	mu       sync.Mutex
	deadline *time.Timer
}

func (c *socketConn) NextReader() (int, io.Reader, error) {
	typ, data, err := c.conn.Read(context.Background())
	if err != nil {
		switch coderws.CloseStatus(err) {
		case coderws.StatusNormalClosure, coderws.StatusNoStatusRcvd, coderws.StatusGoingAway:
			return int(typ), nil, transport.ErrWebsocketClosed
		}
		return int(typ), nil, err
	}
	return int(typ), bytes.NewReader(data), nil
}

func (c *socketConn) WriteJSON(v any) error {
	data, err := encodeSocketMessage(v)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), socketWriteTimeout)
	defer cancel()
	return c.conn.Write(ctx, coderws.MessageText, data)
}

// WriteClose starts the close handshake with code, or with the socket's own code when it chose
// one; gqlgen's "initialisation timeout" is the protocol's 4408.
func (c *socketConn) WriteClose(code int, message string) error {
	if c.socket != nil {
		if own, why := c.socket.closeCode(); own != 0 {
			code, message = own, why
		}
	}
	if code == closeProtocolError && message == initTimeoutMessage {
		code = CloseInitTimeout
	}
	c.closeWith(code, message)
	return nil
}

// closeWith runs the close handshake in the background (coder/websocket waits up to five
// seconds for the peer's answer), once.
func (c *socketConn) closeWith(code int, message string) {
	if c.closing.Swap(true) {
		return
	}
	c.stopDeadline()
	go func() { _ = c.conn.Close(coderws.StatusCode(code), message) }()
}

func (c *socketConn) Close() error {
	c.stopDeadline()
	if c.closing.Load() {
		return nil // the handshake closes the connection
	}
	return c.conn.CloseNow()
}

func (c *socketConn) Subprotocol() string { return c.conn.Subprotocol() }

func (c *socketConn) SetReadLimit(limit int64) { c.conn.SetReadLimit(limit) }

// SetReadDeadline closes the connection if nothing is read by t (a pong overdue).
func (c *socketConn) SetReadDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.deadline != nil {
		c.deadline.Stop()
		c.deadline = nil
	}
	if !t.IsZero() {
		c.deadline = time.AfterFunc(time.Until(t), func() { _ = c.conn.CloseNow() })
	}
	return nil
}

func (c *socketConn) stopDeadline() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.deadline != nil {
		c.deadline.Stop()
		c.deadline = nil
	}
}
