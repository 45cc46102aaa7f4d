package resolvers

import (
	"context"
	"fmt"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/partizap/vendor-inbox/graph"
	"github.com/partizap/vendor-inbox/models"
	"github.com/partizap/vendor-inbox/models/loaders"
)

// maxNodes bounds `nodes(ids:)` like a page.
const maxNodes = models.MaxPageSize

func (queryResolver) Viewer(ctx context.Context) (*models.User, error) {
	return models.Viewer(ctx)
}

func (r queryResolver) Node(ctx context.Context, id string) (models.Node, error) {
	nodes, err := r.Nodes(ctx, []string{id})
	if err != nil {
		return nil, err
	}
	return nodes[0], nil
}

// nodeRef is a parsed global id.
type nodeRef struct {
	typ string
	id  int64
}

// Nodes loads the objects one batch per type. An object the viewer may not see is null, exactly
// like one that does not exist: conversations, messages and products are filtered by the viewer
// in their queries, the same ones their other paths read through the loaders.
func (r queryResolver) Nodes(ctx context.Context, ids []string) ([]models.Node, error) {
	if len(ids) > maxNodes {
		return nil, &models.Error{Code: models.EINVALID, Field: "ids", Message: fmt.Sprintf("ids may hold at most %d ids", maxNodes)}
	}
	refs := make([]nodeRef, len(ids))
	byType := map[string][]int64{}
	for i, s := range ids {
		typ, id, err := models.ParseGlobalID(s)
		if err != nil {
			return nil, err
		}
		refs[i] = nodeRef{typ, id}
		byType[typ] = append(byType[typ], id)
	}
	if _, err := models.Viewer(ctx); err != nil {
		return nil, err
	}
	l := loaders.For(ctx)
	found := map[nodeRef]models.Node{}
	for _, load := range []func() error{
		func() error { return collect(ctx, l.ConversationByID, models.TypeConversation, byType, found) },
		func() error { return collect(ctx, l.MessageByID, models.TypeMessage, byType, found) },
		func() error { return collect(ctx, l.UserByID, models.TypeUser, byType, found) },
		func() error { return collect(ctx, l.ProductByID, models.TypeProduct, byType, found) },
	} {
		if err := load(); err != nil {
			return nil, err
		}
	}
	out := make([]models.Node, len(refs))
	var conversations []*models.Conversation
	var products []*models.Product
	var messages []*models.Message
	for i, ref := range refs {
		out[i] = found[ref]
		switch n := out[i].(type) {
		case *models.Conversation:
			conversations = append(conversations, n)
		case *models.Product:
			products = append(products, n)
		case *models.Message:
			messages = append(messages, n)
		}
	}
	// The nested fields come in one batch per kind, as in a page of the inbox.
	op, sel := graphql.GetOperationContext(ctx), graphql.GetFieldContext(ctx).Field.Selections
	var f loaders.ConversationFields
	addConversationFields(op, sel, &f)
	if err := l.PrefetchConversations(ctx, conversations, f); err != nil {
		return nil, err
	}
	if err := l.PrefetchProducts(ctx, products, productFieldsOf(op, sel)); err != nil {
		return nil, err
	}
	if messageFieldsOf(op, sel).Sender {
		if err := l.PrefetchSenders(ctx, messages); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// collect loads the ids of type typ in one batch and records those found in found.
func collect[V interface {
	comparable
	models.Node
}](ctx context.Context, l *loaders.Loader[int64, V], typ string, byType map[string][]int64, found map[nodeRef]models.Node) error {
	ids := byType[typ]
	if len(ids) == 0 {
		return nil
	}
	values, err := l.Prefetch(ctx, ids)
	if err != nil {
		return err
	}
	var missing V
	for i, v := range values {
		if v != missing {
			found[nodeRef{typ, ids[i]}] = v
		}
	}
	return nil
}

func (r queryResolver) VendorConversations(ctx context.Context, first *int, after *string, last *int, before *string, filter *graph.ConversationFilter) (*graph.ConversationConnection, error) {
	if _, err := models.RequireViewer(ctx); err != nil {
		return nil, err
	}
	f, err := inboxFilter(filter)
	if err != nil {
		return nil, err
	}
	args, err := r.pageArgs(f.Scope(), first, after, last, before)
	if err != nil {
		return nil, err
	}
	args.Filter = f
	fields, farSide := requestedConversationFields(ctx)
	args.FarSide = farSide
	page, err := loaders.For(ctx).VendorInbox(ctx, args, fields)
	if err != nil {
		return nil, err
	}
	conn := &graph.ConversationConnection{
		Filter: f,
		Edges:  make([]*graph.ConversationEdge, len(page.Items)),
		Nodes:  page.Items,
		PageInfo: &graph.PageInfo{
			HasNextPage:     page.HasNextPage,
			HasPreviousPage: page.HasPreviousPage,
		},
	}
	for i, c := range page.Items {
		conn.Edges[i] = &graph.ConversationEdge{Cursor: r.Cursors.EncodeIn(f.Scope(), c.InboxKey()), Node: c}
	}
	if n := len(conn.Edges); n > 0 {
		conn.PageInfo.StartCursor = &conn.Edges[0].Cursor
		conn.PageInfo.EndCursor = &conn.Edges[n-1].Cursor
	}
	return conn, nil
}

// TotalCount runs only when the client selects it.
func (r connectionResolver) TotalCount(ctx context.Context, conn *graph.ConversationConnection) (int, error) {
	viewer, err := models.RequireViewer(ctx)
	if err != nil {
		return 0, err
	}
	return r.Store.CountVendorConversations(ctx, viewer.ID, conn.Filter)
}

// inboxFilter checks a ConversationFilter's ids.
func inboxFilter(filter *graph.ConversationFilter) (models.InboxFilter, error) {
	var f models.InboxFilter
	if filter == nil {
		return f, nil
	}
	f.UnreadOnly = filter.UnreadOnly != nil && *filter.UnreadOnly
	for _, id := range []struct {
		field, typ string
		value      *string
		into       *int64
	}{
		{"filter.productId", models.TypeProduct, filter.ProductID, &f.ProductID},
		{"filter.buyerId", models.TypeUser, filter.BuyerID, &f.BuyerID},
	} {
		if id.value == nil {
			continue
		}
		typ, n, err := models.ParseGlobalID(*id.value)
		if err != nil || typ != id.typ {
			return f, &models.Error{Code: models.EINVALID, Field: id.field, Message: id.field + " must be the id of a " + id.typ}
		}
		*id.into = n
	}
	return f, nil
}

// requestedConversationFields reads, from the selection of the connection being resolved,
// which nested fields of its conversations the client asked for (see conversationFieldsOf).
func requestedConversationFields(ctx context.Context) (loaders.ConversationFields, bool) {
	return conversationFieldsOf(graphql.GetOperationContext(ctx), graphql.GetFieldContext(ctx).Field.Selections)
}

// conversationFieldsOf reads, from the selection set of a connection of conversations, which
// nested fields of its conversations it asks for, through edges.node and nodes, fragments
// included; and whether it asks what lies beyond the page (pageInfo's hasPreviousPage or
// hasNextPage), which costs a probe.
func conversationFieldsOf(op *graphql.OperationContext, sel ast.SelectionSet) (f loaders.ConversationFields, farSide bool) {
	for _, field := range graphql.CollectFields(op, sel, []string{"ConversationConnection"}) {
		switch field.Name {
		case "edges":
			for _, edge := range graphql.CollectFields(op, field.Selections, []string{"ConversationEdge"}) {
				if edge.Name == "node" {
					addConversationFields(op, edge.Selections, &f)
				}
			}
		case "nodes":
			addConversationFields(op, field.Selections, &f)
		case "pageInfo":
			for _, info := range graphql.CollectFields(op, field.Selections, []string{"PageInfo"}) {
				farSide = farSide || info.Name == "hasPreviousPage" || info.Name == "hasNextPage"
			}
		}
	}
	return f, farSide
}
