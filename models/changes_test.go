package models_test

import (
	"cmp"
	"context"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"gorm.io/gorm"

	"github.com/partizap/vendor-inbox/models"
	"github.com/partizap/vendor-inbox/models/database"
	"github.com/partizap/vendor-inbox/models/dbtest"
	"github.com/partizap/vendor-inbox/models/seed"
)

// conversationOf is vendor 1's first conversation and its buyer, on a database seeded with two
// vendors.
func conversationOf(t *testing.T, store *models.Store) (conv *models.Conversation, buyerID int64) {
	t.Helper()
	page, err := store.VendorConversations(context.Background(), 1, models.PageArgs{First: ptr(1)}, models.InboxWith{})
	if err != nil || len(page.Items) != 1 {
		t.Fatalf("inbox: %v %v", page, err)
	}
	conv = page.Items[0]
	rows, err := store.ParticipantsByConversationID(context.Background(), 1, []int64{conv.ID})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		if r.User.ID != 1 {
			buyerID = r.User.ID
		}
	}
	return conv, buyerID
}

// writeStep is a write and the change it should announce, if any.
type writeStep struct {
	name  string
	write func() error
	want  []models.Change
}

// announcingWrites are writes to vendor 1's first conversation through store, each with what
// it must announce: a message (already sent when this returns), its retry, a refused send, a
// read receipt and a read that changes nothing.
func announcingWrites(t *testing.T, store *models.Store) []writeStep {
	t.Helper()
	ctx := context.Background()
	conv, buyer := conversationOf(t, store)
	text := "Есть в наличии?"
	msg, _, err := store.SendMessage(ctx, buyer, models.OutgoingMessage{ConversationID: conv.ID, Text: &text, ClientMutationID: "k1"})
	if err != nil {
		t.Fatal(err)
	}
	return []writeStep{
		{"a message", func() error { return nil }, []models.Change{{ConversationID: conv.ID, SellerID: 1, MessageID: msg.ID}}},
		{"its retry writes nothing", func() error {
			_, _, err := store.SendMessage(ctx, buyer, models.OutgoingMessage{ConversationID: conv.ID, Text: &text, ClientMutationID: "k1"})
			return err
		}, nil},
		{"a refused send", func() error {
			_, _, err := store.SendMessage(ctx, 2, models.OutgoingMessage{ConversationID: conv.ID, Text: &text, ClientMutationID: "k2"})
			if models.ErrorCode(err) != models.ENOTFOUND {
				t.Errorf("an outsider's send: %v, want not found", err)
			}
			return nil
		}, nil},
		{"the seller's read receipt", func() error { return store.MarkConversationRead(ctx, 1, conv.ID, 0) }, []models.Change{{ConversationID: conv.ID, SellerID: 1}}},
		{"reading again changes nothing", func() error { return store.MarkConversationRead(ctx, 1, conv.ID, 0) }, nil},
	}
}

func TestWritesAnnounceWhatTheyCommitOnce(t *testing.T) {
	t.Parallel()
	_, db := dbtest.New(t)
	if _, err := seed.Seed(context.Background(), db, seed.Options{Vendors: 2, Conversations: 2, Messages: 3, Seed: 3}); err != nil {
		t.Fatal(err)
	}
	store := models.NewStore(db)
	var mu sync.Mutex
	var got []models.Change
	store.Announce(models.Announcing{Local: func(c models.Change) {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, c)
	}})
	for _, step := range announcingWrites(t, store) {
		if err := step.write(); err != nil {
			t.Fatalf("%s: %v", step.name, err)
		}
		mu.Lock()
		announced := got
		got = nil
		mu.Unlock()
		if !slices.Equal(announced, step.want) {
			t.Errorf("%s: announced %+v, want %+v", step.name, announced, step.want)
		}
	}
}

// outboxOf takes the changes recorded in db's outbox, in id order, and empties it.
func outboxOf(t *testing.T, db *gorm.DB) []models.Change {
	t.Helper()
	var rows []struct {
		ID                                  int64
		ConversationID, SellerID, MessageID int64
	}
	if err := db.Raw("DELETE FROM live_changes RETURNING id, conversation_id, seller_id, message_id").Scan(&rows).Error; err != nil {
		t.Fatal(err)
	}
	slices.SortFunc(rows, func(a, b struct {
		ID                                  int64
		ConversationID, SellerID, MessageID int64
	}) int {
		return cmp.Compare(a.ID, b.ID)
	})
	var changes []models.Change
	for _, r := range rows {
		changes = append(changes, models.Change{ConversationID: r.ConversationID, SellerID: r.SellerID, MessageID: r.MessageID})
	}
	return changes
}

func TestWritesRecordWhatTheyCommitInTheOutbox(t *testing.T) {
	t.Parallel()
	dsn, db := dbtest.NewOn(t, database.Postgres)
	if _, err := seed.Seed(context.Background(), db, seed.Options{Vendors: 2, Conversations: 2, Messages: 3, Seed: 3}); err != nil {
		t.Fatal(err)
	}
	// The writes themselves announce nothing: that is the notifier's work.
	listener, err := pgx.Connect(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer listener.Close(context.Background())
	if _, err := listener.Exec(context.Background(), "LISTEN "+models.ChangesChannel); err != nil {
		t.Fatal(err)
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		if n, err := listener.WaitForNotification(ctx); err == nil {
			t.Errorf("a write notified %s %s, want no notification", n.Channel, n.Payload)
		}
	}()
	store := models.NewStore(db)
	var wakes atomic.Int64
	store.Announce(models.Announcing{Outbox: true, Recorded: func() { wakes.Add(1) }})
	for _, step := range announcingWrites(t, store) {
		before := wakes.Load()
		if err := step.write(); err != nil {
			t.Fatalf("%s: %v", step.name, err)
		}
		// The first step's message was sent before the steps began.
		if woken := wakes.Load() - before; step.name != "a message" && woken != int64(len(step.want)) {
			t.Errorf("%s: woke the notifier %d times, want %d", step.name, woken, len(step.want))
		}
		if recorded := outboxOf(t, db); !slices.Equal(recorded, step.want) {
			t.Errorf("%s: recorded %+v, want %+v", step.name, recorded, step.want)
		}
	}

	// A change that cannot be recorded fails its write: nothing is committed unannounced.
	conv, buyer := conversationOf(t, store)
	var messages, after int64
	db.Raw("SELECT count(*) FROM messages").Scan(&messages)
	if err := db.Exec("ALTER TABLE live_changes RENAME TO live_changes_away").Error; err != nil {
		t.Fatal(err)
	}
	text, before := "Не записано", wakes.Load()
	if _, _, err := store.SendMessage(context.Background(), buyer, models.OutgoingMessage{ConversationID: conv.ID, Text: &text, ClientMutationID: "k3"}); models.ErrorCode(err) != models.EINTERNAL {
		t.Errorf("a send whose change cannot be recorded: %v (code %q), want %q", err, models.ErrorCode(err), models.EINTERNAL)
	}
	db.Raw("SELECT count(*) FROM messages").Scan(&after)
	if after != messages || wakes.Load() != before {
		t.Errorf("it left %d messages (was %d) and woke the notifier %d times, want no message and no wake", after, messages, wakes.Load()-before)
	}
}

func TestChangePayloads(t *testing.T) {
	t.Parallel()
	many := func(n int, f func(i int) models.Change) []models.Change {
		out := make([]models.Change, n)
		for i := range out {
			out[i] = f(i)
		}
		return out
	}
	for _, tt := range []struct {
		name     string
		changes  []models.Change
		payloads int
	}{
		{"none", nil, 0},
		{"one", []models.Change{{ConversationID: 7, SellerID: 2, MessageID: 90}}, 1},
		{"500 messages with long ids", many(500, func(i int) models.Change {
			return models.Change{ConversationID: 1<<40 + int64(i%7), SellerID: 1 << 39, MessageID: 1<<50 + int64(i)}
		}), 8},
		// Three payloads of 285 read receipts each: identical ones would reach listeners once.
		{"855 times the same read receipt", many(855, func(int) models.Change { return models.Change{ConversationID: 3, SellerID: 1} }), 3},
	} {
		t.Run(tt.name, func(t *testing.T) {
			payloads := models.ChangePayloads(tt.changes)
			if len(payloads) != tt.payloads {
				t.Errorf("%d payloads, want %d", len(payloads), tt.payloads)
			}
			var all []models.Change
			seen := map[string]bool{}
			for i, p := range payloads {
				// Padding aside, within MaxPayloadBytes; padding included, within PostgreSQL's limit.
				if len(strings.TrimRight(p, " ")) > models.MaxPayloadBytes || len(p) >= 8000 {
					t.Errorf("payload %d has %d bytes, want at most %d and padding", i, len(p), models.MaxPayloadBytes)
				}
				if seen[p] {
					t.Errorf("payload %d repeats an earlier one", i)
				}
				seen[p] = true
				changes, err := models.ParseChanges(p)
				if err != nil {
					t.Fatal(err)
				}
				all = append(all, changes...)
			}
			if !slices.Equal(all, tt.changes) {
				t.Errorf("the payloads hold %d changes, not the %d given in order", len(all), len(tt.changes))
			}
		})
	}
	if got, want := models.ChangePayloads([]models.Change{{ConversationID: 7, SellerID: 2, MessageID: 90}, {ConversationID: 7, SellerID: 2}}), []string{`[{"c":7,"s":2,"m":90},{"c":7,"s":2}]`}; !slices.Equal(got, want) {
		t.Errorf("payloads %q, want %q", got, want)
	}
}

func TestParseChanges(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name, payload string
		want          []models.Change // nil: refused
	}{
		{"a batch", `[{"c":1,"s":2,"m":3},{"c":4,"s":2}]`, []models.Change{{ConversationID: 1, SellerID: 2, MessageID: 3}, {ConversationID: 4, SellerID: 2}}},
		{"a batch made distinct", `[{"c":1,"s":2}]  `, []models.Change{{ConversationID: 1, SellerID: 2}}},
		{"one change, as instances before the outbox sent it", `{"c":1,"s":2,"m":3}`, []models.Change{{ConversationID: 1, SellerID: 2, MessageID: 3}}},
		{"one read receipt, as instances before the outbox sent it", `{"c":1,"s":2}`, []models.Change{{ConversationID: 1, SellerID: 2}}},
		{"empty", "", nil},
		{"not JSON", "x", nil},
		{"an empty object", "{}", nil},
		{"no seller", `{"c":1}`, nil},
		{"a negative seller", `{"c":1,"s":-1}`, nil},
		{"a negative message", `{"c":1,"s":2,"m":-3}`, nil},
		{"an object and more", `{"c":1,"s":2}x`, nil},
		{"numbers", `[1,2]`, nil},
		{"an empty batch", `[]`, nil},
		{"null", `null`, nil},
		{"a batch with one bad change", `[{"c":1,"s":2},{}]`, nil},
		{"a cut batch", `[{"c":1,"s":2}`, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := models.ParseChanges(tt.payload)
			if tt.want == nil {
				if err == nil {
					t.Errorf("ParseChanges(%q) = %+v, want an error", tt.payload, got)
				}
				return
			}
			if err != nil || !slices.Equal(got, tt.want) {
				t.Errorf("ParseChanges(%q) = %+v, %v; want %+v", tt.payload, got, err, tt.want)
			}
		})
	}
}
