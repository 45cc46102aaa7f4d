package main

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/partizap/vendor-inbox/models"
	"github.com/partizap/vendor-inbox/models/pgtest"
	"github.com/partizap/vendor-inbox/models/seed"
)

// The tests of this file are about the database failing, or seeming to, under a running
// service.

const inboxQuery = `{ vendorConversations(first: 2) { nodes { databaseId product { title } } } }`

// TestDatabaseHangs pauses the PostgreSQL server (SIGSTOP: it accepts connections and never
// answers, unlike a stopped one, which refuses them) under a running service: requests fail
// with 503 within a few DB_TIMEOUTs, not after REQUEST_TIMEOUT; /healthz stays 200, /readyz
// says 503; once the server resumes, the service works again by itself.
func TestDatabaseHangs(t *testing.T) {
	t.Parallel()
	cluster := pgtest.Start(t)
	ctx := context.Background()
	db, err := models.Open(ctx, cluster.URL())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := models.Migrate(ctx, db); err != nil {
		t.Fatal(err)
	}
	summary, err := seed.Seed(ctx, db, seed.Options{Vendors: 1, Conversations: 3, Messages: 1, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	const bound = time.Second
	s := startTestServer(t, db, summary, map[string]string{
		"DATABASE_URL": cluster.URL(), "DB_TIMEOUT": bound.String(), "REQUEST_TIMEOUT": "30s",
	})
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
		res, body := s.rawRequest("POST", "/graphql", map[string]string{"Content-Type": "application/json", "Cookie": models.SessionCookie + "=" + cookie},
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
}
