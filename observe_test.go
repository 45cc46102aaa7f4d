package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/partizap/vendor-inbox/httpserver"
	"github.com/partizap/vendor-inbox/models/dbtest"
	"github.com/partizap/vendor-inbox/models/seed"
)

// The operator's view: metrics, traces, access logs and compression, through the real handler.

func TestMetricsCountKnownRequests(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, seed.Options{Vendors: 1, Conversations: 3, Messages: 2, Seed: 1})
	cookie := s.session(s.seed.BusiestVendorID)
	for range 3 {
		if res := s.graphql(cookie, `query Inbox { vendorConversations(first: 2) { nodes { id } } }`, nil); res.Errors != nil {
			t.Fatal(res.Errors)
		}
	}
	s.graphql("", `query Inbox { vendorConversations(first: 2) { nodes { id } } }`, nil) // UNAUTHENTICATED
	s.graphql(cookie, `{ viewer { id } }`, nil)
	s.graphql(cookie, `query Made_Up_1 { viewer { id } }`, nil)
	s.graphql(cookie, `{ nosuchfield }`, nil) // GRAPHQL_VALIDATION_FAILED
	s.restCall("GET", "limit=1", cookie)
	s.restCall("GET", "limit=0", cookie) // invalid_limit
	s.rawRequest("GET", "/nowhere", nil, "")
	for sample, want := range map[string]float64{
		`bff_http_requests_total{method="POST",route="/graphql",status="200"}`:             6,
		`bff_http_requests_total{method="POST",route="/graphql",status="422"}`:             1,
		`bff_http_requests_total{method="GET",route="/vendor/conversations",status="200"}`: 1,
		`bff_http_requests_total{method="GET",route="/vendor/conversations",status="400"}`: 1,
		`bff_http_requests_total{method="GET",route="unmatched",status="404"}`:             1,
		`bff_http_request_duration_seconds_count{method="POST",route="/graphql"}`:          7,
		`bff_graphql_operations_total{operation="Inbox",type="query"}`:                     4,
		`bff_graphql_operations_total{operation="anonymous",type="query"}`:                 1,
		`bff_graphql_operations_total{operation="Made_Up_1",type="query"}`:                 1,
		`bff_graphql_errors_total{code="UNAUTHENTICATED"}`:                                 1,
		`bff_graphql_errors_total{code="GRAPHQL_VALIDATION_FAILED"}`:                       1,
		`bff_build_info{version="` + version() + `"}`:                                      1,
		`go_sql_max_open_connections{db_name="vendor_inbox"}`:                              20,
	} {
		if got := s.metric(sample); got != want {
			t.Errorf("%s = %v, want %v", sample, got, want)
		}
	}
	// Every statement is timed, by command.
	if n, total := s.metric(`bff_db_statement_duration_seconds_count{operation="SELECT"}`), s.metric("bff_db_queries_total"); n == 0 || n > total {
		t.Errorf("%v SELECTs timed of %v statements", n, total)
	}
}

func TestOperationNamesInMetricsAreBounded(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, seed.Options{Vendors: 1, Conversations: 1, Messages: 1, Seed: 1})
	cookie := s.session(s.seed.BusiestVendorID)
	for i := range 205 {
		s.graphql(cookie, fmt.Sprintf(`query N%d { viewer { id } }`, i), nil)
	}
	if got := s.metric(`bff_graphql_operations_total{operation="other",type="query"}`); got != 5 {
		t.Errorf("other = %v, want 5: past 200 names, the rest fold into one", got)
	}
}

// tracedServer serves over a database of its own, with spans going to an in-memory exporter.
func tracedServer(t *testing.T, logs io.Writer) (*testServer, *tracetest.InMemoryExporter) {
	t.Helper()
	dsn, db := dbtest.New(t)
	summary, err := seed.Seed(context.Background(), db, seed.Options{Vendors: 1, Conversations: 25, Messages: 2, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	exporter := tracetest.NewInMemoryExporter()
	provider := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exporter))
	t.Cleanup(func() { _ = provider.Shutdown(context.Background()) })
	env := map[string]string{"DATABASE_URL": dsn, "CURSOR_SECRET": testCursorSecret, "LOG_FORMAT": "json"}
	cfg, err := loadConfig(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	cfg.tracerProvider = provider
	a, err := openApp(context.Background(), cfg, newLogger(logs, cfg.LogFormat, cfg.LogLevel))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.close)
	srv := startServerFor(t, a)
	return &testServer{t: t, url: srv, db: db, app: a, seed: summary}, exporter
}

func TestTracesFollowARequestThroughItsStatements(t *testing.T) {
	t.Parallel()
	s, exporter := tracedServer(t, io.Discard)
	cookie := s.session(s.seed.BusiestVendorID)
	exporter.Reset()
	body, _ := json.Marshal(map[string]any{"query": fullQuery, "operationName": "Inbox", "variables": map[string]any{"first": 20}})
	req, _ := http.NewRequest(http.MethodPost, s.url+"/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	req.AddCookie(&http.Cookie{Name: httpserver.SessionCookie, Value: cookie})
	if res := s.do(req); res.Errors != nil {
		t.Fatal(res.Errors)
	}
	spans := exporter.GetSpans()
	byID := map[string]tracetest.SpanStub{}
	for _, sp := range spans {
		byID[sp.SpanContext.SpanID().String()] = sp
		if got := sp.SpanContext.TraceID().String(); got != "4bf92f3577b34da6a3ce929d0e0e4736" {
			t.Errorf("span %q is in trace %s, not the caller's", sp.Name, got)
		}
	}
	// The tree, by names: each span under its parent.
	var tree []string
	for _, sp := range spans {
		parent := "caller"
		if p, ok := byID[sp.Parent.SpanID().String()]; ok {
			parent = p.Name
		} else if sp.Parent.SpanID().String() != "00f067aa0ba902b7" {
			parent = "?"
		}
		tree = append(tree, parent+" > "+sp.Name)
	}
	slices.Sort(tree)
	// The viewer's session before GraphQL runs, then the page with every nested kind in one
	// statement (the seller is among the participants, so no statement of users).
	want := []string{
		"POST /graphql > SELECT sessions",
		"POST /graphql > graphql.query Inbox",
		"caller > POST /graphql",
		"graphql.query Inbox > WITH conversations",
	}
	if !slices.Equal(tree, want) {
		t.Errorf("span tree:\n%s\nwant\n%s", strings.Join(tree, "\n"), strings.Join(want, "\n"))
	}
	for _, sp := range spans {
		attrs := map[string]string{}
		for _, kv := range sp.Attributes {
			attrs[string(kv.Key)] = kv.Value.String()
		}
		switch {
		case sp.Name == "graphql.query Inbox":
			if attrs["graphql.operation.cost"] == "" {
				t.Errorf("the operation's span has no cost: %v", attrs)
			}
		case strings.HasPrefix(sp.Name, "SELECT"):
			if q := attrs["db.query.text"]; !strings.HasPrefix(q, "SELECT") || strings.Contains(q, cookie) {
				t.Errorf("statement span %q: db.query.text %q", sp.Name, q)
			}
		}
	}
}

func TestAccessLogHasOneLinePerRequestAndNoSecrets(t *testing.T) {
	t.Parallel()
	var logs syncBuffer
	s, _ := tracedServer(t, &logs)
	cookie := s.session(s.seed.BusiestVendorID)
	s.graphql(cookie, `query Inbox { vendorConversations(first: 1) { nodes { id } } }`, nil)
	s.restCall("GET", "limit=1", cookie)
	var lines []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("not a JSON line: %q", line)
		}
		if rec["msg"] == "request" {
			lines = append(lines, rec)
		}
		if strings.Contains(line, cookie) {
			t.Errorf("a log line holds the session id: %s", line)
		}
	}
	if len(lines) != 2 {
		t.Fatalf("%d access-log lines, want 2: %v", len(lines), lines)
	}
	for i, want := range []map[string]any{
		{"method": "POST", "route": "/graphql", "status": float64(200), "operation": "Inbox"},
		{"method": "GET", "route": "/vendor/conversations", "status": float64(200)},
	} {
		for k, v := range want {
			if lines[i][k] != v {
				t.Errorf("line %d: %s = %v, want %v (%v)", i, k, lines[i][k], v, lines[i])
			}
		}
		for _, k := range []string{"request_id", "trace_id", "bytes", "duration"} {
			if lines[i][k] == nil {
				t.Errorf("line %d has no %s: %v", i, k, lines[i])
			}
		}
	}
}

func TestResponsesAreCompressedWhenAccepted(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, seed.Options{Vendors: 1, Conversations: 30, Messages: 2, Seed: 1})
	cookie := s.session(s.seed.BusiestVendorID)
	get := func(path, encoding string) (*http.Response, []byte) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, s.url+path, nil)
		req.AddCookie(&http.Cookie{Name: httpserver.SessionCookie, Value: cookie})
		if encoding != "" {
			req.Header.Set("Accept-Encoding", encoding) // set by hand, the transport leaves the body as sent
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		body, _ := io.ReadAll(res.Body)
		return res, body
	}
	for _, path := range []string{"/vendor/conversations?limit=20", "/openapi.json", "/graphql?query=" + url.QueryEscape(`{ vendorConversations(first: 20) { nodes { id product { title images { largeWebp } } } } }`)} {
		_, plain := get(path, "")
		for _, tc := range []struct {
			accept, encoding string
			decode           func([]byte) ([]byte, error)
		}{
			{"gzip", "gzip", func(b []byte) ([]byte, error) {
				r, err := gzip.NewReader(bytes.NewReader(b))
				if err != nil {
					return nil, err
				}
				return io.ReadAll(r)
			}},
			{"gzip, deflate, br, zstd", "zstd", func(b []byte) ([]byte, error) {
				r, err := zstd.NewReader(bytes.NewReader(b))
				if err != nil {
					return nil, err
				}
				defer r.Close()
				return io.ReadAll(r)
			}},
		} {
			res, body := get(path, tc.accept)
			decoded, err := tc.decode(body)
			if res.Header.Get("Content-Encoding") != tc.encoding || err != nil || !bytes.Equal(decoded, plain) || !slices.Contains(res.Header.Values("Vary"), "Accept-Encoding") {
				t.Errorf("%s with Accept-Encoding %q: encoding %q, vary %q, %d bytes of %d plain (%v)", path, tc.accept,
					res.Header.Get("Content-Encoding"), res.Header.Values("Vary"), len(body), len(plain), err)
			}
		}
	}
	// Small answers are not worth it.
	if res, _ := get("/vendor/conversations?limit=0", "gzip"); res.Header.Get("Content-Encoding") != "" {
		t.Errorf("a small error was compressed (%s)", res.Header.Get("Content-Encoding"))
	}
}

// startServerFor serves a's handler and returns its URL.
func startServerFor(t *testing.T, a *app) string {
	t.Helper()
	srv := httptest.NewServer(a.handler())
	t.Cleanup(srv.Close)
	return srv.URL
}

// TestRESTConversationsWithoutMessagesMatchTheDocument: a conversation with no message yet has
// "last_message": null, which the OpenAPI document must allow (restCall validates against it).
func TestRESTConversationsWithoutMessagesMatchTheDocument(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, seed.Options{Vendors: 1, Conversations: 2, Messages: 0, Seed: 1})
	res, body := s.restCall("GET", "limit=2", s.session(s.seed.BusiestVendorID))
	var page struct {
		Data []map[string]json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(body, &page); err != nil || res.StatusCode != 200 || len(page.Data) != 2 {
		t.Fatalf("%d %s: %v", res.StatusCode, body, err)
	}
	for _, c := range page.Data {
		if string(c["last_message"]) != "null" {
			t.Errorf("last_message %s, want null", c["last_message"])
		}
	}
}
