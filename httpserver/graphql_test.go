package httpserver

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/partizap/vendor-inbox/models"
	"github.com/partizap/vendor-inbox/models/database"
)

func TestAcceptsJSON(t *testing.T) {
	t.Parallel()
	tests := []struct {
		accept string
		want   bool
	}{
		{"application/json", true},
		{"application/graphql-response+json", true},
		{"application/json; charset=utf-8", true},
		{"Application/JSON", true},
		{"application/*", true},
		{"*/*", true},
		{"text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", true}, // a browser's
		{"text/html, application/json;q=0.5", true},
		{"text/html", false},
		{"text/*", false},
		{"application/xml", false},
		{"application/graphql", false},
		{"application/jsonx", false},
		{"json", false},
		{";;;", false},
		{"", false},
	}
	for _, tt := range tests {
		if got := acceptsJSON(tt.accept); got != tt.want {
			t.Errorf("acceptsJSON(%q) = %v, want %v", tt.accept, got, tt.want)
		}
	}
}

var (
	errInvalidJSON = &models.Error{Code: CodeInvalidJSON, Message: `the request body must be a JSON object such as {"query": "{ viewer { id } }"}`}
	errBatch       = &models.Error{Code: CodeBatchNotSupported, Message: "batches are not supported: send one operation per request"}
)

func badMember(name, phrase string) *models.Error {
	return &models.Error{Code: CodeBadRequest, Field: name, Message: `"` + name + `" must be ` + phrase + ` or null`}
}

func TestCheckGraphQLBody(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, body string
		want       *models.Error
	}{
		{"a query", `{"query": "{ viewer { id } }"}`, nil},
		{"every member", `{"query": "query A { viewer { id } }", "operationName": "A", "variables": {"first": 2}, "extensions": {"persistedQuery": {"version": 1}}}`, nil},
		{"null members", `{"query": null, "operationName": null, "variables": null, "extensions": null}`, nil},
		{"an empty object", `{}`, nil},
		{"other members ignored", `{"query": "{ viewer { id } }", "id": 7, "foo": [1]}`, nil},
		{"surrounding whitespace", " \r\n\t{\"query\": \"{ viewer { id } }\"}\n", nil},
		{"a batch", `[{"query": "{ viewer { id } }"}]`, errBatch},
		{"an empty batch", `[]`, errBatch},
		{"a batch after whitespace", " \r\n\t[]", errBatch},
		{"empty", ``, errInvalidJSON},
		{"whitespace", "  \n", errInvalidJSON},
		{"not JSON", `{"query": "{ viewer`, errInvalidJSON},
		{"null", `null`, errInvalidJSON},
		{"a string", `"{ viewer { id } }"`, errInvalidJSON},
		{"a number", `7`, errInvalidJSON},
		{"trailing data", `{"query": "{ viewer { id } }"} {}`, errInvalidJSON},
		{"query is a number", `{"query": 7}`, badMember("query", "a string")},
		{"query is an object", `{"query": {"viewer": "id"}}`, badMember("query", "a string")},
		{"query is true", `{"query": true}`, badMember("query", "a string")},
		{"operationName is an object", `{"query": "{ viewer { id } }", "operationName": {}}`, badMember("operationName", "a string")},
		{"variables is a list", `{"query": "{ viewer { id } }", "variables": ["x"]}`, badMember("variables", "an object")},
		{"variables is a string", `{"query": "{ viewer { id } }", "variables": "{\"first\": 2}"}`, badMember("variables", "an object")},
		{"extensions is a string", `{"query": "{ viewer { id } }", "extensions": "x"}`, badMember("extensions", "an object")},
		{"extensions is a number", `{"extensions": 1}`, badMember("extensions", "an object")},
		{"the first bad member in order", `{"extensions": 1, "variables": [], "query": 7}`, badMember("query", "a string")},
	}
	for _, tt := range tests {
		if got := checkGraphQLBody([]byte(tt.body)); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s: checkGraphQLBody(%q) = %v, want %v", tt.name, tt.body, got, tt.want)
		}
	}
}

func TestCheckGraphQLQueryString(t *testing.T) {
	t.Parallel()
	notObject := func(name string) *models.Error {
		return &models.Error{Code: CodeBadRequest, Field: name, Message: `the "` + name + `" parameter must be a JSON object`}
	}
	q := url.QueryEscape
	tests := []struct {
		name, rawQuery string
		want           *models.Error
	}{
		{"nothing", "", nil},
		{"a query", "query=" + q("{ viewer { id } }"), nil},
		{"every parameter", "query=" + q("query A($n: Int) { viewer { id } }") + "&operationName=A&variables=" + q(`{"n": 1}`) + "&extensions=" + q(`{"persistedQuery": {"version": 1}}`), nil},
		{"null variables", "variables=null", nil},
		{"other parameters ignored", "query=x&foo=%5B", nil},
		{"variables not JSON", "variables=ZQXJ", notObject("variables")},
		{"variables a list", "variables=" + q(`[1]`), notObject("variables")},
		{"variables a string", "variables=" + q(`"x"`), notObject("variables")},
		{"extensions not JSON", "query=x&extensions=" + q(`{"persistedQuery":`), notObject("extensions")},
		{"extensions a number", "extensions=7", notObject("extensions")},
		{"variables before extensions", "extensions=7&variables=7", notObject("variables")},
		{"not URL encoding", "query=%zz", &models.Error{Code: CodeBadRequest, Message: "the query string is not valid URL encoding"}},
	}
	for _, tt := range tests {
		if got := checkGraphQLQueryString(tt.rawQuery); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s: checkGraphQLQueryString(%q) = %v, want %v", tt.name, tt.rawQuery, got, tt.want)
		}
	}
}

// failingBody is a request body whose reading fails after a first part.
type failingBody struct{ first io.Reader }

func (b *failingBody) Read(p []byte) (int, error) {
	if n, _ := b.first.Read(p); n > 0 {
		return n, nil
	}
	return 0, errors.New("connection reset by peer")
}

// bodyOf is a POST body of exactly n bytes holding a query.
func bodyOf(n int) string {
	const prefix, suffix = `{"query":"{ viewer { id } }`, `"}`
	return prefix + strings.Repeat(" ", n-len(prefix)-len(suffix)) + suffix
}

// refusal is the exact body of a refusal by the GraphQL endpoint's rules.
func refusal(extensions, message string) string {
	return `{"errors":[{"extensions":{` + extensions + `},"message":"` + message + `"}]}`
}

type graphQLRequest struct {
	name, method, target string
	header               map[string]string
	body                 io.Reader
	ended                ended
	status               int
	want                 string // the exact body
	allow                string
}

const (
	query        = `{"query":"{ viewer { id } }"}`
	anonymous    = `{"data":{"viewer":null}}`
	maxBodyBytes = 1024
)

func graphQLRequests() []graphQLRequest {
	jsonType := map[string]string{"Content-Type": "application/json"}
	get := "/graphql?query=" + url.QueryEscape("{ viewer { id } }")
	methodNotAllowed := refusal(`"code":"METHOD_NOT_ALLOWED"`, "send GraphQL operations with GET (queries) or POST")
	notAcceptable := refusal(`"code":"NOT_ACCEPTABLE"`, "this endpoint answers application/json or application/graphql-response+json")
	unsupported := refusal(`"code":"UNSUPPORTED_MEDIA_TYPE"`, "send the operation as JSON with Content-Type: application/json")
	invalidJSON := refusal(`"code":"INVALID_JSON"`, `the request body must be a JSON object such as {\"query\": \"{ viewer { id } }\"}`)
	badMember := func(name, phrase string) string {
		return refusal(`"code":"BAD_REQUEST","field":"`+name+`"`, `\"`+name+`\" must be `+phrase+` or null`)
	}
	timeout := refusal(`"code":"TIMEOUT"`, timeoutMessage)
	s := strings.NewReader
	return []graphQLRequest{
		{name: "POST", method: "POST", target: "/graphql", header: jsonType, body: s(query), status: 200, want: anonymous},
		{name: "GET", method: "GET", target: get, status: 200, want: anonymous},
		{name: "GET ignores Content-Type", method: "GET", target: get, header: map[string]string{"Content-Type": "text/plain"}, status: 200, want: anonymous},

		{name: "PUT", method: "PUT", target: "/graphql", header: jsonType, body: s(query), status: 405, want: methodNotAllowed, allow: "GET, POST"},
		{name: "DELETE", method: "DELETE", target: "/graphql", status: 405, want: methodNotAllowed, allow: "GET, POST"},
		{name: "HEAD", method: "HEAD", target: get, status: 405, want: methodNotAllowed, allow: "GET, POST"},
		{name: "OPTIONS", method: "OPTIONS", target: "/graphql", status: 405, want: methodNotAllowed, allow: "GET, POST"},
		{name: "the method before Accept", method: "PUT", target: "/graphql", header: map[string]string{"Accept": "text/html"}, status: 405, want: methodNotAllowed, allow: "GET, POST"},

		{name: "Accept text/html", method: "POST", target: "/graphql", header: map[string]string{"Content-Type": "application/json", "Accept": "text/html"}, body: s(query), status: 406, want: notAcceptable},
		{name: "GET accepting text/html", method: "GET", target: get, header: map[string]string{"Accept": "text/html"}, status: 406, want: notAcceptable},
		{name: "Accept before Content-Type", method: "POST", target: "/graphql", header: map[string]string{"Content-Type": "text/plain", "Accept": "text/html"}, body: s(query), status: 406, want: notAcceptable},
		{name: "Accept graphql-response+json", method: "POST", target: "/graphql", header: map[string]string{"Content-Type": "application/json", "Accept": "application/graphql-response+json"}, body: s(query), status: 200, want: anonymous},
		{name: "Accept HTML or JSON", method: "POST", target: "/graphql", header: map[string]string{"Content-Type": "application/json", "Accept": "text/html, application/json;q=0.5"}, body: s(query), status: 200, want: anonymous},

		{name: "Content-Type with charset", method: "POST", target: "/graphql", header: map[string]string{"Content-Type": "application/json; charset=utf-8"}, body: s(query), status: 200, want: anonymous},
		{name: "Content-Type in capitals", method: "POST", target: "/graphql", header: map[string]string{"Content-Type": "Application/JSON"}, body: s(query), status: 200, want: anonymous},
		{name: "Content-Type text/plain", method: "POST", target: "/graphql", header: map[string]string{"Content-Type": "text/plain"}, body: s(query), status: 415, want: unsupported},
		{name: "a form", method: "POST", target: "/graphql", header: map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, body: s("query=%7Bviewer%7Bid%7D%7D"), status: 415, want: unsupported},
		{name: "multipart", method: "POST", target: "/graphql", header: map[string]string{"Content-Type": "multipart/form-data; boundary=x"}, body: s("--x--"), status: 415, want: unsupported},
		{name: "no Content-Type", method: "POST", target: "/graphql", body: s(query), status: 415, want: unsupported},
		{name: "application/graphql", method: "POST", target: "/graphql", header: map[string]string{"Content-Type": "application/graphql"}, body: s("{ viewer { id } }"), status: 415, want: unsupported},
		{name: "a JSON lookalike", method: "POST", target: "/graphql", header: map[string]string{"Content-Type": "application/json-patch+json"}, body: s(query), status: 415, want: unsupported},
		{name: "a malformed Content-Type", method: "POST", target: "/graphql", header: map[string]string{"Content-Type": "application/json; charset"}, body: s(query), status: 415, want: unsupported},
		{name: "Content-Type before the size", method: "POST", target: "/graphql", header: map[string]string{"Content-Type": "text/plain"}, body: s(bodyOf(maxBodyBytes + 1)), status: 415, want: unsupported},

		{name: "a body of MaxBodyBytes", method: "POST", target: "/graphql", header: jsonType, body: s(bodyOf(maxBodyBytes)), status: 200, want: anonymous},
		{name: "a body over MaxBodyBytes", method: "POST", target: "/graphql", header: jsonType, body: s(bodyOf(maxBodyBytes + 1)), status: 413,
			want: refusal(`"code":"REQUEST_TOO_LARGE","limit":1024`, "the request body is over the limit of 1024 bytes")},
		{name: "a body that cannot be read", method: "POST", target: "/graphql", header: jsonType, body: &failingBody{s(`{"query":`)}, status: 400,
			want: refusal(`"code":"BAD_REQUEST"`, "the request body could not be read")},

		{name: "invalid JSON", method: "POST", target: "/graphql", header: jsonType, body: s(`{"query": "ZQXJ`), status: 400, want: invalidJSON},
		{name: "null", method: "POST", target: "/graphql", header: jsonType, body: s(`null`), status: 400, want: invalidJSON},
		{name: "an empty body", method: "POST", target: "/graphql", header: jsonType, body: s(``), status: 400, want: invalidJSON},
		{name: "a batch", method: "POST", target: "/graphql", header: jsonType, body: s(`[` + query + `]`), status: 400,
			want: refusal(`"code":"BATCH_NOT_SUPPORTED"`, "batches are not supported: send one operation per request")},
		{name: "query is a number", method: "POST", target: "/graphql", header: jsonType, body: s(`{"query": 7}`), status: 400, want: badMember("query", "a string")},
		{name: "operationName is an object", method: "POST", target: "/graphql", header: jsonType, body: s(`{"query": "{ viewer { id } }", "operationName": {}}`), status: 400, want: badMember("operationName", "a string")},
		{name: "variables is a list", method: "POST", target: "/graphql", header: jsonType, body: s(`{"query": "{ viewer { id } }", "variables": []}`), status: 400, want: badMember("variables", "an object")},
		{name: "extensions is a string", method: "POST", target: "/graphql", header: jsonType, body: s(`{"query": "{ viewer { id } }", "extensions": "x"}`), status: 400, want: badMember("extensions", "an object")},
		{name: "GET variables not JSON", method: "GET", target: get + "&variables=ZQXJ", status: 400,
			want: refusal(`"code":"BAD_REQUEST","field":"variables"`, `the \"variables\" parameter must be a JSON object`)},
		{name: "GET not URL encoding", method: "GET", target: "/graphql?query=%zz", status: 400,
			want: refusal(`"code":"BAD_REQUEST"`, "the query string is not valid URL encoding")},

		{name: "POST past the deadline", method: "POST", target: "/graphql", header: jsonType, body: s(query), ended: pastDeadline, status: 504, want: timeout},
		{name: "GET past the deadline", method: "GET", target: get, ended: pastDeadline, status: 504, want: timeout},
	}
}

func (tt graphQLRequest) request(t *testing.T) *http.Request {
	r := endedRequest(t, tt.method, tt.target, tt.ended)
	r.Body = io.NopCloser(tt.body)
	if tt.body == nil {
		r.Body = http.NoBody
	}
	for k, v := range tt.header {
		r.Header.Set(k, v)
	}
	return r
}

func TestGraphQLRequestRules(t *testing.T) {
	t.Parallel()
	opts := Options{MaxBodyBytes: maxBodyBytes}
	withStore(t, &opts)
	h := newServer(opts, io.Discard).GraphQL()
	for _, tt := range graphQLRequests() {
		t.Run(tt.name, func(t *testing.T) {
			rec := serve(h, tt.request(t))
			if rec.Code != tt.status || rec.Body.String() != tt.want {
				t.Fatalf("%d %s\nwant %d %s", rec.Code, rec.Body, tt.status, tt.want)
			}
			if got := rec.Header().Get("Allow"); got != tt.allow {
				t.Errorf("Allow %q, want %q", got, tt.allow)
			}
			if got := rec.Header().Values("Cache-Control"); !reflect.DeepEqual(got, []string{"private, no-store"}) {
				t.Errorf("Cache-Control %q, want [\"private, no-store\"]", got)
			}
			if ct := rec.Header().Get("Content-Type"); tt.status != 200 && ct != "application/json; charset=utf-8" {
				t.Errorf("Content-Type %q", ct)
			}
		})
	}
}

// TestGraphQLRefusalsRunNoStatement: the request rules refuse before the session is looked up,
// so a refused request costs the database nothing, even with a session cookie.
func TestGraphQLRefusalsRunNoStatement(t *testing.T) {
	t.Parallel()
	opts := Options{MaxBodyBytes: maxBodyBytes}
	db := withStore(t, &opts)
	h := newServer(opts, io.Discard).GraphQL()
	var statements atomic.Int64
	if err := database.CountStatements(db, func() { statements.Add(1) }); err != nil {
		t.Fatal(err)
	}
	refused := 0
	for _, tt := range graphQLRequests() {
		if tt.status < 400 || tt.status >= 500 {
			continue
		}
		refused++
		r := tt.request(t)
		r.AddCookie(&http.Cookie{Name: SessionCookie, Value: "abc"})
		if rec := serve(h, r); rec.Code != tt.status {
			t.Fatalf("%s: %d %s, want %d", tt.name, rec.Code, rec.Body, tt.status)
		}
		if n := statements.Load(); n != 0 {
			t.Fatalf("%s: the refusal ran %d statements", tt.name, n)
		}
	}
	if refused == 0 {
		t.Fatal("no refusal checked")
	}
	// The counter counts: an admitted request with the cookie looks its session up.
	r := graphQLRequests()[0].request(t)
	r.AddCookie(&http.Cookie{Name: SessionCookie, Value: "abc"})
	if rec := serve(h, r); rec.Code != 200 || statements.Load() != 1 {
		t.Fatalf("an admitted request: %d %s with %d statements, want 200 with the session lookup", rec.Code, rec.Body, statements.Load())
	}
}

// TestGraphQLRecoversPanicsInItsShape: a panic behind the rules (here the session lookup of a
// store without a database) is answered as a GraphQL internal error, never stored.
func TestGraphQLRecoversPanicsInItsShape(t *testing.T) {
	t.Parallel()
	var logs syncBuffer
	s := newServer(Options{Store: models.NewStore(nil), Cursors: models.NewCursors([]byte(testCursorSecret))}, &logs)
	r := withRequestID(httptest.NewRequest("POST", "/graphql", strings.NewReader(query)), "req-42")
	r.Header.Set("Content-Type", "application/json")
	r.AddCookie(&http.Cookie{Name: SessionCookie, Value: "abc"})
	rec := serve(s.GraphQL(), r)
	want := `{"errors":[{"extensions":{"code":"INTERNAL_SERVER_ERROR","requestId":"req-42"},"message":"internal error; quote request id req-42 when reporting it"}]}`
	if rec.Code != 500 || rec.Body.String() != want || rec.Header().Get("Cache-Control") != "private, no-store" {
		t.Fatalf("%d %s (Cache-Control %q), want 500 %s", rec.Code, rec.Body, rec.Header().Get("Cache-Control"), want)
	}
	if !strings.Contains(logs.String(), `level=ERROR msg="handler panicked" path=/graphql panic="runtime error: invalid memory address or nil pointer dereference"`) {
		t.Fatalf("the panic was not logged:\n%s", logs.String())
	}
}

// TestDeadlineGuard: once the request's deadline has passed, whatever the executor writes is
// replaced by 504 TIMEOUT; before it, or when the client went away, it is written as it is.
func TestDeadlineGuard(t *testing.T) {
	t.Parallel()
	timeout := refusal(`"code":"TIMEOUT"`, timeoutMessage)
	tests := []struct {
		name   string
		ended  ended
		write  func(w http.ResponseWriter)
		status int
		body   string
		log    string
	}{
		{"in time", running, func(w http.ResponseWriter) {
			w.WriteHeader(200)
			_, _ = io.WriteString(w, `{"data":{"viewer":null}}`)
		}, 200, `{"data":{"viewer":null}}`, ""},
		{"null past the deadline", pastDeadline, func(w http.ResponseWriter) {
			w.WriteHeader(200)
			_, _ = io.WriteString(w, `null`)
		}, 504, timeout, ""},
		{"partial data past the deadline, no WriteHeader", pastDeadline, func(w http.ResponseWriter) {
			_, _ = io.WriteString(w, `{"data":{"vendorConversations":null},"errors":[`)
			_, _ = io.WriteString(w, `{"message":"x"}]}`)
		}, 504, timeout, ""},
		{"an error status past the deadline", pastDeadline, func(w http.ResponseWriter) {
			w.WriteHeader(422)
			_, _ = io.WriteString(w, `{"errors":[]}`)
		}, 504, timeout, ""},
		{"the client went away", cancelled, func(w http.ResponseWriter) {
			w.WriteHeader(200)
			_, _ = io.WriteString(w, `{"data":null}`)
		}, 200, `{"data":null}`, `level=INFO msg="client went away before its answer" path=/graphql request_id=req-42` + "\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var logs syncBuffer
			s := newServer(Options{}, &logs)
			h := s.graphQLRequests(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { tt.write(w) }))
			r := endedRequest(t, "POST", "/graphql", tt.ended)
			r.Body = io.NopCloser(strings.NewReader(query))
			r.Header.Set("Content-Type", "application/json")
			rec := serve(h, r)
			if rec.Code != tt.status || rec.Body.String() != tt.body {
				t.Fatalf("%d %s, want %d %s", rec.Code, rec.Body, tt.status, tt.body)
			}
			if logs.String() != tt.log {
				t.Fatalf("logged %q, want %q", logs.String(), tt.log)
			}
		})
	}
}

// TestGraphQLRequestsPassTheBodyOn: the body read to check it is the one the executor reads.
func TestGraphQLRequestsPassTheBodyOn(t *testing.T) {
	t.Parallel()
	s := newServer(Options{}, io.Discard)
	var got []byte
	var unwrapped bool
	h := s.graphQLRequests(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, _ = io.ReadAll(r.Body)
		_, unwrapped = w.(interface{ Unwrap() http.ResponseWriter })
	}))
	body := `{"query": "query A { viewer { id } }", "operationName": "A", "variables": {}}`
	r := httptest.NewRequest("POST", "/graphql", strings.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	serve(h, r)
	if !bytes.Equal(got, []byte(body)) {
		t.Fatalf("the handler read %q, want %q", got, body)
	}
	if !unwrapped {
		t.Fatal("the handler's ResponseWriter does not unwrap: http.ResponseController cannot reach the connection")
	}
}

func TestGraphQLRegistersItsDocumentMetricsOnce(t *testing.T) {
	t.Parallel()
	s := newServer(Options{Store: models.NewStore(nil), Cursors: models.NewCursors([]byte(testCursorSecret))}, io.Discard)
	s.GraphQL()
	s.GraphQL() // tests build it twice
	families, err := s.opts.Metrics.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range families {
		for _, m := range f.Metric {
			name := f.GetName()
			for i, l := range m.GetLabel() {
				name += map[bool]string{true: "{", false: ","}[i == 0] + l.GetName() + `="` + l.GetValue() + `"`
			}
			if len(m.GetLabel()) > 0 {
				name += "}"
			}
			got = append(got, name)
		}
	}
	want := []string{
		`bff_graphql_cache_bytes{cache="documents"}`,
		`bff_graphql_cache_bytes{cache="persisted"}`,
		"bff_graphql_selections_visited_total",
		"bff_graphql_validations_total",
		"bff_live_websockets", // New registers it; live updates are off here, so the hub's are not
	}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Fatalf("metrics %q, want %q", got, want)
	}
}
