package models_test

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/partizap/vendor-inbox/models"
	"github.com/partizap/vendor-inbox/models/database"
	"github.com/partizap/vendor-inbox/models/dbtest"
	"github.com/partizap/vendor-inbox/models/seed"
)

// conversationOf is vendor 1's first conversation and its buyer, on a database seeded with two
// vendors.
func conversationOf(t *testing.T, store *models.Store) (conv *models.Conversation, buyerID int64) {
	t.Helper()
	page, err := store.VendorConversations(context.Background(), 1, models.PageArgs{First: ptr(1)})
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
	ctx := context.Background()
	conv, buyer := conversationOf(t, store)
	announced := func() []models.Change {
		mu.Lock()
		defer mu.Unlock()
		out := got
		got = nil
		return out
	}
	text := "Есть в наличии?"
	msg, _, err := store.SendMessage(ctx, buyer, models.OutgoingMessage{ConversationID: conv.ID, Text: &text, ClientMutationID: "k1"})
	if err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		name  string
		write func() error
		want  []models.Change
	}{
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
	for _, step := range steps {
		if err := step.write(); err != nil {
			t.Fatalf("%s: %v", step.name, err)
		}
		if changes := announced(); len(changes) != len(step.want) || (len(changes) > 0 && changes[0] != step.want[0]) {
			t.Errorf("%s: announced %+v, want %+v", step.name, changes, step.want)
		}
	}
}

func TestWritesNotifyOnPostgreSQL(t *testing.T) {
	t.Parallel()
	dsn, db := dbtest.NewOn(t, database.Postgres)
	if _, err := seed.Seed(context.Background(), db, seed.Options{Vendors: 1, Conversations: 1, Messages: 1, Seed: 3}); err != nil {
		t.Fatal(err)
	}
	store := models.NewStore(db)
	store.Announce(models.Announcing{Notify: true})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	listener, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer listener.Close(context.Background())
	if _, err := listener.Exec(ctx, `LISTEN `+models.ChangesChannel); err != nil {
		t.Fatal(err)
	}
	conv, buyer := conversationOf(t, store)
	text := "Добрый день"
	msg, _, err := store.SendMessage(ctx, buyer, models.OutgoingMessage{ConversationID: conv.ID, Text: &text, ClientMutationID: "n1"})
	if err != nil {
		t.Fatal(err)
	}
	n, err := listener.WaitForNotification(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := json.Marshal(models.Change{ConversationID: conv.ID, SellerID: 1, MessageID: msg.ID})
	if n.Channel != models.ChangesChannel || n.Payload != string(want) {
		t.Errorf("notified %s %s, want %s %s", n.Channel, n.Payload, models.ChangesChannel, want)
	}
	if c, err := models.ParseChange(n.Payload); err != nil || c.MessageID != msg.ID {
		t.Errorf("ParseChange: %+v %v", c, err)
	}
}

func TestParseChangeRefusesWhatIsNoChange(t *testing.T) {
	t.Parallel()
	for _, payload := range []string{"", "{}", `{"c":1}`, `{"c":1,"s":-1}`, `{"c":1,"s":2,"m":-3}`, `[1,2]`, "x"} {
		if c, err := models.ParseChange(payload); err == nil {
			t.Errorf("ParseChange(%q) = %+v, want an error", payload, c)
		}
	}
}
