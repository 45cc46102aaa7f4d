package loaders

import (
	"context"
	"fmt"

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
	// Threads are the pages of messages every conversation of the list asks for.
	Threads []ThreadFields
}

// ThreadFields is a page of each conversation's messages to load, and what of it will be read.
type ThreadFields struct {
	Page               ThreadPage
	Sender, TotalCount bool
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
	// The page's statement reads the conversations with their products, images, last messages
	// and participants (who include the sellers and senders of a seller's inbox).
	with := models.InboxWith{
		Product:      f.Product || f.ProductImages || f.ProductSeller,
		LastMessage:  f.LastMessage || f.MessageSender,
		Images:       f.ProductImages,
		Participants: f.Participants,
	}
	page, err := l.store.VendorConversations(ctx, l.viewerID, args, with)
	if err != nil {
		return page, err
	}
	return page, l.prefetchConversations(ctx, page.Items, f, with)
}

// PrefetchConversations loads the requested nested data of convs with one query per kind,
// whatever len(convs) is, primes the loaders with it, and sets it on the models' nested fields
// (Conversation.Product, Product.Images, …), which GraphQL reads directly.
func (l *Loaders) PrefetchConversations(ctx context.Context, convs []*models.Conversation, f ConversationFields) error {
	return l.prefetchConversations(ctx, convs, f, models.InboxWith{})
}

// prefetchConversations is PrefetchConversations for conversations that come with the parts
// loaded says, which it primes the loaders with instead of loading them. Those primes wait
// until a loader is next used (pendingPrimes): the page's fields are set on its models, which
// is what REST and GraphQL read.
func (l *Loaders) prefetchConversations(ctx context.Context, convs []*models.Conversation, f ConversationFields, loaded models.InboxWith) error {
	if len(convs) == 0 {
		return nil
	}
	ids := make([]int64, len(convs))
	productIDs := make([]int64, len(convs))
	for i, c := range convs {
		ids[i], productIDs[i] = c.ID, c.ProductID
	}
	// Participants first: in a seller's inbox they are the sellers and the senders too.
	var participants map[int64]*models.User
	switch {
	case f.Participants && loaded.Participants:
		if f.ProductSeller || f.MessageSender {
			participants = make(map[int64]*models.User, 2*len(convs))
			for _, c := range convs {
				for _, u := range c.Participants {
					participants[u.ID] = u
				}
			}
		}
	case f.Participants:
		lists, err := l.ParticipantsByConversationID.Prefetch(ctx, ids)
		if err != nil {
			return err
		}
		for i, c := range convs {
			c.Participants = lists[i]
		}
	}
	var products []*models.Product
	if f.Product || f.ProductImages || f.ProductSeller {
		if loaded.Product {
			products = make([]*models.Product, len(convs))
			for i, c := range convs {
				products[i] = c.Product
			}
		} else {
			var err error
			if products, err = l.ProductByID.Prefetch(ctx, productIDs); err != nil {
				return err
			}
		}
		for i, c := range convs {
			if c.Product = products[i]; c.Product == nil {
				return fmt.Errorf("product %d of conversation %d is missing", c.ProductID, c.ID)
			}
		}
	}
	var messages []*models.Message
	if f.LastMessage || f.MessageSender {
		if loaded.LastMessage {
			messages = make([]*models.Message, len(convs))
			for i, c := range convs {
				messages[i] = c.LastMessage
			}
		} else {
			var err error
			if messages, err = l.LastMessageByConversationID.Prefetch(ctx, ids); err != nil {
				return err
			}
			for i, c := range convs {
				c.LastMessage = messages[i]
			}
		}
	}
	if f.UnreadCount {
		// The seller's count is kept on the conversation (SellerUnreadCount, exact in every
		// write's transaction): only the others' are counted, below. Set before the primes
		// are queued: a lookup of a seller outside the participants applies them.
		for _, c := range convs {
			if c.SellerID == l.viewerID {
				c.UnreadCount = c.SellerUnreadCount
			}
		}
	}
	l.pending.add(func() { l.primeLoaded(ctx, convs, f, loaded) })
	if !f.MessageSender {
		messages = nil
	}
	images := f.ProductImages && !loaded.Images
	if err := l.prefetch(ctx, products, ProductFields{Images: images, Seller: f.ProductSeller}, messages, participants); err != nil {
		return err
	}
	if f.UnreadCount {
		var others []*models.Conversation
		var otherIDs []int64
		for _, c := range convs {
			if c.SellerID != l.viewerID {
				others, otherIDs = append(others, c), append(otherIDs, c.ID)
			}
		}
		counts, err := l.UnreadCountByConversationID.Prefetch(ctx, otherIDs)
		if err != nil {
			return err
		}
		for i, c := range others {
			c.UnreadCount = counts[i]
		}
	}
	return l.prefetchThreads(ctx, ids, f.Threads)
}

// primeLoaded primes the loaders with what prefetchConversations set on convs from the parts
// their statement brought (loaded), without applying the pending primes: it is one of them.
func (l *Loaders) primeLoaded(ctx context.Context, convs []*models.Conversation, f ConversationFields, loaded models.InboxWith) {
	for _, c := range convs {
		if f.Participants && loaded.Participants {
			l.ParticipantsByConversationID.loader.Prime(ctx, c.ID, c.Participants)
			for _, u := range c.Participants {
				l.UserByID.loader.Prime(ctx, u.ID, u)
			}
		}
		if c.Product != nil && loaded.Product {
			l.ProductByID.loader.Prime(ctx, c.ProductID, c.Product)
			if f.ProductImages && loaded.Images {
				l.ImagesByProductID.loader.Prime(ctx, c.ProductID, c.Product.Images)
			}
		}
		if (f.LastMessage || f.MessageSender) && loaded.LastMessage {
			l.LastMessageByConversationID.loader.Prime(ctx, c.ID, c.LastMessage)
		}
		if f.UnreadCount && c.SellerID == l.viewerID {
			l.UnreadCountByConversationID.loader.Prime(ctx, c.ID, c.UnreadCount)
		}
	}
}

// prefetchThreads loads the pages of messages threads ask for, of every conversation of ids,
// with their senders and counts when read: one statement per page asked for and per kind.
func (l *Loaders) prefetchThreads(ctx context.Context, ids []int64, threads []ThreadFields) error {
	var senders []*models.Message
	counts := false
	for _, t := range threads {
		keys := make([]ThreadKey, len(ids))
		for i, id := range ids {
			keys[i] = ThreadKey{ConversationID: id, Page: t.Page}
		}
		pages, err := l.ThreadPages.Prefetch(ctx, keys)
		if err != nil {
			return err
		}
		for _, p := range pages {
			if p != nil && t.Sender {
				senders = append(senders, p.Items...)
			}
		}
		counts = counts || t.TotalCount
	}
	if counts {
		if _, err := l.MessageCountByThread.Prefetch(ctx, ids); err != nil {
			return err
		}
	}
	if len(senders) == 0 {
		return nil
	}
	return l.PrefetchSenders(ctx, senders)
}

// ProductFields says which nested fields of a list of products will be read.
type ProductFields struct{ Images, Seller bool }

// PrefetchProducts is PrefetchConversations for products, nil ones skipped.
func (l *Loaders) PrefetchProducts(ctx context.Context, products []*models.Product, f ProductFields) error {
	return l.prefetch(ctx, products, f, nil, nil)
}

// PrefetchSenders sets the senders of messages, nil ones skipped.
func (l *Loaders) PrefetchSenders(ctx context.Context, messages []*models.Message) error {
	return l.prefetch(ctx, nil, ProductFields{}, messages, nil)
}

// prefetch sets the images and sellers of products as f asks, and the senders of messages,
// sellers and senders in one query, but for those of known (users already read, by id).
func (l *Loaders) prefetch(ctx context.Context, products []*models.Product, f ProductFields, senders []*models.Message, known map[int64]*models.User) error {
	var productIDs, userIDs []int64
	for _, p := range products {
		if p != nil {
			productIDs = append(productIDs, p.ID)
			if f.Seller && known[p.SellerID] == nil {
				userIDs = append(userIDs, p.SellerID)
			}
		}
	}
	for _, m := range senders {
		if m != nil && known[m.SenderID] == nil {
			userIDs = append(userIDs, m.SenderID)
		}
	}
	if f.Images && len(productIDs) > 0 {
		images, err := l.ImagesByProductID.Prefetch(ctx, productIDs)
		if err != nil {
			return err
		}
		i := 0
		for _, p := range products {
			if p != nil {
				p.Images, i = images[i], i+1
			}
		}
	}
	byID := known
	if len(userIDs) > 0 {
		users, err := l.UserByID.Prefetch(ctx, userIDs)
		if err != nil {
			return err
		}
		byID = make(map[int64]*models.User, len(users)+len(known))
		for id, u := range known {
			byID[id] = u
		}
		for _, u := range users {
			if u != nil {
				byID[u.ID] = u
			}
		}
	}
	for _, p := range products {
		if p != nil && f.Seller {
			if p.Seller = byID[p.SellerID]; p.Seller == nil {
				return fmt.Errorf("seller %d of product %d is missing", p.SellerID, p.ID)
			}
		}
	}
	for _, m := range senders {
		if m != nil {
			if m.Sender = byID[m.SenderID]; m.Sender == nil {
				return fmt.Errorf("sender %d of message %d is missing", m.SenderID, m.ID)
			}
		}
	}
	return nil
}
