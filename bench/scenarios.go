package main

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/partizap/vendor-inbox/httpserver"
)

// inboxRow is every field of an inbox row: of the conversation and of every nested object.
const inboxRow = `id databaseId createdAt updatedAt unreadCount product { id databaseId title price steering cityId regionId districtId metroStationId metroDistanceM addressId publishedAt images { databaseId thumbnailWebp thumbnailJpeg mediumWebp mediumJpeg largeWebp largeJpeg status isPrimary sortOrder } seller { id databaseId displayName avatarUrl cityId rating reviewsCount productsCount createdAt } } participants { id databaseId displayName avatarUrl cityId rating reviewsCount productsCount createdAt } lastMessage { id databaseId conversationId text imageUrl isRead isDelivered createdAt sender { id databaseId displayName avatarUrl cityId rating reviewsCount productsCount createdAt } }`

// inboxQuery is everything the inbox can show of a page: every field of every nested object.
const inboxQuery = `query($first:Int){ vendorConversations(first:$first){ edges { cursor node { ` + inboxRow + ` } } pageInfo { hasNextPage endCursor } } }`

// unreadQuery is inboxQuery narrowed to the conversations with unread messages.
var unreadQuery = strings.Replace(strings.Replace(inboxQuery, "query($first:Int)", "query($first:Int,$filter:ConversationFilter)", 1),
	"vendorConversations(first:$first)", "vendorConversations(first:$first,filter:$filter)", 1)

// threadQuery opens a conversation's thread: its newest 30 messages with their senders.
const threadQuery = `query($id:ID!){ node(id:$id){ ... on Conversation { id messages(last:30){ edges { cursor node { id databaseId text imageUrl isRead isDelivered createdAt sender { id displayName avatarUrl } } } pageInfo { hasPreviousPage startCursor } } } } }`

// sendQuery replies in a conversation, reading back what a chat client updates.
const sendQuery = `mutation($input:SendMessageInput!){ sendMessage(input:$input){ clientMutationId message { id databaseId text createdAt isRead isDelivered sender { id displayName } } conversation { id updatedAt unreadCount lastMessage { id text createdAt } } } }`

// benchSendRateLimit is the service's SEND_RATE_LIMIT in the benchmark: far above what the
// send scenario reaches, which it must not be refused.
const benchSendRateLimit = 100_000_000

// benchSessionCacheTTL is the service's SESSION_CACHE_TTL in the benchmark: longer than a run,
// so that each scenario's statements per request are what its requests cost, comparable
// between page sizes; at the default 5s a session's lookup comes back every 5 seconds, one
// statement in thousands of requests (a fraction that shows at the slowest scenarios).
const benchSessionCacheTTL = "1h"

// nodeQuery is what opening one conversation asks for.
const nodeQuery = `query($id:ID!){ node(id:$id){ ... on Conversation { id unreadCount product { title seller { displayName } } participants { displayName } lastMessage { text } } } }`

// scenario is one kind of request, measured at every concurrency.
type scenario struct {
	Name    string
	Request string // what is sent, for the report
	Target  target
	Floor   bool // served by the floor rather than the service
	// Baselines are the floor scenarios its throughput is compared with, one per form of the
	// floor: at each concurrency the faster of them is the floor. Empty for none.
	Baselines []string
}

// Names of the scenarios the report and the targets refer to.
const (
	graphQL20  = "graphql-20"
	graphQL100 = "graphql-100"
	rest20     = "rest-20"
	rest100    = "rest-100"
	restDeep   = "rest-deep"
	nodeByID   = "node"
	unread20   = "graphql-unread-20"
	thread30   = "thread-30"
	send       = "send"
	floor20    = "floor-20"
	floor100   = "floor-100"
	floorDeep  = "floor-deep"

	floorRows20   = "floor-rows-20"
	floorRows100  = "floor-rows-100"
	floorRowsDeep = "floor-rows-deep"
)

// The floor's forms for each page the service's scenarios are compared on.
var (
	floors20   = []string{floor20, floorRows20}
	floors100  = []string{floor100, floorRows100}
	floorsDeep = []string{floorDeep, floorRowsDeep}
)

func (b *bench) restTarget(base string, limit int, cursor string) target {
	q := url.Values{"limit": {strconv.Itoa(limit)}}
	if cursor != "" {
		q.Set("cursor", cursor)
	}
	return target{
		Method: http.MethodGet,
		URL:    base + "/vendor/conversations?" + q.Encode(),
		Header: http.Header{"Cookie": {httpserver.SessionCookie + "=" + b.session}},
	}
}

func (b *bench) graphQLTarget(query string, variables map[string]any) (target, error) {
	body, err := json.Marshal(map[string]any{"query": query, "variables": variables})
	if err != nil {
		return target{}, err
	}
	return target{
		Method: http.MethodPost,
		URL:    b.serverURL + "/graphql",
		Body:   body,
		Header: http.Header{
			"Content-Type": {"application/json"},
			"Cookie":       {httpserver.SessionCookie + "=" + b.session},
		},
		GraphQL: true,
	}, nil
}

// fetch sends t once and returns the answer, or why it is an error.
func (b *bench) fetch(ctx context.Context, t target) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	var buf bytes.Buffer
	status, err := t.do(ctx, b.client, &buf)
	if err == nil {
		err = t.check(status, buf.Bytes())
	}
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", t.Method, t.URL, err)
	}
	return buf.Bytes(), nil
}

// deepCursor pages through the vendor's inbox by 20 from the first page and returns the
// cursor of page n: n-1 requests.
func (b *bench) deepCursor(ctx context.Context, n int) (string, error) {
	cursor := ""
	for page := 1; page < n; page++ {
		body, err := b.fetch(ctx, b.restTarget(b.serverURL, 20, cursor))
		if err != nil {
			return "", err
		}
		var p struct {
			Meta struct {
				NextCursor *string `json:"next_cursor"`
			} `json:"meta"`
		}
		if err := json.Unmarshal(body, &p); err != nil {
			return "", fmt.Errorf("page %d: %w", page, err)
		}
		if p.Meta.NextCursor == nil {
			return "", fmt.Errorf("the busiest vendor's inbox ends at page %d of 20, before page %d: pass a smaller -deep-page", page, n)
		}
		cursor = *p.Meta.NextCursor
	}
	return cursor, nil
}

// prepare finds the deep cursor and the node id, builds the scenarios, and checks each answers
// once without an error, and that the floor's pages are the service's, byte for byte: the
// comparison is only fair if both do the same work.
func (b *bench) prepare(ctx context.Context, deepPage int, logf func(string, ...any)) ([]scenario, error) {
	logf("finding the cursor of page %d (%d requests)", deepPage, deepPage-1)
	deep, err := b.deepCursor(ctx, deepPage)
	if err != nil {
		return nil, fmt.Errorf("deep cursor: %w", err)
	}
	gql20, err := b.graphQLTarget(inboxQuery, map[string]any{"first": 20})
	if err != nil {
		return nil, err
	}
	gql100, err := b.graphQLTarget(inboxQuery, map[string]any{"first": 100})
	if err != nil {
		return nil, err
	}
	body, err := b.fetch(ctx, gql20)
	if err != nil {
		return nil, err
	}
	var page struct {
		Data struct {
			VendorConversations struct {
				Edges []struct {
					Node struct {
						ID string `json:"id"`
					} `json:"node"`
				} `json:"edges"`
			} `json:"vendorConversations"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &page); err != nil || len(page.Data.VendorConversations.Edges) == 0 {
		return nil, fmt.Errorf("graphql-20 has no first conversation (%v): %s", err, clip(body))
	}
	nodeID := page.Data.VendorConversations.Edges[0].Node.ID
	node, err := b.graphQLTarget(nodeQuery, map[string]any{"id": nodeID})
	if err != nil {
		return nil, err
	}
	unread, err := b.graphQLTarget(unreadQuery, map[string]any{"first": 20, "filter": map[string]any{"unreadOnly": true}})
	if err != nil {
		return nil, err
	}
	thread, err := b.graphQLTarget(threadQuery, map[string]any{"id": nodeID})
	if err != nil {
		return nil, err
	}
	reply, err := b.sendTarget()
	if err != nil {
		return nil, err
	}

	const (
		gqlReq  = "POST /graphql, every field of the inbox, first: %d"
		restReq = "GET /vendor/conversations?limit=%d"
		deepReq = "GET /vendor/conversations?limit=20&cursor=… (page %d)"
	)
	rowsURL := b.floorURL + floorRowsPrefix
	scenarios := []scenario{
		{Name: graphQL20, Request: fmt.Sprintf(gqlReq, 20), Target: gql20, Baselines: floors20},
		{Name: graphQL100, Request: fmt.Sprintf(gqlReq, 100), Target: gql100, Baselines: floors100},
		{Name: rest20, Request: fmt.Sprintf(restReq, 20), Target: b.restTarget(b.serverURL, 20, ""), Baselines: floors20},
		{Name: rest100, Request: fmt.Sprintf(restReq, 100), Target: b.restTarget(b.serverURL, 100, ""), Baselines: floors100},
		{Name: restDeep, Request: fmt.Sprintf(deepReq, deepPage), Target: b.restTarget(b.serverURL, 20, deep), Baselines: floorsDeep},
		{Name: nodeByID, Request: "POST /graphql, node(id:) of the newest conversation " + nodeID, Target: node},
		{Name: unread20, Request: fmt.Sprintf(gqlReq, 20) + ", filter: {unreadOnly: true}", Target: unread},
		{Name: thread30, Request: "POST /graphql, the newest 30 messages of conversation " + nodeID + " with their senders", Target: thread},
		{Name: floor20, Request: "the floor: " + fmt.Sprintf(restReq, 20), Target: b.restTarget(b.floorURL, 20, ""), Floor: true},
		{Name: floor100, Request: "the floor: " + fmt.Sprintf(restReq, 100), Target: b.restTarget(b.floorURL, 100, ""), Floor: true},
		{Name: floorDeep, Request: "the floor: " + fmt.Sprintf(deepReq, deepPage), Target: b.restTarget(b.floorURL, 20, deep), Floor: true},
		{Name: floorRows20, Request: "the floor, rows form: " + fmt.Sprintf(restReq, 20), Target: b.restTarget(rowsURL, 20, ""), Floor: true},
		{Name: floorRows100, Request: "the floor, rows form: " + fmt.Sprintf(restReq, 100), Target: b.restTarget(rowsURL, 100, ""), Floor: true},
		{Name: floorRowsDeep, Request: "the floor, rows form: " + fmt.Sprintf(deepReq, deepPage), Target: b.restTarget(rowsURL, 20, deep), Floor: true},
		{Name: send, Request: "POST /graphql, sendMessage as another vendor in their newest conversation " + b.writerConversation + " (a new clientMutationId each), reading back the payload", Target: reply},
	}

	bodies := map[string][]byte{}
	for _, s := range scenarios {
		body, err := b.fetch(ctx, s.Target)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", s.Name, err)
		}
		bodies[s.Name] = body
	}
	if bytes.Contains(bodies[nodeByID], []byte(`"node":null`)) {
		return nil, fmt.Errorf("node: the vendor cannot see conversation %s: %s", nodeID, clip(bodies[nodeByID]))
	}
	for _, pair := range [][2]string{
		{rest20, floor20}, {rest100, floor100}, {restDeep, floorDeep},
		{rest20, floorRows20}, {rest100, floorRows100}, {restDeep, floorRowsDeep},
	} {
		if !bytes.Equal(bodies[pair[0]], bodies[pair[1]]) {
			return nil, fmt.Errorf("%s and %s answer different bodies: the floor no longer does the service's work\n%s: %s\n%s: %s",
				pair[1], pair[0], pair[0], clip(bodies[pair[0]]), pair[1], clip(bodies[pair[1]]))
		}
	}
	return scenarios, nil
}

// measurement is one scenario at one concurrency.
type measurement struct {
	Scenario    string
	Concurrency int
	Completed   int64
	Errors      int64
	FirstError  string
	RPS         float64
	P50         time.Duration
	P95         time.Duration
	P99         time.Duration
	// Statements is SQL statements per request, from the service's own counter; the floor's is
	// 1 by construction. NaN when the counter could not be read.
	Statements float64
	PeakRSSMiB float64 // of the process serving the scenario, during the measured run
	CPU        cpuPerRequest
}

// measureSlices is how many slices each scenario's run at a concurrency is cut into, and
// sliceWarmup the unmeasured load before each slice after the first. The scenarios take turns
// slice by slice, so that the shared machine's drift over the minutes of a run (the floor
// alone moved by 15% between runs of the same code) falls on the service and the floor alike
// instead of on whichever ran when the machine was slow.
const (
	measureSlices = 4
	sliceWarmup   = 250 * time.Millisecond
)

// measure runs every scenario at every concurrency for opts.Duration, in measureSlices slices
// taken in turn with the other scenarios' at the same concurrency, and returns one
// measurement per scenario and concurrency, in scenario order.
func (b *bench) measure(ctx context.Context, scenarios []scenario, opts options, logf func(string, ...any)) ([]measurement, error) {
	slice := opts.Duration / measureSlices
	later := min(opts.Warmup, sliceWarmup)
	total := time.Duration(len(scenarios)*len(opts.Concurrency)) * (opts.Warmup + (measureSlices-1)*later + opts.Duration)
	logf("measuring %d scenarios at concurrency %v, in turns of %s: about %s", len(scenarios), opts.Concurrency, slice, total.Round(time.Second))
	hz := clockTicks(ctx)
	// What a scenario's slices at one concurrency add up to.
	type sum struct {
		run        runResult
		cpu        cpuUse
		cpuErr     error
		statements float64 // NaN when a slice's could not be counted
		peakRSS    float64
	}
	results := make([][]sum, len(scenarios)) // by scenario, then concurrency
	measured := make([][]measurement, len(scenarios))
	for i := range results {
		results[i] = make([]sum, len(opts.Concurrency))
		measured[i] = make([]measurement, len(opts.Concurrency))
	}
	for ci, c := range opts.Concurrency {
		for round := range measureSlices {
			for si, s := range scenarios {
				proc := b.server
				if s.Floor {
					proc = b.floor
				}
				warm := later
				if round == 0 {
					warm = opts.Warmup
				}
				if warm > 0 {
					runLoad(ctx, b.client, s.Target, c, warm)
				}
				before := math.NaN()
				if !s.Floor {
					v, err := readCounter(ctx, b.client, b.metricsURL+"/metrics", statementsMetric)
					if err != nil {
						logf("%s: statements not counted: %v", s.Name, err)
					} else {
						before = v
					}
				}
				stopRSS := sampleRSS(proc.pid())
				cpu := startCPU(hz, proc.pid(), otherClientsOf(b.pg, b.application))
				r := runLoad(ctx, b.client, s.Target, c, slice)
				use, cpuErr := cpu.stopUse()
				peak := stopRSS()
				if err := ctx.Err(); err != nil {
					return nil, fmt.Errorf("interrupted: %w", err)
				}
				select {
				case <-proc.done:
					return nil, fmt.Errorf("%s exited during %s\n%s", proc.name, s.Name, proc.logTail())
				default:
				}
				acc := &results[si][ci]
				acc.run.Completed += r.Completed
				acc.run.Errors += r.Errors
				acc.run.Elapsed += r.Elapsed
				acc.run.Latencies = append(acc.run.Latencies, r.Latencies...)
				acc.run.FirstError = cmp.Or(acc.run.FirstError, r.FirstError)
				acc.cpu = acc.cpu.plus(use)
				acc.cpuErr = cmp.Or(acc.cpuErr, cpuErr)
				acc.peakRSS = max(acc.peakRSS, peak)
				if !s.Floor {
					after, err := readCounter(ctx, b.client, b.metricsURL+"/metrics", statementsMetric)
					if err != nil {
						after = math.NaN()
					}
					acc.statements += after - before
				}
			}
		}
		for si, s := range scenarios {
			acc := &results[si][ci]
			slices.Sort(acc.run.Latencies)
			r := acc.run
			perRequest := noCPU()
			if acc.cpuErr == nil {
				perRequest = acc.cpu.perRequest(r.Completed)
			} else {
				logf("%s c=%d: CPU not measured: %v", s.Name, c, acc.cpuErr)
			}
			m := measurement{
				Scenario: s.Name, Concurrency: c,
				Completed: r.Completed, Errors: r.Errors, FirstError: r.FirstError,
				RPS: r.RPS(), P50: r.Percentile(50), P95: r.Percentile(95), P99: r.Percentile(99),
				Statements: 1, PeakRSSMiB: acc.peakRSS, CPU: perRequest,
			}
			if !s.Floor {
				m.Statements = math.NaN()
				if r.Completed > 0 {
					m.Statements = acc.statements / float64(r.Completed)
				}
			}
			logf("%-11s c=%-3d %9.1f req/s  p50 %7.2f ms  p99 %7.2f ms  errors %d  stmts/req %.2f  rss %.0f MiB  cpu ms/req %s+%s pg+%s load",
				s.Name, c, m.RPS, ms(m.P50), ms(m.P99), m.Errors, m.Statements, m.PeakRSSMiB, cpuMS(m.CPU.Serving), cpuMS(m.CPU.Postgres), cpuMS(m.CPU.LoadGen))
			if m.Errors > 0 {
				logf("%s c=%d: first error: %s", s.Name, c, m.FirstError)
			}
			measured[si][ci] = m
		}
	}
	out := slices.Concat(measured...)
	if len(out) == 0 {
		return nil, errors.New("nothing measured")
	}
	return out, nil
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// sendTarget is a sendMessage as the writer vendor into their conversation, each request with
// a key of its own, so each writes a message.
func (b *bench) sendTarget() (target, error) {
	t, err := b.graphQLTarget(sendQuery, nil)
	if err != nil {
		return target{}, err
	}
	conversationID := b.writerConversation
	t.Header.Set("Cookie", httpserver.SessionCookie+"="+b.writer)
	run := time.Now().UnixNano()
	var n atomic.Int64
	t.Body = nil
	t.NextBody = func() []byte {
		body, _ := json.Marshal(map[string]any{"query": sendQuery, "variables": map[string]any{"input": map[string]any{
			"conversationId":   conversationID,
			"text":             "Да, деталь в наличии, отправлю сегодня.",
			"clientMutationId": fmt.Sprintf("bench-%d-%d", run, n.Add(1)),
		}}})
		return body
	}
	return t, nil
}
