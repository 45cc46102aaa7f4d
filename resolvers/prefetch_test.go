package resolvers

import (
	"reflect"
	"slices"
	"testing"
	"unicode"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/validator/rules"

	"github.com/partizap/vendor-inbox/graph"
	"github.com/partizap/vendor-inbox/models"
	"github.com/partizap/vendor-inbox/models/loaders"
)

// TestPrefetchCoversEveryLoadedField: every field of a bound object type that is not a column
// (a model field tagged `gorm:"-"`, filled by the loaders' prefetch) has an entry in that type's
// prefetch table, every entry names such a field of the schema, and no object type that has a
// prefetch table has resolvers, which gqlgen would run once per object.
func TestPrefetchCoversEveryLoadedField(t *testing.T) {
	schema := graph.NewExecutableSchema(graph.Config{}).Schema()
	for _, tc := range []struct {
		typ   string
		model any
		table []string
		// Resolver fields answered for the viewer alone (any other user's is an error): one
		// statement a request, whatever a list holds.
		viewerOnly []string
	}{
		{"Conversation", models.Conversation{}, keys(conversationPrefetch), nil},
		{"Product", models.Product{}, keys(productPrefetch), nil},
		{"Message", models.Message{}, keys(messagePrefetch), nil},
		{"User", models.User{}, nil, []string{"unreadConversationsCount"}},
		{"ProductImage", models.ProductImage{}, nil, nil},
	} {
		t.Run(tc.typ, func(t *testing.T) {
			def := schema.Types[tc.typ]
			if def == nil {
				t.Fatalf("the schema has no type %s", tc.typ)
			}
			var loaded []string
			rt := reflect.TypeOf(tc.model)
			for i := range rt.NumField() {
				if f := rt.Field(i); f.Tag.Get("gorm") == "-" {
					loaded = append(loaded, lowerFirst(f.Name))
				}
			}
			// Fields with resolvers (those with arguments) must be prefetched for lists too.
			if root, ok := reflect.TypeFor[graph.ResolverRoot]().MethodByName(tc.typ); ok {
				resolvers := root.Type.Out(0)
				for i := range resolvers.NumMethod() {
					if name := lowerFirst(resolvers.Method(i).Name); !slices.Contains(tc.viewerOnly, name) {
						loaded = append(loaded, name)
					}
				}
			}
			slices.Sort(loaded)
			if !slices.Equal(loaded, tc.table) {
				t.Errorf("fields the prefetch fills %v, prefetch table %v", loaded, tc.table)
			}
			for _, name := range loaded {
				if def.Fields.ForName(name) == nil {
					t.Errorf("%s.%s is filled by the prefetch but is no field of the schema", tc.typ, name)
				}
			}
			// An object-valued field that is a column cannot exist: each must be loaded.
			for _, f := range def.Fields {
				if named := schema.Types[f.Type.Name()]; named != nil && named.Kind == ast.Object && !slices.Contains(loaded, f.Name) {
					t.Errorf("%s.%s is an object but the prefetch does not load it", tc.typ, f.Name)
				}
			}
		})
	}
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func lowerFirst(s string) string {
	r := []rune(s)
	r[0] = unicode.ToLower(r[0])
	return string(r)
}

// TestPrefetchFollowsTheSelection: what a page of conversations prefetches is exactly what the
// operation selects, through fragments, inline fragments, aliases and directives.
func TestPrefetchFollowsTheSelection(t *testing.T) {
	schema := graph.NewExecutableSchema(graph.Config{}).Schema()
	for _, tc := range []struct {
		name  string
		query string
		vars  map[string]any
		want  loaders.ConversationFields
	}{
		{"scalars only", `{ vendorConversations { nodes { id updatedAt } } }`, nil, loaders.ConversationFields{}},
		{"product without nested", `{ vendorConversations { nodes { product { title } } } }`, nil,
			loaders.ConversationFields{Product: true}},
		{"product images through edges", `{ vendorConversations { edges { node { product { images { status } } } } } }`, nil,
			loaders.ConversationFields{Product: true, ProductImages: true}},
		{"last message sender in a fragment", `{ vendorConversations { nodes { ...Row } } }
			fragment Row on Conversation { lastMessage { sender { displayName } } unreadCount }`, nil,
			loaders.ConversationFields{LastMessage: true, MessageSender: true, UnreadCount: true}},
		{"inline fragment on Node", `{ vendorConversations { nodes { ... on Node { ... on Conversation { participants { id } } } } } }`, nil,
			loaders.ConversationFields{Participants: true}},
		{"aliases add up", `{ vendorConversations { nodes { a: product { seller { id } } b: product { images { status } } } } }`, nil,
			loaders.ConversationFields{Product: true, ProductSeller: true, ProductImages: true}},
		{"skipped fields are not loaded", `query($skip: Boolean!) { vendorConversations { nodes { product @skip(if: $skip) { seller { id } } unreadCount @include(if: $skip) } } }`,
			map[string]any{"skip": true}, loaders.ConversationFields{UnreadCount: true}},
		{"everything", `{ vendorConversations { nodes { product { images { status } seller { id } } participants { id } lastMessage { sender { id } } unreadCount } } }`, nil,
			loaders.AllConversationFields},
	} {
		t.Run(tc.name, func(t *testing.T) {
			doc, errs := gqlparser.LoadQueryWithRules(schema, tc.query, rules.NewDefaultRules())
			if errs != nil {
				t.Fatal(errs)
			}
			op := &graphql.OperationContext{Doc: doc, Operation: doc.Operations[0], Variables: tc.vars}
			var f loaders.ConversationFields
			for _, connection := range graphql.CollectFields(op, doc.Operations[0].SelectionSet, []string{"Query"}) {
				f, _ = conversationFieldsOf(op, connection.Selections)
			}
			if !reflect.DeepEqual(f, tc.want) {
				t.Errorf("prefetch %+v, want %+v", f, tc.want)
			}
		})
	}
}
