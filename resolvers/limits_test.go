package resolvers

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"testing"

	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/parser"
)

// doubling is k fragments, each spreading the one before twice: 2^k fields from ~40k bytes.
func doubling(k int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "{ ...F%d } fragment F0 on Query { viewer { id } }", k)
	for i := 1; i <= k; i++ {
		fmt.Fprintf(&b, " fragment F%d on Query { ...F%d ...F%d }", i, i-1, i-1)
	}
	return b.String()
}

func TestLimitsMeasureEachFragmentOnce(t *testing.T) {
	limits := Limits{MaxSelections: maxCount, MaxDepth: maxCount, MaxAliases: maxCount, Introspection: true}
	tests := []struct {
		name                               string
		query                              string
		selections, depth, aliases, visits int
	}{
		{"fields", `{ viewer { id displayName } }`, 3, 2, 0, 3},
		{"aliases are counted where they run", `{ a: viewer { b: id } ...F ...F } fragment F on Query { c: viewer { id } }`, 2 + 2*3, 2, 4, 2 + 2 + 2},
		{"an alias equal to the name is no alias", `{ viewer: viewer { id } }`, 2, 2, 0, 2},
		{"inline fragments add no depth", `{ viewer { ... on User { id } } }`, 3, 2, 0, 3},
		{"introspection adds no depth", `{ __schema { types { fields { name } } } viewer { id } }`, 6, 2, 0, 6},
		{"a cycle ends", `{ ...A } fragment A on Query { viewer { id } ...B } fragment B on Query { ...A }`, 1 + 3 + 1, 2, 0, 1 + 3 + 1},
		{"an unknown fragment is empty", `{ ...Nowhere viewer { id } }`, 3, 2, 0, 3},
		{"doubling, k = 3", doubling(3), 1 + 2*(1+2*(1+2*(1+2))), 2, 0, 1 + 2 + 3*2},
		{"doubling, k = 40, saturates", doubling(40), maxCount, 2, 0, 1 + 2 + 40*2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc, err := parser.ParseQuery(&ast.Source{Input: tt.query})
			if err != nil {
				t.Fatal(err)
			}
			m := measurer{fragments: map[string]*ast.FragmentDefinition{}, memo: map[string]*shape{}}
			for _, f := range doc.Fragments {
				m.fragments[f.Name] = f
			}
			s := m.selectionSet(doc.Operations[0].SelectionSet)
			for _, f := range doc.Fragments {
				m.fragment(f.Name)
			}
			if s.selections != tt.selections || s.depth != tt.depth || s.aliases != tt.aliases || m.visited != tt.visits {
				t.Fatalf("selections %d depth %d aliases %d visits %d, want %d %d %d %d",
					s.selections, s.depth, s.aliases, m.visited, tt.selections, tt.depth, tt.aliases, tt.visits)
			}
			visited, refused := limits.check(doc)
			if visited != tt.visits || refused != nil {
				t.Fatalf("check visited %d (%v), want %d and no refusal", visited, refused, tt.visits)
			}
		})
	}
}

func TestLimitsRefuseWithCodes(t *testing.T) {
	limits := Limits{MaxSelections: 10, MaxDepth: 3, MaxAliases: 1}
	tests := []struct {
		name, query, code string
		value             int
	}{
		{"within", `{ a: viewer { id } }`, "", 0},
		{"selections", doubling(3), CodeTooManySelections, 31},
		{"selections of an unused fragment", `{ viewer { id } } fragment U on Query { ` + strings.Repeat("viewer { id } ", 6) + `}`, CodeTooManySelections, 12},
		{"depth", `{ viewer { id } vendorConversations { nodes { product { title } } } }`, CodeTooDeep, 4},
		{"aliases", `{ a: viewer { id } b: viewer { id } }`, CodeTooManyAlias, 2},
		{"introspection off", `{ ... on Query { s: __schema { queryType { name } } } }`, CodeIntrospectionDisabled, 0},
		{"introspection off, __type in a fragment", `{ ...I } fragment I on Query { __type(name: "User") { name } }`, CodeIntrospectionDisabled, 0},
		{"__typename is no introspection", `{ __typename }`, "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc, err := parser.ParseQuery(&ast.Source{Input: tt.query})
			if err != nil {
				t.Fatal(err)
			}
			_, refused := limits.check(doc)
			if tt.code == "" {
				if refused != nil {
					t.Fatalf("refused: %v", refused)
				}
				return
			}
			if refused == nil || refused.Extensions["code"] != tt.code {
				t.Fatalf("got %v, want %s", refused, tt.code)
			}
			if v, ok := refused.Extensions["value"]; ok && v != tt.value {
				t.Fatalf("value %v, want %d", v, tt.value)
			}
		})
	}
}

func TestCountTokensStopsPastTheLimit(t *testing.T) {
	tests := []struct {
		query string
		limit int
		want  int
	}{
		{`{ viewer { id } }`, 100, 6},
		{`# comments count: they are kept in the document
		  { viewer { id } }`, 100, 7},
		{`{ viewer { id } }`, 3, 4},
		{strings.Repeat("id ", 1_000_000), 10, 11},
		{`{ "unterminated`, 100, 1},
	}
	for _, tt := range tests {
		if got := countTokens(tt.query, tt.limit); got != tt.want {
			t.Errorf("countTokens(%.20q, %d) = %d, want %d", tt.query, tt.limit, got, tt.want)
		}
	}
}

func TestSizedCacheIsBoundedInBytes(t *testing.T) {
	ctx := context.Background()
	c := NewSizedCache(10, func(key, value string) int64 { return int64(len(value)) })
	c.Add(ctx, "a", "1234")
	c.Add(ctx, "b", "1234")
	if _, ok := c.Get(ctx, "a"); !ok { // a is now the most recently used
		t.Fatal("a is missing")
	}
	c.Add(ctx, "c", "1234") // 12 bytes: b, the least recently used, goes
	if _, ok := c.Get(ctx, "b"); ok {
		t.Fatal("b was kept over the limit")
	}
	if c.Bytes() != 8 || c.Len() != 2 {
		t.Fatalf("%d bytes in %d entries, want 8 in 2", c.Bytes(), c.Len())
	}
	c.Add(ctx, "huge", "12345678901")
	if _, ok := c.Get(ctx, "huge"); ok || c.Len() != 2 {
		t.Fatal("a value larger than the cache was stored, or evicted others")
	}
	c.Add(ctx, "a", "1") // replacing an entry gives its bytes back
	c.Remove("c")
	if v, _ := c.Get(ctx, "a"); v != "1" || c.Bytes() != 1 || c.Len() != 1 {
		t.Fatalf("a = %q, %d bytes in %d entries, want 1 byte in 1", v, c.Bytes(), c.Len())
	}
}

// TestDocumentBytesEstimate: what parsing a document allocates, its AST and its garbage, stays
// within the estimate the parsed-document cache charges, for small and large documents.
func TestDocumentBytesEstimate(t *testing.T) {
	for _, query := range []string{
		`{ viewer { id displayName } }`,
		doubling(30),
		`{ ` + strings.Repeat(`a: viewer { id displayName avatarUrl } `, 40) + `}`,
		`query($first: Int) { vendorConversations(first: $first) { edges { cursor node { id product { title images { databaseId } } } } } }`,
	} {
		const n = 50
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		for range n {
			if _, err := parser.ParseQuery(&ast.Source{Input: query}); err != nil {
				t.Fatal(err)
			}
		}
		runtime.ReadMemStats(&after)
		allocated := int64(after.TotalAlloc-before.TotalAlloc) / n
		if allocated > documentSize(query) {
			t.Errorf("parsing %.40q… (%d bytes) allocates %d bytes, over the charge of %d", query, len(query), allocated, documentSize(query))
		}
	}
}
