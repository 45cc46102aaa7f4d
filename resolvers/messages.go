package resolvers

import (
	"context"

	"github.com/99designs/gqlgen/graphql"

	"github.com/partizap/vendor-inbox/graph"
	"github.com/partizap/vendor-inbox/models"
	"github.com/partizap/vendor-inbox/models/loaders"
)

type (
	conversationResolver      struct{ *Resolver }
	messageConnectionResolver struct{ *Resolver }
	userResolver              struct{ *Resolver }
)

// Messages is a page of the conversation's thread, read through the request's loaders: pages of
// several conversations asked for alike are one statement (and a list of conversations
// prefetches them: loaders.ConversationFields.Threads).
func (r conversationResolver) Messages(ctx context.Context, c *models.Conversation, first *int, after *string, last *int, before *string) (*graph.MessageConnection, error) {
	if _, err := models.RequireViewer(ctx); err != nil {
		return nil, err
	}
	args, err := r.pageArgs(models.MessagesScope(c.ID), first, after, last, before)
	if err != nil {
		return nil, err
	}
	fields := threadFieldsOf(graphql.GetOperationContext(ctx), graphql.GetFieldContext(ctx).Field.Selections)
	args.FarSide = fields.FarSide
	l := loaders.For(ctx)
	page, err := l.ThreadPages.Get(ctx, loaders.ThreadKey{ConversationID: c.ID, Page: loaders.ThreadPageOf(args)})
	if err != nil {
		return nil, err
	}
	if page == nil {
		return nil, models.ErrNotParticipant
	}
	if fields.Sender {
		if err := l.PrefetchSenders(ctx, page.Items); err != nil {
			return nil, err
		}
	}
	conn := &graph.MessageConnection{
		ConversationID: c.ID,
		Edges:          make([]*graph.MessageEdge, len(page.Items)),
		Nodes:          page.Items,
		PageInfo:       &graph.PageInfo{HasNextPage: page.HasNextPage, HasPreviousPage: page.HasPreviousPage},
	}
	scope := models.MessagesScope(c.ID)
	for i, m := range page.Items {
		conn.Edges[i] = &graph.MessageEdge{Cursor: r.Cursors.EncodeIn(scope, m.ThreadKey()), Node: m}
	}
	if n := len(conn.Edges); n > 0 {
		conn.PageInfo.StartCursor, conn.PageInfo.EndCursor = &conn.Edges[0].Cursor, &conn.Edges[n-1].Cursor
	}
	return conn, nil
}

// pageArgs checks a connection's arguments, decoding its cursors in scope.
func (r *Resolver) pageArgs(scope string, first *int, after *string, last *int, before *string) (models.PageArgs, error) {
	args := models.PageArgs{First: first, Last: last}
	for _, c := range []struct {
		field string
		value *string
		key   **models.InboxKey
	}{{"after", after, &args.After}, {"before", before, &args.Before}} {
		if c.value == nil {
			continue
		}
		k, err := r.Cursors.DecodeIn(scope, *c.value)
		if err != nil {
			return args, &models.Error{Code: models.EINVALID, Field: c.field, Message: c.field + ": " + models.ErrorMessage(err)}
		}
		*c.key = &k
	}
	return args, nil
}

// TotalCount counts the conversation's messages; the counts of several conversations are one
// statement.
func (r messageConnectionResolver) TotalCount(ctx context.Context, conn *graph.MessageConnection) (int, error) {
	return loaders.For(ctx).MessageCountByThread.Get(ctx, conn.ConversationID)
}

// UnreadConversationsCount is the viewer's badge; nobody else's is shown.
func (r userResolver) UnreadConversationsCount(ctx context.Context, u *models.User) (int, error) {
	viewer, err := models.RequireViewer(ctx)
	if err != nil {
		return 0, err
	}
	if viewer.ID != u.ID {
		return 0, &models.Error{Code: models.ENOTFOUND, Message: "unreadConversationsCount is only the viewer's own"}
	}
	return r.Store.UnreadConversationsCount(ctx, viewer.ID)
}
