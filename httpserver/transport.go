package httpserver

import (
	"encoding/json"
	"io"
	"mime"
	"net/http"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// postTransport is gqlgen's POST transport (transport.POST) but for how it writes a successful
// answer. gqlgen's writes every answer through json.Marshal, which validates and re-compacts the
// data gqlgen itself has just written, compact, for the answer: on the inbox page that second
// pass over every byte was a tenth of the CPU. postTransport writes the data as it is when the
// answer has nothing else (no errors, no extensions), and through json.Marshal otherwise.
// Requests reach it through graphQLRequests, which has already checked the body's shape.
type postTransport struct{}

var _ graphql.Transport = postTransport{}

func (postTransport) Supports(r *http.Request) bool { return transport.POST{}.Supports(r) }

func (postTransport) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	ctx := r.Context()
	graphQLResponse := acceptsGraphQLResponse(r.Header.Get("Accept"))
	if graphQLResponse {
		w.Header().Set("Content-Type", "application/graphql-response+json")
	} else {
		w.Header().Set("Content-Type", "application/json")
	}
	start := graphql.Now()
	params := &graphql.RawParams{}
	decoder := json.NewDecoder(r.Body) // graphQLRequests read it whole and checked its shape
	decoder.UseNumber()                // as gqlgen's: variables keep their exact digits until coerced
	if err := decoder.Decode(params); err != nil {
		w.WriteHeader(http.StatusBadRequest)
		writeResponse(w, exec.DispatchError(ctx, gqlerror.List{gqlerror.Errorf("the request body could not be decoded")}))
		return
	}
	params.Headers = r.Header
	params.ReadTime = graphql.TraceTiming{Start: start, End: graphql.Now()}
	op, errs := exec.CreateOperationContext(ctx, params)
	if errs != nil {
		// GraphQL over HTTP: a request that never ran is 422 with application/json (gqlgen's
		// choice), 400 with application/graphql-response+json.
		if errcode.GetErrorKind(errs) == errcode.KindProtocol {
			if graphQLResponse {
				w.WriteHeader(http.StatusBadRequest)
			} else {
				w.WriteHeader(http.StatusUnprocessableEntity)
			}
		}
		writeResponse(w, exec.DispatchError(graphql.WithOperationContext(ctx, op), errs))
		return
	}
	responses, ctx := exec.DispatchOperation(ctx, op)
	writeResponse(w, responses(ctx))
}

// acceptsGraphQLResponse says whether the answer is application/graphql-response+json rather
// than application/json, as gqlgen's transports decide: by the first media type of Accept that
// is either (application/* and */* meaning application/json); with none of them named, the
// newer type.
func acceptsGraphQLResponse(accept string) bool {
	if accept == "" {
		return false
	}
	for part := range strings.SplitSeq(accept, ",") {
		mediaType, _, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		switch mediaType {
		case "*/*", "application/*", "application/json":
			return false
		case "application/graphql-response+json":
			return true
		}
	}
	return true
}

// writeResponse writes resp as JSON: its data as gqlgen wrote it (compact JSON) when the answer
// is only data.
func writeResponse(w io.Writer, resp *graphql.Response) {
	// Empty lists and maps count as absent, as omitempty has them.
	if resp != nil && len(resp.Errors) == 0 && resp.Label == "" && len(resp.Path) == 0 && resp.HasNext == nil && len(resp.Extensions) == 0 {
		data := resp.Data
		if len(data) == 0 {
			data = json.RawMessage("null")
		}
		_, _ = io.WriteString(w, `{"data":`)
		_, _ = w.Write(data)
		_, _ = io.WriteString(w, "}")
		return
	}
	out, err := json.Marshal(resp)
	if err != nil {
		// Only a resolver's value that JSON cannot carry gets here; gqlgen's transport panics.
		out = []byte(`{"errors":[{"message":"the answer could not be encoded"}],"data":null}`)
	}
	_, _ = w.Write(out)
}
