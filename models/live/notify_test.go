package live_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"gorm.io/gorm"

	"github.com/partizap/vendor-inbox/models"
	"github.com/partizap/vendor-inbox/models/database"
	"github.com/partizap/vendor-inbox/models/dbtest"
	"github.com/partizap/vendor-inbox/models/live"
	"github.com/partizap/vendor-inbox/models/seed"
)

// The notifier's tests run on PostgreSQL whatever TEST_DB says: SQLite has no notifier. Each
// listens to the changes channel on a connection of its own, as Listen does.

const announceWait = 5 * time.Second

// outboxDatabase is a fresh PostgreSQL database with vendor 1 selling conversations
// conversations, and their ids.
func outboxDatabase(t *testing.T, conversations int) (dsn string, db *gorm.DB, convs []int64) {
	t.Helper()
	dsn, db = dbtest.NewOn(t, database.Postgres)
	if _, err := seed.Seed(context.Background(), db, seed.Options{Vendors: 1, Conversations: conversations, Messages: 1, Seed: 5}); err != nil {
		t.Fatal(err)
	}
	if err := db.Raw("SELECT id FROM conversations WHERE seller_id = 1 ORDER BY id").Scan(&convs).Error; err != nil || len(convs) != conversations {
		t.Fatalf("conversations %v: %v", convs, err)
	}
	return dsn, db, convs
}

// startNotifier runs a Notifier on dsn until the test ends; logs are what it logged.
func startNotifier(t *testing.T, dsn string) (n *live.Notifier, logs *syncBuffer) {
	t.Helper()
	logs = &syncBuffer{}
	n, err := live.NewNotifier(dsn, slog.New(slog.NewTextHandler(logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		n.Run(ctx)
	}()
	t.Cleanup(func() { cancel(); <-done })
	return n, logs
}

// syncBuffer is a log sink safe for the notifier's goroutine.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// announcements are the notifications on models.ChangesChannel, as one listener hears them.
type announcements struct {
	t        *testing.T
	payloads chan string
}

// listenForChanges listens on dsn until the test ends.
func listenForChanges(t *testing.T, dsn string) *announcements {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, "LISTEN "+models.ChangesChannel); err != nil {
		t.Fatal(err)
	}
	a := &announcements{t: t, payloads: make(chan string, 10000)}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			n, err := conn.WaitForNotification(ctx)
			if err != nil {
				return
			}
			a.payloads <- n.Payload
		}
	}()
	t.Cleanup(func() { cancel(); <-done; _ = conn.Close(context.Background()) })
	return a
}

// next returns the payloads that bring the next n changes, and the changes, failing the test
// when they do not come within announceWait.
func (a *announcements) next(n int) (payloads []string, changes []models.Change) {
	a.t.Helper()
	deadline := time.After(announceWait)
	for len(changes) < n {
		select {
		case p := <-a.payloads:
			got, err := models.ParseChanges(p)
			if err != nil {
				a.t.Fatal(err)
			}
			payloads, changes = append(payloads, p), append(changes, got...)
		case <-deadline:
			a.t.Fatalf("%d changes announced in %v, want %d", len(changes), announceWait, n)
		}
	}
	return payloads, changes
}

// quiet fails the test when anything is announced within d.
func (a *announcements) quiet(d time.Duration) {
	a.t.Helper()
	select {
	case p := <-a.payloads:
		a.t.Fatalf("announced %s, want nothing more", p)
	case <-time.After(d):
	}
}

func outboxRows(t *testing.T, db *gorm.DB) int64 {
	t.Helper()
	var n int64
	if err := db.Raw("SELECT count(*) FROM live_changes").Scan(&n).Error; err != nil {
		t.Fatal(err)
	}
	return n
}

func send(t *testing.T, store *models.Store, conv int64, key string) models.Change {
	t.Helper()
	text := "сообщение " + key
	m, _, err := store.SendMessage(context.Background(), 1, models.OutgoingMessage{ConversationID: conv, Text: &text, ClientMutationID: key})
	if err != nil {
		t.Fatalf("send %s: %v", key, err)
	}
	return models.Change{ConversationID: conv, SellerID: 1, MessageID: m.ID}
}

func TestNotifierAnnouncesACommittedWriteOnce(t *testing.T) {
	t.Parallel()
	dsn, db, convs := outboxDatabase(t, 1)
	heard := listenForChanges(t, dsn)
	n, _ := startNotifier(t, dsn)
	store := models.NewStore(db)
	store.Announce(models.Announcing{Outbox: true, Recorded: n.Wake})

	want := send(t, store, convs[0], "once")
	if _, got := heard.next(1); !slices.Equal(got, []models.Change{want}) {
		t.Errorf("announced %+v, want %+v", got, want)
	}
	heard.quiet(2 * live.SweepInterval) // the sweeps that follow find nothing to announce again
	if rows := outboxRows(t, db); rows != 0 {
		t.Errorf("%d rows left in the outbox, want 0", rows)
	}
	if a, ns := n.Stats.Announced.Load(), n.Stats.Notifications.Load(); a != 1 || ns != 1 {
		t.Errorf("stats: %d announced in %d notifications, want 1 in 1", a, ns)
	}
}

func TestNotifierAnnouncesWhatWasCommittedWhileNoneRan(t *testing.T) {
	t.Parallel()
	dsn, db, convs := outboxDatabase(t, 2)
	// An instance that died after its commits, before announcing them: its rows wait.
	died := models.NewStore(db)
	died.Announce(models.Announcing{Outbox: true})
	want := []models.Change{send(t, died, convs[0], "d1"), send(t, died, convs[1], "d2"), send(t, died, convs[0], "d3")}
	var buyer int64
	if err := db.Raw("SELECT user_id FROM conversation_participants WHERE conversation_id = ? AND user_id <> 1", convs[1]).Scan(&buyer).Error; err != nil {
		t.Fatal(err)
	}
	if err := died.MarkConversationRead(context.Background(), buyer, convs[1], 0); err != nil { // reads d2
		t.Fatal(err)
	}
	want = append(want, models.Change{ConversationID: convs[1], SellerID: 1})
	if rows := outboxRows(t, db); rows != int64(len(want)) {
		t.Fatalf("%d rows in the outbox, want %d", rows, len(want))
	}

	heard := listenForChanges(t, dsn)
	startNotifier(t, dsn) // another instance's: it announces them at its start
	if _, got := heard.next(len(want)); !slices.Equal(got, want) {
		t.Errorf("announced %+v, want %+v", got, want)
	}
	// A row no write woke the notifier for (its wake lost) is found by the sweep.
	start := time.Now()
	if err := db.Exec("INSERT INTO live_changes (conversation_id, seller_id) VALUES (?, 1)", convs[0]).Error; err != nil {
		t.Fatal(err)
	}
	if _, got := heard.next(1); !slices.Equal(got, []models.Change{{ConversationID: convs[0], SellerID: 1}}) || time.Since(start) > 2*live.SweepInterval {
		t.Errorf("announced %+v after %v, want the read receipt within the sweep interval (%v)", got, time.Since(start), live.SweepInterval)
	}
	if rows := outboxRows(t, db); rows != 0 {
		t.Errorf("%d rows left in the outbox, want 0", rows)
	}
}

func TestNotifiersAnnounceEveryChangeOnceInCommitOrder(t *testing.T) {
	t.Parallel()
	const writers, sends = 16, 20
	dsn, db, convs := outboxDatabase(t, 5)
	heard := listenForChanges(t, dsn)
	// Two instances on the database, each with its own pool and notifier.
	var stores [2]*models.Store
	var notifiers [2]*live.Notifier
	for i := range stores {
		pool, err := database.Open(context.Background(), dsn)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { dbtest.Close(pool) })
		notifiers[i], _ = startNotifier(t, dsn)
		stores[i] = models.NewStore(pool)
		stores[i].Announce(models.Announcing{Outbox: true, Recorded: notifiers[i].Wake})
	}
	// Half the writers write into one conversation, the others spread over the rest; each
	// writer's sends alternate between the instances.
	var wg sync.WaitGroup
	errs := make(chan error, writers*sends)
	for w := range writers {
		wg.Go(func() {
			for i := range sends {
				conv := convs[0]
				if w%2 == 1 {
					conv = convs[1+(w/2+i)%(len(convs)-1)]
				}
				text := "конкурент"
				key := fmt.Sprintf("w%d-%d", w, i)
				if _, _, err := stores[(w+i)%2].SendMessage(context.Background(), 1, models.OutgoingMessage{ConversationID: conv, Text: &text, ClientMutationID: key}); err != nil {
					errs <- fmt.Errorf("send %s: %w", key, err)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}

	_, got := heard.next(writers * sends)
	heard.quiet(2 * live.SweepInterval)
	// Per conversation, the messages in their commit order: a send holds the conversation's row
	// lock from its read to its commit, so ids and times rise in commit order.
	var committed []struct{ ID, ConversationID int64 }
	if err := db.Raw("SELECT id, conversation_id FROM messages WHERE client_mutation_id LIKE 'w%' ORDER BY created_at, id").Scan(&committed).Error; err != nil {
		t.Fatal(err)
	}
	want, heardOf := map[int64][]int64{}, map[int64][]int64{}
	for _, m := range committed {
		want[m.ConversationID] = append(want[m.ConversationID], m.ID)
	}
	for _, c := range got {
		heardOf[c.ConversationID] = append(heardOf[c.ConversationID], c.MessageID)
	}
	if len(committed) != writers*sends {
		t.Fatalf("%d messages committed, want %d", len(committed), writers*sends)
	}
	for _, conv := range convs {
		if !slices.Equal(heardOf[conv], want[conv]) {
			t.Errorf("conversation %d: announced %v\nwant, in commit order, %v", conv, heardOf[conv], want[conv])
		}
	}
	announced := func() int64 { return notifiers[0].Stats.Announced.Load() + notifiers[1].Stats.Announced.Load() }
	// The listener may hear the last batch before its notifier, back from its commit, counts it.
	for deadline := time.Now().Add(5 * time.Second); announced() < writers*sends && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	if total := announced(); total != writers*sends {
		t.Errorf("the notifiers announced %d changes between them, want %d", total, writers*sends)
	}
	if rows := outboxRows(t, db); rows != 0 {
		t.Errorf("%d rows left in the outbox, want 0", rows)
	}
}

func TestNotifierAnnouncesABatchInPayloadsUnderTheLimit(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name   string
		insert string // 500 rows
		want   func(i int) models.Change
	}{
		{"messages with long ids", "INSERT INTO live_changes (conversation_id, seller_id, message_id) SELECT 1099511627776 + i % 7, 549755813888, 1125899906842624 + i FROM generate_series(0, 499) AS i",
			func(i int) models.Change {
				return models.Change{ConversationID: 1<<40 + int64(i%7), SellerID: 1 << 39, MessageID: 1<<50 + int64(i)}
			}},
		{"the same read receipt", "INSERT INTO live_changes (conversation_id, seller_id) SELECT 3, 1 FROM generate_series(0, 499)",
			func(int) models.Change { return models.Change{ConversationID: 3, SellerID: 1} }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dsn, db := dbtest.NewOn(t, database.Postgres)
			if err := db.Exec(tt.insert).Error; err != nil {
				t.Fatal(err)
			}
			heard := listenForChanges(t, dsn)
			n, _ := startNotifier(t, dsn)
			payloads, got := heard.next(live.BatchSize)
			want := make([]models.Change, live.BatchSize)
			for i := range want {
				want[i] = tt.want(i)
			}
			if !slices.Equal(got, want) {
				t.Errorf("announced %d changes, not the %d inserted in order", len(got), len(want))
			}
			for i, p := range payloads {
				if len(p) >= 8000 {
					t.Errorf("payload %d has %d bytes, want under 8000", i, len(p))
				}
			}
			// The listener may hear the batch before the notifier, back from its commit, counts it.
			for deadline := time.Now().Add(5 * time.Second); n.Stats.Announced.Load() < live.BatchSize && time.Now().Before(deadline); {
				time.Sleep(time.Millisecond)
			}
			if len(payloads) < 2 || n.Stats.Notifications.Load() != int64(len(payloads)) || n.Stats.Announced.Load() != live.BatchSize {
				t.Errorf("%d payloads; stats %d notifications, %d changes; want several payloads, all of one batch of %d",
					len(payloads), n.Stats.Notifications.Load(), n.Stats.Announced.Load(), live.BatchSize)
			}
		})
	}
}

func TestNotifierReconnectsAfterLosingItsConnection(t *testing.T) {
	t.Parallel()
	dsn, db, convs := outboxDatabase(t, 1)
	heard := listenForChanges(t, dsn)
	n, logs := startNotifier(t, dsn)
	store := models.NewStore(db)
	store.Announce(models.Announcing{Outbox: true, Recorded: n.Wake})
	send(t, store, convs[0], "before")
	heard.next(1)

	var terminated int
	if err := db.Raw("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = ? AND datname = current_database()", live.NotifierApplicationName).Scan(&terminated).Error; err != nil || terminated != 1 {
		t.Fatalf("terminated %d notifiers (%v), want 1", terminated, err)
	}
	want := send(t, store, convs[0], "after")
	if _, got := heard.next(1); !slices.Equal(got, []models.Change{want}) {
		t.Errorf("announced %+v, want %+v", got, want)
	}
	if f := n.Stats.Failures.Load(); f != 1 {
		t.Errorf("%d failed sweeps, want 1", f)
	}
	// The recovery is logged once the batch is announced: a moment after the listener heard it.
	for _, line := range []string{"level=WARN msg=\"live updates: announcing changes failed; retrying\"", "level=INFO msg=\"live updates: announcing changes again\" failed_sweeps=1"} {
		for deadline := time.Now().Add(announceWait); !strings.Contains(logs.String(), line); time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("the log has no %s:\n%s", line, logs.String())
			}
		}
	}
}
