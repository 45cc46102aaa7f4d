package resolvers

import (
	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/partizap/vendor-inbox/models"
	"github.com/partizap/vendor-inbox/models/loaders"
)

// What the loaders' prefetch must load for each selected field of an object type whose value is
// not a column: one entry per model field the prefetch fills (`gorm:"-"`). gqlgen's field
// collection (fragments, inline fragments, @skip and @include applied) finds the selected
// fields; TestPrefetchCoversEveryLoadedField keeps these tables in step with the schema and the
// models, so a new nested field cannot silently fall back to one query per object.
var (
	conversationPrefetch = map[string]func(op *graphql.OperationContext, field graphql.CollectedField, f *loaders.ConversationFields){
		"product": func(op *graphql.OperationContext, field graphql.CollectedField, f *loaders.ConversationFields) {
			f.Product = true
			pf := productFieldsOf(op, field.Selections)
			f.ProductImages, f.ProductSeller = f.ProductImages || pf.Images, f.ProductSeller || pf.Seller
		},
		"participants": func(_ *graphql.OperationContext, _ graphql.CollectedField, f *loaders.ConversationFields) {
			f.Participants = true
		},
		"lastMessage": func(op *graphql.OperationContext, field graphql.CollectedField, f *loaders.ConversationFields) {
			f.LastMessage = true
			f.MessageSender = f.MessageSender || messageFieldsOf(op, field.Selections).Sender
		},
		"unreadCount": func(_ *graphql.OperationContext, _ graphql.CollectedField, f *loaders.ConversationFields) {
			f.UnreadCount = true
		},
		// A resolver (it has arguments): for a list, the page every conversation asks for
		// alike, without cursors (a cursor belongs to one conversation), is read ahead in one
		// statement; the resolver then finds it loaded.
		"messages": func(op *graphql.OperationContext, field graphql.CollectedField, f *loaders.ConversationFields) {
			args := field.ArgumentMap(op.Variables)
			if args["after"] != nil || args["before"] != nil {
				return
			}
			page := models.PageArgs{First: intArg(args["first"]), Last: intArg(args["last"])}
			tf := threadFieldsOf(op, field.Selections)
			page.FarSide = tf.FarSide
			f.Threads = append(f.Threads, loaders.ThreadFields{Page: loaders.ThreadPageOf(page), Sender: tf.Sender, TotalCount: tf.TotalCount})
		},
	}
	productPrefetch = map[string]func(f *loaders.ProductFields){
		"images": func(f *loaders.ProductFields) { f.Images = true },
		"seller": func(f *loaders.ProductFields) { f.Seller = true },
	}
	messagePrefetch = map[string]func(f *messageFields){
		"sender": func(f *messageFields) { f.Sender = true },
	}
)

// messageFields says which nested fields of a list of messages will be read.
type messageFields struct{ Sender bool }

// threadFields says what a selection of a MessageConnection reads.
type threadFields struct{ Sender, TotalCount, FarSide bool }

// threadFieldsOf reads sel, a MessageConnection's selection set.
func threadFieldsOf(op *graphql.OperationContext, sel ast.SelectionSet) (f threadFields) {
	for _, field := range graphql.CollectFields(op, sel, []string{"MessageConnection"}) {
		switch field.Name {
		case "edges":
			for _, edge := range graphql.CollectFields(op, field.Selections, []string{"MessageEdge"}) {
				if edge.Name == "node" {
					f.Sender = f.Sender || messageFieldsOf(op, edge.Selections).Sender
				}
			}
		case "nodes":
			f.Sender = f.Sender || messageFieldsOf(op, field.Selections).Sender
		case "totalCount":
			f.TotalCount = true
		case "pageInfo":
			for _, info := range graphql.CollectFields(op, field.Selections, []string{"PageInfo"}) {
				f.FarSide = f.FarSide || info.Name == "hasPreviousPage" || info.Name == "hasNextPage"
			}
		}
	}
	return f
}

// intArg is an optional Int argument as ArgumentMap gives it; a value out of range is left for
// the resolver to refuse.
func intArg(v any) *int {
	n, ok := v.(int64)
	if !ok || n < -1<<31 || n > 1<<31-1 {
		if i, ok := v.(int); ok {
			return &i
		}
		return nil
	}
	i := int(n)
	return &i
}

// addConversationFields adds to f what the conversations' selection sel reads.
func addConversationFields(op *graphql.OperationContext, sel ast.SelectionSet, f *loaders.ConversationFields) {
	for _, field := range graphql.CollectFields(op, sel, []string{"Conversation", "Node"}) {
		if add, ok := conversationPrefetch[field.Name]; ok {
			add(op, field, f)
		}
	}
}

// productFieldsOf says which nested fields of products sel reads.
func productFieldsOf(op *graphql.OperationContext, sel ast.SelectionSet) (f loaders.ProductFields) {
	for _, field := range graphql.CollectFields(op, sel, []string{"Product", "Node"}) {
		if add, ok := productPrefetch[field.Name]; ok {
			add(&f)
		}
	}
	return f
}

// messageFieldsOf says which nested fields of messages sel reads.
func messageFieldsOf(op *graphql.OperationContext, sel ast.SelectionSet) (f messageFields) {
	for _, field := range graphql.CollectFields(op, sel, []string{"Message", "Node"}) {
		if add, ok := messagePrefetch[field.Name]; ok {
			add(&f)
		}
	}
	return f
}
