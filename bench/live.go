package main

// The live-updates measurement (-live, -live-only). On the bench's database it starts three more
// instances of the server: A and B with LIVE_UPDATES=true (every write records its change in
// the outbox, each instance's notifier announces them with NOTIFY and each instance LISTENs),
// and one with LIVE_UPDATES=false. On B it opens the busiest vendor's tabs and its
// buyers' threads (graphql-transport-ws over github.com/coder/websocket, as a browser would) and
// measures:
//
//   - B's memory before and after opening the sockets, and after subscribing (idle);
//   - the delivery latency of messages sent through A's sendMessage, one every -live-interval,
//     from A's answer reaching the bench to the event reaching the bench from B, with every
//     event accounted for per subscription (lost, duplicated, unexpected);
//   - the events B delivers while -live-writers send as fast as they can;
//   - sendMessage's throughput at -live-notify-writers on the instance without live updates
//     against A, alternating, to price what live updates add to every write (its outbox row,
//     and the notifiers' work beside it).
//
// Every loop is bounded in count and time; the sockets, the instances and the sessions the
// measurement made are gone when it returns, and the unread counts its buyers' messages raised
// are put back (see restore).

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/coder/websocket"
	"github.com/jackc/pgx/v5"

	"github.com/partizap/vendor-inbox/httpserver"
	"github.com/partizap/vendor-inbox/models"
	"github.com/partizap/vendor-inbox/models/database"
	"github.com/partizap/vendor-inbox/models/live"
)

// liveOptions are the -live-* flags.
type liveOptions struct {
	Subscriptions int           // held open on B
	Tabs          int           // the vendor's sockets, each with inboxUpdated and one messageAdded
	Messages      int           // of the latency run
	Interval      time.Duration // between the latency run's messages
	Writers       int           // of the throughput run
	Duration      time.Duration // of the throughput run and of each run of the cost comparison
	NotifyWriters int           // concurrent writers of the cost comparison
	Rounds        int           // of the cost comparison
	Warmup        time.Duration // -warmup, before each run of the cost comparison
	Profile       bool          // a CPU profile of B during the latency run
}

const (
	maxLiveSubscriptions = 20_000
	maxLiveMessages      = 20_000
	maxLiveRounds        = 10
	// maxLiveTime bounds the whole measurement, its sends and waits included.
	maxLiveTime = 20 * time.Minute
)

func (o liveOptions) check() error {
	switch {
	case o.Subscriptions < 2 || o.Subscriptions > maxLiveSubscriptions:
		return fmt.Errorf("-live-subscriptions must be from 2 to %d", maxLiveSubscriptions)
	case o.Tabs < 1 || 2*o.Tabs > o.Subscriptions:
		return errors.New("-live-tabs must be at least 1 and at most half of -live-subscriptions (each tab holds two)")
	case o.Messages < 1 || o.Messages > maxLiveMessages:
		return fmt.Errorf("-live-messages must be from 1 to %d", maxLiveMessages)
	case o.Interval < time.Millisecond || o.Interval > 10*time.Second:
		return errors.New("-live-interval must be from 1ms to 10s")
	case time.Duration(o.Messages)*o.Interval > 10*time.Minute:
		return errors.New("-live-messages × -live-interval must be at most 10m")
	case o.Writers < 1 || o.Writers > maxConcurrency || o.NotifyWriters < 1 || o.NotifyWriters > maxConcurrency:
		return fmt.Errorf("-live-writers and -live-notify-writers must be from 1 to %d", maxConcurrency)
	case o.Duration <= 0 || o.Duration > 5*time.Minute:
		return errors.New("-live-duration must be positive and at most 5m")
	case o.Rounds < 1 || o.Rounds > maxLiveRounds:
		return fmt.Errorf("-live-rounds must be from 1 to %d", maxLiveRounds)
	}
	return nil
}

// The subscriptions' selections: an inbox row with every field the inbox shows (inboxRow, what
// graphql-20 reads of each row) and a thread's message as thread-30 reads it.
const (
	liveInboxSubscription  = `subscription { inboxUpdated { ` + inboxRow + ` } }`
	liveThreadSubscription = `subscription($id:ID!){ messageAdded(conversationId:$id){ id databaseId conversationId text imageUrl isRead isDelivered createdAt sender { id displayName avatarUrl } } }`
)

const (
	// liveSubsPerSocket is the service's default WS_MAX_SUBSCRIPTIONS, which B keeps: a buyer
	// following more threads opens another socket.
	liveSubsPerSocket = 20
	liveSessionTTL    = time.Hour
	// liveWarmupMessages are sent before the latency run, and not counted: the first events
	// of an instance prepare its statements.
	liveWarmupMessages = 10
	// maxLiveReceipts bounds the events the bench keeps (40 bytes each); past it they are
	// counted as dropped, and the run says so.
	maxLiveReceipts = 4_000_000
	liveDialers     = 32 // sockets opened at once
	// liveSubscribeBatch is how many subscribe messages are sent before B must hold them.
	liveSubscribeBatch = 50
	liveWait           = 30 * time.Second
	// A run's events are all in when as many as expected have come, or none for liveDrainIdle.
	liveDrainIdle = 2 * time.Second
	// streamFrame is the service's goroutine of each open subscription (resolvers.stream): B's
	// goroutine profile counts them, which is how the bench knows its subscribe messages have
	// been handled (the protocol acknowledges none).
	streamFrame = "vendor-inbox/resolvers.stream["
)

type subKind uint8

const (
	inboxSub  subKind = iota + 1 // inboxUpdated
	threadSub                    // messageAdded(conversationId)
)

func (k subKind) String() string {
	switch k {
	case inboxSub:
		return "inboxUpdated"
	case threadSub:
		return "messageAdded"
	}
	return "all"
}

// liveSubscription is one subscription the bench holds on B.
type liveSubscription struct {
	Kind         subKind
	Viewer       int64
	Conversation int64 // of a threadSub
}

// liveConversation is one of the vendor's conversations and its buyer.
type liveConversation struct{ ID, Buyer int64 }

// plannedSocket is a socket to open as Viewer, with the subscriptions (indexes into
// livePlan.Subs) it holds.
type plannedSocket struct {
	Viewer int64
	Subs   []int32
}

// livePlan is the mix of subscriptions: tabs sockets of the vendor, tab i with inboxUpdated and
// messageAdded of conversation i (the thread open in it), and the rest messageAdded of the
// following conversations, one each, held by their buyers, at most perSocket on one socket.
type livePlan struct {
	Vendor  int64
	Convs   []liveConversation // those with a buyer's subscription, newest first
	Subs    []liveSubscription
	Sockets []plannedSocket
	Buyers  int // distinct buyers holding sockets
	Tabs    int
}

func planLive(vendor int64, convs []liveConversation, subscriptions, tabs, perSocket int) (livePlan, error) {
	threads := subscriptions - 2*tabs
	if tabs < 1 || threads < 0 || perSocket < 1 {
		return livePlan{}, fmt.Errorf("%d subscriptions cannot hold %d tabs of two", subscriptions, tabs)
	}
	need := max(threads, tabs, 1)
	if len(convs) < need {
		return livePlan{}, fmt.Errorf("the vendor has %d conversations with a buyer, the mix needs %d: pass a smaller -live-subscriptions", len(convs), need)
	}
	p := livePlan{Vendor: vendor, Convs: convs[:need], Tabs: tabs}
	add := func(s liveSubscription) int32 {
		p.Subs = append(p.Subs, s)
		return int32(len(p.Subs) - 1)
	}
	for i := range tabs {
		p.Sockets = append(p.Sockets, plannedSocket{Viewer: vendor, Subs: []int32{
			add(liveSubscription{Kind: inboxSub, Viewer: vendor}),
			add(liveSubscription{Kind: threadSub, Viewer: vendor, Conversation: p.Convs[i].ID}),
		}})
	}
	open := map[int64]int{} // buyer → index of their socket with room
	for _, c := range p.Convs[:threads] {
		i, ok := open[c.Buyer]
		if !ok || len(p.Sockets[i].Subs) >= perSocket {
			if !ok {
				p.Buyers++
			}
			p.Sockets = append(p.Sockets, plannedSocket{Viewer: c.Buyer})
			i = len(p.Sockets) - 1
			open[c.Buyer] = i
		}
		p.Sockets[i].Subs = append(p.Sockets[i].Subs, add(liveSubscription{Kind: threadSub, Viewer: c.Buyer, Conversation: c.ID}))
	}
	return p, nil
}

// receipt is an event as the bench received it: which subscription, the message it shows
// (messageAdded's message; inboxUpdated's lastMessage), and when the frame was read.
type receipt struct {
	Sub int32
	Msg int64
	At  time.Time
}

// eventMessage is the message an event's payload shows.
func eventMessage(payload []byte) (int64, error) {
	var p struct {
		Data struct {
			InboxUpdated *struct {
				LastMessage *struct {
					DatabaseID int64 `json:"databaseId"`
				} `json:"lastMessage"`
			} `json:"inboxUpdated"`
			MessageAdded *struct {
				DatabaseID int64 `json:"databaseId"`
			} `json:"messageAdded"`
		} `json:"data"`
		Errors []json.RawMessage `json:"errors"`
	}
	if err := json.Unmarshal(payload, &p); err != nil {
		return 0, err
	}
	switch d := p.Data; {
	case len(p.Errors) > 0:
		return 0, fmt.Errorf("errors: %s", clip(payload))
	case d.MessageAdded != nil && d.MessageAdded.DatabaseID > 0:
		return d.MessageAdded.DatabaseID, nil
	case d.InboxUpdated != nil && d.InboxUpdated.LastMessage != nil && d.InboxUpdated.LastMessage.DatabaseID > 0:
		return d.InboxUpdated.LastMessage.DatabaseID, nil
	}
	return 0, fmt.Errorf("no message in %s", clip(payload))
}

// wsMessage is a graphql-transport-ws message.
type wsMessage struct {
	Type    string          `json:"type"`
	ID      string          `json:"id,omitempty"`
	Payload json.RawMessage `json:"payload,omitempty"`
}

// subOp is the operation id of subscription i on its socket, and back.
func subOp(i int32) string { return "s" + strconv.Itoa(int(i)) }

func opSub(id string) (int32, bool) {
	rest, ok := strings.CutPrefix(id, "s")
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(rest, 10, 32)
	return int32(n), err == nil && n >= 0
}

// liveSocket is an open socket and what its reader has received.
type liveSocket struct {
	conn   *websocket.Conn
	viewer int64
	subs   []int32
	done   chan struct{} // closed when the reader stops; err then says why, and closed when
	err    error
	closed time.Time

	mu       sync.Mutex
	receipts []receipt
	ended    []wsMessage // "error" and "complete" messages: operations the server ended
}

// liveClient is every socket of the run, and the counters their readers share.
type liveClient struct {
	sockets  []*liveSocket
	received atomic.Int64 // events kept
	dropped  atomic.Int64 // events past maxLiveReceipts
	bad      atomic.Int64 // frames that are not an event of ours
	badOnce  sync.Once
	firstBad string
}

func (lc *liveClient) badFrame(why string) {
	lc.bad.Add(1)
	lc.badOnce.Do(func() { lc.firstBad = why })
}

// dialLive opens a graphql-transport-ws socket on base's /graphql as session, from base's own
// origin, and waits for connection_ack.
func dialLive(ctx context.Context, base, session string) (*websocket.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, liveWait)
	defer cancel()
	conn, res, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(base, "http")+"/graphql", &websocket.DialOptions{
		Subprotocols: []string{"graphql-transport-ws"},
		HTTPHeader:   http.Header{"Origin": {base}, "Cookie": {httpserver.SessionCookie + "=" + session}},
	})
	if err != nil {
		if res != nil {
			return nil, fmt.Errorf("dial %s: %w (HTTP %d)", base, err, res.StatusCode)
		}
		return nil, fmt.Errorf("dial %s: %w", base, err)
	}
	conn.SetReadLimit(1 << 20)
	if err := writeWS(ctx, conn, wsMessage{Type: "connection_init"}); err != nil {
		_ = conn.CloseNow()
		return nil, err
	}
	for range 16 { // the ack, maybe after a ping
		var m wsMessage
		_, data, err := conn.Read(ctx)
		if err == nil {
			err = json.Unmarshal(data, &m)
		}
		if err != nil {
			_ = conn.CloseNow()
			return nil, fmt.Errorf("connection_init: %w", err)
		}
		switch m.Type {
		case "connection_ack":
			return conn, nil
		case "ping":
			if err := writeWS(ctx, conn, wsMessage{Type: "pong"}); err != nil {
				_ = conn.CloseNow()
				return nil, err
			}
		default:
			_ = conn.CloseNow()
			return nil, fmt.Errorf("connection_init answered %s %s", m.Type, clip(m.Payload))
		}
	}
	_ = conn.CloseNow()
	return nil, errors.New("connection_init: no connection_ack")
}

func writeWS(ctx context.Context, conn *websocket.Conn, m wsMessage) error {
	data, err := json.Marshal(m)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	return conn.Write(ctx, websocket.MessageText, data)
}

// read runs until the socket closes or ctx ends: it answers pings and keeps every event.
func (lc *liveClient) read(ctx context.Context, s *liveSocket) {
	defer close(s.done)
	for {
		_, data, err := s.conn.Read(ctx)
		at := time.Now()
		if err != nil {
			s.err, s.closed = err, at
			return
		}
		var m wsMessage
		if err := json.Unmarshal(data, &m); err != nil {
			lc.badFrame(fmt.Sprintf("not JSON: %s", clip(data)))
			continue
		}
		switch m.Type {
		case "ping":
			_ = writeWS(ctx, s.conn, wsMessage{Type: "pong"})
		case "pong":
		case "next":
			sub, ok := opSub(m.ID)
			if !ok {
				continue // a probe's
			}
			msg, err := eventMessage(m.Payload)
			if err != nil {
				lc.badFrame(fmt.Sprintf("%s: %v", m.ID, err))
				continue
			}
			if lc.received.Add(1) > maxLiveReceipts {
				lc.received.Add(-1)
				lc.dropped.Add(1)
				continue
			}
			s.mu.Lock()
			s.receipts = append(s.receipts, receipt{Sub: sub, Msg: msg, At: at})
			s.mu.Unlock()
		case "error", "complete":
			s.mu.Lock()
			s.ended = append(s.ended, m)
			s.mu.Unlock()
		default:
			lc.badFrame(fmt.Sprintf("a %q message", m.Type))
		}
	}
}

// mark is how many events each socket had received: what a run's events are counted from.
type mark []int

func (lc *liveClient) mark() mark {
	m := make(mark, len(lc.sockets))
	for i, s := range lc.sockets {
		s.mu.Lock()
		m[i] = len(s.receipts)
		s.mu.Unlock()
	}
	return m
}

// since returns the events received after m.
func (lc *liveClient) since(m mark) []receipt {
	var out []receipt
	for i, s := range lc.sockets {
		s.mu.Lock()
		out = append(out, s.receipts[m[i]:]...)
		s.mu.Unlock()
	}
	return out
}

func (m mark) total() int64 {
	var n int64
	for _, v := range m {
		n += int64(v)
	}
	return n
}

// drain waits until expected events have come since m, or none for liveDrainIdle, or liveWait
// has passed.
func (lc *liveClient) drain(ctx context.Context, m mark, expected int64) {
	from := m.total()
	last, lastChange := lc.received.Load()+lc.dropped.Load(), time.Now()
	for deadline := time.Now().Add(liveWait); time.Now().Before(deadline) && ctx.Err() == nil; {
		n := lc.received.Load() + lc.dropped.Load()
		if n-from >= expected {
			return
		}
		if n != last {
			last, lastChange = n, time.Now()
		} else if time.Since(lastChange) > liveDrainIdle {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// serverClosed counts the sockets that closed before the bench closed them, by close status.
func (lc *liveClient) serverClosed() map[string]int {
	out := map[string]int{}
	for _, s := range lc.sockets {
		select {
		case <-s.done:
			why := "closed"
			var ce websocket.CloseError
			if errors.As(s.err, &ce) {
				why = fmt.Sprintf("%d %s", ce.Code, ce.Reason)
			} else if s.err != nil {
				why = s.err.Error()
			}
			out[why]++
		default:
		}
	}
	return out
}

// firstClose is when the first socket closed before the bench closed them; zero when none did.
func (lc *liveClient) firstClose() time.Time {
	var first time.Time
	for _, s := range lc.sockets {
		select {
		case <-s.done:
			if first.IsZero() || s.closed.Before(first) {
				first = s.closed
			}
		default:
		}
	}
	return first
}

// ended is every operation the server ended, with why, by kind of message and code.
func (lc *liveClient) endedOps() map[string]int {
	out := map[string]int{}
	for _, s := range lc.sockets {
		s.mu.Lock()
		for _, m := range s.ended {
			out[m.Type+" "+string(clipBytes(m.Payload, 160))]++
		}
		s.mu.Unlock()
	}
	return out
}

func clipBytes(b []byte, n int) []byte {
	if len(b) > n {
		return b[:n]
	}
	return b
}

// closeAll closes every socket normally and waits for the readers (the library bounds each
// close handshake at five seconds).
func (lc *liveClient) closeAll() {
	var wg sync.WaitGroup
	sem := make(chan struct{}, liveDialers)
	for _, s := range lc.sockets {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			_ = s.conn.Close(websocket.StatusNormalClosure, "")
			select {
			case <-s.done:
			case <-time.After(5 * time.Second):
				_ = s.conn.CloseNow()
				<-s.done
			}
		})
	}
	wg.Wait()
}

// liveSend is one sendMessage through A.
type liveSend struct {
	Conv           int64
	Msg            int64 // the message written; 0 when the send failed
	Sent, Answered time.Time
	Err            string
}

// deliveries are the events of one run and kind of subscription, matched to what was sent.
type deliveries struct {
	Subs       int // subscriptions of the kind
	Expected   int // events due: one per subscription per message it should see
	Received   int
	Lost       int // due and never received
	Duplicated int // received more than once
	Unexpected int // showing a message the subscription should not see
	SubsLost   int // subscriptions that lost at least one
	// Latency is each matched event's receipt less A's answer to its sendMessage, sorted (an
	// event may come before the answer: then it is negative); FromRequest less the request's
	// start.
	Latency, FromRequest []time.Duration
}

// matchDeliveries accounts for the events of subs of kind (0: every kind) against the messages
// sent. An inboxUpdated event shows its conversation as loaded, so its lastMessage may be a
// later one than the message it announces when two land in the same conversation close
// together: with countInbox, inboxUpdated is accounted for by count (events against messages)
// instead of by message; messageAdded always is by message.
func matchDeliveries(subs []liveSubscription, sends []liveSend, receipts []receipt, kind subKind, countInbox bool) deliveries {
	byMsg := map[int64]*liveSend{}
	byConv := map[int64]int{}
	committed := 0
	for i := range sends {
		if s := &sends[i]; s.Msg != 0 {
			byMsg[s.Msg] = s
			byConv[s.Conv]++
			committed++
		}
	}
	perSub := map[int32][]receipt{}
	for _, r := range receipts {
		perSub[r.Sub] = append(perSub[r.Sub], r)
	}
	var d deliveries
	for i, sub := range subs {
		if kind != 0 && sub.Kind != kind {
			continue
		}
		d.Subs++
		got := perSub[int32(i)]
		d.Received += len(got)
		due := committed
		if sub.Kind == threadSub {
			due = byConv[sub.Conversation]
		}
		d.Expected += due
		if sub.Kind == inboxSub && countInbox {
			if len(got) < due {
				d.Lost += due - len(got)
				d.SubsLost++
			} else {
				d.Duplicated += len(got) - due
			}
			continue
		}
		seen := map[int64]bool{}
		for _, r := range got {
			s := byMsg[r.Msg]
			switch {
			case s == nil || (sub.Kind == threadSub && s.Conv != sub.Conversation):
				d.Unexpected++
			case seen[r.Msg]:
				d.Duplicated++
			default:
				seen[r.Msg] = true
				d.Latency = append(d.Latency, r.At.Sub(s.Answered))
				d.FromRequest = append(d.FromRequest, r.At.Sub(s.Sent))
			}
		}
		if lost := due - len(seen); lost > 0 {
			d.Lost += lost
			d.SubsLost++
		}
	}
	slices.Sort(d.Latency)
	slices.Sort(d.FromRequest)
	return d
}

// percentile is the nearest-rank p-th percentile of sorted durations; 0 when there are none.
func percentile(sorted []time.Duration, p float64) time.Duration {
	return runResult{Latencies: sorted}.Percentile(p)
}

// parseGoroutines reads a goroutine profile of debug=1 (groups of identical stacks, each
// "N @ pcs" then its frames) and returns how many goroutines there are, and how many have frame
// in their stack.
func parseGoroutines(r io.Reader, frame string) (total, matching int, err error) {
	s := bufio.NewScanner(r)
	s.Buffer(make([]byte, 0, 64<<10), 4<<20)
	group, counted := 0, false
	for s.Scan() {
		line := s.Text()
		if n, _, ok := strings.Cut(line, " @ "); ok && !strings.HasPrefix(line, "#") {
			if v, err := strconv.Atoi(n); err == nil {
				group, counted = v, false
				total += v
				continue
			}
		}
		if !counted && strings.HasPrefix(line, "#") && strings.Contains(line, frame) {
			matching += group
			counted = true
		}
	}
	if err := s.Err(); err != nil {
		return 0, 0, err
	}
	if total == 0 {
		return 0, 0, errors.New("no goroutines in the profile")
	}
	return total, matching, nil
}

// memSample is B's memory at one moment, after a garbage collection.
type memSample struct {
	Sockets, Subs int
	RSSKiB        int64
	HeapInuse     float64 // bytes: the Go heap's spans in use
	Goroutines    float64
}

// notifyRun is one run of the cost comparison: sendMessage with LIVE_UPDATES=false or true.
type notifyRun struct {
	Round      int
	Target     string // which writes
	Live       bool   // on the instance with LIVE_UPDATES=true
	RPS        float64
	P50, P99   time.Duration
	Completed  int64
	Errors     int64
	FirstError string
	Waits      []waitShare // what the writes' backends were doing, most frequent first
}

// notifyCost is the comparison of one target. Each round ran it once without and once with
// live updates, back to back: their ratio is the round's, and the median of the rounds' ratios
// is the figure judged, since a stall of the shared machine (a slow WAL flush of another
// database's) spoils one run, not the comparison. The means are shown beside it.
type notifyCost struct {
	Target   string
	Off, On  float64   // mean req/s
	MeanLoss float64   // 1 - On/Off
	Ratios   []float64 // with / without, round by round
	Median   float64   // of Ratios
	Loss     float64   // 1 - Median
	Errors   int64
}

func notifyCosts(runs []notifyRun, targets []string) []notifyCost {
	var out []notifyCost
	for _, t := range targets {
		c := notifyCost{Target: t}
		var off, on []float64
		rounds := map[int][2]float64{} // off, on
		var order []int
		for _, r := range runs {
			if r.Target != t {
				continue
			}
			c.Errors += r.Errors
			pair, seen := rounds[r.Round]
			if !seen {
				order = append(order, r.Round)
			}
			if r.Live {
				on = append(on, r.RPS)
				pair[1] = r.RPS
			} else {
				off = append(off, r.RPS)
				pair[0] = r.RPS
			}
			rounds[r.Round] = pair
		}
		for _, round := range order {
			if p := rounds[round]; p[0] > 0 && p[1] > 0 {
				c.Ratios = append(c.Ratios, p[1]/p[0])
			}
		}
		c.Off, c.On = mean(off), mean(on)
		c.MeanLoss, c.Median, c.Loss = math.NaN(), medianRatio(c.Ratios), math.NaN()
		if c.Off > 0 && !math.IsNaN(c.On) {
			c.MeanLoss = 1 - c.On/c.Off
		}
		if !math.IsNaN(c.Median) {
			c.Loss = 1 - c.Median
		}
		out = append(out, c)
	}
	return out
}

func medianRatio(v []float64) float64 {
	if len(v) == 0 {
		return math.NaN()
	}
	s := slices.Sorted(slices.Values(v))
	if n := len(s); n%2 == 1 {
		return s[n/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func formatRatios(v []float64) string {
	parts := make([]string, len(v))
	for i, x := range v {
		parts[i] = fmt.Sprintf("%.2f×", x)
	}
	return strings.Join(parts, ", ")
}

func mean(v []float64) float64 {
	if len(v) == 0 {
		return math.NaN()
	}
	var s float64
	for _, x := range v {
		s += x
	}
	return s / float64(len(v))
}

// liveCPU is the CPU time of one run per event delivered, by process, in milliseconds.
type liveCPU struct {
	Run      string
	Events   int // delivered to the bench
	Messages int // committed
	B, A     float64
	Postgres float64
	Bench    float64 // the bench: its writers and its sockets' readers
	Other    float64
	Machine  float64
	Cores    float64
}

// liveLatencyRun is the paced run.
type liveLatencyRun struct {
	Sent, Committed, SendErrors int
	FirstSendError              string
	SendP50, SendP99            time.Duration // sendMessage at A
	All, Inbox, Thread          deliveries
	// InboxFirst is, per message, its first inboxUpdated's latency; InboxSpread the time from
	// its first inboxUpdated to its last (the tabs are served one after the other), sorted.
	InboxFirst, InboxSpread []time.Duration
}

// liveFloodRun is the run at full speed.
type liveFloodRun struct {
	Writers                     int
	Sending                     time.Duration // from the first request to the last answer
	Window                      time.Duration // from the first request to the last event
	Drain                       time.Duration // from the last answer to the last event
	Committed, SendErrors       int
	FirstSendError              string
	SendP50, SendP99            time.Duration
	All, Inbox, Thread          deliveries
	ClosedByServer, EndedByServ map[string]int
	// Timeline is the events received in each timelineBin from the first request to the last
	// event; FirstClose when B closed the first socket, from the first request (0: none did).
	Timeline   []int
	FirstClose time.Duration
	// BeforeClose is the events received before FirstClose (all of them when none closed).
	BeforeClose int
}

// timelineBin is the width of a bin of liveFloodRun.Timeline.
const timelineBin = 500 * time.Millisecond

// timeline counts the receipts in each bin from start.
func timeline(got []receipt, start time.Time, bin time.Duration) []int {
	var out []int
	for _, r := range got {
		i := int(r.At.Sub(start) / bin)
		if i < 0 {
			i = 0
		}
		for len(out) <= i {
			out = append(out, 0)
		}
		out[i]++
	}
	return out
}

// rates formats a timeline as events a second, bin by bin.
func rates(bins []int, bin time.Duration) string {
	if len(bins) == 0 {
		return "—"
	}
	parts := make([]string, len(bins))
	for i, n := range bins {
		parts[i] = strconv.FormatFloat(float64(n)/bin.Seconds(), 'f', 0, 64)
	}
	return strings.Join(parts, " · ")
}

// liveResult is what the measurement found.
type liveResult struct {
	Opts        liveOptions
	Vendor      int64
	Plan        livePlan
	Memory      []memSample // before any socket, with the sockets open, subscribed
	Latency     liveLatencyRun
	Flood       liveFloodRun
	CPU         []liveCPU
	Writer      int64 // the vendor writing in the cost comparison
	WriterConvs int
	Notify      []notifyRun
	Targets     []string
	Costs       []notifyCost
	// Closed and Ended are the sockets B closed and the subscriptions it ended during the
	// latency and throughput runs, by why; BadFrames the frames that were no event of ours.
	Closed    map[string]int
	Ended     map[string]int
	BadFrames int64
	FirstBad  string
	Dropped   int64
	Env       map[string]string // of instance B
	// LoadBefore and LoadAfter are the machine's 1-minute load average around the measurement.
	LoadBefore, LoadAfter string
	// Subscribing is how long the subscriptions took to be held, liveSubscribeBatch at a time.
	Subscribing time.Duration
	Took        time.Duration
	// Profile is B's CPU profile during the latency run, with -live-profile.
	Profile *profileTop
}

// liveRun is the measurement in progress.
type liveRun struct {
	opts        liveOptions
	server      string // the server binary, for pprof
	logf        func(string, ...any)
	client      *http.Client
	hz          float64
	pg          *pgx.Conn
	application string

	a, b, off *service
	sessions  map[int64]string // by user
	lc        *liveClient
	plan      livePlan
	// databaseURL is the bench's, untagged: the wait sampler's connection is not the run's.
	databaseURL string
	cmids       atomic.Int64
	runID       int64
	// maxMessage is the newest message before the measurement wrote any: restore marks the
	// buyers' messages after it read.
	maxMessage int64
}

const (
	notifyOne    = "one conversation"
	notifySpread = "spread"
)

// measureLive runs the whole measurement (see the top of this file).
func measureLive(ctx context.Context, opts options, server, dir string, data dataset, logf func(string, ...any)) (_ *liveResult, err error) {
	started := time.Now()
	ctx, cancel := context.WithTimeout(ctx, maxLiveTime)
	defer cancel()
	o := opts.LiveOpts
	l := &liveRun{opts: o, server: server, logf: logf, client: newClient(max(o.Writers, o.NotifyWriters) + 32), hz: clockTicks(ctx),
		sessions: map[int64]string{}, lc: &liveClient{}, runID: time.Now().UnixNano(), databaseURL: opts.DatabaseURL}
	defer l.close()
	res := &liveResult{Opts: o, Vendor: data.BusiestVendorID, LoadBefore: loadAverage()}

	databaseURL, application, err := tagDatabaseURL(opts.DatabaseURL, runApplicationName())
	if err != nil {
		return nil, err
	}
	l.application = application
	if l.pg, err = pgx.Connect(ctx, opts.DatabaseURL); err != nil {
		return nil, fmt.Errorf("connect to %s: %w", database.RedactURL(opts.DatabaseURL), err)
	}
	convs, err := l.vendorConversations(ctx, data.BusiestVendorID, max(o.Subscriptions-2*o.Tabs, o.Tabs))
	if err != nil {
		return nil, err
	}
	if l.plan, err = planLive(data.BusiestVendorID, convs, o.Subscriptions, o.Tabs, liveSubsPerSocket); err != nil {
		return nil, err
	}
	res.Plan = l.plan
	writer, writerConvs, err := l.writerConversations(ctx, data.BusiestVendorID, 2*o.NotifyWriters)
	if err != nil {
		return nil, err
	}
	res.Writer, res.WriterConvs = writer, len(writerConvs)
	if err := l.pg.QueryRow(ctx, `SELECT coalesce(max(id), 0) FROM messages`).Scan(&l.maxMessage); err != nil {
		return nil, err
	}

	res.Env = map[string]string{
		"LIVE_UPDATES":                "true",
		"WS_MAX_CONNECTIONS_PER_USER": strconv.Itoa(o.Tabs + 10),
		"WS_MAX_SUBSCRIPTIONS":        strconv.Itoa(liveSubsPerSocket),
	}
	if l.a, err = startService(ctx, "live-a", server, dir, databaseURL, map[string]string{"LIVE_UPDATES": "true"}); err != nil {
		return nil, err
	}
	if l.b, err = startService(ctx, "live-b", server, dir, databaseURL, res.Env); err != nil {
		return nil, err
	}
	if l.off, err = startService(ctx, "live-off", server, dir, databaseURL, map[string]string{"LIVE_UPDATES": "false"}); err != nil {
		return nil, err
	}
	logf("live: instances A %s (pid %d), B %s (pid %d), without live updates %s (pid %d)",
		l.a.url, l.a.pid(), l.b.url, l.b.pid(), l.off.url, l.off.pid())
	if err := waitServices(ctx, l.client, l.a, l.b, l.off); err != nil {
		return nil, err
	}
	users := []int64{data.BusiestVendorID, res.Writer}
	for _, s := range l.plan.Sockets {
		users = append(users, s.Viewer)
	}
	for _, c := range l.plan.Convs {
		users = append(users, c.Buyer)
	}
	if err := l.signIn(ctx, databaseURL, users); err != nil {
		return nil, err
	}
	if err := l.waitListening(ctx); err != nil {
		return nil, err
	}

	// Memory: before, with the sockets open, subscribed.
	before, err := l.memory(ctx, 0, 0)
	if err != nil {
		return nil, err
	}
	logf("live: opening %d sockets on B (%d of the vendor %d, %d of %d buyers)", len(l.plan.Sockets), o.Tabs, data.BusiestVendorID, len(l.plan.Sockets)-o.Tabs, l.plan.Buyers)
	if err := l.openSockets(ctx); err != nil {
		return nil, err
	}
	opened, err := l.memory(ctx, len(l.plan.Sockets), 0)
	if err != nil {
		return nil, err
	}
	logf("live: subscribing %d times, %d at a time", len(l.plan.Subs), liveSubscribeBatch)
	t0 := time.Now()
	if err := l.subscribe(ctx); err != nil {
		return nil, err
	}
	res.Subscribing = time.Since(t0)
	subscribed, err := l.memory(ctx, len(l.plan.Sockets), len(l.plan.Subs))
	if err != nil {
		return nil, err
	}
	res.Memory = []memSample{before, opened, subscribed}
	logf("live: B's RSS %.1f → %.1f → %.1f MiB (before, %d sockets, %d subscriptions)",
		float64(before.RSSKiB)/1024, float64(opened.RSSKiB)/1024, float64(subscribed.RSSKiB)/1024, len(l.plan.Sockets), len(l.plan.Subs))

	// The warm-up: the latency run's messages go to the newest conversations, these to the
	// oldest of the mix.
	warm := make([]liveConversation, 0, liveWarmupMessages)
	for i := range min(liveWarmupMessages, len(l.plan.Convs)) {
		warm = append(warm, l.plan.Convs[len(l.plan.Convs)-1-i])
	}
	m := l.lc.mark()
	sends := l.paced(ctx, warm, len(warm), o.Interval)
	l.lc.drain(ctx, m, l.expected(sends))
	wd := matchDeliveries(l.plan.Subs, sends, l.lc.since(m), 0, false)
	logf("live: warm-up: %d messages, %d events of %d expected", len(sends), wd.Received, wd.Expected)

	// Latency.
	logf("live: latency: %d messages, one every %s, as the buyers through A", o.Messages, o.Interval)
	hz := l.hz
	var profiled chan *profileTop
	if o.Profile {
		profiled = make(chan *profileTop, 1)
		go func() { profiled <- l.profileB(ctx, dir, time.Duration(o.Messages)*o.Interval) }()
	}
	cpu := l.startCPU()
	m = l.lc.mark()
	sends = l.paced(ctx, l.plan.Convs, o.Messages, o.Interval)
	l.lc.drain(ctx, m, l.expected(sends))
	got := l.lc.since(m)
	res.CPU = append(res.CPU, cpu.stop("latency", hz, len(got), committed(sends)))
	res.Latency = latencyRun(l.plan.Subs, sends, got)
	if profiled != nil {
		res.Profile = <-profiled
	}
	lat := res.Latency.All
	logf("live: latency: %d events of %d expected, lost %d, duplicated %d, unexpected %d; p50 %.2f ms, p99 %.2f ms after A's answer",
		lat.Received, lat.Expected, lat.Lost, lat.Duplicated, lat.Unexpected, ms(percentile(lat.Latency, 50)), ms(percentile(lat.Latency, 99)))

	// Throughput.
	logf("live: throughput: %d writers as fast as they can for %s", o.Writers, o.Duration)
	cpu = l.startCPU()
	m = l.lc.mark()
	start := time.Now()
	sends = l.flood(ctx, o.Writers, o.Duration)
	sending := time.Since(start)
	l.lc.drain(ctx, m, l.expected(sends))
	got = l.lc.since(m)
	res.CPU = append(res.CPU, cpu.stop("throughput", hz, len(got), committed(sends)))
	res.Flood = floodRun(l.plan.Subs, sends, got, o.Writers, start, sending)
	res.Flood.ClosedByServer, res.Flood.EndedByServ = l.lc.serverClosed(), l.lc.endedOps()
	res.Flood.Timeline = timeline(got, start, timelineBin)
	res.Flood.BeforeClose = len(got)
	if first := l.lc.firstClose(); !first.IsZero() {
		res.Flood.FirstClose = first.Sub(start)
		res.Flood.BeforeClose = 0
		for _, g := range got {
			if g.At.Before(first) {
				res.Flood.BeforeClose++
			}
		}
	}
	fl := res.Flood.All
	logf("live: throughput: %d messages (%.0f/s), %d events of %d expected (%.0f/s), lost %d, duplicated %d; drained %.0f ms after the last answer",
		res.Flood.Committed, float64(res.Flood.Committed)/sending.Seconds(), fl.Received, fl.Expected,
		float64(fl.Received)/res.Flood.Window.Seconds(), fl.Lost, fl.Duplicated, ms(res.Flood.Drain))
	res.Closed, res.Ended = res.Flood.ClosedByServer, res.Flood.EndedByServ
	res.BadFrames, res.FirstBad, res.Dropped = l.lc.bad.Load(), l.lc.firstBad, l.lc.dropped.Load()

	l.lc.closeAll()
	if n, err := l.waitStreams(ctx, 0); err != nil {
		logf("live: %d subscriptions still open on B after the sockets closed: %v", n, err)
	}

	// What live updates cost the writes.
	res.Targets = []string{notifyOne, notifySpread}
	if res.Notify, err = l.notifyComparison(ctx, writer, writerConvs); err != nil {
		return nil, err
	}
	res.Costs = notifyCosts(res.Notify, res.Targets)
	for _, c := range res.Costs {
		logf("live: cost, %s: with / without %s, median %.2f× (%.1f%% less); means %.1f and %.1f req/s", c.Target, formatRatios(c.Ratios), c.Median, 100*c.Loss, c.On, c.Off)
	}
	res.Took = time.Since(started)
	res.LoadAfter = loadAverage()
	return res, nil
}

func committed(sends []liveSend) int {
	n := 0
	for _, s := range sends {
		if s.Msg != 0 {
			n++
		}
	}
	return n
}

func sendStats(sends []liveSend) (errs int, first string, p50, p99 time.Duration) {
	var lat []time.Duration
	for _, s := range sends {
		if s.Msg == 0 {
			errs++
			if first == "" {
				first = s.Err
			}
			continue
		}
		lat = append(lat, s.Answered.Sub(s.Sent))
	}
	slices.Sort(lat)
	return errs, first, percentile(lat, 50), percentile(lat, 99)
}

func latencyRun(subs []liveSubscription, sends []liveSend, got []receipt) liveLatencyRun {
	r := liveLatencyRun{Sent: len(sends), Committed: committed(sends)}
	r.SendErrors, r.FirstSendError, r.SendP50, r.SendP99 = sendStats(sends)
	r.All = matchDeliveries(subs, sends, got, 0, false)
	r.Inbox = matchDeliveries(subs, sends, got, inboxSub, false)
	r.Thread = matchDeliveries(subs, sends, got, threadSub, false)
	r.InboxFirst, r.InboxSpread = inboxFanout(subs, sends, got)
	return r
}

// inboxFanout is, for each message that reached an inboxUpdated, the latency of its first
// inboxUpdated after A's answer and the time from that one to its last, each sorted.
func inboxFanout(subs []liveSubscription, sends []liveSend, got []receipt) (first, spread []time.Duration) {
	answered := map[int64]time.Time{}
	for _, s := range sends {
		if s.Msg != 0 {
			answered[s.Msg] = s.Answered
		}
	}
	type span struct{ first, last time.Time }
	spans := map[int64]*span{}
	for _, r := range got {
		if int(r.Sub) >= len(subs) || subs[r.Sub].Kind != inboxSub {
			continue
		}
		if _, ok := answered[r.Msg]; !ok {
			continue
		}
		sp := spans[r.Msg]
		if sp == nil {
			spans[r.Msg] = &span{r.At, r.At}
			continue
		}
		if r.At.Before(sp.first) {
			sp.first = r.At
		}
		if r.At.After(sp.last) {
			sp.last = r.At
		}
	}
	for msg, sp := range spans {
		first = append(first, sp.first.Sub(answered[msg]))
		spread = append(spread, sp.last.Sub(sp.first))
	}
	slices.Sort(first)
	slices.Sort(spread)
	return first, spread
}

func floodRun(subs []liveSubscription, sends []liveSend, got []receipt, writers int, start time.Time, sending time.Duration) liveFloodRun {
	r := liveFloodRun{Writers: writers, Sending: sending, Committed: committed(sends)}
	r.SendErrors, r.FirstSendError, r.SendP50, r.SendP99 = sendStats(sends)
	r.All = matchDeliveries(subs, sends, got, 0, true)
	r.Inbox = matchDeliveries(subs, sends, got, inboxSub, true)
	r.Thread = matchDeliveries(subs, sends, got, threadSub, true)
	var lastEvent, lastAnswer time.Time
	for _, g := range got {
		if g.At.After(lastEvent) {
			lastEvent = g.At
		}
	}
	for _, s := range sends {
		if s.Answered.After(lastAnswer) {
			lastAnswer = s.Answered
		}
	}
	r.Window = max(lastEvent.Sub(start), sending)
	if !lastEvent.IsZero() && !lastAnswer.IsZero() {
		r.Drain = lastEvent.Sub(lastAnswer)
	}
	return r
}

// vendorConversations are the vendor's n newest conversations and their buyers.
func (l *liveRun) vendorConversations(ctx context.Context, vendor int64, n int) ([]liveConversation, error) {
	rows, err := l.pg.Query(ctx, `SELECT c.id, b.user_id FROM conversations c
		CROSS JOIN LATERAL (SELECT min(p.user_id) AS user_id FROM conversation_participants p
			WHERE p.conversation_id = c.id AND p.user_id <> c.seller_id) b
		WHERE c.seller_id = $1 AND b.user_id IS NOT NULL
		ORDER BY c.updated_at DESC, c.id DESC LIMIT $2`, vendor, n)
	if err != nil {
		return nil, err
	}
	convs, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (liveConversation, error) {
		var c liveConversation
		return c, row.Scan(&c.ID, &c.Buyer)
	})
	if err != nil {
		return nil, fmt.Errorf("the vendor's conversations: %w", err)
	}
	return convs, nil
}

// writerConversations are the vendor the send scenario writes as (the seller of the newest
// conversation not the busiest vendor's) and their newest n conversations, newest first: the
// cost comparison writes as them, away from the inbox the other scenarios read.
func (l *liveRun) writerConversations(ctx context.Context, busiest int64, n int) (int64, []int64, error) {
	var writer int64
	if err := l.pg.QueryRow(ctx, `SELECT seller_id FROM conversations WHERE seller_id <> $1
		ORDER BY updated_at DESC, id DESC LIMIT 1`, busiest).Scan(&writer); err != nil {
		return 0, nil, fmt.Errorf("another vendor for the cost comparison: %w", err)
	}
	rows, err := l.pg.Query(ctx, `SELECT id FROM conversations WHERE seller_id = $1
		ORDER BY updated_at DESC, id DESC LIMIT $2`, writer, n)
	if err != nil {
		return 0, nil, err
	}
	convs, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	return writer, convs, err
}

// signIn makes a session for each user with the service's own Store.CreateSession (what the
// `session` command runs; one process per user would take minutes).
func (l *liveRun) signIn(ctx context.Context, databaseURL string, users []int64) error {
	db, err := database.Open(ctx, databaseURL)
	if err != nil {
		return err
	}
	defer func() {
		if sqlDB, err := db.DB(); err == nil {
			_ = sqlDB.Close()
		}
	}()
	store := models.NewStore(db)
	for _, u := range users {
		if _, ok := l.sessions[u]; ok {
			continue
		}
		id, err := store.CreateSession(ctx, u, liveSessionTTL)
		if err != nil {
			return fmt.Errorf("session of user %d: %w", u, err)
		}
		l.sessions[u] = id
	}
	return nil
}

// waitListening waits until B takes subscriptions: it refuses them (UNAVAILABLE) until its
// listener listens. A probe socket subscribes until one holds.
func (l *liveRun) waitListening(ctx context.Context) error {
	conn, err := dialLive(ctx, l.b.url, l.sessions[l.plan.Vendor])
	if err != nil {
		return err
	}
	probe := &liveSocket{conn: conn, done: make(chan struct{})}
	go l.lc.read(ctx, probe)
	defer func() {
		_ = conn.Close(websocket.StatusNormalClosure, "")
		<-probe.done
	}()
	payload, _ := json.Marshal(map[string]any{"query": liveInboxSubscription})
	for attempt := range 100 {
		if err := writeWS(ctx, conn, wsMessage{Type: "subscribe", ID: "p" + strconv.Itoa(attempt), Payload: payload}); err != nil {
			return err
		}
		for range 20 {
			time.Sleep(25 * time.Millisecond)
			probe.mu.Lock()
			refused := len(probe.ended) > 0
			probe.ended = nil
			probe.mu.Unlock()
			if refused {
				break
			}
			if n, err := l.countStreams(ctx); err != nil {
				return err
			} else if n == 1 {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-probe.done:
			return fmt.Errorf("the probe socket closed: %v", probe.err)
		case <-time.After(200 * time.Millisecond):
		}
	}
	return errors.New("instance B never took a subscription: its listener does not listen\n" + l.b.logTail())
}

// countStreams is how many subscriptions B has open, from its goroutine profile.
func (l *liveRun) countStreams(ctx context.Context) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, l.b.metricsURL+"/debug/pprof/goroutine?debug=1", nil)
	if err != nil {
		return 0, err
	}
	resp, err := l.client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("goroutine profile: status %d", resp.StatusCode)
	}
	_, n, err := parseGoroutines(resp.Body, streamFrame)
	return n, err
}

// waitStreams waits until B has want subscriptions open.
func (l *liveRun) waitStreams(ctx context.Context, want int) (int, error) {
	n := -1
	for deadline := time.Now().Add(liveWait); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		var err error
		if n, err = l.countStreams(ctx); err != nil {
			return n, err
		}
		if n == want {
			return n, nil
		}
	}
	return n, fmt.Errorf("instance B has %d subscriptions open after %s, want %d", n, liveWait, want)
}

// memory samples B after a garbage collection (the heap profile's gc=1 runs one).
func (l *liveRun) memory(ctx context.Context, sockets, subs int) (memSample, error) {
	s := memSample{Sockets: sockets, Subs: subs}
	time.Sleep(500 * time.Millisecond) // what the last step started settles
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, l.b.metricsURL+"/debug/pprof/heap?gc=1", nil)
	if err != nil {
		return s, err
	}
	resp, err := l.client.Do(req)
	if err != nil {
		return s, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if s.RSSKiB, err = procStatusKB(l.b.pid(), "VmRSS"); err != nil {
		return s, err
	}
	if s.HeapInuse, err = readCounter(ctx, l.client, l.b.metricsURL+"/metrics", "go_memstats_heap_inuse_bytes"); err != nil {
		return s, err
	}
	s.Goroutines, err = readCounter(ctx, l.client, l.b.metricsURL+"/metrics", "go_goroutines")
	return s, err
}

// openSockets opens every socket of the plan, liveDialers at a time, and starts their readers.
func (l *liveRun) openSockets(ctx context.Context) error {
	l.lc.sockets = make([]*liveSocket, len(l.plan.Sockets))
	var wg sync.WaitGroup
	var firstErr error
	var errOnce sync.Once
	sem := make(chan struct{}, liveDialers)
	for i, p := range l.plan.Sockets {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			conn, err := dialLive(ctx, l.b.url, l.sessions[p.Viewer])
			if err != nil {
				errOnce.Do(func() { firstErr = fmt.Errorf("socket %d of user %d: %w", i, p.Viewer, err) })
				return
			}
			s := &liveSocket{conn: conn, viewer: p.Viewer, subs: p.Subs, done: make(chan struct{})}
			l.lc.sockets[i] = s
			go l.lc.read(ctx, s)
		})
	}
	wg.Wait()
	if firstErr != nil {
		l.lc.sockets = slices.DeleteFunc(l.lc.sockets, func(s *liveSocket) bool { return s == nil })
		return firstErr
	}
	return nil
}

// subscribe sends the plan's subscriptions in batches of liveSubscribeBatch, each once the
// previous one is held, and waits until B holds them all. Each messageAdded costs B a statement
// (is the viewer a participant?); sent all at once, a thousand of them queue for B's pool past
// its DB_TIMEOUT on a cold cache and fail with SERVICE_UNAVAILABLE, which is a reconnect storm,
// not the idle subscriptions measured here.
func (l *liveRun) subscribe(ctx context.Context) error {
	inbox, _ := json.Marshal(map[string]any{"query": liveInboxSubscription})
	sent := 0
	flush := func() error {
		if _, err := l.waitStreams(ctx, sent); err != nil {
			return fmt.Errorf("%w; operations B ended: %v; %d frames no event (first: %s)\n%s", err, l.lc.endedOps(), l.lc.bad.Load(), l.lc.firstBad, l.b.logTail())
		}
		return nil
	}
	for _, s := range l.lc.sockets {
		for _, i := range s.subs {
			payload := inbox
			if sub := l.plan.Subs[i]; sub.Kind == threadSub {
				payload, _ = json.Marshal(map[string]any{"query": liveThreadSubscription,
					"variables": map[string]any{"id": models.GlobalID(models.TypeConversation, sub.Conversation)}})
			}
			if err := writeWS(ctx, s.conn, wsMessage{Type: "subscribe", ID: subOp(i), Payload: payload}); err != nil {
				return err
			}
			if sent++; sent%liveSubscribeBatch == 0 {
				if err := flush(); err != nil {
					return err
				}
			}
		}
	}
	return flush()
}

// expected is how many events the sends should bring: each message to every inboxUpdated and
// to the messageAdded of its conversation.
func (l *liveRun) expected(sends []liveSend) int64 {
	threads := map[int64]int64{}
	var inbox int64
	for _, s := range l.plan.Subs {
		if s.Kind == inboxSub {
			inbox++
		} else {
			threads[s.Conversation]++
		}
	}
	var n int64
	for _, s := range sends {
		if s.Msg != 0 {
			n += inbox + threads[s.Conv]
		}
	}
	return n
}

// send writes one message as the conversation's buyer through A, with the send scenario's
// mutation and payload.
func (l *liveRun) send(ctx context.Context, c liveConversation) liveSend {
	s := liveSend{Conv: c.ID}
	body, _ := json.Marshal(map[string]any{"query": sendQuery, "variables": map[string]any{"input": map[string]any{
		"conversationId":   models.GlobalID(models.TypeConversation, c.ID),
		"text":             "Добрый день! Деталь ещё в наличии?",
		"clientMutationId": fmt.Sprintf("live-%d-%d", l.runID, l.cmids.Add(1)),
	}}})
	t := target{Method: http.MethodPost, URL: l.a.url + "/graphql", Body: body, GraphQL: true, Header: http.Header{
		"Content-Type": {"application/json"},
		"Cookie":       {httpserver.SessionCookie + "=" + l.sessions[c.Buyer]},
	}}
	s.Sent = time.Now()
	status, answer, err := doOnce(ctx, l.client, t)
	s.Answered = time.Now()
	if err == nil {
		err = t.check(status, answer)
	}
	if err == nil {
		var p struct {
			Data struct {
				SendMessage struct {
					Message struct {
						DatabaseID int64 `json:"databaseId"`
					} `json:"message"`
				} `json:"sendMessage"`
			} `json:"data"`
		}
		if err = json.Unmarshal(answer, &p); err == nil && p.Data.SendMessage.Message.DatabaseID == 0 {
			err = fmt.Errorf("no message in %s", clip(answer))
		}
		s.Msg = p.Data.SendMessage.Message.DatabaseID
	}
	if err != nil {
		s.Msg, s.Err = 0, err.Error()
	}
	return s
}

// doOnce sends t and returns the whole answer.
func doOnce(ctx context.Context, client *http.Client, t target) (int, []byte, error) {
	var buf bytes.Buffer
	status, err := t.do(ctx, client, &buf)
	return status, buf.Bytes(), err
}

// paced sends n messages, message i at i×every from the start into convs[i mod len(convs)],
// each in a goroutine of its own so that a slow answer does not delay the next (at most 64 in
// flight).
func (l *liveRun) paced(ctx context.Context, convs []liveConversation, n int, every time.Duration) []liveSend {
	sends := make([]liveSend, n)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 64)
	start := time.Now()
	for i := range n {
		if wait := time.Until(start.Add(time.Duration(i) * every)); wait > 0 {
			select {
			case <-ctx.Done():
			case <-time.After(wait):
			}
		}
		if ctx.Err() != nil {
			sends = sends[:i]
			break
		}
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			sends[i] = l.send(ctx, convs[i%len(convs)])
		})
	}
	wg.Wait()
	return sends
}

// flood runs writers closed loops for d: writer w sends into conversations w, w+writers, … of
// the mix in turn, so no two writers share a conversation.
func (l *liveRun) flood(ctx context.Context, writers int, d time.Duration) []liveSend {
	per := make([][]liveSend, writers)
	var started atomic.Int64
	deadline := time.Now().Add(d)
	var wg sync.WaitGroup
	convs := l.plan.Convs
	for w := range writers {
		wg.Go(func() {
			for i := w; time.Now().Before(deadline) && ctx.Err() == nil && started.Add(1) <= maxRequestsPerRun; i += writers {
				per[w] = append(per[w], l.send(ctx, convs[i%len(convs)]))
			}
		})
	}
	wg.Wait()
	return slices.Concat(per...)
}

// notifyComparison runs sendMessage at NotifyWriters clients on the instance without live
// updates and on A, alternating (off, on in odd rounds; on, off in even ones), for two targets:
// the send scenario's (the writer vendor in their newest conversation, every writer in the same
// one: its row lock already serializes the writes) and spread (the writer vendor round robin
// over their newest conversations, so the writes only meet at commit).
func (l *liveRun) notifyComparison(ctx context.Context, writer int64, convs []int64) ([]notifyRun, error) {
	o := l.opts
	cookie := l.sessions[writer]
	mk := func(base string, spread bool) target {
		var n atomic.Int64
		return target{Method: http.MethodPost, URL: base + "/graphql", GraphQL: true, Header: http.Header{
			"Content-Type": {"application/json"},
			"Cookie":       {httpserver.SessionCookie + "=" + cookie},
		}, NextBody: func() []byte {
			i := n.Add(1)
			c := convs[0]
			if spread {
				c = convs[int(i)%len(convs)]
			}
			body, _ := json.Marshal(map[string]any{"query": sendQuery, "variables": map[string]any{"input": map[string]any{
				"conversationId":   models.GlobalID(models.TypeConversation, c),
				"text":             "Да, деталь в наличии, отправлю сегодня.",
				"clientMutationId": fmt.Sprintf("live-notify-%d-%d", l.runID, l.cmids.Add(1)),
			}}})
			return body
		}}
	}
	total := time.Duration(o.Rounds*4) * (o.Warmup + o.Duration)
	l.logf("live: cost: sendMessage at %d writers, LIVE_UPDATES=false against true, %d rounds: about %s", o.NotifyWriters, o.Rounds, total.Round(time.Second))
	var runs []notifyRun
	for round := 1; round <= o.Rounds; round++ {
		for _, t := range []string{notifyOne, notifySpread} {
			order := []bool{false, true}
			if round%2 == 0 {
				order = []bool{true, false}
			}
			for _, on := range order {
				svc := l.off
				if on {
					svc = l.a
				}
				tg := mk(svc.url, t == notifySpread)
				if o.Warmup > 0 {
					runLoad(ctx, l.client, tg, o.NotifyWriters, o.Warmup)
				}
				waits, err := startWaits(ctx, l.databaseURL, l.application)
				if err != nil {
					return nil, err
				}
				r := runLoad(ctx, l.client, tg, o.NotifyWriters, o.Duration)
				shares := waits.stop()
				if err := ctx.Err(); err != nil {
					return nil, fmt.Errorf("interrupted: %w", err)
				}
				select {
				case <-svc.done:
					return nil, fmt.Errorf("%s exited\n%s", svc.name, svc.logTail())
				default:
				}
				run := notifyRun{Round: round, Target: t, Live: on, RPS: r.RPS(), P50: r.Percentile(50), P99: r.Percentile(99),
					Completed: r.Completed, Errors: r.Errors, FirstError: r.FirstError, Waits: shares}
				l.logf("live: cost round %d, %-16s LIVE_UPDATES=%-5t %8.1f req/s  p50 %6.2f ms  p99 %6.2f ms  errors %d  waits %s",
					round, t, on, run.RPS, ms(run.P50), ms(run.P99), run.Errors, formatWaits(run.Waits, 4))
				runs = append(runs, run)
			}
		}
	}
	return runs, nil
}

// liveCPUMeter measures one run: B as the serving process, A read on its own.
type liveCPUMeter struct {
	m      *cpuMeter
	a      int
	aStart uint64
	aErr   error
}

func (l *liveRun) startCPU() *liveCPUMeter {
	c := &liveCPUMeter{a: l.a.pid()}
	st, err := readProcStat(strconv.Itoa(c.a))
	c.aStart, c.aErr = st.Ticks, err
	c.m = startCPU(l.hz, l.b.pid(), liveOthers(l.pg, l.application))
	return c
}

func (c *liveCPUMeter) stop(run string, hz float64, events, messages int) liveCPU {
	per, err := c.m.stop(int64(events))
	st, aErr := readProcStat(strconv.Itoa(c.a))
	out := liveCPU{Run: run, Events: events, Messages: messages, B: per.Serving, Postgres: per.Postgres, Bench: per.LoadGen,
		Other: per.Other, Machine: per.Machine, Cores: per.Cores, A: math.NaN()}
	if err == nil && aErr == nil && c.aErr == nil && events > 0 && st.Ticks >= c.aStart {
		out.A = float64(st.Ticks-c.aStart) / hz * 1000 / float64(events)
		out.Other -= out.A
	}
	return out
}

// liveOthers is otherClientsOf, but for the live updates' listeners and notifiers: they
// connect with application_names of their own, and are the instances' work, not other clients'.
func liveOthers(conn *pgx.Conn, application string) func() (map[string]bool, error) {
	others := otherClientsOf(conn, application)
	return func() (map[string]bool, error) {
		skip, err := others()
		if err != nil {
			return nil, err
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		rows, err := conn.Query(ctx, "SELECT pid::text FROM pg_stat_activity WHERE application_name IN ($1, $2)",
			live.ListenerApplicationName, live.NotifierApplicationName)
		if err != nil {
			return nil, err
		}
		pids, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return nil, err
		}
		for _, p := range pids {
			delete(skip, p)
		}
		return skip, nil
	}
}

// close ends everything the measurement started, and puts the data back (restore).
func (l *liveRun) close() {
	if l.lc != nil {
		l.lc.closeAll()
	}
	var wg sync.WaitGroup
	for _, s := range []*service{l.a, l.b, l.off} {
		if s != nil {
			wg.Go(s.stop)
		}
	}
	wg.Wait()
	l.client.CloseIdleConnections()
	if l.pg == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if err := l.restore(ctx); err != nil {
		l.logf("live: restoring the database: %v", err)
	}
	_ = l.pg.Close(ctx)
}

// restore undoes what the measurement changed but the messages themselves: its buyers' messages
// raised the vendor's unread counts (which graphql-unread-20 filters on), so they are marked
// read and taken off the counts again; its sessions are deleted; and the tables it wrote are
// vacuumed and analyzed, as the seed leaves them (autovacuum is off).
func (l *liveRun) restore(ctx context.Context) error {
	start := time.Now()
	if l.maxMessage > 0 {
		tag, err := l.pg.Exec(ctx, `WITH marked AS (
				UPDATE messages m SET is_read = true, is_delivered = true
				FROM conversations c
				WHERE m.id > $1 AND c.id = m.conversation_id AND c.seller_id = $2 AND m.sender_id <> c.seller_id AND NOT m.is_read
				RETURNING m.conversation_id)
			UPDATE conversations c SET seller_unread_count = greatest(c.seller_unread_count - x.n, 0)
			FROM (SELECT conversation_id, count(*) AS n FROM marked GROUP BY conversation_id) x
			WHERE c.id = x.conversation_id`, l.maxMessage, l.plan.Vendor)
		if err != nil {
			return fmt.Errorf("unread counts: %w", err)
		}
		l.logf("live: restored the unread counts of %d conversations", tag.RowsAffected())
	}
	if len(l.sessions) > 0 {
		hashes := make([][]byte, 0, len(l.sessions))
		for _, id := range l.sessions {
			sum := sha256.Sum256([]byte(id)) // the service stores a session's SHA-256 only
			hashes = append(hashes, sum[:])
		}
		if _, err := l.pg.Exec(ctx, `DELETE FROM sessions WHERE id_hash = ANY($1)`, hashes); err != nil {
			return fmt.Errorf("sessions: %w", err)
		}
	}
	if _, err := l.pg.Exec(ctx, `VACUUM (ANALYZE) conversations, messages, sessions`); err != nil {
		return fmt.Errorf("vacuum: %w", err)
	}
	l.logf("live: database restored and vacuumed in %.1fs", time.Since(start).Seconds())
	return nil
}

// renderLive writes the report's section on live updates.
func renderLive(w io.Writer, r *liveResult, command string) {
	p := func(format string, a ...any) { fmt.Fprintf(w, format+"\n", a...) }
	p("## Live updates")
	p("")
	if r == nil {
		p("Not measured in this run (`-live=false`); `go run ./bench -live-only` measures only that.")
		p("")
		return
	}
	o, plan := r.Opts, r.Plan
	p("Two more instances of the server on the same database, each with `LIVE_UPDATES=true` (every")
	p("write records its change in the outbox table in its transaction, each instance's notifier")
	p("announces the changes with NOTIFY, and each instance LISTENs on one connection of its own): **A**")
	p("takes the writes, **B** serves the subscriptions (`%s`), and a third", envList(r.Env))
	p("instance with `LIVE_UPDATES=false` is the baseline of the cost comparison. The bench speaks")
	p("graphql-transport-ws to B over `github.com/coder/websocket`, with B's own Origin and the")
	p("users' `PARTIZAP_SESSION` (sessions made with `Store.CreateSession`, deleted afterwards). It")
	p("took %s; afterwards the buyers' messages it sent are marked read and taken off the vendor's", r.Took.Round(time.Second))
	p("unread counts again, and the tables it wrote are vacuumed. The machine's 1-minute load average")
	p("was %s before and %s after: all of it shares the same cores, so compare only figures of one run.", r.LoadBefore, r.LoadAfter)
	p("")
	p("```sh")
	p("%s", command)
	p("```")
	p("")
	inbox, threads := 0, 0
	for _, s := range plan.Subs {
		if s.Kind == inboxSub {
			inbox++
		} else {
			threads++
		}
	}
	p("### Subscriptions and B's memory, idle")
	p("")
	p("%d subscriptions on %d sockets: %d tabs of the busiest vendor %d, each with `inboxUpdated` (every", len(plan.Subs), len(plan.Sockets), plan.Tabs, r.Vendor)
	p("field of an inbox row, as graphql-20 reads them) and `messageAdded` of the conversation open in")
	p("it (the %d newest), and %d `messageAdded` of the vendor's next newest conversations, one each,", plan.Tabs, threads-plan.Tabs)
	p("held by their %d buyers on %d sockets (at most %d a socket, B's `WS_MAX_SUBSCRIPTIONS`).", plan.Buyers, len(plan.Sockets)-plan.Tabs, liveSubsPerSocket)
	p("They were sent %d at a time, each batch once B held the previous one (counted in B's", liveSubscribeBatch)
	p("goroutine profile: one `resolvers.stream` goroutine per subscription), in %.1fs.", r.Subscribing.Seconds())
	p("")
	p("| B | sockets | subscriptions | RSS MiB | Go heap in use MiB | goroutines |")
	p("|---|---:|---:|---:|---:|---:|")
	for i, m := range r.Memory {
		p("| %s | %d | %d | %.1f | %.1f | %.0f |", []string{"before", "sockets open", "subscribed"}[min(i, 2)], m.Sockets, m.Subs,
			float64(m.RSSKiB)/1024, m.HeapInuse/(1<<20), m.Goroutines)
	}
	p("")
	if len(r.Memory) == 3 {
		sock, sub := memoryPer(r.Memory[0], r.Memory[1]), memoryPer(r.Memory[1], r.Memory[2])
		p("| per | RSS KiB | Go heap KiB | goroutines |")
		p("|---|---:|---:|---:|")
		p("| idle socket (connection_init acknowledged) | %.1f | %.1f | %.2f |", sock.rss, sock.heap, sock.goroutines)
		p("| idle subscription | %.1f | %.1f | %.2f |", sub.rss, sub.heap, sub.goroutines)
		p("")
	}
	p("Each sample follows a garbage collection (B's `/debug/pprof/heap?gc=1`): RSS is B's `VmRSS`,")
	p("the heap `go_memstats_heap_inuse_bytes`. A socket's cost is the difference between the first")
	p("two rows over the sockets, a subscription's between the last two over the subscriptions")
	p("(RSS moves in pages the runtime keeps, so it is the coarser of the two).")
	p("")

	l := r.Latency
	p("### Delivery latency")
	p("")
	p("%d messages through A's `sendMessage` (the send scenario's mutation, a new `clientMutationId`", l.Sent)
	p("each), one every %s, each by the buyer of another conversation of the mix (the newest", o.Interval)
	p("first), after %d unmeasured ones. A message is due on every `inboxUpdated` and on the", liveWarmupMessages)
	p("`messageAdded` of its conversation; each event is matched to its message by the message's")
	p("`databaseId` (an inbox row's `lastMessage`), per subscription. Latency: from A's answer")
	p("reaching the bench to the event reaching the bench from B (negative when the event comes")
	p("first: the commit wakes the notifier, the answer is written after); \"from the request\"")
	p("counts from the start of the mutation instead, the write included.")
	p("")
	p("| subscriptions | count | events due | received | lost | duplicated | unexpected | p50 ms | p90 ms | p99 ms | max ms | p50 from the request ms | p99 from the request ms |")
	p("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
	for _, d := range []struct {
		name string
		d    deliveries
	}{{"all", l.All}, {"inboxUpdated", l.Inbox}, {"messageAdded", l.Thread}} {
		x := d.d
		p("| %s | %d | %d | %d | %d | %d | %d | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f |", d.name, x.Subs, x.Expected, x.Received, x.Lost, x.Duplicated, x.Unexpected,
			ms(percentile(x.Latency, 50)), ms(percentile(x.Latency, 90)), ms(percentile(x.Latency, 99)), ms(percentile(x.Latency, 100)),
			ms(percentile(x.FromRequest, 50)), ms(percentile(x.FromRequest, 99)))
	}
	p("")
	p("sendMessage at A: %d committed of %d, p50 %.2f ms, p99 %.2f ms%s.", l.Committed, l.Sent, ms(l.SendP50), ms(l.SendP99), sendErrNote(l.SendErrors, l.FirstSendError))
	p("Per message, its first `inboxUpdated` came %.2f ms (p50) / %.2f ms (p99) after A's answer, and its", ms(percentile(l.InboxFirst, 50)), ms(percentile(l.InboxFirst, 99)))
	p("last %.2f ms (p50) / %.2f ms (p99) after its first: the first of the %d tabs to reach an event executes it and", ms(percentile(l.InboxSpread, 50)), ms(percentile(l.InboxSpread, 99)), plan.Tabs)
	p("the others send its response (`bff_live_responses_shared_total`), each on its own socket.")
	p("")

	f := r.Flood
	p("### Events B sustains")
	p("")
	p("%d writers send as fast as they can for %s, closed loops through A, writer w into", f.Writers, o.Duration)
	p("conversations w, w+%d, … of the mix in turn (so no two share a conversation); B's events are", f.Writers)
	p("counted by the bench until all due have come or none for %s. `messageAdded` is matched by", liveDrainIdle)
	p("message; `inboxUpdated` by count (an inbox event shows its conversation as loaded, so under")
	p("load it may show a later message than the one it announces).")
	p("")
	p("| writers | messages committed | messages/s | events due | events received | events/s received | lost | duplicated | unexpected | drain ms | send p50 ms | send p99 ms |")
	p("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
	p("| %d | %d | %.1f | %d | %d | %.0f | %d | %d | %d | %.0f | %.2f | %.2f |", f.Writers, f.Committed, perSecond(f.Committed, f.Sending),
		f.All.Expected, f.All.Received, perSecond(f.All.Received, f.Window), f.All.Lost, f.All.Duplicated, f.All.Unexpected, ms(f.Drain), ms(f.SendP50), ms(f.SendP99))
	p("")
	p("messages/s: committed over the sending time (%.1fs); events/s: received over the time from", f.Sending.Seconds())
	p("the first request to the last event (%.1fs); drain: from the last answer to the last event.", f.Window.Seconds())
	p("Events received a second, by %s from the first request: %s.", timelineBin, rates(f.Timeline, timelineBin))
	if f.FirstClose > 0 {
		p("B closed the first socket %.2fs after the first request; until then the bench received %d events (%.0f/s).",
			f.FirstClose.Seconds(), f.BeforeClose, perSecond(f.BeforeClose, f.FirstClose))
	}
	p("Delivery latency of `messageAdded` in this run: p50 %.1f ms, p99 %.1f ms after A's answer.", ms(percentile(f.Thread.Latency, 50)), ms(percentile(f.Thread.Latency, 99)))
	p("Sockets B closed during the runs: %s. Operations B ended: %s.", countsNote(r.Closed), countsNote(r.Ended))
	if r.BadFrames > 0 || r.Dropped > 0 {
		p("Frames that were no event: %d (first: %s); events past the bench's bound: %d.", r.BadFrames, r.FirstBad, r.Dropped)
	}
	p("")
	if len(r.CPU) > 0 {
		p("### CPU per event")
		p("")
		p("Milliseconds of CPU per event received, by process, over each run: each process's CPU time")
		p("(user + system, from `/proc`) over the run divided by the events the bench received. A and B")
		p("are the instances, \"bench\" its writers and its sockets' readers, PostgreSQL every process")
		p("of the server but other applications' backends (the listeners count as the instances'),")
		p("\"other\" the rest of the machine, \"machine\" all of it.")
		p("")
		p("| run | events | messages | B ms | A ms | PostgreSQL ms | bench ms | other ms | machine ms | cores busy |")
		p("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
		for _, c := range r.CPU {
			p("| %s | %d | %d | %s | %s | %s | %s | %s | %s | %s |", c.Run, c.Events, c.Messages, cpuMS(c.B), cpuMS(c.A),
				cpuMS(c.Postgres), cpuMS(c.Bench), cpuMS(c.Other), cpuMS(c.Machine), cores(c.Cores))
		}
		p("")
	}

	p("### What live updates cost sendMessage")
	p("")
	p("sendMessage (the send scenario's mutation and payload) as vendor %d at %d closed-loop", r.Writer, o.NotifyWriters)
	p("clients, on the instance with `LIVE_UPDATES=false` and on A, alternating, %s each after", o.Duration)
	p("%s of warm-up. \"one conversation\" is the send scenario: every writer in the vendor's newest", o.Warmup)
	p("conversation, whose row lock serializes the writes anyway; \"spread\" goes round robin over")
	p("the vendor's %d newest conversations, so the writes only meet at commit. With live updates each", r.WriterConvs)
	p("write also inserts its change into the outbox, and the notifiers of A and B delete and NOTIFY")
	p("the changes in batches beside the writes: the writes themselves never NOTIFY, which would")
	p("serialize their commits (PostgreSQL holds a lock from a NOTIFY's queue insert until its")
	p("commit is flushed). A and B stay up and LISTEN meanwhile, with no subscription.")
	p("")
	p("| round | writes | LIVE_UPDATES | req/s | p50 ms | p99 ms | errors | the writes' backends in a transaction |")
	p("|---:|---|---|---:|---:|---:|---:|---|")
	for _, n := range r.Notify {
		p("| %d | %s | %t | %.1f | %.2f | %.2f | %d | %s |", n.Round, n.Target, n.Live, n.RPS, ms(n.P50), ms(n.P99), n.Errors, formatWaits(n.Waits, 4))
	}
	p("")
	p("The last column samples `pg_stat_activity` every %s during each run: of the service's", waitEvery)
	p("backends in a transaction, the share running (CPU), waiting on an event (`Lock:object` is")
	p("the lock of notifying commits, which only the notifiers' transactions take, `LWLock:NotifyQueue*`")
	p("the queue's, `IO:WALSync` the commit's flush, `Lock:transactionid` a row lock), or idle in the")
	p("transaction while the service works. The notifiers' and listeners' own backends are not sampled.")
	p("")
	p("| writes | with / without, round by round | median | throughput lost (median) | mean req/s without | mean req/s with | lost (means) |")
	p("|---|---|---:|---:|---:|---:|---:|")
	for _, c := range r.Costs {
		p("| %s | %s | %.2f× | %.1f%% | %.1f | %.1f | %.1f%% |", c.Target, formatRatios(c.Ratios), c.Median, 100*c.Loss, c.Off, c.On, 100*c.MeanLoss)
	}
	p("")
	p("A round's ratio compares its two runs, back to back; the median of the rounds' is judged, as")
	p("one stall of the shared disk or cores spoils a run, not every round.")
	p("")
	if t := r.Profile; t != nil {
		p("### Where B's time goes")
		p("")
		p("A CPU profile of B (`-live-profile`) over %d s of the latency run (which it slows a little):", t.Seconds)
		p("`go tool pprof -top` by flat time, then by cumulative time with `-hide=%s`.", profileHide)
		p("")
		renderProfileTops(p, t.Err, t.Flat, t.Cum)
	}
	for _, line := range liveErrorLines(r) {
		p("- %s", line)
	}
	for _, t := range r.targets() {
		p("- **%s** %s", t.Status, t.Name)
		for _, d := range t.Detail {
			p("  - %s", d)
		}
	}
	p("")
}

func liveErrorLines(r *liveResult) []string {
	var out []string
	for _, n := range r.Notify {
		if n.Errors > 0 {
			out = append(out, fmt.Sprintf("round %d %s LIVE_UPDATES=%t: %d errors; %s", n.Round, n.Target, n.Live, n.Errors, strings.ReplaceAll(n.FirstError, "\n", " ")))
		}
	}
	if r.Flood.SendErrors > 0 {
		out = append(out, fmt.Sprintf("throughput run: %d sends failed; %s", r.Flood.SendErrors, r.Flood.FirstSendError))
	}
	return out
}

type perUnit struct{ rss, heap, goroutines float64 }

func memoryPer(a, b memSample) perUnit {
	n := float64(b.Sockets - a.Sockets + b.Subs - a.Subs)
	if n <= 0 {
		return perUnit{math.NaN(), math.NaN(), math.NaN()}
	}
	return perUnit{float64(b.RSSKiB-a.RSSKiB) / n, (b.HeapInuse - a.HeapInuse) / 1024 / n, (b.Goroutines - a.Goroutines) / n}
}

func perSecond(n int, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds()
}

func sendErrNote(n int, first string) string {
	if n == 0 {
		return ", no errors"
	}
	return fmt.Sprintf(", %d errors (first: %s)", n, first)
}

func countsNote(m map[string]int) string {
	if len(m) == 0 {
		return "none"
	}
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, fmt.Sprintf("%d × `%s`", m[k], k))
	}
	return strings.Join(parts, ", ")
}

func envList(env map[string]string) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(env)) {
		parts = append(parts, k+"="+env[k])
	}
	return strings.Join(parts, " ")
}

// The live updates' goals.
const (
	liveP99Goal  = 100 * time.Millisecond
	liveLossGoal = 0.20
)

// targets judges the measurement against its goals.
func (r *liveResult) targets() []targetResult {
	lat := targetResult{Name: fmt.Sprintf("(e) live updates: p99 delivery latency below %s after A's answer, none lost and none duplicated", liveP99Goal)}
	a := r.Latency.All
	p99 := percentile(a.Latency, 99)
	ok := a.Received > 0 && p99 < liveP99Goal && a.Lost == 0 && a.Duplicated == 0 && a.Unexpected == 0 && r.Latency.SendErrors == 0
	lat.Status = verdict(ok)
	lat.Detail = []string{fmt.Sprintf("%d events of %d due: p99 %.2f ms, lost %d, duplicated %d, unexpected %d — %s",
		a.Received, a.Expected, ms(p99), a.Lost, a.Duplicated, a.Unexpected, verdict(ok))}
	f := r.Flood.All
	lat.Detail = append(lat.Detail, fmt.Sprintf("at full speed (%d writers): %d events of %d due, lost %d, duplicated %d (not judged)",
		r.Flood.Writers, f.Received, f.Expected, f.Lost, f.Duplicated))

	cost := targetResult{Name: fmt.Sprintf("(f) live updates cost sendMessage less than %.0f%% of its throughput at %d writers", 100*liveLossGoal, r.Opts.NotifyWriters)}
	all := len(r.Costs) > 0
	for _, c := range r.Costs {
		pass := c.Errors == 0 && !math.IsNaN(c.Loss) && c.Loss < liveLossGoal
		all = all && pass
		note := ""
		if c.Errors > 0 {
			note = fmt.Sprintf(" (%d errors in its runs)", c.Errors)
		}
		cost.Detail = append(cost.Detail, fmt.Sprintf("%s: with / without %s, median %.2f×: %.1f%% lost — %s%s",
			c.Target, formatRatios(c.Ratios), c.Median, 100*c.Loss, verdict(pass), note))
	}
	cost.Status = verdict(all)
	if len(r.Costs) == 0 {
		cost.Status = notMeasured
	}
	return []targetResult{lat, cost}
}

// liveTargets are the live goals for the report's list: not measured without a live result.
func liveTargets(r *liveResult) []targetResult {
	if r == nil {
		return []targetResult{
			{Name: fmt.Sprintf("(e) live updates: p99 delivery latency below %s, none lost and none duplicated", liveP99Goal), Status: notMeasured, Detail: []string{"needs -live"}},
			{Name: fmt.Sprintf("(f) live updates cost sendMessage less than %.0f%% of its throughput", 100*liveLossGoal), Status: notMeasured, Detail: []string{"needs -live"}},
		}
	}
	return r.targets()
}

// liveSummary prints the measurement's headline figures, one line each.
func liveSummary(w io.Writer, r *liveResult) {
	if r == nil {
		return
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	a, f := r.Latency.All, r.Flood.All
	fmt.Fprintf(tw, "live: idle memory of B\t%.1f KiB RSS (%.1f KiB heap) per socket, %.1f KiB RSS (%.1f KiB heap) per subscription\n",
		memoryPer(r.Memory[0], r.Memory[1]).rss, memoryPer(r.Memory[0], r.Memory[1]).heap, memoryPer(r.Memory[1], r.Memory[2]).rss, memoryPer(r.Memory[1], r.Memory[2]).heap)
	fmt.Fprintf(tw, "live: latency\t%d/%d events, lost %d, duplicated %d, p50 %.2f ms, p99 %.2f ms\n", a.Received, a.Expected, a.Lost, a.Duplicated, ms(percentile(a.Latency, 50)), ms(percentile(a.Latency, 99)))
	fmt.Fprintf(tw, "live: throughput\t%.0f messages/s, %.0f events/s received, %d/%d events, lost %d, duplicated %d\n",
		perSecond(r.Flood.Committed, r.Flood.Sending), perSecond(f.Received, r.Flood.Window), f.Received, f.Expected, f.Lost, f.Duplicated)
	for _, c := range r.Costs {
		fmt.Fprintf(tw, "live: cost, %s\twith / without %s, median %.2f×: %.1f%% lost\n", c.Target, formatRatios(c.Ratios), c.Median, 100*c.Loss)
	}
	tw.Flush()
}

// liveOnly prints the section of a -live-only run.
func liveOnly(stdout io.Writer, r *liveResult, opts options) {
	rep := &report{Opts: opts}
	_, goLine := rep.commands()
	renderLive(stdout, r, goLine)
	liveSummary(os.Stderr, r)
}

// waitShare is how often, of the samples, the run's backends were in one state.
type waitShare struct {
	State string
	Share float64 // of all the backend samples in a transaction
}

// waitSampler samples, every waitEvery, what PostgreSQL's backends of the run's application are
// doing while they are in a transaction: running (CPU), waiting on an event (Lock:object,
// LWLock:NotifyQueue, IO:WALSync, …), or idle in the transaction while the service works.
type waitSampler struct {
	quit, done chan struct{}
	counts     map[string]int
	err        error
}

const waitEvery = 10 * time.Millisecond

func startWaits(ctx context.Context, databaseURL, application string) (*waitSampler, error) {
	conn, err := pgx.Connect(ctx, databaseURL)
	if err != nil {
		return nil, err
	}
	w := &waitSampler{quit: make(chan struct{}), done: make(chan struct{}), counts: map[string]int{}}
	go func() {
		defer close(w.done)
		defer conn.Close(context.Background())
		t := time.NewTicker(waitEvery)
		defer t.Stop()
		for {
			select {
			case <-w.quit:
				return
			case <-ctx.Done():
				return
			case <-t.C:
			}
			rows, err := conn.Query(ctx, `SELECT CASE WHEN state = 'idle in transaction' THEN 'idle in transaction'
					WHEN wait_event IS NULL THEN 'CPU' ELSE wait_event_type || ':' || wait_event END, count(*)
				FROM pg_stat_activity WHERE application_name = $1 AND backend_type = 'client backend'
					AND state IN ('active', 'idle in transaction') GROUP BY 1`, application)
			if err == nil {
				var state string
				var n int
				_, err = pgx.ForEachRow(rows, []any{&state, &n}, func() error {
					w.counts[state] += n
					return nil
				})
			}
			if err != nil && ctx.Err() == nil {
				w.err = err
				return
			}
		}
	}()
	return w, nil
}

func (w *waitSampler) stop() []waitShare {
	close(w.quit)
	<-w.done
	return waitShares(w.counts)
}

// waitShares are counts as shares of their sum, the largest first (ties by name).
func waitShares(counts map[string]int) []waitShare {
	total := 0
	for _, n := range counts {
		total += n
	}
	var out []waitShare
	for s, n := range counts {
		out = append(out, waitShare{State: s, Share: float64(n) / float64(total)})
	}
	slices.SortFunc(out, func(a, b waitShare) int {
		if a.Share != b.Share {
			if a.Share > b.Share {
				return -1
			}
			return 1
		}
		return strings.Compare(a.State, b.State)
	})
	return out
}

// formatWaits is the first n shares, as "Lock:object 61%, CPU 20%".
func formatWaits(w []waitShare, n int) string {
	if len(w) == 0 {
		return "—"
	}
	var parts []string
	for _, s := range w[:min(n, len(w))] {
		parts = append(parts, fmt.Sprintf("%s %.0f%%", s.State, 100*s.Share))
	}
	return strings.Join(parts, ", ")
}

// profileB takes a CPU profile of B for d (at most maxProfileSeconds) and renders its tops.
func (l *liveRun) profileB(ctx context.Context, dir string, d time.Duration) *profileTop {
	top := &profileTop{Scenario: "B during the latency run", Seconds: min(max(int(d.Seconds()), 1), maxProfileSeconds)}
	file := filepath.Join(dir, "live-b.pprof")
	err := fetchProfile(ctx, l.b.metricsURL, top.Seconds, file)
	if err == nil {
		top.Flat, err = pprofTop(ctx, l.server, file, false)
	}
	if err == nil {
		top.Cum, err = pprofTop(ctx, l.server, file, true)
	}
	if err != nil {
		top.Err = err.Error()
	}
	return top
}
