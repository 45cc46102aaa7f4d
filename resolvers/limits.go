package resolvers

import (
	"context"
	"fmt"
	"strings"

	"github.com/99designs/gqlgen/complexity"
	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/partizap/vendor-inbox/graph"
	"github.com/partizap/vendor-inbox/models"
)

// Limits refuses, before anything runs, operations deeper, costlier or more aliased than
// allowed. A refusal's extensions carry a stable code, the limit and the operation's value.
type Limits struct {
	MaxDepth      int // nesting of selections; introspection fields are exempt
	MaxComplexity int // cost: 1 per field, a connection's children times its page size
	MaxAliases    int // fields requested under another name

	schema graphql.ExecutableSchema
}

var _ interface {
	graphql.HandlerExtension
	graphql.OperationContextMutator
} = &Limits{}

// Error codes of refused operations.
const (
	CodeTooDeep      = "QUERY_TOO_DEEP"
	CodeTooComplex   = "QUERY_TOO_COMPLEX"
	CodeTooManyAlias = "TOO_MANY_ALIASES"
)

func (l *Limits) ExtensionName() string { return "QueryLimits" }

func (l *Limits) Validate(schema graphql.ExecutableSchema) error {
	l.schema = schema
	return nil
}

func (l *Limits) MutateOperationContext(ctx context.Context, op *graphql.OperationContext) *gqlerror.Error {
	refuse := func(code, what string, value, limit int) *gqlerror.Error {
		return &gqlerror.Error{
			Message:    fmt.Sprintf("the operation's %s is %d, over the limit of %d", what, value, limit),
			Extensions: map[string]any{"code": code, "limit": limit, "value": value},
		}
	}
	if d := depth(op.Operation.SelectionSet); d > l.MaxDepth {
		return refuse(CodeTooDeep, "depth", d, l.MaxDepth)
	}
	if n := aliases(op.Operation.SelectionSet); n > l.MaxAliases {
		return refuse(CodeTooManyAlias, "number of aliases", n, l.MaxAliases)
	}
	if c := complexity.Calculate(ctx, l.schema, op.Operation, op.Variables); c > l.MaxComplexity {
		return refuse(CodeTooComplex, "complexity", c, l.MaxComplexity)
	}
	return nil
}

// depth is how deeply fields nest, fragments expanded.
func depth(set ast.SelectionSet) int {
	deepest := 0
	for _, sel := range set {
		d := 0
		switch s := sel.(type) {
		case *ast.Field:
			if strings.HasPrefix(s.Name, "__") {
				continue // introspection's shape is fixed by the schema, not by the client
			}
			d = 1 + depth(s.SelectionSet)
		case *ast.InlineFragment:
			d = depth(s.SelectionSet)
		case *ast.FragmentSpread:
			if s.Definition != nil {
				d = depth(s.Definition.SelectionSet)
			}
		}
		deepest = max(deepest, d)
	}
	return deepest
}

// aliases counts the fields the operation renames, each time they are reached.
func aliases(set ast.SelectionSet) int {
	n := 0
	for _, sel := range set {
		switch s := sel.(type) {
		case *ast.Field:
			if s.Alias != "" && s.Alias != s.Name {
				n++
			}
			n += aliases(s.SelectionSet)
		case *ast.InlineFragment:
			n += aliases(s.SelectionSet)
		case *ast.FragmentSpread:
			if s.Definition != nil {
				n += aliases(s.Definition.SelectionSet)
			}
		}
	}
	return n
}

// setComplexity prices the fields that return many objects by how many they may return.
func setComplexity(c *graph.ComplexityRoot) {
	c.Query.VendorConversations = func(child int, first *int, _ *string, last *int, _ *string) int {
		n := models.DefaultPageSize // out-of-range sizes are refused by the resolver; price them at the cap
		switch {
		case first != nil:
			n = *first
		case last != nil:
			n = *last
		}
		return 1 + min(max(n, 1), models.MaxPageSize)*child
	}
	c.Query.Nodes = func(child int, ids []string) int { return 1 + max(len(ids), 1)*child }
}
