package httpserver

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/partizap/vendor-inbox/graph"
	"github.com/partizap/vendor-inbox/resolvers"
)

// TestPostTransportAnswersAsGqlgens: postTransport answers every kind of request with gqlgen's
// POST transport's status, Content-Type and JSON, and an answer that is only data byte for byte
// as gqlgen wrote the data.
func TestPostTransportAnswersAsGqlgens(t *testing.T) {
	t.Parallel()
	opts := Options{}
	withStore(t, &opts)
	s := newServer(opts, io.Discard)
	over := func(tr graphql.Transport) http.Handler {
		h := handler.New(graph.NewExecutableSchema(resolvers.NewConfig(resolvers.Options{Store: opts.Store, Cursors: opts.Cursors})))
		h.AddTransport(tr)
		return s.WithViewer(h)
	}
	ours, gqlgens := over(postTransport{}), over(transport.POST{})

	for _, tt := range []struct {
		name, accept, body string
		status             int
		exact              string // the whole answer, when it is only data
	}{
		{name: "data", body: `{"query":"{ viewer { id } }"}`, status: 200, exact: `{"data":{"viewer":null}}`},
		{name: "data, graphql-response+json", accept: "application/graphql-response+json", body: `{"query":"{ viewer { id } }"}`, status: 200, exact: `{"data":{"viewer":null}}`},
		{name: "data, Accept */*", accept: "*/*", body: `{"query":"{ viewer { id } }"}`, status: 200, exact: `{"data":{"viewer":null}}`},
		{name: "an error beside data", body: `{"query":"{ node(id: \"nope\") { id } }"}`, status: 200},
		{name: "a validation error", body: `{"query":"{ nope }"}`, status: 422},
		{name: "a validation error, graphql-response+json", accept: "application/graphql-response+json", body: `{"query":"{ nope }"}`, status: 400},
		{name: "a parse error", body: `{"query":"{"}`, status: 422},
		{name: "no such operation", body: `{"query":"query A { viewer { id } }","operationName":"B"}`, status: 422},
		{name: "variables of the wrong type", body: `{"query":"query($n: Int) { vendorConversations(first: $n) { nodes { id } } }","variables":{"n":"x"}}`, status: 422},
		{name: "a number variable kept exact", body: `{"query":"query($n: Int) { vendorConversations(first: $n) { nodes { id } } }","variables":{"n":12345678901234567890}}`, status: 422},
	} {
		t.Run(tt.name, func(t *testing.T) {
			answer := func(h http.Handler) *httptest.ResponseRecorder {
				r := httptest.NewRequest("POST", "/graphql", strings.NewReader(tt.body))
				r.Header.Set("Content-Type", "application/json")
				if tt.accept != "" {
					r.Header.Set("Accept", tt.accept)
				}
				return serve(h, r)
			}
			got, want := answer(ours), answer(gqlgens)
			if got.Code != tt.status || want.Code != tt.status {
				t.Fatalf("status %d, gqlgen's %d, want %d: %s", got.Code, want.Code, tt.status, got.Body)
			}
			if g, w := got.Header().Get("Content-Type"), want.Header().Get("Content-Type"); g != w {
				t.Errorf("Content-Type %q, gqlgen's %q", g, w)
			}
			var gotJSON, wantJSON any
			if err := json.Unmarshal(got.Body.Bytes(), &gotJSON); err != nil {
				t.Fatalf("%s: %v", got.Body, err)
			}
			_ = json.Unmarshal(want.Body.Bytes(), &wantJSON)
			if !reflect.DeepEqual(gotJSON, wantJSON) {
				t.Errorf("answer %s\ngqlgen's %s", got.Body, want.Body)
			}
			if tt.exact != "" && got.Body.String() != tt.exact {
				t.Errorf("answer %s, want exactly %s", got.Body, tt.exact)
			}
		})
	}
}

func TestAcceptsGraphQLResponse(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		accept string
		want   bool
	}{
		{"", false},
		{"application/json", false},
		{"*/*", false},
		{"application/*", false},
		{"application/graphql-response+json", true},
		{"application/graphql-response+json, application/json;q=0.9", true},
		{"application/json, application/graphql-response+json", false},
		{"text/html, application/graphql-response+json", true},
		{"text/html", true},
		{"not a media type;;, application/json", false},
	} {
		if got := acceptsGraphQLResponse(tt.accept); got != tt.want {
			t.Errorf("acceptsGraphQLResponse(%q) = %v, want %v", tt.accept, got, tt.want)
		}
	}
}

// TestWriteResponseWritesDataAsItIs: an answer that is only data is written without passing
// through json.Marshal (which would compact the spaces below away); any other answer is.
func TestWriteResponseWritesDataAsItIs(t *testing.T) {
	t.Parallel()
	data := json.RawMessage(`{ "a": "<b>" }`)
	for _, tt := range []struct {
		name string
		resp *graphql.Response
		want string
	}{
		{"only data", &graphql.Response{Data: data}, `{"data":{ "a": "<b>" }}`},
		{"empty errors and extensions", &graphql.Response{Data: data, Errors: gqlerror.List{}, Extensions: map[string]any{}}, `{"data":{ "a": "<b>" }}`},
		{"no data", &graphql.Response{}, `{"data":null}`},
		{"an error", &graphql.Response{Data: data, Errors: gqlerror.List{{Message: "x"}}}, `{"errors":[{"message":"x"}],"data":{"a":"\u003cb\u003e"}}`},
		{"an extension", &graphql.Response{Data: data, Extensions: map[string]any{"k": 1}}, `{"data":{"a":"\u003cb\u003e"},"extensions":{"k":1}}`},
	} {
		var b strings.Builder
		writeResponse(&b, tt.resp)
		if b.String() != tt.want {
			t.Errorf("%s: %s, want %s", tt.name, b.String(), tt.want)
		}
	}
}
