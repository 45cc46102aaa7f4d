package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"

	"github.com/partizap/vendor-inbox/httpserver"
	"github.com/partizap/vendor-inbox/models"
	"github.com/partizap/vendor-inbox/models/database"
	"github.com/partizap/vendor-inbox/models/dbtest"
	"github.com/partizap/vendor-inbox/models/live"
	"github.com/partizap/vendor-inbox/models/seed"
)

// The live tests talk graphql-transport-ws to the real handler with a real WebSocket client.
// On PostgreSQL they run two instances on one database, each listening for the other's writes;
// on SQLite, which one process owns, one instance.

const (
	inboxSubscription   = `subscription { inboxUpdated { databaseId updatedAt unreadCount lastMessage { databaseId text isRead sender { databaseId } } } }`
	messageSubscription = `subscription($id: ID!) { messageAdded(conversationId: $id) { databaseId text conversationId sender { databaseId } } }`
	liveWait            = 5 * time.Second
)

// wsMessage is a graphql-transport-ws message.
type wsMessage struct {
	Type    string          `json:"type"`
	ID      string          `json:"id,omitempty"`
	Payload json.RawMessage `json:"payload,omitempty"`
}

// wsClient is a graphql-transport-ws client: it answers pings and queues everything else.
type wsClient struct {
	t        *testing.T
	conn     *websocket.Conn
	messages chan wsMessage
	err      error // why reading stopped; set before messages is closed
	// pending are messages read while waiting for another operation's, by operation id: each
	// operation's messages keep their order, operations interleave as they please.
	pending map[string][]wsMessage
}

// dialLive opens a WebSocket to s as cookie's session (none when empty), from s's own origin
// unless header says otherwise.
func (s *testServer) dialLive(cookie string, header http.Header) (*wsClient, *http.Response, error) {
	s.t.Helper()
	if header == nil {
		header = http.Header{}
	}
	if _, set := header["Origin"]; !set {
		header.Set("Origin", s.url)
	}
	if cookie != "" {
		header.Set("Cookie", httpserver.SessionCookie+"="+cookie)
	}
	ctx, cancel := context.WithTimeout(context.Background(), liveWait)
	defer cancel()
	conn, res, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(s.url, "http")+"/graphql", &websocket.DialOptions{
		Subprotocols: []string{"graphql-transport-ws"},
		HTTPHeader:   header,
	})
	if err != nil {
		return nil, res, err
	}
	c := &wsClient{t: s.t, conn: conn, messages: make(chan wsMessage, 1024)}
	go c.read()
	s.t.Cleanup(func() { _ = conn.CloseNow() })
	return c, res, nil
}

// connect is dialLive that must succeed, with connection_init acknowledged.
func (s *testServer) connect(cookie string) *wsClient {
	s.t.Helper()
	c, res, err := s.dialLive(cookie, nil)
	if err != nil {
		s.t.Fatalf("dial: %v (%v)", err, res)
	}
	c.send(wsMessage{Type: "connection_init"})
	if m := c.next(); m.Type != "connection_ack" {
		s.t.Fatalf("got %+v, want connection_ack", m)
	}
	return c
}

func (c *wsClient) read() {
	defer close(c.messages)
	for {
		var m wsMessage
		if err := wsjson.Read(context.Background(), c.conn, &m); err != nil {
			c.err = err
			return
		}
		if m.Type == "ping" {
			_ = wsjson.Write(context.Background(), c.conn, wsMessage{Type: "pong"})
			continue
		}
		c.messages <- m
	}
}

func (c *wsClient) send(m wsMessage) {
	c.t.Helper()
	if err := wsjson.Write(context.Background(), c.conn, m); err != nil {
		c.t.Fatalf("send %s: %v", m.Type, err)
	}
}

func (c *wsClient) subscribe(id, query string, vars map[string]any) {
	c.t.Helper()
	payload, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	c.send(wsMessage{Type: "subscribe", ID: id, Payload: payload})
}

// next is the next message, failing the test when none comes within liveWait.
func (c *wsClient) next() wsMessage {
	c.t.Helper()
	select {
	case m, ok := <-c.messages:
		if !ok {
			c.t.Fatalf("the socket closed: %v", c.err)
		}
		return m
	case <-time.After(liveWait):
		c.t.Fatal("no message in time")
	}
	return wsMessage{}
}

// quiet fails the test when a message comes within d.
func (c *wsClient) quiet(d time.Duration) {
	c.t.Helper()
	for id, q := range c.pending {
		if len(q) > 0 {
			c.t.Fatalf("unexpected message %s for %q: %s", q[0].Type, id, q[0].Payload)
		}
	}
	select {
	case m, ok := <-c.messages:
		if ok {
			c.t.Fatalf("unexpected message %s %s", m.Type, m.Payload)
		}
	case <-time.After(d):
	}
}

// closed waits for the server to close the socket and returns its close code and reason.
func (c *wsClient) closed(within time.Duration) (websocket.StatusCode, string) {
	c.t.Helper()
	deadline := time.After(within)
	for {
		select {
		case m, ok := <-c.messages:
			if !ok {
				var ce websocket.CloseError
				if errors.As(c.err, &ce) {
					return ce.Code, ce.Reason
				}
				return -1, fmt.Sprint(c.err)
			}
			_ = m // the messages before the close
		case <-deadline:
			c.t.Fatal("the socket was not closed in time")
		}
	}
}

// nextFor is the next message of operation id.
func (c *wsClient) nextFor(id string) wsMessage {
	c.t.Helper()
	if q := c.pending[id]; len(q) > 0 {
		c.pending[id] = q[1:]
		return q[0]
	}
	for {
		m := c.next()
		if m.ID == id {
			return m
		}
		if c.pending == nil {
			c.pending = map[string][]wsMessage{}
		}
		c.pending[m.ID] = append(c.pending[m.ID], m)
	}
}

// event decodes the next message of operation id, which must be a "next", into v and returns
// its errors' codes.
func (c *wsClient) event(id string, v any) []string {
	c.t.Helper()
	m := c.nextFor(id)
	if m.Type != "next" || m.ID != id {
		c.t.Fatalf("got %s for %q (%s), want next for %q", m.Type, m.ID, m.Payload, id)
	}
	var res gqlResponse
	if err := json.Unmarshal(m.Payload, &res); err != nil {
		c.t.Fatal(err)
	}
	var codes []string
	for _, e := range res.Errors {
		code, _ := e.Extensions["code"].(string)
		codes = append(codes, code)
	}
	if v != nil && len(res.Errors) == 0 {
		if err := json.Unmarshal(res.Data, v); err != nil {
			c.t.Fatal(err)
		}
	}
	return codes
}

// liveServers are the instances of a live test on one database: on PostgreSQL two, each
// listening; on SQLite the same one twice.
func liveServers(t *testing.T, env map[string]string) (a, b *testServer) {
	t.Helper()
	return liveServersOf(t, env, 2)
}

// liveServersOf is liveServers with one instance, or two where the database allows.
func liveServersOf(t *testing.T, env map[string]string, instances int) (a, b *testServer) {
	t.Helper()
	dsn, db := dbtest.New(t)
	summary, err := seed.Seed(context.Background(), db, messagingSeed)
	if err != nil {
		t.Fatal(err)
	}
	start := func() *testServer {
		e := map[string]string{"DATABASE_URL": dsn}
		for k, v := range env {
			e[k] = v
		}
		s := startTestServer(t, db, summary, e)
		t.Cleanup(s.app.startListening())
		waitListening(t, s.app.live)
		return s
	}
	a = start()
	if instances == 1 || dbtest.Dialect(t) == database.SQLite {
		return a, a
	}
	return a, start()
}

// newLiveServer is one instance over a database of its own seeded with messagingSeed,
// configured by env on top of the defaults, listening for changes.
func newLiveServer(t *testing.T, env map[string]string) *testServer {
	t.Helper()
	_, b := liveServersOf(t, env, 1)
	return b
}

// waitListening waits until hub takes subscriptions: its listener listens.
func waitListening(t *testing.T, hub *live.Hub) {
	t.Helper()
	for deadline := time.Now().Add(liveWait); ; time.Sleep(10 * time.Millisecond) {
		sub, err := hub.Subscribe(live.Inbox(0), nil)
		if err == nil {
			sub.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the hub does not listen: %v", err)
		}
	}
}

// waitSubscribed waits until hub has n subscriptions open: a subscribe message is handled
// asynchronously, and an event published before it would not be for it.
func waitSubscribed(t *testing.T, hub *live.Hub, n int64) {
	t.Helper()
	for deadline := time.Now().Add(liveWait); hub.Stats.Active.Load() != n; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d subscriptions open, want %d", hub.Stats.Active.Load(), n)
		}
	}
}

type inboxEvent struct {
	InboxUpdated struct {
		DatabaseID  int64  `json:"databaseId"`
		UpdatedAt   string `json:"updatedAt"`
		UnreadCount int    `json:"unreadCount"`
		LastMessage struct {
			DatabaseID int64  `json:"databaseId"`
			Text       string `json:"text"`
			IsRead     bool   `json:"isRead"`
			Sender     struct{ DatabaseID int64 }
		} `json:"lastMessage"`
	} `json:"inboxUpdated"`
}

type messageEvent struct {
	MessageAdded struct {
		DatabaseID     int64  `json:"databaseId"`
		Text           string `json:"text"`
		ConversationID string `json:"conversationId"`
		Sender         struct{ DatabaseID int64 }
	} `json:"messageAdded"`
}

func TestLiveUpdatesReachAnotherInstanceInCommitOrder(t *testing.T) {
	t.Parallel()
	a, b := liveServers(t, nil)
	conv, buyer := b.firstConversation(1)
	vendorCookie, buyerCookie := b.session(1), b.session(buyer)
	var unread int
	b.db.Raw("SELECT seller_unread_count FROM conversations WHERE id = ?", conv).Scan(&unread)

	vendor := b.connect(vendorCookie)
	vendor.subscribe("inbox", inboxSubscription, nil)
	vendor.subscribe("thread", messageSubscription, map[string]any{"id": models.GlobalID(models.TypeConversation, conv)})
	buyerSocket := b.connect(buyerCookie)
	buyerSocket.subscribe("thread", messageSubscription, map[string]any{"id": models.GlobalID(models.TypeConversation, conv)})
	buyerSocket.subscribe("inbox", inboxSubscription, nil) // a buyer sells nothing: no events
	waitSubscribed(t, b.app.live, 4)

	// The buyer writes through the other instance.
	var sent []int64
	for i := range 5 {
		p, res := a.send(buyerCookie, map[string]any{
			"conversationId": models.GlobalID(models.TypeConversation, conv), "text": fmt.Sprintf("live %d", i), "clientMutationId": fmt.Sprintf("live-%d", i),
		})
		if res.Errors != nil {
			t.Fatalf("send: %+v", res.Errors)
		}
		sent = append(sent, p.SendMessage.Message.DatabaseID)
	}
	for i, id := range sent {
		for _, c := range []*wsClient{vendor, buyerSocket} {
			var e messageEvent
			if codes := c.event("thread", &e); codes != nil {
				t.Fatalf("errors %v", codes)
			}
			want := fmt.Sprintf("live %d", i)
			if got := e.MessageAdded; got.DatabaseID != id || got.Text != want || got.Sender.DatabaseID != buyer || got.ConversationID != models.GlobalID(models.TypeConversation, conv) {
				t.Errorf("message event %d: %+v, want message %d %q from %d", i, got, id, want, buyer)
			}
		}
	}
	// The seller's own view: their unread count, rising with each message; each event is the
	// conversation as it was when loaded, so never older than its message.
	var last inboxEvent
	for i := range sent {
		var e inboxEvent
		if codes := vendor.event("inbox", &e); codes != nil {
			t.Fatalf("errors %v", codes)
		}
		got := e.InboxUpdated
		if got.DatabaseID != conv || got.LastMessage.DatabaseID < sent[i] || got.UnreadCount < unread+i+1 || got.UnreadCount > unread+len(sent) {
			t.Errorf("inbox event %d: %+v, want conversation %d with last message ≥ %d and unread %d to %d", i, got, conv, sent[i], unread+i+1, unread+len(sent))
		}
		last = e
	}
	if got := last.InboxUpdated; got.LastMessage.DatabaseID != sent[len(sent)-1] || got.UnreadCount != unread+len(sent) || got.LastMessage.Sender.DatabaseID != buyer {
		t.Errorf("last inbox event %+v, want last message %d from %d and unread %d", got, sent[len(sent)-1], buyer, unread+len(sent))
	}

	// A read receipt from the seller, through the other instance: the inbox row, not a message.
	res := a.graphql(vendorCookie, `mutation($id: ID!) { markConversationRead(input: {conversationId: $id}) { conversation { unreadCount } } }`,
		map[string]any{"id": models.GlobalID(models.TypeConversation, conv)})
	if res.Errors != nil {
		t.Fatalf("mark read: %+v", res.Errors)
	}
	var read inboxEvent
	if codes := vendor.event("inbox", &read); codes != nil || read.InboxUpdated.UnreadCount != 0 || read.InboxUpdated.DatabaseID != conv {
		t.Errorf("after the read receipt: %+v %v, want conversation %d with unread 0", read.InboxUpdated, codes, conv)
	}
	// Nothing twice, nothing more.
	vendor.quiet(300 * time.Millisecond)
	buyerSocket.quiet(50 * time.Millisecond)
	for sample, want := range map[string]float64{
		"bff_live_changes_total":             6,  // five messages and a read receipt
		"bff_live_events_delivered_total":    16, // each message to two threads and an inbox; the receipt to the inbox
		"bff_live_subscriptions":             4,
		"bff_live_websockets":                2,
		"bff_live_subscribers_dropped_total": 0,
		"bff_live_resyncs_total":             0,
		// The seller's and the buyer's threads have one document and variables but two viewers:
		// each executes its own (five each), and the inbox its six.
		"bff_live_responses_executed_total": 16,
		"bff_live_responses_shared_total":   0,
	} {
		if got := b.metric(sample); got != want {
			t.Errorf("%s = %v, want %v", sample, got, want)
		}
	}
	if dbtest.Dialect(t) == database.Postgres {
		// Either instance's notifier may announce A's changes (B's sweep finds them too), each once.
		for sample, want := range map[string]float64{"bff_live_changes_announced_total": 6, "bff_live_announce_failures_total": 0} {
			if got := a.metric(sample) + b.metric(sample); got != want {
				t.Errorf("%s on A and B: %v, want %v", sample, got, want)
			}
		}
	}
}

func TestLiveSpeaksTheOlderGraphQLWSProtocolToo(t *testing.T) {
	t.Parallel()
	a, b := liveServers(t, nil)
	conv, buyer := b.firstConversation(1)
	ctx, cancel := context.WithTimeout(context.Background(), liveWait)
	defer cancel()
	conn, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(b.url, "http")+"/graphql", &websocket.DialOptions{
		Subprotocols: []string{"graphql-ws"},
		HTTPHeader:   http.Header{"Cookie": {httpserver.SessionCookie + "=" + b.session(1)}},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.CloseNow()
	if conn.Subprotocol() != "graphql-ws" {
		t.Fatalf("negotiated %q", conn.Subprotocol())
	}
	c := &wsClient{t: t, conn: conn, messages: make(chan wsMessage, 64)}
	go c.read()
	c.send(wsMessage{Type: "connection_init"})
	if m := c.nextFor(""); m.Type != "connection_ack" {
		t.Fatalf("got %+v, want connection_ack", m)
	}
	payload, _ := json.Marshal(map[string]any{"query": inboxSubscription})
	c.send(wsMessage{Type: "start", ID: "1", Payload: payload})
	waitSubscribed(t, b.app.live, 1)
	p, res := a.send(b.session(buyer), map[string]any{"conversationId": models.GlobalID(models.TypeConversation, conv), "text": "old protocol", "clientMutationId": "old"})
	if res.Errors != nil {
		t.Fatal(res.Errors)
	}
	m := c.nextFor("1")
	var e struct{ Data inboxEvent }
	if err := json.Unmarshal(m.Payload, &e); err != nil || m.Type != "data" || e.Data.InboxUpdated.LastMessage.DatabaseID != p.SendMessage.Message.DatabaseID {
		t.Errorf("got %s %s, want data with message %d", m.Type, m.Payload, p.SendMessage.Message.DatabaseID)
	}
}

func TestLiveEventsCostTheSameStatementsForOneSubscriberOrMany(t *testing.T) {
	t.Parallel()
	a, b := liveServers(t, nil)
	conv, buyer := b.firstConversation(1)
	vendorCookie, buyerCookie := b.session(1), b.session(buyer)
	statementsPerEvent := func(subscribers int) int {
		t.Helper()
		executed, shared := b.metric("bff_live_responses_executed_total"), b.metric("bff_live_responses_shared_total")
		var sockets []*wsClient
		for i := range subscribers {
			if i%10 == 0 {
				sockets = append(sockets, b.connect(vendorCookie))
			}
			sockets[len(sockets)-1].subscribe(fmt.Sprint("inbox", i), inboxSubscription, nil)
		}
		waitSubscribed(t, b.app.live, int64(subscribers))
		before := b.statements()
		if _, res := a.send(buyerCookie, map[string]any{
			"conversationId": models.GlobalID(models.TypeConversation, conv), "text": "to many", "clientMutationId": fmt.Sprint("many-", subscribers),
		}); res.Errors != nil {
			t.Fatalf("send: %+v", res.Errors)
		}
		for i := range subscribers {
			var e inboxEvent
			if codes := sockets[i/10].event(fmt.Sprint("inbox", i), &e); codes != nil || e.InboxUpdated.DatabaseID != conv {
				t.Fatalf("subscriber %d: %+v %v", i, e, codes)
			}
		}
		n := b.statements() - before
		// One viewer, one document: the first subscription executes the event, the rest send
		// its response.
		if got, want := [2]float64{b.metric("bff_live_responses_executed_total") - executed, b.metric("bff_live_responses_shared_total") - shared}, [2]float64{1, float64(subscribers - 1)}; got != want {
			t.Errorf("%d subscribers: executed and shared %v, want %v", subscribers, got, want)
		}
		for _, s := range sockets {
			_ = s.conn.Close(websocket.StatusNormalClosure, "")
		}
		waitSubscribed(t, b.app.live, 0)
		return n
	}
	one, many := statementsPerEvent(1), statementsPerEvent(30)
	if one == 0 || many != one {
		t.Errorf("an event cost %d statements for one subscriber, %d for 30 of the same viewer; want the same, not zero", one, many)
	}
}

func TestLiveSocketsAreRefused(t *testing.T) {
	t.Parallel()
	s := newLiveServer(t, nil)
	vendor := s.session(1)
	for _, tc := range []struct {
		name   string
		cookie string
		origin string
		status int
	}{
		{"another site", vendor, "https://evil.example", http.StatusForbidden},
		{"a look-alike of the host", vendor, "http://127.0.0.1.evil.example", http.StatusForbidden},
		{"no session", "", "", http.StatusUnauthorized},
		{"an unknown session", "not-a-session", "", http.StatusUnauthorized},
	} {
		t.Run(tc.name, func(t *testing.T) {
			header := http.Header{}
			if tc.origin != "" {
				header.Set("Origin", tc.origin)
			}
			_, res, err := s.dialLive(tc.cookie, header)
			if err == nil || res == nil || res.StatusCode != tc.status {
				t.Fatalf("dial: %v, %v; want HTTP %d", err, res, tc.status)
			}
		})
	}
	t.Run("origins of CORS_ALLOWED_ORIGINS and none", func(t *testing.T) {
		c := startTestServer(t, s.db, s.seed, map[string]string{"DATABASE_URL": s.app.cfg.DatabaseURL, "CORS_ALLOWED_ORIGINS": "https://app.example"})
		for _, origin := range []string{"https://app.example", c.url, ""} {
			header := http.Header{"Origin": {origin}}
			if origin == "" {
				header = http.Header{"Origin": nil} // a client that is no browser sends none
			}
			sock, res, err := c.dialLive(vendor, header)
			if err != nil {
				t.Fatalf("origin %q: %v %v", origin, err, res)
			}
			_ = sock.conn.Close(websocket.StatusNormalClosure, "")
		}
	})
}

func TestLiveSubscriptionErrors(t *testing.T) {
	t.Parallel()
	s := newLiveServer(t, nil)
	conv, _ := s.firstConversation(1)
	other, _ := s.firstConversation(2)
	vendor := s.connect(s.session(1))
	for _, tc := range []struct {
		name, query string
		vars        map[string]any
		code        string
	}{
		{"another vendor's conversation", messageSubscription, map[string]any{"id": models.GlobalID(models.TypeConversation, other)}, "NOT_FOUND"},
		{"a conversation that does not exist", messageSubscription, map[string]any{"id": models.GlobalID(models.TypeConversation, 1<<40)}, "NOT_FOUND"},
		{"not a conversation id", messageSubscription, map[string]any{"id": models.GlobalID(models.TypeUser, 1)}, "BAD_USER_INPUT"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			vendor.subscribe(tc.name, tc.query, tc.vars)
			if codes := vendor.event(tc.name, nil); len(codes) != 1 || codes[0] != tc.code {
				t.Errorf("codes %v, want [%s]", codes, tc.code)
			}
			if m := vendor.nextFor(tc.name); m.Type != "complete" {
				t.Errorf("got %+v, want complete", m)
			}
		})
	}
	t.Run("over HTTP", func(t *testing.T) {
		res := s.graphql(s.session(1), inboxSubscription, nil)
		if res.code() != "BAD_REQUEST" || !strings.Contains(res.Errors[0].Message, "WebSocket") {
			t.Errorf("%+v, want BAD_REQUEST naming WebSockets", res.Errors)
		}
	})
	t.Run("a query over the socket", func(t *testing.T) {
		vendor.subscribe("q", fmt.Sprintf(`{ node(id: %q) { ... on Conversation { databaseId unreadCount } } viewer { databaseId } }`, models.GlobalID(models.TypeConversation, conv)), nil)
		var got struct {
			Node   struct{ DatabaseID int64 }
			Viewer struct{ DatabaseID int64 }
		}
		if codes := vendor.event("q", &got); codes != nil || got.Node.DatabaseID != conv || got.Viewer.DatabaseID != 1 {
			t.Errorf("%+v %v, want conversation %d seen by user 1", got, codes, conv)
		}
		if m := vendor.nextFor("q"); m.Type != "complete" {
			t.Errorf("got %+v, want complete", m)
		}
	})
}

func TestLiveLimits(t *testing.T) {
	t.Parallel()
	s := newLiveServer(t, map[string]string{"WS_MAX_SUBSCRIPTIONS": "2", "WS_MAX_CONNECTIONS_PER_USER": "2", "WS_INIT_TIMEOUT": "200ms"})
	cookie := s.session(1)
	first := s.connect(cookie)
	first.subscribe("1", inboxSubscription, nil)
	first.subscribe("2", inboxSubscription, nil)
	waitSubscribed(t, s.app.live, 2)
	first.subscribe("3", inboxSubscription, nil)
	if codes := first.event("3", nil); len(codes) != 1 || codes[0] != "LIMIT_EXCEEDED" {
		t.Errorf("a third subscription: %v, want LIMIT_EXCEEDED", codes)
	}
	// Stopping one makes room.
	first.send(wsMessage{Type: "complete", ID: "1"})
	waitSubscribed(t, s.app.live, 1)
	if m := first.nextFor("3"); m.Type != "complete" {
		t.Errorf("got %+v, want complete for the refused subscription", m)
	}
	first.subscribe("4", inboxSubscription, nil)
	waitSubscribed(t, s.app.live, 2)

	s.connect(cookie)
	if _, res, err := s.dialLive(cookie, nil); err == nil || res == nil || res.StatusCode != http.StatusTooManyRequests {
		t.Errorf("a third socket of the user: %v %v, want HTTP 429", err, res)
	}
	s.connect(s.session(2)) // another user's are theirs

	// A socket that never says connection_init is closed with the protocol's 4408.
	silent, _, err := s.dialLive(s.session(3), nil)
	if err != nil {
		t.Fatal(err)
	}
	if code, _ := silent.closed(liveWait); code != httpserver.CloseInitTimeout {
		t.Errorf("a silent socket was closed with %d, want %d", code, httpserver.CloseInitTimeout)
	}
}

func TestLiveSocketClosesWhenItsSessionEnds(t *testing.T) {
	t.Parallel()
	s := newLiveServer(t, map[string]string{"WS_SESSION_CHECK_INTERVAL": "100ms"})
	keptSocket, endedSocket := s.connect(s.session(1)), s.connect(s.session(2))
	// Signing out deletes the session.
	if err := s.db.Exec("DELETE FROM sessions WHERE user_id = 2").Error; err != nil {
		t.Fatal(err)
	}
	if code, _ := endedSocket.closed(liveWait); code != httpserver.CloseUnauthorized {
		t.Errorf("the signed-out socket was closed with %d, want %d", code, httpserver.CloseUnauthorized)
	}
	keptSocket.quiet(300 * time.Millisecond)
}

func TestLiveShutdownClosesSocketsGoingAway(t *testing.T) {
	t.Parallel()
	dsn, db := dbtest.New(t)
	summary, err := seed.Seed(context.Background(), db, messagingSeed)
	if err != nil {
		t.Fatal(err)
	}
	a := newTestApp(t, map[string]string{"DATABASE_URL": dsn, "SHUTDOWN_GRACE": "2s"}, io.Discard)
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- a.serve(ctx, listener, nil) }()
	s := &testServer{t: t, url: "http://" + listener.Addr().String(), db: db, app: a, seed: summary}
	waitListening(t, a.live)
	sock := s.connect(s.session(1))
	sock.subscribe("inbox", inboxSubscription, nil)
	waitSubscribed(t, a.live, 1)
	stop()
	if code, _ := sock.closed(liveWait); code != httpserver.CloseGoingAway {
		t.Errorf("closed with %d, want %d (going away)", code, httpserver.CloseGoingAway)
	}
	if err := <-served; err != nil {
		t.Errorf("serve: %v", err)
	}
}

func TestLiveResyncsWhenItsListenerIsTerminated(t *testing.T) {
	t.Parallel()
	// Terminating a backend breaks a server's client: a throwaway server of the test's own.
	cluster, db, summary := seededCluster(t)
	s := startTestServer(t, db, summary, map[string]string{"DATABASE_URL": cluster.URL()})
	t.Cleanup(s.app.startListening())
	waitListening(t, s.app.live)
	conv, buyer := s.firstConversation(1)
	buyerCookie := s.session(buyer)
	sock := s.connect(s.session(1))
	sock.subscribe("before", inboxSubscription, nil)
	waitSubscribed(t, s.app.live, 1)

	var terminated int
	if err := db.Raw("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = ?", live.ListenerApplicationName).Scan(&terminated).Error; err != nil || terminated != 1 {
		t.Fatalf("terminated %d listeners (%v), want 1", terminated, err)
	}
	m := sock.nextFor("before")
	var errs []gqlError
	if err := json.Unmarshal(m.Payload, &errs); err != nil || m.Type != "error" || len(errs) != 1 || errs[0].Extensions["code"] != "RESYNC" {
		t.Fatalf("got %s %s, want an error RESYNC", m.Type, m.Payload)
	}
	if got := s.app.live.Stats.Resyncs.Load(); got != 1 {
		t.Errorf("%d resyncs counted, want 1", got)
	}

	// The instance listens again on its own; a new subscription gets what is written next.
	waitListening(t, s.app.live)
	sock.subscribe("after", inboxSubscription, nil)
	waitSubscribed(t, s.app.live, 1)
	p, res := s.send(buyerCookie, map[string]any{"conversationId": models.GlobalID(models.TypeConversation, conv), "text": "after the outage", "clientMutationId": "after"})
	if res.Errors != nil {
		t.Fatalf("send: %+v", res.Errors)
	}
	var e inboxEvent
	if codes := sock.event("after", &e); codes != nil || e.InboxUpdated.LastMessage.DatabaseID != p.SendMessage.Message.DatabaseID {
		t.Errorf("after reconnecting: %+v %v, want the message %d", e, codes, p.SendMessage.Message.DatabaseID)
	}
}

func TestLiveDropsASubscriberThatFallsBehind(t *testing.T) {
	t.Parallel()
	_, b := liveServers(t, nil)
	conv, _ := b.firstConversation(1)
	slow := b.connect(b.session(1))
	slow.subscribe("inbox", inboxSubscription, nil)
	other := b.connect(b.session(2))
	other.subscribe("inbox", inboxSubscription, nil)
	waitSubscribed(t, b.app.live, 2)
	// A burst of changes far faster than each can be loaded (one load per event per viewer):
	// the hub does not wait for vendor 1's subscription and drops it.
	for range 4 * live.BufferSize {
		b.app.live.Publish(models.Change{ConversationID: conv, SellerID: 1})
	}
	if code, reason := slow.closed(liveWait); code != httpserver.CloseTryAgainLater {
		t.Errorf("the slow socket was closed with %d %q, want %d", code, reason, httpserver.CloseTryAgainLater)
	}
	if got := b.app.live.Stats.Overflowed.Load(); got != 1 {
		t.Errorf("%d subscribers dropped, want 1", got)
	}
	other.quiet(100 * time.Millisecond) // another vendor's socket heard of none of it, and is open
	other.send(wsMessage{Type: "ping"})
	if m := other.nextFor(""); m.Type != "pong" {
		t.Errorf("the other socket answered %+v, want pong", m)
	}
}

func TestAnOfferToUpgradeToSomethingElseIsAnsweredOverHTTP(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, seed.Options{Vendors: 1, Conversations: 2, Messages: 1, Seed: 1})
	for _, method := range []string{http.MethodGet, http.MethodPost} {
		query := `{ viewer { databaseId } }`
		req, _ := http.NewRequest(method, s.url+"/graphql?query="+url.QueryEscape(query), nil)
		if method == http.MethodPost {
			req, _ = http.NewRequest(method, s.url+"/graphql", strings.NewReader(`{"query": "`+query+`"}`))
			req.Header.Set("Content-Type", "application/json")
		}
		// What curl --http2 sends to an http:// URL.
		req.Header.Set("Connection", "Upgrade, HTTP2-Settings")
		req.Header.Set("Upgrade", "h2c")
		req.Header.Set("HTTP2-Settings", "AAMAAABkAAQCAAAAAAIAAAAA")
		req.AddCookie(&http.Cookie{Name: httpserver.SessionCookie, Value: s.session(s.seed.BusiestVendorID)})
		if res := s.do(req); string(res.Data) != fmt.Sprintf(`{"viewer":{"databaseId":%d}}`, s.seed.BusiestVendorID) {
			t.Errorf("%s: %s %+v", method, res.Data, res.Errors)
		}
	}
}
