package loaders

import (
	"context"

	"github.com/partizap/vendor-inbox/models"
)

// ConversationFields says which nested fields of a list of conversations will be read.
type ConversationFields struct {
	Product       bool
	ProductImages bool
	ProductSeller bool
	Participants  bool
	LastMessage   bool
	MessageSender bool
	UnreadCount   bool
}

// AllConversationFields is every nested field, as the REST shape needs.
var AllConversationFields = ConversationFields{
	Product: true, ProductImages: true, ProductSeller: true, Participants: true,
	LastMessage: true, MessageSender: true, UnreadCount: true,
}

// VendorInbox returns a page of the viewer's conversations as a seller (see
// models.Store.VendorConversations) with the nested data f asks for already loaded. It is the
// one data path of the inbox: GraphQL and REST both read it, then read the nested fields from
// the loaders.
func (l *Loaders) VendorInbox(ctx context.Context, args models.PageArgs, f ConversationFields) (models.Page[*models.Conversation], error) {
	page, err := l.store.VendorConversations(ctx, l.viewerID, args)
	if err != nil {
		return page, err
	}
	return page, l.PrefetchConversations(ctx, page.Items, f)
}

// PrefetchConversations loads the requested nested data of convs with one query per kind,
// whatever len(convs) is, and primes the loaders with it.
func (l *Loaders) PrefetchConversations(ctx context.Context, convs []*models.Conversation, f ConversationFields) error {
	if len(convs) == 0 {
		return nil
	}
	ids := make([]int64, len(convs))
	productIDs := make([]int64, len(convs))
	for i, c := range convs {
		ids[i], productIDs[i] = c.ID, c.ProductID
	}
	// Participants first: they prime UserByID, which usually covers sellers and senders too.
	if f.Participants {
		if _, err := l.ParticipantsByConversationID.Prefetch(ctx, ids); err != nil {
			return err
		}
	}
	var userIDs []int64
	if f.Product || f.ProductImages || f.ProductSeller {
		products, err := l.ProductByID.Prefetch(ctx, productIDs)
		if err != nil {
			return err
		}
		if f.ProductImages {
			if _, err := l.ImagesByProductID.Prefetch(ctx, productIDs); err != nil {
				return err
			}
		}
		if f.ProductSeller {
			for _, p := range products {
				if p != nil {
					userIDs = append(userIDs, p.SellerID)
				}
			}
		}
	}
	if f.LastMessage || f.MessageSender {
		messages, err := l.LastMessageByConversationID.Prefetch(ctx, ids)
		if err != nil {
			return err
		}
		if f.MessageSender {
			for _, m := range messages {
				if m != nil {
					userIDs = append(userIDs, m.SenderID)
				}
			}
		}
	}
	if _, err := l.UserByID.Prefetch(ctx, userIDs); err != nil {
		return err
	}
	if f.UnreadCount {
		if _, err := l.UnreadCountByConversationID.Prefetch(ctx, ids); err != nil {
			return err
		}
	}
	return nil
}
