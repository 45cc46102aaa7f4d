package models

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// Limits of a message.
const (
	MaxMessageRunes       = 4000
	MaxImageURLBytes      = 2048
	MaxClientMutationRune = 64
)

// MessagesScope is the cursor scope of conversation id's messages (Cursors.EncodeIn): a cursor
// of one thread does not page another.
func MessagesScope(conversationID int64) string {
	return "messages:" + strconv.FormatInt(conversationID, 10)
}

// ThreadKey is the message's position in its conversation's thread: CreatedAt, then ID.
func (m *Message) ThreadKey() InboxKey { return InboxKey{UpdatedAt: m.CreatedAt, ID: m.ID} }

// threadLimit is the page size args ask for, and whether they page backward (from the newest).
// With neither First nor Last, a thread shows its newest DefaultPageSize messages, as chats
// open, unless After asks to page forward.
func threadLimit(args PageArgs) (limit int, backward bool) {
	switch {
	case args.First != nil:
		return *args.First, false
	case args.Last != nil:
		return *args.Last, true
	case args.After != nil:
		return DefaultPageSize, false
	}
	return DefaultPageSize, true
}

// ConversationMessages returns a page of the messages of each of the given conversations that
// viewerID takes part in, in thread order (CreatedAt ascending, then ID): First after After, or
// Last before Before, as PageArgs says (see threadLimit for neither). It is one statement
// whatever the number of conversations, each part one range scan of
// messages_conversation_recent_idx that stops after the page. Messages others sent that the
// viewer had not received are marked delivered (one more statement, only then): the viewer's
// client has them now. Conversations the viewer does not take part in get no page.
func (s *Store) ConversationMessages(ctx context.Context, viewerID int64, conversationIDs []int64, args PageArgs) (map[int64]Page[*Message], error) {
	if viewerID == 0 {
		return nil, ErrUnauthenticated
	}
	if err := args.validate(); err != nil {
		return nil, err
	}
	limit, backward := threadLimit(args)
	ids := slices.Compact(slices.Sorted(slices.Values(conversationIDs)))
	if len(ids) == 0 {
		return map[int64]Page[*Message]{}, nil
	}
	order := "created_at ASC, id ASC"
	if backward {
		order = "created_at DESC, id DESC"
	}
	var parts []string
	var vars []any
	for i, id := range ids {
		// A constant EXISTS is evaluated once per part: the visibility rule for the whole part.
		part := "SELECT * FROM (SELECT * FROM messages WHERE conversation_id = ? AND EXISTS (SELECT 1 FROM conversation_participants WHERE conversation_id = ? AND user_id = ?)"
		vars = append(vars, id, id, viewerID)
		if args.After != nil {
			part += " AND (created_at, id) > (?, ?)"
			vars = append(vars, args.After.UpdatedAt, args.After.ID)
		}
		if args.Before != nil {
			part += " AND (created_at, id) < (?, ?)"
			vars = append(vars, args.Before.UpdatedAt, args.Before.ID)
		}
		part += " ORDER BY " + order + " LIMIT " + strconv.Itoa(limit+1) + ") AS part" + strconv.Itoa(i)
		parts = append(parts, part)
	}
	var rows []*Message
	if err := s.db.WithContext(ctx).Raw(strings.Join(parts, " UNION ALL "), vars...).Scan(&rows).Error; err != nil {
		return nil, dbError("load messages of conversations", err)
	}
	byConversation := make(map[int64][]*Message, len(ids))
	for _, m := range rows {
		byConversation[m.ConversationID] = append(byConversation[m.ConversationID], m)
	}
	pages := make(map[int64]Page[*Message], len(ids))
	var undelivered []int64
	for _, id := range ids {
		msgs := byConversation[id]
		if msgs == nil {
			continue // not a participant, or no message: see below
		}
		slices.SortFunc(msgs, func(a, b *Message) int { return compareKeys(a.ThreadKey(), b.ThreadKey()) })
		more := len(msgs) > limit
		if more && backward {
			msgs = msgs[1:] // the oldest is the one beyond the page
		} else if more {
			msgs = msgs[:limit]
		}
		p := Page[*Message]{Items: msgs}
		if backward {
			p.HasPreviousPage = more
		} else {
			p.HasNextPage = more
		}
		pages[id] = p
		for _, m := range msgs {
			if m.SenderID != viewerID && !m.IsDelivered {
				undelivered = append(undelivered, m.ID)
				m.IsDelivered = true
			}
		}
	}
	if len(undelivered) > 0 {
		err := s.db.WithContext(ctx).Model(&Message{}).Where("id IN ? AND sender_id <> ? AND NOT is_delivered", undelivered, viewerID).
			Update("is_delivered", true).Error
		if err != nil {
			return nil, dbError("mark messages delivered", err)
		}
	}
	if err := s.visiblePages(ctx, viewerID, pages, ids); err != nil {
		return nil, err
	}
	return pages, s.farSides(ctx, viewerID, pages, ids, args, backward)
}

// visiblePages gives an empty page to each of ids that has none yet and that viewerID takes
// part in (a conversation with no message in range), so that only conversations the viewer
// may not see have no page.
func (s *Store) visiblePages(ctx context.Context, viewerID int64, pages map[int64]Page[*Message], ids []int64) error {
	var missing []int64
	for _, id := range ids {
		if _, ok := pages[id]; !ok {
			missing = append(missing, id)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	var visible []int64
	err := s.db.WithContext(ctx).Model(&Participant{}).Where("user_id = ? AND conversation_id IN ?", viewerID, missing).
		Pluck("conversation_id", &visible).Error
	if err != nil {
		return dbError("check conversations", err)
	}
	for _, id := range visible {
		pages[id] = Page[*Message]{Items: []*Message{}}
	}
	return nil
}

// farSides answers args.FarSide for each page: are there messages beyond the cursor, away from
// the page? One statement for all the conversations.
func (s *Store) farSides(ctx context.Context, viewerID int64, pages map[int64]Page[*Message], ids []int64, args PageArgs, backward bool) error {
	var cursor *InboxKey
	op := ">="
	switch {
	case !args.FarSide:
		return nil
	case !backward && args.After != nil:
		cursor, op = args.After, "<="
	case backward && args.Before != nil:
		cursor = args.Before
	default:
		return nil
	}
	if err := s.visiblePages(ctx, viewerID, pages, ids); err != nil {
		return err
	}
	var beyond []int64
	err := s.db.WithContext(ctx).Model(&Message{}).Distinct("conversation_id").
		Where("conversation_id IN ? AND (created_at, id) "+op+" (?, ?)", ids, cursor.UpdatedAt, cursor.ID).
		Where(takesPart("messages.conversation_id", viewerID)).
		Pluck("conversation_id", &beyond).Error
	if err != nil {
		return dbError("probe messages", err)
	}
	for _, id := range beyond {
		p, ok := pages[id]
		if !ok {
			continue
		}
		if backward {
			p.HasNextPage = true
		} else {
			p.HasPreviousPage = true
		}
		pages[id] = p
	}
	return nil
}

func compareKeys(a, b InboxKey) int {
	if c := a.UpdatedAt.Compare(b.UpdatedAt); c != 0 {
		return c
	}
	return cmp.Compare(a.ID, b.ID)
}

// MessageCount is the number of messages of a conversation.
type MessageCount struct {
	ConversationID int64
	Count          int
}

// CountMessages returns the number of messages of those of the given conversations viewerID
// takes part in; conversations with none are left out.
func (s *Store) CountMessages(ctx context.Context, viewerID int64, conversationIDs []int64) ([]MessageCount, error) {
	var counts []MessageCount
	err := s.db.WithContext(ctx).Model(&Message{}).Select("conversation_id, count(*) AS count").
		Where("conversation_id IN ?", conversationIDs).Where(takesPart("messages.conversation_id", viewerID)).
		Group("conversation_id").Scan(&counts).Error
	if err != nil {
		return nil, dbError("count messages", err)
	}
	return counts, nil
}

// OutgoingMessage is a message to add to a conversation (see Store.SendMessage).
type OutgoingMessage struct {
	ConversationID   int64
	Text             *string
	ImageURL         *string
	ClientMutationID string
}

// Normalize validates in and returns it as it is stored: the text trimmed (CRLF as LF), an
// empty text as none. It fails with EINVALID naming the field.
func (in OutgoingMessage) Normalize() (OutgoingMessage, error) {
	if n := utf8.RuneCountInString(in.ClientMutationID); n < 1 || n > MaxClientMutationRune || !utf8.ValidString(in.ClientMutationID) {
		return in, &Error{Code: EINVALID, Field: "clientMutationId", Message: fmt.Sprintf("clientMutationId must be 1 to %d characters", MaxClientMutationRune)}
	}
	if in.Text != nil {
		text := strings.TrimSpace(strings.ReplaceAll(*in.Text, "\r\n", "\n"))
		switch {
		case !utf8.ValidString(text):
			return in, &Error{Code: EINVALID, Field: "text", Message: "text must be valid UTF-8"}
		case utf8.RuneCountInString(text) > MaxMessageRunes:
			return in, &Error{Code: EINVALID, Field: "text", Message: fmt.Sprintf("text may hold at most %d characters", MaxMessageRunes)}
		case strings.ContainsFunc(text, func(r rune) bool { return unicode.IsControl(r) && r != '\n' && r != '\t' }):
			return in, &Error{Code: EINVALID, Field: "text", Message: "text may not contain control characters other than newlines and tabs"}
		}
		in.Text = &text
		if text == "" {
			in.Text = nil
		}
	}
	if in.ImageURL != nil {
		u, err := url.Parse(*in.ImageURL)
		switch {
		case len(*in.ImageURL) > MaxImageURLBytes:
			return in, &Error{Code: EINVALID, Field: "imageUrl", Message: fmt.Sprintf("imageUrl may be at most %d bytes", MaxImageURLBytes)}
		case err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil || strings.ContainsFunc(*in.ImageURL, unicode.IsSpace):
			return in, &Error{Code: EINVALID, Field: "imageUrl", Message: "imageUrl must be an absolute https URL without credentials"}
		}
	}
	if in.Text == nil && in.ImageURL == nil {
		return in, &Error{Code: EINVALID, Field: "text", Message: "a message needs a text or an imageUrl"}
	}
	return in, nil
}

// ErrNotParticipant is returned for a conversation the viewer does not take part in, exactly as
// for one that does not exist.
var ErrNotParticipant = &Error{Code: ENOTFOUND, Field: "conversationId", Message: "no such conversation"}

// SentMessage returns the message senderID sent with clientMutationID, or nil.
func (s *Store) SentMessage(ctx context.Context, senderID int64, clientMutationID string) (*Message, error) {
	var found []*Message
	err := s.db.WithContext(ctx).Where("sender_id = ? AND client_mutation_id = ?", senderID, clientMutationID).Limit(1).Find(&found).Error
	if err != nil {
		return nil, dbError("find a sent message", err)
	}
	if len(found) == 0 {
		return nil, nil
	}
	return found[0], nil
}

// sameMessage says whether m is what in asks to send: a retry, not a different message.
func sameMessage(m *Message, in OutgoingMessage) bool {
	eq := func(a, b *string) bool { return a == nil && b == nil || a != nil && b != nil && *a == *b }
	return m.ConversationID == in.ConversationID && eq(m.Text, in.Text) && eq(m.ImageURL, in.ImageURL)
}

// ErrDifferentRetry is returned when a client key is used again for a different message.
var ErrDifferentRetry = &Error{Code: ECONFLICT, Field: "clientMutationId", Message: "clientMutationId was already used for a different message: use a new key for a new message"}

// SendMessage adds a message from senderID to a conversation they take part in, once per
// client key: the same sender sending the same ClientMutationID again, at once or later, gets
// the message the first call wrote and nothing is written (created reports which); the same
// key with other content is ErrDifferentRetry. in must be Normalized. In one transaction: the
// message, the conversation's UpdatedAt (so it moves to the top of the inbox) and its seller's
// read state. Times are the later of now and the conversation's UpdatedAt, so a thread and the
// inbox keep their order whatever the clocks of the instances writing.
func (s *Store) SendMessage(ctx context.Context, senderID int64, in OutgoingMessage) (m *Message, created bool, err error) {
	if senderID == 0 {
		return nil, false, ErrUnauthenticated
	}
	if existing, err := s.SentMessage(ctx, senderID, in.ClientMutationID); err != nil || existing != nil {
		return retried(existing, in, err)
	}
	err = s.announce.write(ctx, s.db, func(tx *gorm.DB) (*Change, error) {
		// The conversation's row lock orders concurrent sends to it (and their times, and their
		// announcements).
		var convs []*Conversation
		q := tx.Where("id = ?", in.ConversationID).Where(takesPart("conversations.id", senderID))
		if tx.Dialector.Name() != "sqlite" { // SQLite's writers are serialized by the database lock
			q = q.Clauses(clause.Locking{Strength: "UPDATE"})
		}
		if err := q.Find(&convs).Error; err != nil {
			return nil, err
		}
		if len(convs) == 0 {
			return nil, ErrNotParticipant
		}
		conv := convs[0]
		at := s.now().Truncate(time.Microsecond)
		if at.Before(conv.UpdatedAt) {
			at = conv.UpdatedAt
		}
		key := in.ClientMutationID
		msg := &Message{ConversationID: conv.ID, SenderID: senderID, Text: in.Text, ImageURL: in.ImageURL, CreatedAt: at, ClientMutationID: &key}
		// A concurrent send with the same key that committed first wins; this one writes nothing.
		res := tx.Clauses(clause.OnConflict{
			Columns:     []clause.Column{{Name: "sender_id"}, {Name: "client_mutation_id"}},
			TargetWhere: clause.Where{Exprs: []clause.Expression{clause.Expr{SQL: "client_mutation_id IS NOT NULL"}}},
			DoNothing:   true,
		}).Create(msg)
		if res.Error != nil {
			return nil, res.Error
		}
		if res.RowsAffected == 0 {
			return nil, errRetried
		}
		unread := gorm.Expr("seller_unread_count")
		if senderID != conv.SellerID {
			unread = gorm.Expr("seller_unread_count + 1")
		}
		if err := tx.Model(&Conversation{}).Where("id = ?", conv.ID).
			Updates(map[string]any{"updated_at": at, "seller_unread_count": unread}).Error; err != nil {
			return nil, err
		}
		m, created = msg, true
		return &Change{ConversationID: conv.ID, SellerID: conv.SellerID, MessageID: msg.ID}, nil
	})
	switch {
	case errors.Is(err, errRetried):
		existing, err := s.SentMessage(ctx, senderID, in.ClientMutationID)
		if err == nil && existing == nil {
			err = errors.New("a send with the same key conflicted but cannot be found")
		}
		return retried(existing, in, err)
	case err != nil:
		var e *Error
		if errors.As(err, &e) {
			return nil, false, err
		}
		return nil, false, dbError("send a message", err)
	}
	return m, created, nil
}

var errRetried = errors.New("the message was sent already")

func retried(existing *Message, in OutgoingMessage, err error) (*Message, bool, error) {
	switch {
	case err != nil:
		return nil, false, err
	case !sameMessage(existing, in):
		return nil, false, ErrDifferentRetry
	}
	return existing, false, nil
}

// MarkConversationRead marks as read every message others sent in a conversation viewerID takes
// part in, up to and including upTo (a message of that conversation; 0: the newest), and
// updates the seller's read state, in one transaction. Marking again changes nothing; the
// viewer's own messages are never marked. A message read is delivered too.
func (s *Store) MarkConversationRead(ctx context.Context, viewerID, conversationID, upTo int64) error {
	if viewerID == 0 {
		return ErrUnauthenticated
	}
	err := s.announce.write(ctx, s.db, func(tx *gorm.DB) (*Change, error) {
		var convs []*Conversation
		q := tx.Where("id = ?", conversationID).Where(takesPart("conversations.id", viewerID))
		if tx.Dialector.Name() != "sqlite" {
			q = q.Clauses(clause.Locking{Strength: "UPDATE"})
		}
		if err := q.Find(&convs).Error; err != nil {
			return nil, err
		}
		if len(convs) == 0 {
			return nil, ErrNotParticipant
		}
		mark := tx.Model(&Message{}).Where("conversation_id = ? AND sender_id <> ? AND NOT is_read", conversationID, viewerID)
		if upTo != 0 {
			var bound []*Message
			if err := tx.Where("id = ? AND conversation_id = ?", upTo, conversationID).Find(&bound).Error; err != nil {
				return nil, err
			}
			if len(bound) == 0 {
				return nil, &Error{Code: EINVALID, Field: "upTo", Message: "upTo is not a message of this conversation"}
			}
			mark = mark.Where("(created_at, id) <= (?, ?)", bound[0].CreatedAt, bound[0].ID)
		}
		marked := mark.Updates(map[string]any{"is_read": true, "is_delivered": true})
		if marked.Error != nil {
			return nil, marked.Error
		}
		if marked.RowsAffected == 0 {
			return nil, nil // nothing was unread: nothing changed, nobody is told
		}
		change := &Change{ConversationID: conversationID, SellerID: convs[0].SellerID}
		if viewerID != convs[0].SellerID {
			return change, nil // the seller's read state is all the service keeps
		}
		unread := tx.Model(&Message{}).Select("count(*)").Where("conversation_id = ? AND sender_id <> ? AND NOT is_read", conversationID, viewerID)
		return change, tx.Model(&Conversation{}).Where("id = ?", conversationID).Update("seller_unread_count", unread).Error
	})
	var e *Error
	if err != nil && !errors.As(err, &e) {
		return dbError("mark a conversation read", err)
	}
	return err
}

// UnreadConversationsCount is the number of conversations viewerID sells in that have messages
// they have not read: the inbox's badge, one index-only count of conversations_unread_inbox_idx.
func (s *Store) UnreadConversationsCount(ctx context.Context, viewerID int64) (int, error) {
	if viewerID == 0 {
		return 0, ErrUnauthenticated
	}
	var n int64
	err := s.db.WithContext(ctx).Model(&Conversation{}).Where("seller_id = ? AND seller_unread_count > 0", viewerID).Count(&n).Error
	if err != nil {
		return 0, dbError("count unread conversations", err)
	}
	return int(n), nil
}
