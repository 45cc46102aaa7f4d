package resolvers

import (
	"fmt"
	"strings"

	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"github.com/vektah/gqlparser/v2/lexer"

	"github.com/partizap/vendor-inbox/graph"
	"github.com/partizap/vendor-inbox/models"
)

// Limits bound what checking and running one document may cost. Every limit but complexity is
// checked on the parsed document before validation, in one walk that visits each fragment
// definition once however often it is spread, so checking costs time linear in the document's
// size; validation then runs only on documents whose expansion is bounded.
type Limits struct {
	MaxTokens     int // lexical tokens of the document, comments included (the parser keeps them)
	MaxSelections int // fields and fragments any operation or fragment selects, spreads expanded
	MaxDepth      int // nesting of selections; introspection fields are exempt
	MaxAliases    int // fields requested under another name, each time they are reached
	MaxComplexity int // cost: 1 per field, a connection's children times its page size
	MaxErrors     int // errors shown in one response; the rest are counted in one more
	Introspection bool
}

// Error codes of refused operations.
const (
	CodeTooManyTokens         = "TOO_MANY_TOKENS"
	CodeTooManySelections     = "TOO_MANY_SELECTIONS"
	CodeTooDeep               = "QUERY_TOO_DEEP"
	CodeTooComplex            = "QUERY_TOO_COMPLEX"
	CodeTooManyAlias          = "TOO_MANY_ALIASES"
	CodeIntrospectionDisabled = "INTROSPECTION_DISABLED"
	CodeOperationNotFound     = "OPERATION_NOT_FOUND"
	CodeTooManyErrors         = "TOO_MANY_ERRORS"
	CodeTimeout               = "TIMEOUT"
)

func init() {
	// A refused document is the client's mistake in the request, not in the data it asked for:
	// gqlgen answers such errors with 422 (400 for application/graphql-response+json).
	for _, code := range []string{CodeTooManyTokens, CodeTooManySelections, CodeTooDeep, CodeTooComplex,
		CodeTooManyAlias, CodeIntrospectionDisabled, CodeOperationNotFound} {
		errcode.RegisterErrorType(code, errcode.KindProtocol)
	}
}

// countTokens counts the document's tokens, stopping once past limit; a lexical error ends the
// count, for the parser to report.
func countTokens(query string, limit int) int {
	lex := lexer.New(&ast.Source{Input: query})
	n := 0
	for n <= limit {
		tok, err := lex.ReadToken()
		if err != nil || tok.Kind == lexer.EOF {
			break
		}
		n++
	}
	return n
}

// check refuses a parsed document over the limits that do not depend on variables. It returns
// how many selections it visited: each selection of the document once.
func (l Limits) check(doc *ast.QueryDocument) (int, *gqlerror.Error) {
	m := measurer{fragments: map[string]*ast.FragmentDefinition{}, memo: map[string]*shape{}}
	for _, f := range doc.Fragments {
		if _, dup := m.fragments[f.Name]; !dup {
			m.fragments[f.Name] = f // a duplicate name is for validation to refuse
		}
	}
	var worst shape
	for _, op := range doc.Operations {
		worst = worst.widest(m.selectionSet(op.SelectionSet))
	}
	for _, f := range doc.Fragments {
		// Validation walks every fragment, spread or not; what runs is only what operations
		// reach, so depth and aliases are the operations' alone.
		s := m.fragment(f.Name)
		worst.selections = max(worst.selections, s.selections)
		worst.introspection = worst.introspection || s.introspection
	}
	return m.visited, l.refuse(worst)
}

func (l Limits) refuse(worst shape) *gqlerror.Error {
	switch {
	case worst.selections > l.MaxSelections:
		return refusal(CodeTooManySelections, fmt.Sprintf("the operation selects %d fields and fragments, fragments expanded, over the limit of %d", worst.selections, l.MaxSelections), l.MaxSelections, worst.selections)
	case worst.depth > l.MaxDepth:
		return refusal(CodeTooDeep, fmt.Sprintf("the operation's depth is %d, over the limit of %d", worst.depth, l.MaxDepth), l.MaxDepth, worst.depth)
	case worst.aliases > l.MaxAliases:
		return refusal(CodeTooManyAlias, fmt.Sprintf("the operation's number of aliases is %d, over the limit of %d", worst.aliases, l.MaxAliases), l.MaxAliases, worst.aliases)
	case worst.introspection && !l.Introspection:
		return &gqlerror.Error{Message: "introspection is disabled on this service", Extensions: map[string]any{"code": CodeIntrospectionDisabled}}
	}
	return nil
}

// shape is what a selection set asks for, fragments expanded.
type shape struct {
	selections    int // fields, inline fragments and spreads, counted where they would run
	depth         int // nesting of fields, introspection fields excluded
	aliases       int // renamed fields, counted where they would run
	introspection bool
}

// maxCount caps counts so that exponential expansions cannot overflow.
const maxCount = 1<<31 - 1

func plus(a, b int) int { return min(a+b, maxCount) }

func (s shape) widest(o shape) shape {
	return shape{max(s.selections, o.selections), max(s.depth, o.depth), max(s.aliases, o.aliases), s.introspection || o.introspection}
}

// measurer computes shapes, each fragment's once.
type measurer struct {
	fragments map[string]*ast.FragmentDefinition
	memo      map[string]*shape // nil while a fragment is being measured
	visited   int
}

func (m *measurer) fragment(name string) shape {
	if s, done := m.memo[name]; done {
		if s == nil {
			return shape{} // a cycle, which validation refuses
		}
		return *s
	}
	f := m.fragments[name]
	if f == nil {
		return shape{} // unknown, which validation refuses
	}
	m.memo[name] = nil
	s := m.selectionSet(f.SelectionSet)
	m.memo[name] = &s
	return s
}

func (m *measurer) selectionSet(set ast.SelectionSet) shape {
	var s shape
	for _, sel := range set {
		m.visited++
		var child shape
		switch sel := sel.(type) {
		case *ast.Field:
			child = m.selectionSet(sel.SelectionSet)
			introspection := strings.HasPrefix(sel.Name, "__")
			s.introspection = s.introspection || sel.Name == "__schema" || sel.Name == "__type"
			if !introspection {
				s.depth = max(s.depth, 1+child.depth)
			}
			if sel.Alias != "" && sel.Alias != sel.Name {
				s.aliases = plus(s.aliases, 1)
			}
		case *ast.InlineFragment:
			child = m.selectionSet(sel.SelectionSet)
			s.depth = max(s.depth, child.depth)
		case *ast.FragmentSpread:
			child = m.fragment(sel.Name)
			s.depth = max(s.depth, child.depth)
		}
		s.selections = plus(s.selections, plus(1, child.selections))
		s.aliases = plus(s.aliases, child.aliases)
		s.introspection = s.introspection || child.introspection
	}
	return s
}

// setComplexity prices the fields that return many objects by how many they may return.
func setComplexity(c *graph.ComplexityRoot) {
	c.Query.VendorConversations = func(child int, first *int, _ *string, last *int, _ *string, _ *graph.ConversationFilter) int {
		return pageComplexity(child, first, last)
	}
	c.Conversation.Messages = func(child int, first *int, _ *string, last *int, _ *string) int {
		return pageComplexity(child, first, last)
	}
	c.Query.Nodes = func(child int, ids []string) int { return 1 + max(len(ids), 1)*child }
}

// pageComplexity is the price of a page of first or last objects each costing child.
func pageComplexity(child int, first, last *int) int {
	n := models.DefaultPageSize // out-of-range sizes are refused by the resolver; price them at the cap
	switch {
	case first != nil:
		n = *first
	case last != nil:
		n = *last
	}
	return 1 + min(max(n, 1), models.MaxPageSize)*child
}
