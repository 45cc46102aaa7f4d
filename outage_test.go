package main

import (
	"context"
	"encoding/json"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/partizap/vendor-inbox/httpserver"
	"github.com/partizap/vendor-inbox/models/dbtest"
	"github.com/partizap/vendor-inbox/models/seed"
)

// The tests of this file are about the database failing, or seeming to, under a running
// service: readiness, the bound on a hung database, and what the log says.

const inboxQuery = `{ vendorConversations(first: 2) { nodes { databaseId product { title } } } }`

// TestReadyWhileThePoolIsBusy takes every connection of a pool of two, as a burst of requests
// would: requests then wait for a connection (and give up after DB_TIMEOUT), but the database
// is fine, so /readyz, which asks it over its own connection, stays 200 throughout.
func TestReadyWhileThePoolIsBusy(t *testing.T) {
	t.Parallel()
	dsn, db := dbtest.New(t)
	summary, err := seed.Seed(context.Background(), db, seed.Options{Vendors: 1, Conversations: 3, Messages: 1, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	s := startTestServer(t, db, summary, map[string]string{"DATABASE_URL": dsn, "DB_MAX_OPEN_CONNS": "2", "DB_TIMEOUT": "500ms"})
	cookie := s.session(1)
	ready := func(phase string) {
		t.Helper()
		if res, body := s.rawRequest("GET", "/readyz", nil, ""); res.StatusCode != 200 || string(body) != "ready\n" {
			t.Fatalf("%s: /readyz %d %q, want 200", phase, res.StatusCode, body)
		}
	}
	ready("idle")

	pool, err := s.app.db.DB()
	if err != nil {
		t.Fatal(err)
	}
	var held []interface{ Close() error }
	for range 2 {
		conn, err := pool.Conn(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, conn)
	}
	release := func() {
		for _, c := range held {
			c.Close()
		}
		held = nil
	}
	defer release()
	if stats := pool.Stats(); stats.InUse != 2 || stats.OpenConnections != 2 {
		t.Fatalf("pool: %d of %d connections in use, want 2 of 2", stats.InUse, stats.OpenConnections)
	}
	// The pool is saturated: a request waits for a connection until DB_TIMEOUT.
	if res, body := s.restCall("GET", "limit=2", cookie); res.StatusCode != 503 {
		t.Fatalf("REST on a saturated pool: %d %s, want 503", res.StatusCode, body)
	}
	// Over more than two of the probe's cache periods, so that it asks the database again.
	for i := range 6 {
		ready("pool saturated, check " + strconv.Itoa(i))
		time.Sleep(500 * time.Millisecond)
	}
	release()
	if res, body := s.restCall("GET", "limit=2", cookie); res.StatusCode != 200 {
		t.Fatalf("REST once the pool is free: %d %s, want 200", res.StatusCode, body)
	}
	ready("pool free")
}

// TestDatabaseHangs pauses the PostgreSQL server (SIGSTOP: it accepts connections and never
// answers, unlike a stopped one, which refuses them) under a running service: requests fail
// with 503 within a few DB_TIMEOUTs, not after REQUEST_TIMEOUT; /healthz stays 200, /readyz
// says 503; once the server resumes, the service works again by itself.
func TestDatabaseHangs(t *testing.T) {
	t.Parallel()
	cluster, db, summary := seededCluster(t)
	const bound = time.Second
	var logs syncBuffer
	s := startTestServerLogging(t, db, summary, map[string]string{
		"DATABASE_URL": cluster.URL(), "DB_TIMEOUT": bound.String(), "REQUEST_TIMEOUT": "30s",
	}, &logs)
	cookie := s.session(1)

	rest := func() (int, string) {
		res, body := s.restCall("GET", "limit=2", cookie)
		var e struct{ Error struct{ Code string } }
		_ = json.Unmarshal(body, &e)
		if res.StatusCode == 503 && res.Header.Get("Retry-After") == "" {
			t.Errorf("REST 503 without Retry-After")
		}
		return res.StatusCode, e.Error.Code
	}
	graphQL := func() (int, string) {
		res, body := s.rawRequest("POST", "/graphql", map[string]string{"Content-Type": "application/json", "Cookie": httpserver.SessionCookie + "=" + cookie},
			`{"query":"`+inboxQuery+`"}`)
		return res.StatusCode, decodeGraphQL(t, body).code()
	}
	status := func(path string) int {
		res, _ := s.rawRequest("GET", path, nil, "")
		return res.StatusCode
	}
	requests := []struct {
		name       string
		do         func() (int, string)
		wantStatus int    // while the database hangs
		wantCode   string // the body's error code then
	}{
		{"REST", rest, 503, "unavailable"},
		// GraphQL reports errors in the body, with a 200.
		{"GraphQL", graphQL, 200, "SERVICE_UNAVAILABLE"},
	}
	for _, r := range requests { // fills the pool with idle connections
		if got, code := r.do(); got != 200 || code != "" {
			t.Fatalf("before: %s %d %s, want 200", r.name, got, code)
		}
	}

	cluster.Pause(t)
	// Twice each: first on idle pooled connections, whose queries go unanswered, then on new
	// connections, whose start-up goes unanswered.
	for round := range 2 {
		for _, r := range requests {
			began := time.Now()
			got, code := r.do()
			elapsed := time.Since(began)
			if got != r.wantStatus || code != r.wantCode {
				t.Fatalf("hung, round %d: %s %d %q, want %d %q", round, r.name, got, code, r.wantStatus, r.wantCode)
			}
			if elapsed > 3*bound {
				t.Fatalf("hung, round %d: %s took %v to fail; DB_TIMEOUT is %v", round, r.name, elapsed, bound)
			}
		}
	}
	began := time.Now()
	if got := status("/healthz"); got != 200 || time.Since(began) > bound {
		t.Fatalf("hung: /healthz %d after %v, want 200 at once", got, time.Since(began))
	}
	began = time.Now()
	if got := status("/readyz"); got != 503 || time.Since(began) > 3*readyTimeout {
		t.Fatalf("hung: /readyz %d after %v, want 503 within %v", got, time.Since(began), 3*readyTimeout)
	}

	cluster.Resume(t)
	deadline := time.Now().Add(15 * time.Second)
	for {
		got, code := rest()
		if got == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("REST %d %s 15s after the database resumed, want 200", got, code)
		}
		time.Sleep(100 * time.Millisecond)
	}
	for _, r := range requests {
		if got, code := r.do(); got != 200 || code != "" {
			t.Fatalf("resumed: %s %d %s, want 200", r.name, got, code)
		}
	}
	for status("/readyz") != 200 {
		if time.Now().After(deadline) {
			t.Fatal("/readyz not 200 15s after the database resumed")
		}
		time.Sleep(100 * time.Millisecond)
	}
	if n := len(logLines(logs.String(), "WARN", "database unavailable")); n < 1 || n > 2 {
		t.Errorf("%d WARN lines about the outage, want 1 or 2:\n%s", n, logs.String())
	}
}

// TestOutageIsLoggedOncePerInterval sends 200 requests while the PostgreSQL server is stopped:
// each fails, and the log says so in one or two WARN lines with a count, not in 200; when
// the server is back, an INFO line says so, and the counts add up to the failed statements.
func TestOutageIsLoggedOncePerInterval(t *testing.T) {
	t.Parallel()
	cluster, db, summary := seededCluster(t)
	var logs syncBuffer
	s := startTestServerLogging(t, db, summary, map[string]string{"DATABASE_URL": cluster.URL()}, &logs)
	cookie := s.session(1)
	if res, body := s.restCall("GET", "limit=2", cookie); res.StatusCode != 200 {
		t.Fatalf("before: REST %d %s", res.StatusCode, body)
	}
	before := s.statements()

	cluster.Stop(t)
	const requests, clients = 200, 8
	statuses := make(chan int, requests)
	var wg sync.WaitGroup
	for c := range clients {
		wg.Go(func() {
			for i := range requests / clients {
				var req *http.Request
				if (c+i)%2 == 0 {
					req, _ = http.NewRequest("GET", s.url+"/vendor/conversations?limit=2", nil)
				} else {
					req, _ = http.NewRequest("POST", s.url+"/graphql", strings.NewReader(`{"query":"`+inboxQuery+`"}`))
					req.Header.Set("Content-Type", "application/json")
				}
				req.AddCookie(&http.Cookie{Name: httpserver.SessionCookie, Value: cookie})
				res, err := http.DefaultClient.Do(req)
				if err != nil {
					statuses <- 0
					continue
				}
				var g gqlResponse
				_ = json.NewDecoder(res.Body).Decode(&g)
				res.Body.Close()
				if req.Method == "POST" && g.code() == "SERVICE_UNAVAILABLE" {
					res.StatusCode = 503 // GraphQL answers 200 with the error in the body
				}
				statuses <- res.StatusCode
			}
		})
	}
	wg.Wait()
	close(statuses)
	for got := range statuses {
		if got != 503 {
			t.Fatalf("a request during the outage answered %d, want 503 (SERVICE_UNAVAILABLE for GraphQL)", got)
		}
	}
	// Each request failed at its one statement, the session lookup.
	failed := s.statements() - before
	if failed != requests {
		t.Fatalf("%d statements during the outage, want %d", failed, requests)
	}
	during := logs.String()
	warnings := logLines(during, "WARN", "database unavailable")
	if n := len(warnings); n < 1 || n > 2 {
		t.Fatalf("%d WARN lines about the outage for %d failed requests, want 1 or 2:\n%s", n, requests, during)
	}
	if all := len(logLines(during, "WARN", "")) + len(logLines(during, "ERROR", "")); all != len(warnings) {
		t.Fatalf("requests logged the outage themselves (%d WARN and ERROR lines in all):\n%s", all, during)
	}

	cluster.Start(t)
	deadline := time.Now().Add(15 * time.Second)
	for {
		res, _ := s.restCall("GET", "limit=2", cookie)
		if res.StatusCode == 200 {
			break
		}
		if res.StatusCode != 503 || time.Now().After(deadline) {
			t.Fatalf("REST %d after the database's return, want 200 within 15s", res.StatusCode)
		}
		failed++ // its session lookup failed too
		time.Sleep(100 * time.Millisecond)
	}
	after := logs.String()
	recovered := logLines(after, "INFO", "database available again")
	if len(recovered) != 1 {
		t.Fatalf("%d INFO lines about the recovery, want 1:\n%s", len(recovered), after)
	}
	sum := 0
	for _, line := range append(logLines(after, "WARN", "database unavailable"), recovered...) {
		n, err := strconv.Atoi(line["failed_statements"])
		if err != nil {
			t.Fatalf("failed_statements=%q: %v", line["failed_statements"], err)
		}
		sum += n
	}
	if sum != failed {
		t.Fatalf("the log counts %d failed statements, want %d:\n%s", sum, failed, after)
	}
}

var logAttr = regexp.MustCompile(`(\w+)=("(?:[^"\\]|\\.)*"|\S*)`)

// logLines returns the attributes of the lines of a text log at level whose message is msg
// (any message when msg is empty).
func logLines(log, level, msg string) []map[string]string {
	var lines []map[string]string
	for _, line := range strings.Split(log, "\n") {
		attrs := map[string]string{}
		for _, m := range logAttr.FindAllStringSubmatch(line, -1) {
			v := m[2]
			if uq, err := strconv.Unquote(v); err == nil {
				v = uq
			}
			attrs[m[1]] = v
		}
		if attrs["level"] == level && (msg == "" || attrs["msg"] == msg) {
			lines = append(lines, attrs)
		}
	}
	return lines
}
