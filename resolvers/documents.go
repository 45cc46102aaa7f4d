package resolvers

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"sync/atomic"

	"github.com/99designs/gqlgen/complexity"
	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"github.com/vektah/gqlparser/v2/parser"
	"github.com/vektah/gqlparser/v2/validator"
	"github.com/vektah/gqlparser/v2/validator/core"
	"github.com/vektah/gqlparser/v2/validator/rules"

	"github.com/partizap/vendor-inbox/models"
)

// Documents turns request parameters into checked, parsed documents: it resolves persisted
// queries, refuses documents over the Limits, validates, and caches what passed every limit.
// Install it on the handler with Install; the handler's own parsing then only ever sees
// documents that Documents has admitted.
type Documents struct {
	Limits Limits
	// Parsed holds validated documents by their text; Persisted holds persisted queries' text by
	// their SHA-256. Both are bounded in bytes.
	Parsed    *SizedCache[*ast.QueryDocument]
	Persisted *SizedCache[string]
	Stats     DocumentStats

	schema graphql.ExecutableSchema
}

// DocumentStats count the work of checking documents, so that it can be watched (and tested)
// without a clock: Visited grows with the size of the documents checked, never with what
// their fragments expand to; Validated counts documents that reached validation.
type DocumentStats struct {
	Visited   atomic.Int64 // selections the limits walked
	Validated atomic.Int64
}

var _ interface {
	graphql.HandlerExtension
	graphql.OperationParameterMutator
	graphql.OperationContextMutator
	graphql.ResponseInterceptor
} = &Documents{}

// What the parsed-document cache charges for a document: parsing allocates a fixed kilobyte or
// so and 20 to 26 times the size of its text (TestDocumentBytesEstimate keeps the charge above
// what it measures).
const (
	documentBytes        = 2048
	documentBytesPerByte = 32
)

// documentSize is the cache's charge for a parsed document of query.
func documentSize(query string) int64 { return documentBytes + int64(len(query))*documentBytesPerByte }

// NewDocuments returns Documents with caches of cacheBytes each.
func NewDocuments(limits Limits, cacheBytes int64) *Documents {
	return &Documents{
		Limits:    limits,
		Parsed:    NewSizedCache(cacheBytes, func(query string, _ *ast.QueryDocument) int64 { return documentSize(query) }),
		Persisted: NewSizedCache(cacheBytes, func(hash, query string) int64 { return int64(len(hash) + len(query)) }),
	}
}

// Install makes srv parse through d: d's cache, rules and limits.
func (d *Documents) Install(srv *handler.Server) {
	srv.SetQueryCache(d.Parsed)
	srv.SetValidationRulesFn(d.rules)
	srv.SetDisableSuggestion(!d.Limits.Introspection)
	srv.SetParserTokenLimit(d.Limits.MaxTokens)
	srv.Use(d)
}

func (d *Documents) ExtensionName() string { return "Documents" }

func (d *Documents) Validate(schema graphql.ExecutableSchema) error {
	d.schema = schema
	return nil
}

// rules are GraphQL's validation rules; without introspection, their messages suggest no
// names ("Did you mean …?"), which would reveal the schema piece by piece.
func (d *Documents) rules() *rules.Rules {
	all := rules.NewDefaultRules()
	if d.Limits.Introspection {
		return all
	}
	quiet := rules.NewRules()
	for name, rule := range all.GetInner() {
		quiet.AddRule(name, func(observers *core.Events, addError core.AddErrFunc) {
			rule(observers, func(options ...core.ErrorOption) { addError(append(options, withoutSuggestion)...) })
		})
	}
	return quiet
}

// withoutSuggestion cuts the suggestion gqlparser appends to a message.
func withoutSuggestion(err *gqlerror.Error) {
	if i := strings.Index(err.Message, " Did you mean "); i >= 0 {
		err.Message = err.Message[:i]
	}
}

// persistedQueryHash is the operation context's stats key of a persisted query to register
// once its document has passed every limit.
const persistedQueryHash = "persistedQueryHash"

func (d *Documents) MutateOperationParameters(ctx context.Context, params *graphql.RawParams) *gqlerror.Error {
	if err := ctx.Err(); err != nil {
		return timeoutError()
	}
	hash, err := d.persistedQuery(ctx, params)
	if err != nil {
		return err
	}
	doc, cached := d.Parsed.Get(ctx, params.Query)
	if !cached {
		if params.Query == "" {
			return nil // gqlgen answers "no operation provided"
		}
		if n := countTokens(params.Query, d.Limits.MaxTokens); n > d.Limits.MaxTokens {
			return refusal(CodeTooManyTokens, fmt.Sprintf("the document has more than %d tokens, the limit", d.Limits.MaxTokens), d.Limits.MaxTokens, n)
		}
		parsed, err := parser.ParseQuery(&ast.Source{Input: params.Query})
		if err != nil {
			gqlErr, _ := err.(*gqlerror.Error)
			if gqlErr == nil {
				gqlErr = gqlerror.Errorf("the document could not be parsed")
			}
			errcode.Set(gqlErr, errcode.ParseFailed)
			return gqlErr
		}
		visited, refused := d.Limits.check(parsed)
		d.Stats.Visited.Add(int64(visited))
		if refused != nil {
			return refused
		}
		if ctx.Err() != nil {
			return timeoutError()
		}
		d.Stats.Validated.Add(1)
		if errs := validator.ValidateWithRules(d.schema.Schema(), parsed, d.rules()); len(errs) > 0 {
			return nil // gqlgen validates again and answers with the whole list
		}
		d.Parsed.Add(ctx, params.Query, parsed)
		doc = parsed
	}
	if doc.Operations.ForName(params.OperationName) == nil {
		message := "the document has no operation named as operationName asks"
		if params.OperationName == "" {
			message = "the document has several operations: name the one to run in operationName"
		}
		return &gqlerror.Error{Message: message, Extensions: map[string]any{"code": CodeOperationNotFound}}
	}
	if hash != "" {
		graphql.GetOperationContext(ctx).Stats.SetExtension(persistedQueryHash, hash)
	}
	return nil
}

// MutateOperationContext prices the operation with its variables, once the document is valid
// and its expansion bounded, and registers a persisted query that passed.
func (d *Documents) MutateOperationContext(ctx context.Context, op *graphql.OperationContext) *gqlerror.Error {
	c := complexity.Calculate(ctx, d.schema, op.Operation, op.Variables)
	if c > d.Limits.MaxComplexity {
		d.Parsed.Remove(op.RawQuery)
		return refusal(CodeTooComplex, fmt.Sprintf("the operation's complexity is %d, over the limit of %d", c, d.Limits.MaxComplexity), d.Limits.MaxComplexity, c)
	}
	op.Stats.SetExtension(costExtension, c)
	if hash, ok := op.Stats.GetExtension(persistedQueryHash).(string); ok {
		d.Persisted.Add(ctx, hash, op.RawQuery)
	}
	if ctx.Err() != nil {
		return timeoutError()
	}
	return nil
}

// costExtension is where MutateOperationContext leaves the operation's cost.
const costExtension = "partizap:cost"

// OperationCost is the cost (complexity) of op as its limit measured it, once it was admitted.
func OperationCost(op *graphql.OperationContext) (int, bool) {
	c, ok := op.Stats.GetExtension(costExtension).(int)
	return c, ok
}

// InterceptResponse keeps error lists short: the first MaxErrors, then one that counts the rest.
func (d *Documents) InterceptResponse(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
	res := next(ctx)
	if res == nil || len(res.Errors) <= d.Limits.MaxErrors {
		return res
	}
	omitted := len(res.Errors) - d.Limits.MaxErrors
	res.Errors = append(res.Errors[:d.Limits.MaxErrors:d.Limits.MaxErrors], &gqlerror.Error{
		Message:    fmt.Sprintf("%d more errors are left out", omitted),
		Extensions: map[string]any{"code": CodeTooManyErrors, "omitted": omitted},
	})
	return res
}

func refusal(code, message string, limit, value int) *gqlerror.Error {
	return &gqlerror.Error{Message: message, Extensions: map[string]any{"code": code, "limit": limit, "value": value}}
}

func timeoutError() *gqlerror.Error {
	return &gqlerror.Error{Message: models.ErrTimeout.Message, Extensions: map[string]any{"code": CodeTimeout}}
}

// Codes of persisted-query errors; PERSISTED_QUERY_NOT_FOUND and its message are Apollo's, which
// clients answer by sending the document with its hash.
const (
	CodePersistedQueryNotFound = "PERSISTED_QUERY_NOT_FOUND"
	CodePersistedQueryInvalid  = "PERSISTED_QUERY_INVALID"
	CodePersistedQueryMismatch = "PERSISTED_QUERY_HASH_MISMATCH"
)

func init() {
	errcode.RegisterErrorType(CodePersistedQueryInvalid, errcode.KindProtocol)
	errcode.RegisterErrorType(CodePersistedQueryMismatch, errcode.KindProtocol)
}

// persistedQuery resolves an automatic persisted query (Apollo's protocol): a request sends
// extensions.persistedQuery {version: 1, sha256Hash} and either no query, to run a document
// the service already holds, or the document, to register it. It returns the hash to register
// once the document has passed every limit.
func (d *Documents) persistedQuery(ctx context.Context, params *graphql.RawParams) (string, *gqlerror.Error) {
	ext, ok := params.Extensions["persistedQuery"]
	if !ok || ext == nil {
		return "", nil
	}
	pq, _ := ext.(map[string]any)
	hash, _ := pq["sha256Hash"].(string)
	if pq == nil || fmt.Sprint(pq["version"]) != "1" || !isSHA256Hex(hash) {
		return "", &gqlerror.Error{
			Message:    "extensions.persistedQuery must be {\"version\": 1, \"sha256Hash\": \"<64 lowercase hex digits>\"}",
			Extensions: map[string]any{"code": CodePersistedQueryInvalid},
		}
	}
	if params.Query == "" {
		query, ok := d.Persisted.Get(ctx, hash)
		if !ok {
			return "", &gqlerror.Error{Message: "PersistedQueryNotFound", Extensions: map[string]any{"code": CodePersistedQueryNotFound}}
		}
		params.Query = query
		return "", nil
	}
	sum := sha256.Sum256([]byte(params.Query))
	if hex.EncodeToString(sum[:]) != hash {
		return "", &gqlerror.Error{
			Message:    "extensions.persistedQuery.sha256Hash is not the SHA-256 of the query",
			Extensions: map[string]any{"code": CodePersistedQueryMismatch},
		}
	}
	return hash, nil
}

func isSHA256Hex(s string) bool {
	if len(s) != sha256.Size*2 {
		return false
	}
	for _, c := range s {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}
