package models

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// Page sizes of a vendor's inbox.
const (
	DefaultPageSize = 20
	MaxPageSize     = 100
)

// Store runs every query of the service. It is safe for concurrent use.
type Store struct {
	db       *gorm.DB
	now      func() time.Time
	announce announcer
	sessions *sessionCache // nil: every lookup is a statement
}

// NewStore returns a Store over db.
func NewStore(db *gorm.DB) *Store {
	return &Store{db: db, now: func() time.Time { return time.Now().UTC() }}
}

// Announce makes the store announce every change its writes commit, as a says. Call it before
// the store is used.
func (s *Store) Announce(a Announcing) { s.announce.Announcing = a }

// CacheSessions makes UserBySession remember each session it resolves for ttl (see
// sessionCache for what that delays); 0 turns it off. Call it before the store is used.
func (s *Store) CacheSessions(ttl time.Duration) {
	s.sessions = nil
	if ttl > 0 {
		s.sessions = newSessionCache(ttl, maxCachedSessions)
	}
}

// PageArgs selects a page of a list in Relay's terms: First items after After, or Last items
// before Before. After and Before may be combined; First and Last may not.
type PageArgs struct {
	First, Last   *int
	After, Before *InboxKey
	// FarSide asks whether items lie beyond the cursor, away from the page (HasPreviousPage
	// when paging forward after a cursor, HasNextPage backward before one). It costs one more
	// probe, so callers ask only when they show it; unasked, it is reported as false, as the
	// Relay spec allows.
	FarSide bool
	// Filter narrows a vendor's inbox; lists of other things ignore it.
	Filter InboxFilter
}

// InboxFilter narrows a vendor's inbox; its conditions combine. The zero filter is the whole
// inbox.
type InboxFilter struct {
	UnreadOnly bool  // only conversations with messages the vendor has not read
	ProductID  int64 // only conversations about this product (0: any)
	BuyerID    int64 // only conversations with this buyer (0: any)
}

// Scope is the cursor scope of the inbox narrowed by f (Cursors.EncodeIn): a cursor pages only
// the list it was issued for. The whole inbox's is "", REST's.
func (f InboxFilter) Scope() string {
	if f == (InboxFilter{}) {
		return ""
	}
	return fmt.Sprintf("inbox:unread=%t,product=%d,buyer=%d", f.UnreadOnly, f.ProductID, f.BuyerID)
}

// apply adds f's conditions to a query of the viewer's conversations.
func (f InboxFilter) apply(q *gorm.DB) *gorm.DB {
	if f.UnreadOnly {
		// The predicate of conversations_unread_inbox_idx: the filtered inbox is a range of it.
		q = q.Where("conversations.seller_unread_count > 0")
	}
	if f.ProductID != 0 {
		q = q.Where("conversations.product_id = ?", f.ProductID)
	}
	if f.BuyerID != 0 {
		q = q.Where(takesPart("conversations.id", f.BuyerID))
	}
	return q
}

// conversations is a statement about conversations whose text is written by hand (Raw): the
// table names it in traces.
func (s *Store) conversations(ctx context.Context) *gorm.DB {
	return s.db.WithContext(ctx).Table("conversations")
}

// withLimit is query (a statement's text) with a LIMIT of n written into it rather than bound:
// a generic plan (see database.GenericPlans) is made without the values of the parameters, and
// would take a bound LIMIT for a tenth of the rows. (A clause of GORM's would not do: the SQLite
// dialect writes only GORM's own LIMIT clause, and drops any other of that name.)
func withLimit(query string, n int) string { return query + " LIMIT " + strconv.Itoa(n) }

// Page is a window of a list with what lies beyond it on either side.
type Page[T any] struct {
	Items           []T
	HasNextPage     bool
	HasPreviousPage bool
}

func (a PageArgs) validate() error {
	switch {
	case a.First != nil && a.Last != nil:
		return &Error{Code: EINVALID, Field: "first", Message: "pass either first or last, not both"}
	case a.First != nil && (*a.First < 0 || *a.First > MaxPageSize):
		return &Error{Code: EINVALID, Field: "first", Message: fmt.Sprintf("first must be from 0 to %d", MaxPageSize)}
	case a.Last != nil && (*a.Last < 0 || *a.Last > MaxPageSize):
		return &Error{Code: EINVALID, Field: "last", Message: fmt.Sprintf("last must be from 0 to %d", MaxPageSize)}
	}
	return nil
}

// InboxWith is what VendorConversations reads with each conversation, in the page's own
// statement: nested data each page asks for, at no round trip of its own.
type InboxWith struct {
	// Product sets Conversation.Product: the seller's own (the foreign key (product_id,
	// seller_id) says so), hence visible to them by Product's rule, checked by ProductsByID.
	Product bool
	// LastMessage sets Conversation.LastMessage, nil for a conversation with no message or one
	// the viewer takes no part in (LastMessagesByConversationID's rule).
	LastMessage bool
	// Images sets Product.Images (ImagesByProductID's order); it implies Product.
	Images bool
	// Participants sets Conversation.Participants, empty for a conversation the viewer takes no
	// part in (ParticipantsByConversationID's rule and order).
	Participants bool
}

// VendorConversations returns a page of the conversations about products sold by viewerID,
// newest activity first (UpdatedAt descending, ID descending), with what with asks for. It is
// one index range scan of conversations_inbox_idx, with one primary-key probe per row for each
// of with's parts, plus one probe when args.FarSide asks about the far side of a cursor.
func (s *Store) VendorConversations(ctx context.Context, viewerID int64, args PageArgs, with InboxWith) (Page[*Conversation], error) {
	if viewerID == 0 {
		return Page[*Conversation]{}, ErrUnauthenticated
	}
	if err := args.validate(); err != nil {
		return Page[*Conversation]{}, err
	}
	backward := args.Last != nil
	with.Product = with.Product || with.Images
	limit := DefaultPageSize
	switch {
	case args.First != nil:
		limit = *args.First
	case backward:
		limit = *args.Last
	}

	inbox := func() *gorm.DB {
		q := args.Filter.apply(s.db.WithContext(ctx).Table("conversations").Where("conversations.seller_id = ?", viewerID))
		if args.After != nil {
			q = q.Where("(conversations.updated_at, conversations.id) < (?, ?)", args.After.UpdatedAt, args.After.ID)
		}
		if args.Before != nil {
			q = q.Where("(conversations.updated_at, conversations.id) > (?, ?)", args.Before.UpdatedAt, args.Before.ID)
		}
		return q
	}
	order := "conversations.updated_at DESC, conversations.id DESC"
	if backward {
		order = "conversations.updated_at ASC, conversations.id ASC"
	}
	// The page is read first, by the inbox index; with parts, as the common table expression
	// of the inbox's statement (models/inbox.go), whose branches then read them.
	var rows []*Conversation
	var err error
	if st := inboxStatements[with]; st != nil {
		rows, err = st.scan(st.query(s.conversations(ctx), inbox(), order, limit, viewerID))
	} else {
		inOrder := inbox().Select(qualified("conversations", conversationColumns)).Order(order)
		rows, err = scanRows[Conversation](s.conversations(ctx).Raw(withLimit("?", limit+1), inOrder), nil)
	}
	if err != nil {
		return Page[*Conversation]{}, dbError("list vendor conversations", err)
	}
	more := len(rows) > limit
	if more {
		rows = rows[:limit]
	}
	page := Page[*Conversation]{Items: rows}
	if backward {
		for i, j := 0, len(rows)-1; i < j; i, j = i+1, j-1 {
			rows[i], rows[j] = rows[j], rows[i]
		}
		page.HasPreviousPage = more
	} else {
		page.HasNextPage = more
	}

	// The far side of the cursor: are there items beyond it, away from the page?
	var probe *gorm.DB
	switch {
	case !args.FarSide:
	case !backward && args.After != nil:
		probe = args.Filter.apply(s.db.WithContext(ctx).Model(&Conversation{}).Where("conversations.seller_id = ? AND (conversations.updated_at, conversations.id) >= (?, ?)", viewerID, args.After.UpdatedAt, args.After.ID))
	case backward && args.Before != nil:
		probe = args.Filter.apply(s.db.WithContext(ctx).Model(&Conversation{}).Where("conversations.seller_id = ? AND (conversations.updated_at, conversations.id) <= (?, ?)", viewerID, args.Before.UpdatedAt, args.Before.ID))
	}
	if probe != nil {
		var found []int64
		if err := probe.Limit(1).Pluck("id", &found).Error; err != nil {
			return Page[*Conversation]{}, dbError("probe vendor conversations", err)
		}
		if backward {
			page.HasNextPage = len(found) > 0
		} else {
			page.HasPreviousPage = len(found) > 0
		}
	}
	return page, nil
}

// CountVendorConversations returns how many conversations viewerID has as a seller, of those
// filter keeps.
func (s *Store) CountVendorConversations(ctx context.Context, viewerID int64, filter InboxFilter) (int, error) {
	if viewerID == 0 {
		return 0, ErrUnauthenticated
	}
	var n int64
	if err := filter.apply(s.db.WithContext(ctx).Model(&Conversation{}).Where("seller_id = ?", viewerID)).Count(&n).Error; err != nil {
		return 0, dbError("count vendor conversations", err)
	}
	return int(n), nil
}

// UsersByID returns the users with the given ids that exist, in no particular order.
func (s *Store) UsersByID(ctx context.Context, ids []int64) ([]*User, error) {
	users, err := scanRows[User](s.db.WithContext(ctx).Model(&User{}).Select(userColumns).Where("id IN ?", ids), nil)
	if err != nil {
		return nil, dbError("load users", err)
	}
	return users, nil
}

// ProductsByID returns those of the given products viewerID may see (see Product): published
// ones, their own, and those of a conversation they take part in. It is one statement whatever
// the ids. The participation check is evaluated only when a product is neither published nor
// the viewer's, per product, over that product's conversations (conversations_product_id_idx)
// with one probe each (takesPart), so a busy viewer's many conversations are never all read.
func (s *Store) ProductsByID(ctx context.Context, viewerID int64, ids []int64) ([]*Product, error) {
	talkedAbout := s.db.Table("conversations AS c").Select("1").
		Where("c.product_id = products.id").Where(takesPart("c.id", viewerID)).Limit(1)
	products, err := scanRows[Product](s.db.WithContext(ctx).Model(&Product{}).Select(productColumns).Where("id IN ?", ids).
		Where("published_at IS NOT NULL OR seller_id = ? OR (?) IS NOT NULL", viewerID, talkedAbout), nil)
	if err != nil {
		return nil, dbError("load products", err)
	}
	return products, nil
}

// ImagesByProductID returns the images of the given products, each product's in display order.
func (s *Store) ImagesByProductID(ctx context.Context, productIDs []int64) ([]*ProductImage, error) {
	images, err := scanRows[ProductImage](s.db.WithContext(ctx).Model(&ProductImage{}).Select(imageColumns).
		Where("product_id IN ?", productIDs).Order("product_id, sort_order, id"), nil)
	if err != nil {
		return nil, dbError("load product images", err)
	}
	return images, nil
}

// ConversationUser is a participant of a conversation with their public profile.
type ConversationUser struct {
	ConversationID int64
	User           *User
}

// ParticipantsByConversationID returns the participants of those of the given conversations
// viewerID takes part in, each conversation's in the order they joined.
func (s *Store) ParticipantsByConversationID(ctx context.Context, viewerID int64, conversationIDs []int64) ([]ConversationUser, error) {
	var of []*int64 // each row's conversation, scanned before its user
	users, err := scanRows[User](s.db.WithContext(ctx).Table("conversation_participants AS p").
		Select(participantUserColumns).
		Joins("JOIN users AS u ON u.id = p.user_id").
		Where("p.conversation_id IN ?", conversationIDs).Where(takesPart("p.conversation_id", viewerID)).
		Order("p.conversation_id, p.joined_at, p.user_id"),
		func(*User) []any { id := new(int64); of = append(of, id); return []any{id} })
	if err != nil {
		return nil, dbError("load participants", err)
	}
	out := make([]ConversationUser, len(users))
	for i, u := range users {
		out[i] = ConversationUser{ConversationID: *of[i], User: u}
	}
	return out, nil
}

// LastMessagesByConversationID returns the newest message (CreatedAt, then ID) of each of the
// given conversations that viewerID takes part in and that has any message.
func (s *Store) LastMessagesByConversationID(ctx context.Context, viewerID int64, conversationIDs []int64) ([]*Message, error) {
	newest := s.db.Table("conversations AS c").Select("("+newestMessage("c.id")+")").
		Where("c.id IN ?", conversationIDs).Where(takesPart("c.id", viewerID))
	messages, err := scanRows[Message](s.db.WithContext(ctx).Model(&Message{}).Select(messageColumns).Where("id IN (?)", newest), nil)
	if err != nil {
		return nil, dbError("load last messages", err)
	}
	return messages, nil
}

// newestMessage is the id of the newest message of the conversation whose id is in column: one
// index probe on messages_conversation_recent_idx, however long the conversation is.
func newestMessage(column string) string {
	return "SELECT l.id FROM messages AS l WHERE l.conversation_id = " + column + " ORDER BY l.created_at DESC, l.id DESC LIMIT 1"
}

// UnreadCount is how many messages of a conversation are unread for the viewer.
type UnreadCount struct {
	ConversationID int64
	Count          int
}

// UnreadCounts returns, for those of the given conversations viewerID takes part in, the number
// of messages someone else sent that are not read. Conversations with none are left out.
func (s *Store) UnreadCounts(ctx context.Context, viewerID int64, conversationIDs []int64) ([]UnreadCount, error) {
	var counts []UnreadCount
	err := s.db.WithContext(ctx).Model(&Message{}).
		Select("conversation_id, count(*) AS count").
		Where("conversation_id IN ? AND sender_id <> ? AND NOT is_read", conversationIDs, viewerID).
		Where(takesPart("messages.conversation_id", viewerID)).
		Group("conversation_id").
		Scan(&counts).Error
	if err != nil {
		return nil, dbError("count unread messages", err)
	}
	return counts, nil
}

// ConversationsByID returns those of the given conversations that viewerID takes part in.
func (s *Store) ConversationsByID(ctx context.Context, viewerID int64, ids []int64) ([]*Conversation, error) {
	conversations, err := scanRows[Conversation](s.db.WithContext(ctx).Model(&Conversation{}).Select(conversationColumns).
		Where("id IN ?", ids).Where(takesPart("conversations.id", viewerID)), nil)
	if err != nil {
		return nil, dbError("load conversations", err)
	}
	return conversations, nil
}

// MessagesByID returns those of the given messages whose conversation viewerID takes part in.
func (s *Store) MessagesByID(ctx context.Context, viewerID int64, ids []int64) ([]*Message, error) {
	messages, err := scanRows[Message](s.db.WithContext(ctx).Table("messages AS m").Select(aliasedMessageColumns).
		Where("m.id IN ?", ids).Where(takesPart("m.conversation_id", viewerID)), nil)
	if err != nil {
		return nil, dbError("load messages", err)
	}
	return messages, nil
}

// takesPart is the visibility rule as a condition on one row: viewerID takes part in the
// conversation whose id is in column. Every query of private data applies it. It costs one
// primary-key probe of conversation_participants per row, and it is a scalar subquery with
// LIMIT on purpose: PostgreSQL never turns that into a join or a hashed subplan, which would
// read all of the viewer's participations. Their number differs by orders of magnitude between
// users (the busiest vendor has 50,000 conversations, a buyer a few), so such a plan, cached once
// for a statement (a generic plan), would be slow for some viewers; this one suits every viewer,
// and the statement needs no planning per execution.
func takesPart(column string, viewerID int64) clause.Expr {
	return gorm.Expr("(SELECT 1 FROM conversation_participants AS v WHERE v.conversation_id = "+column+" AND v.user_id = ? LIMIT 1) IS NOT NULL", viewerID)
}

// BusiestVendor returns the user selling in the most conversations (ties to the lowest id)
// and how many, or nil when there is no conversation: the demo's natural first login.
func (s *Store) BusiestVendor(ctx context.Context) (*User, int, error) {
	var top []struct {
		SellerID int64
		N        int
	}
	err := s.db.WithContext(ctx).Model(&Conversation{}).Select("seller_id, count(*) AS n").
		Group("seller_id").Order("n DESC, seller_id").Limit(1).Scan(&top).Error
	if err != nil {
		return nil, 0, dbError("find the busiest vendor", err)
	}
	if len(top) == 0 {
		return nil, 0, nil
	}
	users, err := s.UsersByID(ctx, []int64{top[0].SellerID})
	if err != nil || len(users) == 0 {
		return nil, 0, err
	}
	return users[0], top[0].N, nil
}

// CreateSession signs userID in for ttl and returns the session id, the cookie's value. Only
// its hash is stored.
func (s *Store) CreateSession(ctx context.Context, userID int64, ttl time.Duration) (string, error) {
	if ttl <= 0 {
		return "", &Error{Code: EINVALID, Field: "ttl", Message: "session ttl must be positive"}
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return "", fmt.Errorf("create session: %w", err)
	}
	id := base64.RawURLEncoding.EncodeToString(raw)
	now := s.now()
	err := s.db.WithContext(ctx).Create(&Session{IDHash: hashSessionID(id), UserID: userID, CreatedAt: now, ExpiresAt: now.Add(ttl)}).Error
	if errors.Is(err, gorm.ErrForeignKeyViolated) {
		return "", Errorf(ENOTFOUND, "user %d does not exist", userID)
	}
	if err != nil {
		return "", dbError("create session", err)
	}
	return id, nil
}

// UserBySession returns the user signed in with session id, or ErrUnauthenticated when the id
// is unknown or its session has expired. With CacheSessions, a session resolved in the last ttl
// is not looked up again.
func (s *Store) UserBySession(ctx context.Context, id string) (*User, error) {
	if id == "" || len(id) > 256 {
		return nil, ErrUnauthenticated
	}
	hash, now := hashSessionID(id), s.now()
	if s.sessions != nil {
		if u, ok := s.sessions.get(hash, now); ok {
			return u, nil
		}
	}
	// A request's first statement, unless remembered: scanned without GORM's reflection, as the
	// pages' rows are.
	var expiresAt time.Time
	users, err := scanRows[User](s.db.WithContext(ctx).Table("sessions AS s").Select(sessionUserColumns).
		Joins("JOIN users AS u ON u.id = s.user_id").
		Where("s.id_hash = ? AND s.expires_at > ?", hash, now).
		Limit(1), func(*User) []any { return []any{&expiresAt} })
	if err != nil {
		return nil, dbError("resolve session", err)
	}
	if len(users) == 0 {
		return nil, ErrUnauthenticated
	}
	if s.sessions != nil {
		s.sessions.put(hash, users[0], now, expiresAt)
	}
	return users[0], nil
}

// SessionsAlive says which of the given session ids are still signed in (known and not
// expired): those it returns. Live connections ask it for all of theirs at once, so that a
// session that ends closes its sockets.
func (s *Store) SessionsAlive(ctx context.Context, ids []string) (map[string]bool, error) {
	const chunk = 1000 // parameters per statement
	alive := make(map[string]bool, len(ids))
	for len(ids) > 0 {
		part := ids[:min(chunk, len(ids))]
		ids = ids[len(part):]
		byHash := make(map[string]string, len(part))
		hashes := make([][]byte, len(part))
		for i, id := range part {
			hashes[i] = hashSessionID(id)
			byHash[string(hashes[i])] = id
		}
		var found [][]byte
		err := s.db.WithContext(ctx).Model(&Session{}).Where("id_hash IN ? AND expires_at > ?", hashes, s.now()).
			Pluck("id_hash", &found).Error
		if err != nil {
			return nil, dbError("check sessions", err)
		}
		for _, h := range found {
			alive[byHash[string(h)]] = true
		}
	}
	return alive, nil
}

func hashSessionID(id string) []byte {
	sum := sha256.Sum256([]byte(id))
	return sum[:]
}
