package main

import (
	"bytes"
	"math"
	"strings"
	"testing"
	"time"
)

func TestLiveOptionsCheck(t *testing.T) {
	ok := liveOptions{Subscriptions: 1000, Tabs: 50, Messages: 200, Interval: 50 * time.Millisecond, Writers: 8,
		Duration: 4 * time.Second, NotifyWriters: 32, Rounds: 2}
	if err := ok.check(); err != nil {
		t.Fatalf("the defaults: %v", err)
	}
	for name, bad := range map[string]func(o *liveOptions){
		"no tabs":             func(o *liveOptions) { o.Tabs = 0 },
		"tabs over half":      func(o *liveOptions) { o.Tabs = 501 },
		"too many":            func(o *liveOptions) { o.Subscriptions = maxLiveSubscriptions + 1 },
		"no messages":         func(o *liveOptions) { o.Messages = 0 },
		"an unbounded run":    func(o *liveOptions) { o.Messages, o.Interval = 20_000, time.Second },
		"no writers":          func(o *liveOptions) { o.Writers = 0 },
		"too many writers":    func(o *liveOptions) { o.NotifyWriters = maxConcurrency + 1 },
		"no duration":         func(o *liveOptions) { o.Duration = 0 },
		"no rounds":           func(o *liveOptions) { o.Rounds = 0 },
		"a zero interval":     func(o *liveOptions) { o.Interval = 0 },
		"too many rounds":     func(o *liveOptions) { o.Rounds = maxLiveRounds + 1 },
		"an hour-long flood":  func(o *liveOptions) { o.Duration = time.Hour },
		"one subscription":    func(o *liveOptions) { o.Subscriptions, o.Tabs = 1, 1 },
		"negative subscripts": func(o *liveOptions) { o.Subscriptions = -1 },
	} {
		o := ok
		bad(&o)
		if err := o.check(); err == nil {
			t.Errorf("%s: accepted %+v", name, o)
		}
	}
}

func TestPlanLive(t *testing.T) {
	var convs []liveConversation
	for i := range 30 {
		convs = append(convs, liveConversation{ID: int64(1000 + i), Buyer: int64(100 + i%3)})
	}
	p, err := planLive(1, convs, 30, 5, 4)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Subs) != 30 || p.Tabs != 5 || p.Buyers != 3 || len(p.Convs) != 20 {
		t.Fatalf("%d subscriptions, %d tabs, %d buyers, %d conversations; want 30, 5, 3, 20", len(p.Subs), p.Tabs, p.Buyers, len(p.Convs))
	}
	seen := map[int32]bool{}
	inbox := 0
	for i, s := range p.Sockets {
		if len(s.Subs) == 0 || len(s.Subs) > 4 {
			t.Errorf("socket %d holds %d subscriptions", i, len(s.Subs))
		}
		for _, j := range s.Subs {
			if seen[j] {
				t.Errorf("subscription %d on two sockets", j)
			}
			seen[j] = true
			sub := p.Subs[j]
			if sub.Viewer != s.Viewer {
				t.Errorf("subscription %d of %d on a socket of %d", j, sub.Viewer, s.Viewer)
			}
			if sub.Kind == inboxSub {
				inbox++
			}
		}
		if i < 5 {
			if s.Viewer != 1 || len(s.Subs) != 2 || p.Subs[s.Subs[0]].Kind != inboxSub || p.Subs[s.Subs[1]].Conversation != convs[i].ID {
				t.Errorf("tab %d: %+v", i, s)
			}
			continue
		}
		for _, j := range s.Subs {
			sub := p.Subs[j]
			c := sub.Conversation - 1000
			if sub.Kind != threadSub || c < 0 || c >= 20 || convs[c].Buyer != s.Viewer {
				t.Errorf("socket %d: %+v is not its buyer's thread", i, sub)
			}
		}
	}
	if len(seen) != 30 || inbox != 5 {
		t.Errorf("%d subscriptions on sockets, %d inboxes; want 30, 5", len(seen), inbox)
	}
	// 7, 7 and 6 threads of each buyer at 4 a socket: 6 sockets, after the 5 tabs.
	if len(p.Sockets) != 11 {
		t.Errorf("%d sockets, want 11", len(p.Sockets))
	}
	if _, err := planLive(1, convs[:10], 30, 5, 4); err == nil {
		t.Error("a mix of 20 threads planned on 10 conversations")
	}
	if _, err := planLive(1, convs, 30, 16, 4); err == nil {
		t.Error("16 tabs of two planned in 30 subscriptions")
	}
}

func TestEventMessage(t *testing.T) {
	for payload, want := range map[string]int64{
		`{"data":{"inboxUpdated":{"id":"x","databaseId":7,"lastMessage":{"id":"y","databaseId":42,"text":"a"}}}}`: 42,
		`{"data":{"messageAdded":{"id":"y","databaseId":43,"conversationId":"x"}}}`:                               43,
		`{"data":null,"errors":[{"message":"no","extensions":{"code":"RESYNC"}}]}`:                                0,
		`{"data":{"inboxUpdated":{"databaseId":7,"lastMessage":null}}}`:                                           0,
		`{"data":{}}`: 0,
		`not json`:    0,
	} {
		got, err := eventMessage([]byte(payload))
		if got != want || (err == nil) != (want != 0) {
			t.Errorf("eventMessage(%s) = %d, %v; want %d", payload, got, err, want)
		}
	}
}

func TestOpSub(t *testing.T) {
	for _, i := range []int32{0, 7, 19999} {
		if got, ok := opSub(subOp(i)); !ok || got != i {
			t.Errorf("opSub(subOp(%d)) = %d, %v", i, got, ok)
		}
	}
	for _, id := range []string{"p0", "s", "s-1", "sx", ""} {
		if _, ok := opSub(id); ok {
			t.Errorf("opSub(%q) is a subscription", id)
		}
	}
}

func TestMatchDeliveries(t *testing.T) {
	t0 := time.Unix(1000, 0)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	subs := []liveSubscription{
		{Kind: inboxSub, Viewer: 1},
		{Kind: threadSub, Viewer: 2, Conversation: 10},
		{Kind: threadSub, Viewer: 3, Conversation: 20},
	}
	sends := []liveSend{
		{Conv: 10, Msg: 1, Sent: at(0), Answered: at(10)},
		{Conv: 20, Msg: 2, Sent: at(50), Answered: at(60)},
		{Conv: 10, Msg: 3, Sent: at(100), Answered: at(110)},
		{Conv: 20, Err: "refused", Sent: at(150), Answered: at(151)}, // failed: due nowhere
	}
	receipts := []receipt{
		{Sub: 0, Msg: 1, At: at(15)},
		{Sub: 0, Msg: 2, At: at(58)}, // before A's answer
		{Sub: 0, Msg: 2, At: at(70)}, // twice; 3 never
		{Sub: 1, Msg: 1, At: at(30)},
		{Sub: 1, Msg: 3, At: at(120)},
		{Sub: 1, Msg: 2, At: at(65)}, // another conversation's
		// sub 2 lost message 2
	}
	d := matchDeliveries(subs, sends, receipts, 0, false)
	if d.Subs != 3 || d.Expected != 3+2+1 || d.Received != 6 || d.Lost != 2 || d.Duplicated != 1 || d.Unexpected != 1 || d.SubsLost != 2 {
		t.Fatalf("%+v", d)
	}
	want := []time.Duration{-2 * time.Millisecond, 5 * time.Millisecond, 10 * time.Millisecond, 20 * time.Millisecond}
	if len(d.Latency) != len(want) {
		t.Fatalf("latencies %v, want %v", d.Latency, want)
	}
	for i := range want {
		if d.Latency[i] != want[i] {
			t.Fatalf("latencies %v, want %v", d.Latency, want)
		}
	}
	if d.FromRequest[0] != 8*time.Millisecond || d.FromRequest[3] != 30*time.Millisecond {
		t.Errorf("from the request %v", d.FromRequest)
	}
	if th := matchDeliveries(subs, sends, receipts, threadSub, false); th.Subs != 2 || th.Expected != 3 || th.Lost != 1 || th.Unexpected != 1 {
		t.Errorf("threads: %+v", th)
	}
	// By count, the inbox's four events (one a later message's) stand for three messages.
	counted := matchDeliveries(subs, sends, append(receipts, receipt{Sub: 0, Msg: 3, At: at(200)}, receipt{Sub: 0, Msg: 3, At: at(201)}), inboxSub, true)
	if counted.Expected != 3 || counted.Received != 5 || counted.Lost != 0 || counted.Duplicated != 2 {
		t.Errorf("by count: %+v", counted)
	}
	short := matchDeliveries(subs, sends, receipts[:1], inboxSub, true)
	if short.Lost != 2 || short.SubsLost != 1 {
		t.Errorf("by count, one of three: %+v", short)
	}
}

func TestPercentileOfNone(t *testing.T) {
	if got := percentile(nil, 99); got != 0 {
		t.Errorf("percentile(nil) = %v", got)
	}
	if got := percentile([]time.Duration{-3, 1, 2}, 50); got != 1 {
		t.Errorf("percentile = %v", got)
	}
}

const goroutineProfile = `goroutine profile: total 7
3 @ 0x4442ce 0x4551a5 0x9a8f3d 0x47bb41
#	0x9a8f3c	github.com/partizap/vendor-inbox/resolvers.stream[...].func2+0x13c	/work/resolvers/subscription.go:95

1 @ 0x4442ce 0x4551a5 0x9a8f3d 0x9a8f3d 0x47bb41
#	0x9a1111	github.com/partizap/vendor-inbox/resolvers.(*views).get+0x10	/work/resolvers/subscription.go:210
#	0x9a8f3c	github.com/partizap/vendor-inbox/resolvers.stream[...].func2+0x1cc	/work/resolvers/subscription.go:104
#	0x9a8f3c	github.com/partizap/vendor-inbox/resolvers.stream[...].func1+0x1cc	/work/resolvers/subscription.go:84

3 @ 0x4442ce 0x40c9a5 0x47bb41
#	0x7f0000	net/http.(*conn).serve+0x55	/go/src/net/http/server.go:2000
`

func TestParseGoroutines(t *testing.T) {
	total, n, err := parseGoroutines(strings.NewReader(goroutineProfile), streamFrame)
	if err != nil || total != 7 || n != 4 {
		t.Errorf("parseGoroutines = %d, %d, %v; want 7, 4", total, n, err)
	}
	if _, _, err := parseGoroutines(strings.NewReader("404 page not found\n"), streamFrame); err == nil {
		t.Error("a page that is no profile parsed")
	}
}

func TestNotifyCosts(t *testing.T) {
	runs := []notifyRun{
		{Round: 1, Target: notifyOne, Live: false, RPS: 100}, {Round: 1, Target: notifyOne, Live: true, RPS: 90},
		{Round: 1, Target: notifySpread, Live: false, RPS: 400}, {Round: 1, Target: notifySpread, Live: true, RPS: 200},
		{Round: 2, Target: notifySpread, Live: true, RPS: 300, Errors: 1}, {Round: 2, Target: notifySpread, Live: false, RPS: 400},
		{Round: 3, Target: notifySpread, Live: false, RPS: 40}, {Round: 3, Target: notifySpread, Live: true, RPS: 280}, // a stalled run
	}
	c := notifyCosts(runs, []string{notifyOne, notifySpread, "none"})
	if len(c) != 3 || c[0].Off != 100 || c[0].On != 90 || math.Abs(c[0].Loss-0.1) > 1e-9 || math.Abs(c[0].MeanLoss-0.1) > 1e-9 {
		t.Fatalf("one: %+v", c)
	}
	if c[1].Off != 280 || c[1].On != 260 || len(c[1].Ratios) != 3 || c[1].Ratios[0] != 0.5 || c[1].Ratios[1] != 0.75 || c[1].Ratios[2] != 7 ||
		c[1].Median != 0.75 || math.Abs(c[1].Loss-0.25) > 1e-9 || c[1].Errors != 1 {
		t.Errorf("spread: %+v", c[1])
	}
	if got := formatRatios(c[1].Ratios); got != "0.50×, 0.75×, 7.00×" {
		t.Errorf("formatRatios = %q", got)
	}
	if m := medianRatio([]float64{3, 1}); m != 2 {
		t.Errorf("medianRatio = %v", m)
	}
	if !math.IsNaN(c[2].Loss) {
		t.Errorf("none: %+v", c[2])
	}
}

func testLiveResult() *liveResult {
	subs := []liveSubscription{{Kind: inboxSub, Viewer: 1}, {Kind: threadSub, Viewer: 1, Conversation: 10}, {Kind: threadSub, Viewer: 2, Conversation: 11}}
	lat := deliveries{Subs: 3, Expected: 4, Received: 4, Latency: []time.Duration{time.Millisecond, 2 * time.Millisecond, 3 * time.Millisecond, 4 * time.Millisecond},
		FromRequest: []time.Duration{5 * time.Millisecond, 6 * time.Millisecond, 7 * time.Millisecond, 8 * time.Millisecond}}
	return &liveResult{
		Opts:   liveOptions{Subscriptions: 3, Tabs: 1, Messages: 2, Interval: 50 * time.Millisecond, Writers: 8, Duration: time.Second, NotifyWriters: 32, Rounds: 1},
		Vendor: 1,
		Plan:   livePlan{Vendor: 1, Subs: subs, Sockets: []plannedSocket{{Viewer: 1, Subs: []int32{0, 1}}, {Viewer: 2, Subs: []int32{2}}}, Buyers: 1, Tabs: 1},
		Memory: []memSample{{RSSKiB: 10240, HeapInuse: 4 << 20, Goroutines: 10}, {Sockets: 2, RSSKiB: 10340, HeapInuse: 4<<20 + 81920, Goroutines: 16},
			{Sockets: 2, Subs: 3, RSSKiB: 10400, HeapInuse: 4<<20 + 81920 + 30720, Goroutines: 22}},
		Latency: liveLatencyRun{Sent: 2, Committed: 2, All: lat, Inbox: lat, Thread: deliveries{Subs: 2}},
		Flood:   liveFloodRun{Writers: 8, Sending: time.Second, Window: 2 * time.Second, Committed: 100, All: deliveries{Expected: 300, Received: 300}},
		CPU:     []liveCPU{{Run: "latency", Events: 4, Messages: 2, B: 0.5, A: 0.1, Postgres: 0.2, Bench: 0.1, Other: 0, Machine: 0.9, Cores: 1}},
		Writer:  14, WriterConvs: 64,
		Notify: []notifyRun{{Round: 1, Target: notifyOne, RPS: 100}, {Round: 1, Target: notifyOne, Live: true, RPS: 95},
			{Round: 1, Target: notifySpread, RPS: 400}, {Round: 1, Target: notifySpread, Live: true, RPS: 300}},
		Targets: []string{notifyOne, notifySpread},
		Env:     map[string]string{"LIVE_UPDATES": "true"},
	}
}

func TestRenderLive(t *testing.T) {
	var b bytes.Buffer
	renderLive(&b, nil, "go run ./bench")
	if !strings.Contains(b.String(), "Not measured") {
		t.Errorf("without a result: %s", b.String())
	}
	r := testLiveResult()
	r.Costs = notifyCosts(r.Notify, r.Targets)
	b.Reset()
	renderLive(&b, r, "go run ./bench -live-only")
	out := b.String()
	last := 0
	for _, want := range []string{"## Live updates", "go run ./bench -live-only", "| subscribed | 2 | 3 | 10.2 |",
		"| idle socket (connection_init acknowledged) | 50.0 | 40.0 | 3.00 |", "| idle subscription | 20.0 | 10.0 | 2.00 |",
		"### Delivery latency", "| all | 3 | 4 | 4 | 0 | 0 | 0 | 2.00 | 4.00 | 4.00 | 4.00 | 6.00 | 8.00 |",
		"### Events B sustains", "| 8 | 100 | 100.0 | 300 | 300 | 150 |", "### CPU per event", "| latency | 4 | 2 | 0.500 |",
		"### What live updates cost sendMessage", "| spread | 0.75× | 0.75× | 25.0% | 400.0 | 300.0 | 25.0% |",
		"**MET** (e)", "**MISSED** (f)", "spread: with / without 0.75×, median 0.75×: 25.0% lost — MISSED"} {
		i := strings.Index(out[last:], want)
		if i < 0 {
			t.Fatalf("the section lacks %q after offset %d:\n%s", want, last, out)
		}
		last += i
	}
}

// TestReportHasLive: the report carries the live section before its targets, and judges the
// live goals as not measured without it.
func TestReportHasLive(t *testing.T) {
	r := testReport(t)
	var b bytes.Buffer
	r.render(&b, notesPlaceholder)
	if out := b.String(); !strings.Contains(out, "## Live updates\n\nNot measured") || strings.Index(out, "## Live updates") > strings.Index(out, "## Targets") ||
		!strings.Contains(out, "**NOT MEASURED** (e)") {
		t.Errorf("report without live updates:\n%s", out)
	}
	r.Live = testLiveResult()
	r.Live.Costs = notifyCosts(r.Live.Notify, r.Live.Targets)
	b.Reset()
	r.render(&b, notesPlaceholder)
	if out := b.String(); !strings.Contains(out, "### What live updates cost sendMessage") || !strings.Contains(out, "**MISSED** (f)") {
		t.Errorf("report with live updates:\n%s", out)
	}
}

func TestWaitShares(t *testing.T) {
	w := waitShares(map[string]int{"CPU": 2, "Lock:object": 6, "IO:WALSync": 1, "idle in transaction": 1})
	if len(w) != 4 || w[0].State != "Lock:object" || w[0].Share != 0.6 || w[1].State != "CPU" || w[2].State != "IO:WALSync" {
		t.Fatalf("%+v", w)
	}
	if got := formatWaits(w, 2); got != "Lock:object 60%, CPU 20%" {
		t.Errorf("formatWaits = %q", got)
	}
	if got := formatWaits(nil, 2); got != "—" {
		t.Errorf("formatWaits(nil) = %q", got)
	}
}

func TestTimeline(t *testing.T) {
	t0 := time.Unix(1000, 0)
	got := []receipt{{At: t0.Add(-time.Millisecond)}, {At: t0.Add(100 * time.Millisecond)}, {At: t0.Add(1200 * time.Millisecond)}}
	bins := timeline(got, t0, 500*time.Millisecond)
	if len(bins) != 3 || bins[0] != 2 || bins[1] != 0 || bins[2] != 1 {
		t.Fatalf("timeline = %v", bins)
	}
	if got := rates(bins, 500*time.Millisecond); got != "4 · 0 · 2" {
		t.Errorf("rates = %q", got)
	}
}

func TestInboxFanout(t *testing.T) {
	t0 := time.Unix(1000, 0)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	subs := []liveSubscription{{Kind: inboxSub}, {Kind: inboxSub}, {Kind: threadSub, Conversation: 10}}
	sends := []liveSend{{Conv: 10, Msg: 1, Answered: at(10)}, {Conv: 10, Msg: 2, Answered: at(100)}}
	got := []receipt{{Sub: 1, Msg: 1, At: at(30)}, {Sub: 0, Msg: 1, At: at(12)}, {Sub: 2, Msg: 1, At: at(5)},
		{Sub: 0, Msg: 2, At: at(101)}, {Sub: 1, Msg: 2, At: at(102)}, {Sub: 0, Msg: 9, At: at(1)}}
	first, spread := inboxFanout(subs, sends, got)
	if len(first) != 2 || first[0] != time.Millisecond || first[1] != 2*time.Millisecond ||
		len(spread) != 2 || spread[0] != time.Millisecond || spread[1] != 18*time.Millisecond {
		t.Errorf("first %v, spread %v", first, spread)
	}
}
