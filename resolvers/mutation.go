package resolvers

import (
	"context"
	"math"
	"time"

	"github.com/99designs/gqlgen/graphql"

	"github.com/partizap/vendor-inbox/graph"
	"github.com/partizap/vendor-inbox/models"
	"github.com/partizap/vendor-inbox/models/loaders"
)

type mutationResolver struct{ *Resolver }

// SendMessage checks and normalizes the input, answers a retry with the message its key sent,
// and otherwise takes one message from the sender's allowance and sends it (models.Store's
// SendMessage, one transaction). The payload's conversation is read after the write, through
// the same path as any conversation, so clients see its new lastMessage, updatedAt and counts.
func (r mutationResolver) SendMessage(ctx context.Context, input graph.SendMessageInput) (*graph.SendMessagePayload, error) {
	viewer, err := models.RequireViewer(ctx)
	if err != nil {
		return nil, err
	}
	conversationID, err := conversationIDArg("conversationId", input.ConversationID)
	if err != nil {
		return nil, err
	}
	out, err := models.OutgoingMessage{
		ConversationID: conversationID, Text: input.Text, ImageURL: input.ImageURL, ClientMutationID: input.ClientMutationID,
	}.Normalize()
	if err != nil {
		return nil, err
	}
	// A retry costs no allowance: it writes nothing.
	msg, err := r.Store.SentMessage(ctx, viewer.ID, out.ClientMutationID)
	if err != nil {
		return nil, err
	}
	if msg == nil {
		if ok, wait := r.SendLimiter.Allow(viewer.ID, time.Now()); !ok {
			return nil, &models.Error{
				Code:       models.ERATELIMITED,
				Message:    "too many messages: wait before sending more",
				RetryAfter: time.Duration(math.Ceil(wait.Seconds())) * time.Second,
			}
		}
	}
	if msg, _, err = r.Store.SendMessage(ctx, viewer.ID, out); err != nil {
		return nil, err
	}
	conv, err := r.payloadConversation(ctx, conversationID)
	if err != nil {
		return nil, err
	}
	if err := prefetchPayloadMessage(ctx, msg); err != nil {
		return nil, err
	}
	return &graph.SendMessagePayload{Message: msg, Conversation: conv, ClientMutationID: out.ClientMutationID}, nil
}

// MarkConversationRead marks the conversation read up to input.UpTo and answers it as it is
// now.
func (r mutationResolver) MarkConversationRead(ctx context.Context, input graph.MarkConversationReadInput) (*graph.MarkConversationReadPayload, error) {
	viewer, err := models.RequireViewer(ctx)
	if err != nil {
		return nil, err
	}
	conversationID, err := conversationIDArg("conversationId", input.ConversationID)
	if err != nil {
		return nil, err
	}
	var upTo int64
	if input.UpTo != nil {
		typ, id, err := models.ParseGlobalID(*input.UpTo)
		if err != nil || typ != models.TypeMessage {
			return nil, &models.Error{Code: models.EINVALID, Field: "upTo", Message: "upTo must be the id of a Message"}
		}
		upTo = id
	}
	if input.ClientMutationID != nil && len(*input.ClientMutationID) > 64 {
		return nil, &models.Error{Code: models.EINVALID, Field: "clientMutationId", Message: "clientMutationId may be at most 64 characters"}
	}
	if err := r.Store.MarkConversationRead(ctx, viewer.ID, conversationID, upTo); err != nil {
		return nil, err
	}
	conv, err := r.payloadConversation(ctx, conversationID)
	if err != nil {
		return nil, err
	}
	return &graph.MarkConversationReadPayload{Conversation: conv, ClientMutationID: input.ClientMutationID}, nil
}

// conversationIDArg parses a Conversation's global id given as field.
func conversationIDArg(field, id string) (int64, error) {
	typ, n, err := models.ParseGlobalID(id)
	if err != nil || typ != models.TypeConversation {
		return 0, &models.Error{Code: models.EINVALID, Field: field, Message: field + " must be the id of a Conversation"}
	}
	return n, nil
}

// payloadConversation loads the conversation of a payload after its write, with the nested
// fields the payload's `conversation` selects, in one batch per kind as everywhere.
func (r mutationResolver) payloadConversation(ctx context.Context, id int64) (*models.Conversation, error) {
	l := loaders.For(ctx)
	convs, err := l.ConversationByID.Prefetch(ctx, []int64{id})
	if err != nil {
		return nil, err
	}
	if convs[0] == nil {
		return nil, models.ErrNotParticipant
	}
	op := graphql.GetOperationContext(ctx)
	var f loaders.ConversationFields
	for _, field := range graphql.CollectFields(op, graphql.GetFieldContext(ctx).Field.Selections, nil) {
		if field.Name == "conversation" {
			addConversationFields(op, field.Selections, &f)
		}
	}
	return convs[0], l.PrefetchConversations(ctx, convs, f)
}

// prefetchPayloadMessage sets the sender of a payload's message when the payload selects it.
func prefetchPayloadMessage(ctx context.Context, m *models.Message) error {
	op := graphql.GetOperationContext(ctx)
	for _, field := range graphql.CollectFields(op, graphql.GetFieldContext(ctx).Field.Selections, nil) {
		if field.Name == "message" && messageFieldsOf(op, field.Selections).Sender {
			return loaders.For(ctx).PrefetchSenders(ctx, []*models.Message{m})
		}
	}
	return nil
}
