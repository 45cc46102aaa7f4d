package main

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/partizap/vendor-inbox/models"
	"github.com/partizap/vendor-inbox/models/dbtest"
	"github.com/partizap/vendor-inbox/models/seed"
)

// The messaging tests run through the real handler on a small seeded database: two vendors
// (users 1 and 2) with six conversations each, 25 messages a conversation.
var messagingSeed = seed.Options{Vendors: 2, Conversations: 6, Messages: 25, Seed: 7}

const threadQuery = `query($id: ID!, $first: Int, $after: String, $last: Int, $before: String) {
  node(id: $id) { ... on Conversation {
    messages(first: $first, after: $after, last: $last, before: $before) {
      edges { cursor node { databaseId sender { databaseId } isDelivered } }
      pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
      totalCount
    }
  } }
}`

type threadPage struct {
	Node *struct {
		Messages struct {
			Edges []struct {
				Cursor string `json:"cursor"`
				Node   struct {
					DatabaseID  int64 `json:"databaseId"`
					Sender      struct{ DatabaseID int64 }
					IsDelivered bool `json:"isDelivered"`
				} `json:"node"`
			} `json:"edges"`
			PageInfo   pageInfo `json:"pageInfo"`
			TotalCount int      `json:"totalCount"`
		} `json:"messages"`
	} `json:"node"`
}

func (p threadPage) ids() []int64 {
	var ids []int64
	for _, e := range p.Node.Messages.Edges {
		ids = append(ids, e.Node.DatabaseID)
	}
	return ids
}

func (s *testServer) thread(cookie string, conversationID int64, vars map[string]any) (threadPage, gqlResponse) {
	s.t.Helper()
	vars["id"] = models.GlobalID(models.TypeConversation, conversationID)
	res := s.graphql(cookie, threadQuery, vars)
	var p threadPage
	if len(res.Errors) == 0 {
		if err := json.Unmarshal(res.Data, &p); err != nil {
			s.t.Fatal(err)
		}
	}
	return p, res
}

// threadOrder is the conversation's message ids in thread order, read straight from the table.
func (s *testServer) threadOrder(conversationID int64) []int64 {
	var ids []int64
	s.db.Raw("SELECT id FROM messages WHERE conversation_id = ? ORDER BY created_at, id", conversationID).Scan(&ids)
	return ids
}

// firstConversation is vendorID's newest conversation and its buyer.
func (s *testServer) firstConversation(vendorID int64) (conversationID, buyerID int64) {
	s.t.Helper()
	conversationID = s.inboxOrder(vendorID)[0]
	s.db.Raw("SELECT user_id FROM conversation_participants WHERE conversation_id = ? AND user_id <> ?", conversationID, vendorID).Scan(&buyerID)
	return conversationID, buyerID
}

// outsider is a buyer who takes no part in conversationID.
func (s *testServer) outsider(conversationID int64) int64 {
	s.t.Helper()
	var id int64
	s.db.Raw(`SELECT id FROM users WHERE id > 2 AND id NOT IN
		(SELECT user_id FROM conversation_participants WHERE conversation_id = ?) ORDER BY id LIMIT 1`, conversationID).Scan(&id)
	if id == 0 {
		s.t.Fatal("no outsider")
	}
	return id
}

// assertReadState checks the seller's read state kept on every conversation against the count
// from its messages.
func (s *testServer) assertReadState() {
	s.t.Helper()
	var wrong []int64
	s.db.Raw(`SELECT c.id FROM conversations AS c WHERE c.seller_unread_count <> (SELECT count(*) FROM messages AS m
		WHERE m.conversation_id = c.id AND m.sender_id <> c.seller_id AND NOT m.is_read)`).Scan(&wrong)
	if len(wrong) > 0 {
		s.t.Errorf("conversations %v: seller_unread_count differs from the count of their unread messages", wrong)
	}
}

func TestThreadPagesLikeAChat(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, messagingSeed)
	vendor := s.session(1)
	conv, _ := s.firstConversation(1)
	want := s.threadOrder(conv)
	if len(want) != 25 {
		t.Fatalf("the seed gave %d messages, want 25", len(want))
	}

	// Backward from the newest, as a chat opens and scrolls up.
	var got []int64
	vars := map[string]any{"last": 10}
	for pages := 0; ; pages++ {
		p, res := s.thread(vendor, conv, vars)
		if res.Errors != nil || pages > 5 {
			t.Fatalf("page %d: %+v", pages, res.Errors)
		}
		m := p.Node.Messages
		if m.TotalCount != 25 {
			t.Errorf("totalCount = %d, want 25", m.TotalCount)
		}
		got = append(p.ids(), got...)
		if !m.PageInfo.HasPreviousPage {
			break
		}
		vars = map[string]any{"last": 10, "before": *m.PageInfo.StartCursor}
	}
	if !slices.Equal(got, want) {
		t.Errorf("backward: %v, want %v", got, want)
	}

	// Forward from the oldest.
	got = nil
	vars = map[string]any{"first": 7}
	for pages := 0; ; pages++ {
		p, res := s.thread(vendor, conv, vars)
		if res.Errors != nil || pages > 5 {
			t.Fatalf("page %d: %+v", pages, res.Errors)
		}
		got = append(got, p.ids()...)
		if !p.Node.Messages.PageInfo.HasNextPage {
			break
		}
		vars = map[string]any{"first": 7, "after": *p.Node.Messages.PageInfo.EndCursor}
	}
	if !slices.Equal(got, want) {
		t.Errorf("forward: %v, want %v", got, want)
	}

	// Neither first nor last: the newest 20.
	p, _ := s.thread(vendor, conv, map[string]any{})
	if !slices.Equal(p.ids(), want[5:]) || !p.Node.Messages.PageInfo.HasPreviousPage {
		t.Errorf("default page %v (hasPreviousPage %v), want %v", p.ids(), p.Node.Messages.PageInfo.HasPreviousPage, want[5:])
	}
}

func TestThreadArgumentsAndVisibility(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, messagingSeed)
	vendor, other := s.session(1), s.session(2)
	conv, buyer := s.firstConversation(1)
	otherConv, _ := s.firstConversation(2)
	p, _ := s.thread(vendor, otherConv, map[string]any{"last": 2})
	foreignCursor := ""
	if p.Node == nil {
		p, _ = s.thread(other, otherConv, map[string]any{"last": 2})
		foreignCursor = p.Node.Messages.Edges[0].Cursor
	}
	inboxCursor := s.page(vendor, map[string]any{"first": 1}).VendorConversations.Edges[0].Cursor

	for _, tc := range []struct {
		name      string
		cookie    string
		vars      map[string]any
		code      string
		field     string
		invisible bool // node is null: the conversation is not the viewer's
	}{
		{"first above 100", vendor, map[string]any{"first": 101}, "BAD_USER_INPUT", "first", false},
		{"negative last", vendor, map[string]any{"last": -1}, "BAD_USER_INPUT", "last", false},
		{"first and last", vendor, map[string]any{"first": 1, "last": 1}, "BAD_USER_INPUT", "first", false},
		{"another thread's cursor", vendor, map[string]any{"after": foreignCursor}, "BAD_USER_INPUT", "after", false},
		{"an inbox cursor", vendor, map[string]any{"before": inboxCursor}, "BAD_USER_INPUT", "before", false},
		{"garbage cursor", vendor, map[string]any{"after": "bm9wZQ"}, "BAD_USER_INPUT", "after", false},
		{"another vendor", other, map[string]any{"last": 5}, "", "", true},
		{"signed out", "", map[string]any{"last": 5}, "", "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, res := s.thread(tc.cookie, conv, tc.vars)
			if tc.invisible {
				if res.Errors != nil || p.Node != nil {
					t.Fatalf("got %s %+v, want node null", res.Data, res.Errors)
				}
				return
			}
			if res.code() != tc.code || res.Errors[0].Extensions["field"] != tc.field {
				t.Fatalf("errors %+v, want %s on %s", res.Errors, tc.code, tc.field)
			}
		})
	}
	// The buyer reads the same thread.
	if p, res := s.thread(s.session(buyer), conv, map[string]any{"last": 3}); res.Errors != nil || len(p.ids()) != 3 {
		t.Fatalf("buyer: %s %+v", res.Data, res.Errors)
	}
}

// TestThreadStatementsDoNotGrow: a thread page costs the same statements at any size, and so
// does a list of conversations each showing its newest messages with their senders.
func TestThreadStatementsDoNotGrow(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, messagingSeed)
	vendor := s.session(1)
	conv, _ := s.firstConversation(1)
	cost := func(query string, vars map[string]any) int {
		t.Helper()
		before := s.statements()
		if res := s.graphql(vendor, query, vars); res.Errors != nil {
			t.Fatalf("%+v", res.Errors)
		}
		return s.statements() - before
	}
	id := models.GlobalID(models.TypeConversation, conv)
	// Marking delivered writes once, on the first read: read each size twice.
	small, large := 0, 0
	for range 2 {
		small = cost(threadQuery, map[string]any{"id": id, "last": 2})
		large = cost(threadQuery, map[string]any{"id": id, "last": 25})
	}
	if small != large {
		t.Errorf("a thread page of 2 cost %d statements, of 25 %d", small, large)
	}
	inbox := `query($n: Int) { vendorConversations(first: $n) { nodes { id
		messages(last: 3) { nodes { text sender { displayName } } totalCount } } } }`
	for range 2 {
		small = cost(inbox, map[string]any{"n": 1})
		large = cost(inbox, map[string]any{"n": 6})
	}
	if small != large {
		t.Errorf("an inbox page of 1 with its messages cost %d statements, of 6 %d", small, large)
	}
}

const sendMutation = `mutation($input: SendMessageInput!) { sendMessage(input: $input) {
  clientMutationId
  message { id databaseId text imageUrl createdAt isRead sender { databaseId } }
  conversation { id databaseId updatedAt unreadCount lastMessage { databaseId } }
} }`

type sendPayload struct {
	SendMessage struct {
		ClientMutationID string `json:"clientMutationId"`
		Message          struct {
			DatabaseID int64   `json:"databaseId"`
			Text       *string `json:"text"`
			ImageURL   *string `json:"imageUrl"`
			CreatedAt  string  `json:"createdAt"`
			Sender     struct{ DatabaseID int64 }
		} `json:"message"`
		Conversation struct {
			DatabaseID  int64  `json:"databaseId"`
			UpdatedAt   string `json:"updatedAt"`
			UnreadCount int    `json:"unreadCount"`
			LastMessage struct{ DatabaseID int64 }
		} `json:"conversation"`
	} `json:"sendMessage"`
}

func (s *testServer) send(cookie string, input map[string]any) (sendPayload, gqlResponse) {
	s.t.Helper()
	res := s.graphql(cookie, sendMutation, map[string]any{"input": input})
	var p sendPayload
	if res.Errors == nil {
		if err := json.Unmarshal(res.Data, &p); err != nil {
			s.t.Fatal(err)
		}
	}
	return p, res
}

// count runs a SELECT count(*).
func (s *testServer) count(query string) int64 {
	s.t.Helper()
	var n int64
	if err := s.db.Raw(query).Scan(&n).Error; err != nil {
		s.t.Fatal(err)
	}
	return n
}

// dbtestWithSeed is a fresh database seeded with opts.
func dbtestWithSeed(t *testing.T, opts seed.Options) (string, *gorm.DB) {
	t.Helper()
	dsn, db := dbtest.New(t)
	if _, err := seed.Seed(context.Background(), db, opts); err != nil {
		t.Fatal(err)
	}
	return dsn, db
}

func TestSendMessage(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, messagingSeed)
	last := s.inboxOrder(1)
	conv := last[len(last)-1] // the oldest: sending moves it to the top
	var buyer int64
	s.db.Raw("SELECT user_id FROM conversation_participants WHERE conversation_id = ? AND user_id <> 1", conv).Scan(&buyer)
	buyerCookie, vendor := s.session(buyer), s.session(1)
	convID := models.GlobalID(models.TypeConversation, conv)
	unreadBefore := s.restPage("limit=100", vendor)

	p, res := s.send(buyerCookie, map[string]any{"conversationId": convID, "text": "  Добрый день!\r\nЕщё в наличии?\t ", "clientMutationId": "k-1"})
	if res.Errors != nil {
		t.Fatalf("%+v", res.Errors)
	}
	sent := p.SendMessage
	if *sent.Message.Text != "Добрый день!\nЕщё в наличии?" || sent.Message.Sender.DatabaseID != buyer || sent.ClientMutationID != "k-1" {
		t.Errorf("message %+v", sent)
	}
	if sent.Conversation.LastMessage.DatabaseID != sent.Message.DatabaseID || sent.Conversation.UpdatedAt != sent.Message.CreatedAt {
		t.Errorf("payload conversation %+v, want the new message last and its time", sent.Conversation)
	}
	if got := s.inboxOrder(1)[0]; got != conv {
		t.Errorf("inbox starts with %d, want %d", got, conv)
	}
	// REST reflects it: the conversation first, with the message and one more unread.
	rest := s.restPage("limit=100", vendor)
	unread := func(p restPage, id int64) float64 {
		for _, c := range p.Data {
			if int64(c["id"].(float64)) == id {
				return c["unread_count"].(float64)
			}
		}
		t.Fatalf("conversation %d not in the REST page", id)
		return 0
	}
	if first := rest.Data[0]; int64(first["id"].(float64)) != conv || int64(first["last_message"].(map[string]any)["id"].(float64)) != sent.Message.DatabaseID {
		t.Errorf("REST first conversation %v", first)
	}
	if unread(rest, conv) != unread(unreadBefore, conv)+1 {
		t.Errorf("REST unread_count %v, want %v", unread(rest, conv), unread(unreadBefore, conv)+1)
	}
	// The vendor answers with an image only.
	p, res = s.send(vendor, map[string]any{"conversationId": convID, "imageUrl": "https://img.partizap.example/a.jpg", "clientMutationId": "v-1"})
	if res.Errors != nil || p.SendMessage.Message.Text != nil || *p.SendMessage.Message.ImageURL != "https://img.partizap.example/a.jpg" {
		t.Fatalf("%s %+v", res.Data, res.Errors)
	}
	s.assertReadState()
}

func TestSendMessageRefusesBadInput(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, messagingSeed)
	vendor, other := s.session(1), s.session(2)
	conv, _ := s.firstConversation(1)
	convID := models.GlobalID(models.TypeConversation, conv)
	otherConv, _ := s.firstConversation(2)
	stranger := s.session(s.outsider(conv))
	text := func(v string) map[string]any {
		return map[string]any{"conversationId": convID, "text": v, "clientMutationId": "key"}
	}
	with := func(m map[string]any, k string, v any) map[string]any {
		out := map[string]any{}
		for key, val := range m {
			out[key] = val
		}
		if v == nil {
			delete(out, k)
		} else {
			out[k] = v
		}
		return out
	}
	messages := s.count("SELECT count(*) FROM messages")
	for _, tc := range []struct {
		name   string
		cookie string
		input  map[string]any
		code   string
		field  string
	}{
		{"empty text", vendor, text("   "), "BAD_USER_INPUT", "text"},
		{"no text, no image", vendor, with(text("x"), "text", nil), "BAD_USER_INPUT", "text"},
		{"text too long", vendor, text(strings.Repeat("я", 4001)), "BAD_USER_INPUT", "text"},
		{"control character", vendor, text("a\x07b"), "BAD_USER_INPUT", "text"},
		{"http image", vendor, with(text("x"), "imageUrl", "http://img.example/a.jpg"), "BAD_USER_INPUT", "imageUrl"},
		{"relative image", vendor, with(text("x"), "imageUrl", "/a.jpg"), "BAD_USER_INPUT", "imageUrl"},
		{"image with credentials", vendor, with(text("x"), "imageUrl", "https://u:p@img.example/a.jpg"), "BAD_USER_INPUT", "imageUrl"},
		{"image URL too long", vendor, with(text("x"), "imageUrl", "https://img.example/"+strings.Repeat("a", 2030)), "BAD_USER_INPUT", "imageUrl"},
		{"empty key", vendor, with(text("x"), "clientMutationId", ""), "BAD_USER_INPUT", "clientMutationId"},
		{"key too long", vendor, with(text("x"), "clientMutationId", strings.Repeat("k", 65)), "BAD_USER_INPUT", "clientMutationId"},
		{"not a conversation id", vendor, with(text("x"), "conversationId", models.GlobalID(models.TypeUser, 1)), "BAD_USER_INPUT", "conversationId"},
		{"another vendor's conversation", other, text("x"), "NOT_FOUND", "conversationId"},
		{"a buyer of another conversation", stranger, text("x"), "NOT_FOUND", "conversationId"},
		{"a conversation that does not exist", vendor, with(text("x"), "conversationId", models.GlobalID(models.TypeConversation, 999999)), "NOT_FOUND", "conversationId"},
		{"signed out", "", text("x"), "UNAUTHENTICATED", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, res := s.send(tc.cookie, tc.input)
			if res.code() != tc.code || (tc.field != "" && res.Errors[0].Extensions["field"] != tc.field) {
				t.Fatalf("errors %+v, want %s on %q", res.Errors, tc.code, tc.field)
			}
			if strings.Contains(res.Errors[0].Message, models.GlobalID(models.TypeConversation, otherConv)) {
				t.Errorf("the error names another conversation: %q", res.Errors[0].Message)
			}
		})
	}
	if n := s.count("SELECT count(*) FROM messages"); n != messages {
		t.Errorf("refused sends wrote %d messages", n-messages)
	}
	// A conversation one is not part of answers exactly like one that does not exist.
	_, foreign := s.send(other, text("x"))
	_, missing := s.send(other, with(text("x"), "conversationId", models.GlobalID(models.TypeConversation, 999999)))
	if f, m := fmt.Sprint(foreign.Errors), fmt.Sprint(missing.Errors); f != m {
		t.Errorf("another vendor's conversation answers %s, a missing one %s", f, m)
	}
	// Mutations are never run over GET.
	res, body := s.rawRequest("GET", "/graphql?query="+strings.ReplaceAll(`mutation{markConversationRead(input:{conversationId:"`+convID+`"}){clientMutationId}}`, " ", ""), map[string]string{"Cookie": "PARTIZAP_SESSION=" + vendor}, "")
	if res.StatusCode != 406 { // gqlgen's GET transport: "GET requests only allow query operations"
		t.Errorf("mutation over GET: %d %s", res.StatusCode, body)
	}
}

// TestSendMessageIsIdempotent: retries with the same key, one after another and all at once,
// write one message and all get it; the same key with other content is CONFLICT.
func TestSendMessageIsIdempotent(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, messagingSeed)
	vendor := s.session(1)
	conv, _ := s.firstConversation(1)
	input := map[string]any{"conversationId": models.GlobalID(models.TypeConversation, conv), "text": "Да, есть", "clientMutationId": "same-key"}
	messages := s.count("SELECT count(*) FROM messages")

	first, res := s.send(vendor, input)
	if res.Errors != nil {
		t.Fatalf("%+v", res.Errors)
	}
	again, res := s.send(vendor, input)
	if res.Errors != nil || again.SendMessage.Message.DatabaseID != first.SendMessage.Message.DatabaseID {
		t.Fatalf("retry: %s %+v", res.Data, res.Errors)
	}
	const clients = 8
	ids := make([]int64, clients)
	var wg sync.WaitGroup
	for i := range clients {
		wg.Go(func() {
			input := map[string]any{"conversationId": input["conversationId"], "text": "Отправлю сегодня", "clientMutationId": "concurrent-key"}
			p, res := s.send(vendor, input)
			if res.Errors != nil {
				t.Errorf("concurrent send %d: %+v", i, res.Errors)
			}
			ids[i] = p.SendMessage.Message.DatabaseID
		})
	}
	wg.Wait()
	if ids[0] == 0 || slices.ContainsFunc(ids, func(id int64) bool { return id != ids[0] }) {
		t.Errorf("concurrent sends got messages %v, want one", ids)
	}
	if n := s.count("SELECT count(*) FROM messages"); n != messages+2 {
		t.Errorf("wrote %d messages, want 2", n-messages)
	}
	conflict := map[string]any{"conversationId": input["conversationId"], "text": "Другой текст", "clientMutationId": "same-key"}
	if _, res := s.send(vendor, conflict); res.code() != "CONFLICT" || res.Errors[0].Extensions["field"] != "clientMutationId" {
		t.Errorf("same key, other text: %+v", res.Errors)
	}
	s.assertReadState()
}

func TestSendMessageIsRateLimited(t *testing.T) {
	t.Parallel()
	dsn, db := dbtestWithSeed(t, messagingSeed)
	s := startTestServer(t, db, seed.Summary{}, map[string]string{"DATABASE_URL": dsn, "SEND_RATE_LIMIT": "3"})
	vendor := s.session(1)
	conv, _ := s.firstConversation(1)
	send := func(key string) gqlResponse {
		_, res := s.send(vendor, map[string]any{"conversationId": models.GlobalID(models.TypeConversation, conv), "text": "текст " + key, "clientMutationId": key})
		return res
	}
	for _, key := range []string{"a", "b", "c"} {
		if res := send(key); res.Errors != nil {
			t.Fatalf("send %s: %+v", key, res.Errors)
		}
	}
	res := send("d")
	if res.code() != "RATE_LIMITED" {
		t.Fatalf("fourth send: %+v", res.Errors)
	}
	if after, _ := res.Errors[0].Extensions["retryAfter"].(float64); after < 1 || after > 20 {
		t.Errorf("retryAfter = %v, want 1..20 seconds", res.Errors[0].Extensions["retryAfter"])
	}
	if res := send("a"); res.Errors != nil {
		t.Errorf("a retry of a sent message is not limited: %+v", res.Errors)
	}
}

const markReadMutation = `mutation($input: MarkConversationReadInput!) { markConversationRead(input: $input) {
  clientMutationId conversation { databaseId unreadCount }
} }`

func TestMarkConversationRead(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, messagingSeed)
	vendor := s.session(1)
	// A conversation with unread messages from its buyer.
	var conv int64
	s.db.Raw("SELECT id FROM conversations WHERE seller_id = 1 AND seller_unread_count >= 1 ORDER BY id LIMIT 1").Scan(&conv)
	if conv == 0 {
		t.Fatal("the seed has no unread conversation for vendor 1")
	}
	var buyer int64
	s.db.Raw("SELECT user_id FROM conversation_participants WHERE conversation_id = ? AND user_id <> 1", conv).Scan(&buyer)
	convID := models.GlobalID(models.TypeConversation, conv)
	otherMessage := s.count(fmt.Sprintf("SELECT max(id) FROM messages WHERE conversation_id <> %d", conv))
	strangerBuyer := s.outsider(conv)
	// The buyer writes twice more: now at least three unread.
	for _, key := range []string{"m1", "m2"} {
		if _, res := s.send(s.session(buyer), map[string]any{"conversationId": convID, "text": key, "clientMutationId": key}); res.Errors != nil {
			t.Fatal(res.Errors)
		}
	}
	var unread []int64
	s.db.Raw("SELECT id FROM messages WHERE conversation_id = ? AND sender_id <> 1 AND NOT is_read ORDER BY created_at, id", conv).Scan(&unread)
	vendorOwn := s.count("SELECT count(*) FROM messages WHERE sender_id = 1 AND NOT is_read")
	mark := func(cookie string, input map[string]any) (int, gqlResponse) {
		t.Helper()
		res := s.graphql(cookie, markReadMutation, map[string]any{"input": input})
		var p struct {
			MarkConversationRead struct{ Conversation struct{ UnreadCount int } }
		}
		_ = json.Unmarshal(res.Data, &p)
		return p.MarkConversationRead.Conversation.UnreadCount, res
	}
	upTo := models.GlobalID(models.TypeMessage, unread[len(unread)-2])
	if n, res := mark(vendor, map[string]any{"conversationId": convID, "upTo": upTo, "clientMutationId": "r1"}); res.Errors != nil || n != 1 {
		t.Fatalf("up to the second newest: unreadCount %d, %+v; want 1", n, res.Errors)
	}
	for range 2 { // idempotent
		if n, res := mark(vendor, map[string]any{"conversationId": convID}); res.Errors != nil || n != 0 {
			t.Fatalf("all: unreadCount %d, %+v; want 0", n, res.Errors)
		}
	}
	if n := s.count("SELECT count(*) FROM messages WHERE sender_id = 1 AND NOT is_read"); n != vendorOwn {
		t.Errorf("the vendor's own unread messages went from %d to %d", vendorOwn, n)
	}
	s.assertReadState()
	for _, tc := range []struct {
		name   string
		cookie string
		input  map[string]any
		code   string
	}{
		{"another vendor", s.session(2), map[string]any{"conversationId": convID}, "NOT_FOUND"},
		{"a buyer of another conversation", s.session(strangerBuyer), map[string]any{"conversationId": convID}, "NOT_FOUND"},
		{"upTo of another conversation", vendor, map[string]any{"conversationId": convID, "upTo": models.GlobalID(models.TypeMessage, otherMessage)}, "BAD_USER_INPUT"},
		{"upTo not a message", vendor, map[string]any{"conversationId": convID, "upTo": convID}, "BAD_USER_INPUT"},
		{"signed out", "", map[string]any{"conversationId": convID}, "UNAUTHENTICATED"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, res := mark(tc.cookie, tc.input); res.code() != tc.code {
				t.Fatalf("errors %+v, want %s", res.Errors, tc.code)
			}
		})
	}
}

// TestReadingAThreadDeliversIt: messages others sent become delivered when the recipient reads
// them in Conversation.messages; the sender reading their own changes nothing.
func TestReadingAThreadDeliversIt(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, messagingSeed)
	conv, buyer := s.firstConversation(1)
	buyerCookie := s.session(buyer)
	p, res := s.send(buyerCookie, map[string]any{"conversationId": models.GlobalID(models.TypeConversation, conv), "text": "Алло", "clientMutationId": "d1"})
	if res.Errors != nil {
		t.Fatal(res.Errors)
	}
	id := p.SendMessage.Message.DatabaseID
	delivered := func() bool {
		var d bool
		s.db.Raw("SELECT is_delivered FROM messages WHERE id = ?", id).Scan(&d)
		return d
	}
	if tp, _ := s.thread(buyerCookie, conv, map[string]any{"last": 1}); tp.Node.Messages.Edges[0].Node.IsDelivered || delivered() {
		t.Fatal("the sender reading the thread delivered their own message")
	}
	if tp, _ := s.thread(s.session(1), conv, map[string]any{"last": 1}); !tp.Node.Messages.Edges[0].Node.IsDelivered {
		t.Error("the recipient's page shows the message undelivered")
	}
	if !delivered() {
		t.Error("the recipient read the message, but it is not delivered")
	}
}

const filteredInbox = `query($filter: ConversationFilter, $first: Int, $after: String) {
  viewer { unreadConversationsCount }
  vendorConversations(first: $first, after: $after, filter: $filter) {
    edges { cursor node { databaseId unreadCount } } pageInfo { hasNextPage endCursor } totalCount
  }
}`

func TestInboxFilters(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, messagingSeed)
	vendor := s.session(1)
	order := s.inboxOrder(1)
	var productOf = map[int64]int64{}
	var buyerOf = map[int64]int64{}
	var unreadOf = map[int64]int{}
	for _, id := range order {
		var row struct{ ProductID, Buyer int64 }
		s.db.Raw(`SELECT c.product_id, p.user_id AS buyer FROM conversations AS c JOIN conversation_participants AS p
			ON p.conversation_id = c.id AND p.user_id <> c.seller_id WHERE c.id = ?`, id).Scan(&row)
		productOf[id], buyerOf[id] = row.ProductID, row.Buyer
		var n int
		s.db.Raw("SELECT count(*) FROM messages WHERE conversation_id = ? AND sender_id <> 1 AND NOT is_read", id).Scan(&n)
		unreadOf[id] = n
	}
	keep := func(f func(id int64) bool) []int64 {
		var out []int64
		for _, id := range order {
			if f(id) {
				out = append(out, id)
			}
		}
		return out
	}
	type result struct {
		ids    []int64
		total  int
		badge  int
		cursor string
	}
	query := func(filter map[string]any, first int, after string) (result, gqlResponse) {
		t.Helper()
		vars := map[string]any{"filter": filter, "first": first}
		if after != "" {
			vars["after"] = after
		}
		res := s.graphql(vendor, filteredInbox, vars)
		var p struct {
			Viewer              struct{ UnreadConversationsCount int }
			VendorConversations struct {
				Edges []struct {
					Cursor string
					Node   struct{ DatabaseID int64 }
				}
				PageInfo   struct{ EndCursor *string }
				TotalCount int
			}
		}
		_ = json.Unmarshal(res.Data, &p)
		var r result
		for _, e := range p.VendorConversations.Edges {
			r.ids = append(r.ids, e.Node.DatabaseID)
		}
		r.total, r.badge = p.VendorConversations.TotalCount, p.Viewer.UnreadConversationsCount
		if p.VendorConversations.PageInfo.EndCursor != nil {
			r.cursor = *p.VendorConversations.PageInfo.EndCursor
		}
		return r, res
	}
	someProduct, someBuyer := productOf[order[1]], buyerOf[order[2]]
	unreadConvs := keep(func(id int64) bool { return unreadOf[id] > 0 })
	if len(unreadConvs) == 0 || len(unreadConvs) == len(order) {
		t.Fatalf("the seed should give vendor 1 conversations with and without unread messages: %v", unreadOf)
	}
	for _, tc := range []struct {
		name   string
		filter map[string]any
		want   []int64
	}{
		{"none", nil, order},
		{"unread only", map[string]any{"unreadOnly": true}, unreadConvs},
		{"unreadOnly false", map[string]any{"unreadOnly": false}, order},
		{"a product", map[string]any{"productId": models.GlobalID(models.TypeProduct, someProduct)}, keep(func(id int64) bool { return productOf[id] == someProduct })},
		{"a buyer", map[string]any{"buyerId": models.GlobalID(models.TypeUser, someBuyer)}, keep(func(id int64) bool { return buyerOf[id] == someBuyer })},
		{"a buyer, unread only", map[string]any{"buyerId": models.GlobalID(models.TypeUser, someBuyer), "unreadOnly": true},
			keep(func(id int64) bool { return buyerOf[id] == someBuyer && unreadOf[id] > 0 })},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// Two at a time, to the end.
			var got []int64
			after := ""
			for range len(order) {
				r, res := query(tc.filter, 2, after)
				if res.Errors != nil {
					t.Fatalf("%+v", res.Errors)
				}
				if r.total != len(tc.want) || r.badge != len(unreadConvs) {
					t.Errorf("totalCount %d, badge %d; want %d and %d", r.total, r.badge, len(tc.want), len(unreadConvs))
				}
				got = append(got, r.ids...)
				if len(r.ids) < 2 {
					break
				}
				after = r.cursor
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
	// A cursor pages only the list it came from.
	r, _ := query(map[string]any{"unreadOnly": true}, 1, "")
	for _, other := range []map[string]any{nil, {"productId": models.GlobalID(models.TypeProduct, someProduct)}} {
		if _, res := query(other, 1, r.cursor); res.code() != "BAD_USER_INPUT" || res.Errors[0].Extensions["field"] != "after" {
			t.Errorf("an unreadOnly cursor with filter %v: %+v", other, res.Errors)
		}
	}
	if _, res := query(map[string]any{"productId": models.GlobalID(models.TypeUser, 1)}, 1, ""); res.code() != "BAD_USER_INPUT" || res.Errors[0].Extensions["field"] != "filter.productId" {
		t.Errorf("a user id as productId: %+v", res.Errors)
	}
	// Another user's badge is not shown.
	res := s.graphql(vendor, fmt.Sprintf(`{ node(id: %q) { ... on User { unreadConversationsCount } } }`, models.GlobalID(models.TypeUser, 2)), nil)
	if res.code() != "NOT_FOUND" {
		t.Errorf("another user's badge: %s %+v", res.Data, res.Errors)
	}
}

// TestReadStateMatchesTheMessages: after a run of sends and reads from both sides, the read
// state kept on every conversation equals the count from its messages.
func TestReadStateMatchesTheMessages(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, messagingSeed)
	s.assertReadState() // as seeded
	for i, conv := range s.inboxOrder(1) {
		var buyer int64
		s.db.Raw("SELECT user_id FROM conversation_participants WHERE conversation_id = ? AND user_id <> 1", conv).Scan(&buyer)
		id := models.GlobalID(models.TypeConversation, conv)
		for j, who := range []string{s.session(buyer), s.session(1), s.session(buyer)} {
			if _, res := s.send(who, map[string]any{"conversationId": id, "text": "сообщение", "clientMutationId": fmt.Sprintf("%d-%d", i, j)}); res.Errors != nil {
				t.Fatal(res.Errors)
			}
			if i%2 == 0 && j == 1 {
				s.graphql(s.session(1), markReadMutation, map[string]any{"input": map[string]any{"conversationId": id}})
			}
		}
		if i%3 == 0 {
			s.graphql(s.session(buyer), markReadMutation, map[string]any{"input": map[string]any{"conversationId": id}})
		}
	}
	s.assertReadState()
}

// TestSendMessageIsAtomic: when the transaction fails after the message was inserted (here
// the conversation's update, made to fail by a trigger), nothing of it remains, and a retry
// with the same key once the fault is gone writes the message once.
func TestSendMessageIsAtomic(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, messagingSeed)
	vendor := s.session(1)
	conv, _ := s.firstConversation(1)
	fault := map[string][]string{
		"postgres": {
			`CREATE FUNCTION fail_update() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'injected fault'; END $$`,
			`CREATE TRIGGER fail_update BEFORE UPDATE ON conversations FOR EACH ROW EXECUTE FUNCTION fail_update()`,
		},
		"sqlite": {`CREATE TRIGGER fail_update BEFORE UPDATE ON conversations BEGIN SELECT RAISE(ABORT, 'injected fault'); END`},
	}[dbtest.Dialect(t)]
	for _, stmt := range fault {
		if err := s.db.Exec(stmt).Error; err != nil {
			t.Fatal(err)
		}
	}
	messages := s.count("SELECT count(*) FROM messages")
	var updatedAt string
	s.db.Raw("SELECT CAST(updated_at AS TEXT) FROM conversations WHERE id = ?", conv).Scan(&updatedAt)
	input := map[string]any{"conversationId": models.GlobalID(models.TypeConversation, conv), "text": "Сейчас уточню", "clientMutationId": "atomic"}
	if _, res := s.send(vendor, input); res.code() != "INTERNAL_SERVER_ERROR" || strings.Contains(res.Errors[0].Message, "injected") {
		t.Fatalf("failing send: %+v", res.Errors)
	}
	var after string
	s.db.Raw("SELECT CAST(updated_at AS TEXT) FROM conversations WHERE id = ?", conv).Scan(&after)
	if n := s.count("SELECT count(*) FROM messages"); n != messages || after != updatedAt {
		t.Fatalf("a failed send left %d messages and updated_at %s (was %s)", n-messages, after, updatedAt)
	}
	if err := s.db.Exec("DROP TRIGGER fail_update" + map[string]string{"postgres": " ON conversations", "sqlite": ""}[dbtest.Dialect(t)]).Error; err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if _, res := s.send(vendor, input); res.Errors != nil {
			t.Fatalf("retry: %+v", res.Errors)
		}
	}
	if n := s.count("SELECT count(*) FROM messages"); n != messages+1 {
		t.Fatalf("the retries wrote %d messages, want 1", n-messages)
	}
	s.assertReadState()
}

// TestSendMessageDuringAnOutage: with the database down a send is SERVICE_UNAVAILABLE, and
// its retry with the same key after the database is back writes the message once.
func TestSendMessageDuringAnOutage(t *testing.T) {
	t.Parallel()
	cluster, db, summary := seededCluster(t)
	s := startTestServer(t, db, summary, map[string]string{"DATABASE_URL": cluster.URL()})
	vendor := s.session(1)
	conv, _ := s.firstConversation(1)
	input := map[string]any{"conversationId": models.GlobalID(models.TypeConversation, conv), "text": "Вы тут?", "clientMutationId": "outage"}
	cluster.Stop(t)
	if _, res := s.send(vendor, input); res.code() != "SERVICE_UNAVAILABLE" {
		t.Fatalf("send while down: %+v", res.Errors)
	}
	cluster.Start(t)
	deadline := time.Now().Add(15 * time.Second)
	for {
		_, res := s.send(vendor, input)
		if res.Errors == nil {
			break
		}
		if res.code() != "SERVICE_UNAVAILABLE" || time.Now().After(deadline) {
			t.Fatalf("retry after the outage: %+v", res.Errors)
		}
		time.Sleep(100 * time.Millisecond)
	}
	// The test's own pool still holds connections that died with the server.
	for s.db.Exec("SELECT 1").Error != nil && time.Now().Before(deadline) {
	}
	if n := s.count("SELECT count(*) FROM messages WHERE client_mutation_id = 'outage'"); n != 1 {
		t.Fatalf("%d messages with the key, want 1", n)
	}
}
