package models_test

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/partizap/vendor-inbox/models"
	"github.com/partizap/vendor-inbox/models/database"
	"github.com/partizap/vendor-inbox/models/dbtest"
	"github.com/partizap/vendor-inbox/models/pgtest"
)

var t0 = time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)

// fixture inserts rows with known values.
type fixture struct {
	t  *testing.T
	db *gorm.DB
}

func (f fixture) create(v any) {
	f.t.Helper()
	if err := f.db.Create(v).Error; err != nil {
		f.t.Fatalf("insert %T: %v", v, err)
	}
}

func (f fixture) user(name string) *models.User {
	u := &models.User{DisplayName: name, Rating: "4.50", CreatedAt: t0.Add(-1000 * time.Hour)}
	f.create(u)
	return u
}

func (f fixture) product(seller *models.User, title string) *models.Product {
	p := &models.Product{SellerID: seller.ID, Title: title, Price: 2500, CityID: 1, RegionID: 77, CreatedAt: t0.Add(-900 * time.Hour)}
	f.create(p)
	return p
}

// conversation creates a conversation between p's seller and buyer, last active at updatedAt.
func (f fixture) conversation(p *models.Product, buyer *models.User, updatedAt time.Time) *models.Conversation {
	c := &models.Conversation{ProductID: p.ID, SellerID: p.SellerID, CreatedAt: updatedAt.Add(-time.Hour), UpdatedAt: updatedAt}
	f.create(c)
	f.create(&[]models.Participant{
		{ConversationID: c.ID, UserID: p.SellerID, JoinedAt: c.CreatedAt},
		{ConversationID: c.ID, UserID: buyer.ID, JoinedAt: c.CreatedAt},
	})
	return c
}

func (f fixture) message(c *models.Conversation, sender *models.User, text string, at time.Time, read bool) *models.Message {
	m := &models.Message{ConversationID: c.ID, SenderID: sender.ID, Text: &text, IsRead: read, IsDelivered: true, CreatedAt: at}
	f.create(m)
	return m
}

func newFixture(t *testing.T) (fixture, *models.Store) {
	_, db := dbtest.New(t)
	return fixture{t, db}, models.NewStore(db)
}

func ptr[T any](v T) *T { return &v }

func TestMigrateTwiceAppliesNothingTheSecondTime(t *testing.T) {
	t.Parallel()
	_, db := dbtest.New(t) // already migrated once
	applied, err := database.Migrate(context.Background(), db)
	if err != nil {
		t.Fatalf("second Migrate: %v", err)
	}
	if len(applied) != 0 {
		t.Fatalf("second Migrate applied %v, want nothing", applied)
	}
	var versions []int
	db.Table("schema_migrations").Order("version").Pluck("version", &versions)
	if !slices.Equal(versions, []int{1, 2, 3}) {
		t.Fatalf("schema_migrations versions = %v, want [1 2 3]", versions)
	}
}

func TestMigrateRefusesAnEditedMigration(t *testing.T) {
	t.Parallel()
	_, db := dbtest.New(t)
	db.Exec("UPDATE schema_migrations SET checksum = 'edited' WHERE version = 1")
	_, err := database.Migrate(context.Background(), db)
	if err == nil || !strings.Contains(err.Error(), "was changed after it was applied") {
		t.Fatalf("Migrate after an edit: error = %v, want it refused", err)
	}
}

// TestVendorConversationsPaging pages through an inbox with ties on updated_at in both
// directions and at every page size that matters.
func TestVendorConversationsPaging(t *testing.T) {
	t.Parallel()
	f, store := newFixture(t)
	ctx := context.Background()
	cursors := models.NewCursors([]byte("test"))
	vendor, other, buyer := f.user("Vendor"), f.user("Other vendor"), f.user("Buyer")
	p, q := f.product(vendor, "Фара"), f.product(other, "Капот")
	var want []int64 // contract order: updated_at desc, id desc
	var convs []*models.Conversation
	for i := range 7 {
		// Pairs share updated_at, so the id tie-break matters.
		convs = append(convs, f.conversation(p, buyer, t0.Add(time.Duration(i/2)*time.Minute)))
	}
	f.conversation(q, buyer, t0.Add(time.Hour)) // another vendor's: never listed
	slices.SortFunc(convs, func(a, b *models.Conversation) int {
		if c := b.UpdatedAt.Compare(a.UpdatedAt); c != 0 {
			return c
		}
		return int(b.ID - a.ID)
	})
	for _, c := range convs {
		want = append(want, c.ID)
	}

	for _, size := range []int{1, 2, 3, 7, 100} {
		t.Run(fmt.Sprintf("forward by %d", size), func(t *testing.T) {
			var got []int64
			args := models.PageArgs{First: ptr(size), FarSide: true}
			for pages := 0; ; pages++ {
				page, err := store.VendorConversations(ctx, vendor.ID, args, models.InboxWith{})
				if err != nil {
					t.Fatal(err)
				}
				if page.HasPreviousPage != (pages > 0) {
					t.Errorf("page %d: HasPreviousPage = %v", pages, page.HasPreviousPage)
				}
				for _, c := range page.Items {
					got = append(got, c.ID)
				}
				if !page.HasNextPage {
					break
				}
				last := page.Items[len(page.Items)-1].InboxKey()
				k, _ := cursors.Decode(cursors.Encode(last))
				args.After = &k
			}
			if !slices.Equal(got, want) {
				t.Fatalf("ids = %v, want %v", got, want)
			}
		})
		t.Run(fmt.Sprintf("backward by %d", size), func(t *testing.T) {
			var got []int64
			args := models.PageArgs{Last: ptr(size), FarSide: true}
			for pages := 0; ; pages++ {
				page, err := store.VendorConversations(ctx, vendor.ID, args, models.InboxWith{})
				if err != nil {
					t.Fatal(err)
				}
				if page.HasNextPage != (pages > 0) {
					t.Errorf("page %d: HasNextPage = %v", pages, page.HasNextPage)
				}
				ids := make([]int64, len(page.Items))
				for i, c := range page.Items {
					ids[i] = c.ID
				}
				got = append(ids, got...)
				if !page.HasPreviousPage {
					break
				}
				first := page.Items[0].InboxKey()
				args.Before = &first
			}
			if !slices.Equal(got, want) {
				t.Fatalf("ids = %v, want %v", got, want)
			}
		})
	}

	t.Run("between two cursors", func(t *testing.T) {
		after, before := convs[1].InboxKey(), convs[5].InboxKey()
		page, err := store.VendorConversations(ctx, vendor.ID, models.PageArgs{After: &after, Before: &before}, models.InboxWith{})
		if err != nil {
			t.Fatal(err)
		}
		var got []int64
		for _, c := range page.Items {
			got = append(got, c.ID)
		}
		if !slices.Equal(got, want[2:5]) {
			t.Fatalf("ids = %v, want %v", got, want[2:5])
		}
	})

	n, err := store.CountVendorConversations(ctx, vendor.ID, models.InboxFilter{})
	if err != nil || n != 7 {
		t.Fatalf("CountVendorConversations = %d, %v; want 7", n, err)
	}
}

func TestVendorConversationsRejectsBadArgs(t *testing.T) {
	t.Parallel()
	store := models.NewStore(nil) // arguments are checked before any query
	tests := []struct {
		name  string
		args  models.PageArgs
		field string
	}{
		{"first and last", models.PageArgs{First: ptr(1), Last: ptr(1)}, "first"},
		{"negative first", models.PageArgs{First: ptr(-1)}, "first"},
		{"first over 100", models.PageArgs{First: ptr(101)}, "first"},
		{"negative last", models.PageArgs{Last: ptr(-1)}, "last"},
		{"last over 100", models.PageArgs{Last: ptr(101)}, "last"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := store.VendorConversations(context.Background(), 1, tt.args, models.InboxWith{})
			e, ok := err.(*models.Error)
			if !ok || e.Code != models.EINVALID || e.Field != tt.field {
				t.Fatalf("error = %#v, want EINVALID on %s", err, tt.field)
			}
		})
	}
	if _, err := store.VendorConversations(context.Background(), 0, models.PageArgs{}, models.InboxWith{}); err != models.ErrUnauthenticated {
		t.Fatalf("anonymous: error = %v, want ErrUnauthenticated", err)
	}
}

// TestPrivateDataIsOnlyForParticipants checks every query of private data against a
// participant and an outsider.
func TestPrivateDataIsOnlyForParticipants(t *testing.T) {
	t.Parallel()
	f, store := newFixture(t)
	ctx := context.Background()
	vendor, buyer, outsider := f.user("Vendor"), f.user("Buyer"), f.user("Outsider")
	c := f.conversation(f.product(vendor, "Фара"), buyer, t0)
	f.message(c, buyer, "Здравствуйте", t0.Add(-2*time.Minute), true)
	m2 := f.message(c, buyer, "Есть в наличии?", t0.Add(-time.Minute), false)
	m3 := f.message(c, buyer, "Ответьте, пожалуйста", t0, false)

	type view struct {
		Conversations, Messages, Participants, LastMessages int
		Unread                                              []models.UnreadCount
	}
	look := func(viewerID int64) view {
		t.Helper()
		var v view
		convs, err1 := store.ConversationsByID(ctx, viewerID, []int64{c.ID})
		msgs, err2 := store.MessagesByID(ctx, viewerID, []int64{m2.ID, m3.ID})
		parts, err3 := store.ParticipantsByConversationID(ctx, viewerID, []int64{c.ID})
		last, err4 := store.LastMessagesByConversationID(ctx, viewerID, []int64{c.ID})
		unread, err5 := store.UnreadCounts(ctx, viewerID, []int64{c.ID})
		for _, err := range []error{err1, err2, err3, err4, err5} {
			if err != nil {
				t.Fatal(err)
			}
		}
		v.Conversations, v.Messages, v.Participants, v.LastMessages, v.Unread = len(convs), len(msgs), len(parts), len(last), unread
		if len(last) == 1 && last[0].ID != m3.ID {
			t.Errorf("last message = %d, want %d", last[0].ID, m3.ID)
		}
		return v
	}
	tests := []struct {
		name   string
		viewer int64
		want   view
	}{
		{"seller", vendor.ID, view{1, 2, 2, 1, []models.UnreadCount{{ConversationID: c.ID, Count: 2}}}},
		{"buyer reads own messages as read", buyer.ID, view{1, 2, 2, 1, nil}},
		{"outsider", outsider.ID, view{0, 0, 0, 0, nil}},
		{"anonymous", 0, view{0, 0, 0, 0, nil}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, _ := json.Marshal(look(tt.viewer))
			want, _ := json.Marshal(tt.want)
			if string(got) != string(want) {
				t.Fatalf("got %s, want %s", got, want)
			}
		})
	}
}

func TestLastMessageBreaksTiesByID(t *testing.T) {
	t.Parallel()
	f, store := newFixture(t)
	vendor, buyer := f.user("Vendor"), f.user("Buyer")
	c := f.conversation(f.product(vendor, "Фара"), buyer, t0)
	empty := f.conversation(f.product(vendor, "Капот"), buyer, t0)
	f.message(c, buyer, "first", t0, true)
	second := f.message(c, vendor, "second, same instant", t0, true)
	last, err := store.LastMessagesByConversationID(context.Background(), vendor.ID, []int64{c.ID, empty.ID})
	if err != nil {
		t.Fatal(err)
	}
	if len(last) != 1 || last[0].ID != second.ID || *last[0].Text != "second, same instant" {
		t.Fatalf("last messages = %+v, want only message %d", last, second.ID)
	}
}

func TestSessions(t *testing.T) {
	t.Parallel()
	f, store := newFixture(t)
	ctx := context.Background()
	u := f.user("Vendor")
	id, err := store.CreateSession(ctx, u.ID, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	expired, err := store.CreateSession(ctx, u.ID, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	dbtest.ExpireSession(t, f.db, expired)

	// Only the SHA-256 of a session id is stored.
	var clear, hashed int64
	hash := sha256.Sum256([]byte(id))
	f.db.Model(&models.Session{}).Where("id_hash = ?", []byte(id)).Count(&clear)
	f.db.Model(&models.Session{}).Where("id_hash = ?", hash[:]).Count(&hashed)
	if clear != 0 || hashed != 1 {
		t.Fatalf("sessions stored with the id in clear: %d, with its hash: %d; want 0 and 1", clear, hashed)
	}
	tests := []struct {
		name, id string
		want     int64 // user id, 0 for unauthenticated
	}{
		{"valid", id, u.ID},
		{"expired", expired, 0},
		{"unknown", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", 0},
		{"empty", "", 0},
		{"huge", strings.Repeat("x", 10000), 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := store.UserBySession(ctx, tt.id)
			switch {
			case tt.want == 0 && err != models.ErrUnauthenticated:
				t.Fatalf("UserBySession = %v, %v; want ErrUnauthenticated", got, err)
			case tt.want != 0 && (err != nil || got.ID != tt.want):
				t.Fatalf("UserBySession = %v, %v; want user %d", got, err, tt.want)
			}
		})
	}
	if _, err := store.CreateSession(ctx, 999999, time.Hour); models.ErrorCode(err) != models.ENOTFOUND {
		t.Fatalf("session for a missing user: error = %v, want ENOTFOUND", err)
	}
}

// TestSessionCache resolves sessions through a store that remembers them (CacheSessions) and
// one that does not: what each lookup costs in statements, and what a session ended in the
// database does while it is remembered.
func TestSessionCache(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name string
		ttl  time.Duration
		// statements of looking a session up three times; whether it still signs in after it
		// was deleted and after it expired in the database
		statements           int
		deleted, expiredInDB bool
	}{
		{"off", 0, 3, false, false},
		{"on", time.Hour, 1, true, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f, store := newFixture(t)
			store.CacheSessions(tt.ttl)
			var statements int
			if err := database.CountStatements(f.db, func() { statements++ }); err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			u := f.user("Vendor")
			lookUp := func(id string) (*models.User, error) {
				t.Helper()
				statements = 0
				got, err := store.UserBySession(ctx, id)
				return got, err
			}
			id, err := store.CreateSession(ctx, u.ID, time.Hour)
			if err != nil {
				t.Fatal(err)
			}
			total := 0
			for range 3 {
				got, err := lookUp(id)
				if err != nil || got.ID != u.ID || got.DisplayName != "Vendor" {
					t.Fatalf("UserBySession = %+v, %v; want user %d «Vendor»", got, err, u.ID)
				}
				total += statements
			}
			if total != tt.statements {
				t.Errorf("three lookups of a session: %d statements, want %d", total, tt.statements)
			}
			// An unknown id is never remembered: each lookup is a statement.
			for range 2 {
				if _, err := lookUp("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"); err != models.ErrUnauthenticated || statements != 1 {
					t.Fatalf("unknown session: %v in %d statements, want ErrUnauthenticated in 1", err, statements)
				}
			}

			expired, err := store.CreateSession(ctx, u.ID, time.Hour)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := lookUp(expired); err != nil {
				t.Fatal(err)
			}
			dbtest.ExpireSession(t, f.db, expired)
			if _, err := lookUp(expired); (err == nil) != tt.expiredInDB {
				t.Errorf("a session expired in the database after its lookup: error %v, want signed in %v", err, tt.expiredInDB)
			}
			if err := f.db.Where("id_hash = ?", hashOf(id)).Delete(&models.Session{}).Error; err != nil {
				t.Fatal(err)
			}
			if _, err := lookUp(id); (err == nil) != tt.deleted {
				t.Errorf("a session deleted after its lookup: error %v, want signed in %v", err, tt.deleted)
			}
		})
	}
}

func hashOf(id string) []byte {
	h := sha256.Sum256([]byte(id))
	return h[:]
}

// TestVendorConversationsWith reads the parts InboxWith asks for with the page: each
// conversation's own product and newest message (the later id of two sent at once), none for a
// conversation without messages or one the viewer takes no part in, and nothing unasked.
func TestVendorConversationsWith(t *testing.T) {
	t.Parallel()
	f, store := newFixture(t)
	ctx := context.Background()
	vendor, buyer := f.user("Vendor"), f.user("Buyer")
	headlight, bonnet := f.product(vendor, "Фара"), f.product(vendor, "Капот")
	quiet := f.conversation(headlight, buyer, t0.Add(3*time.Hour))
	busy := f.conversation(bonnet, buyer, t0.Add(2*time.Hour))
	f.message(busy, buyer, "first", t0.Add(time.Minute), true)
	f.message(busy, vendor, "tied, earlier id", t0.Add(time.Hour), false)
	newest := f.message(busy, buyer, "tied, later id", t0.Add(time.Hour), false)
	// The vendor no longer takes part: the messages are not theirs to read.
	left := f.conversation(headlight, buyer, t0.Add(time.Hour))
	f.message(left, buyer, "hidden", t0.Add(time.Minute), false)
	if err := f.db.Where("conversation_id = ? AND user_id = ?", left.ID, vendor.ID).Delete(&models.Participant{}).Error; err != nil {
		t.Fatal(err)
	}
	describe := func(c *models.Conversation) string {
		s := fmt.Sprint(c.ID)
		if c.Product != nil {
			s += fmt.Sprintf(" product %d %q seller %d", c.Product.ID, c.Product.Title, c.Product.SellerID)
		}
		if m := c.LastMessage; m != nil {
			s += fmt.Sprintf(" message %d of %d by %d %q read=%t delivered=%t at %s", m.ID, m.ConversationID, m.SenderID, *m.Text, m.IsRead, m.IsDelivered, m.CreatedAt.UTC().Format(time.RFC3339))
		}
		return s
	}
	at := t0.Add(time.Hour).Format(time.RFC3339)
	tests := []struct {
		with models.InboxWith
		want []string
	}{
		{models.InboxWith{}, []string{fmt.Sprint(quiet.ID), fmt.Sprint(busy.ID), fmt.Sprint(left.ID)}},
		{models.InboxWith{Product: true}, []string{
			fmt.Sprintf("%d product %d \"Фара\" seller %d", quiet.ID, headlight.ID, vendor.ID),
			fmt.Sprintf("%d product %d \"Капот\" seller %d", busy.ID, bonnet.ID, vendor.ID),
			fmt.Sprintf("%d product %d \"Фара\" seller %d", left.ID, headlight.ID, vendor.ID),
		}},
		{models.InboxWith{LastMessage: true}, []string{
			fmt.Sprint(quiet.ID),
			fmt.Sprintf("%d message %d of %d by %d \"tied, later id\" read=false delivered=true at %s", busy.ID, newest.ID, busy.ID, buyer.ID, at),
			fmt.Sprint(left.ID),
		}},
		{models.InboxWith{Product: true, LastMessage: true}, []string{
			fmt.Sprintf("%d product %d \"Фара\" seller %d", quiet.ID, headlight.ID, vendor.ID),
			fmt.Sprintf("%d product %d \"Капот\" seller %d message %d of %d by %d \"tied, later id\" read=false delivered=true at %s", busy.ID, bonnet.ID, vendor.ID, newest.ID, busy.ID, buyer.ID, at),
			fmt.Sprintf("%d product %d \"Фара\" seller %d", left.ID, headlight.ID, vendor.ID),
		}},
	}
	for _, tt := range tests {
		for _, args := range []models.PageArgs{{First: ptr(10)}, {Last: ptr(10)}} {
			t.Run(fmt.Sprintf("%+v, last %t", tt.with, args.Last != nil), func(t *testing.T) {
				page, err := store.VendorConversations(ctx, vendor.ID, args, tt.with)
				if err != nil {
					t.Fatal(err)
				}
				var got []string
				for _, c := range page.Items {
					got = append(got, describe(c))
				}
				if !slices.Equal(got, tt.want) {
					t.Fatalf("page:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
				}
			})
		}
	}
}

// TestInboxIsAnIndexRangeScan explains the statements VendorConversations really runs, on a
// table large enough that the planner has a choice, and requires the inbox index with no sort.
func TestInboxIsAnIndexRangeScan(t *testing.T) {
	t.Parallel()
	f, _ := newFixture(t)
	const vendors, perVendor = 40, 500
	var users []models.User
	var products []models.Product
	var convs []models.Conversation
	for v := int64(1); v <= vendors; v++ {
		users = append(users, models.User{ID: v, DisplayName: fmt.Sprint("Vendor ", v), Rating: "4.00", CreatedAt: t0})
		products = append(products, models.Product{ID: v, SellerID: v, Title: "Part", Price: 100, CityID: 1, RegionID: 1, CreatedAt: t0})
		for i := range perVendor {
			at := t0.Add(time.Duration(i) * time.Hour)
			convs = append(convs, models.Conversation{ProductID: v, SellerID: v, CreatedAt: at, UpdatedAt: at.Add(time.Duration(i%97) * time.Minute)})
		}
	}
	for _, rows := range []any{&users, &products, &convs} {
		if err := f.db.CreateInBatches(rows, 1000).Error; err != nil {
			t.Fatal(err)
		}
	}
	if err := f.db.Exec("ANALYZE").Error; err != nil {
		t.Fatal(err)
	}
	var statements []string
	var vars [][]any
	if err := database.ObserveStatements(f.db, func(sql string, v []any) {
		statements = append(statements, sql)
		vars = append(vars, slices.Clone(v))
	}); err != nil {
		t.Fatal(err)
	}
	store := models.NewStore(f.db)
	key := models.InboxKey{UpdatedAt: t0.Add(200 * time.Hour), ID: 5000}
	for _, with := range []models.InboxWith{{}, {Product: true, LastMessage: true}, {Product: true, LastMessage: true, Images: true, Participants: true}} {
		for _, args := range []models.PageArgs{
			{First: ptr(20)},
			{First: ptr(100), After: &key, FarSide: true},
			{Last: ptr(20), Before: &key, FarSide: true},
		} {
			if _, err := store.VendorConversations(context.Background(), 7, args, with); err != nil {
				t.Fatal(err)
			}
		}
	}
	if len(statements) != 15 { // three pages and two probes, alone, with joins and with every part
		t.Fatalf("captured %d statements, want 15", len(statements))
	}
	for i, sql := range statements {
		// Each InboxWith's statements: a page, then twice a page and its probe.
		if page := i%5 != 2 && i%5 != 4; page && !strings.Contains(sql, " LIMIT 21") && !strings.Contains(sql, " LIMIT 101") {
			t.Errorf("statement %s\nreads no page of 20 or 100 and one more", sql)
		}
		var plan string
		if database.Dialect(f.db) == database.SQLite {
			if !sqliteReadsInboxInOrder(t, f.db, sql, vars[i]) {
				t.Errorf("statement %s\nis not a range scan of conversations_inbox_idx", sql)
			}
			continue
		}
		if err := f.db.Raw("EXPLAIN (FORMAT JSON) "+sql, vars[i]...).Row().Scan(&plan); err != nil {
			t.Fatal(err)
		}
		if !readsInboxInOrder(t, plan) {
			t.Errorf("statement %s\nis not a range scan of conversations_inbox_idx:\n%s", sql, plan)
		}
	}
}

// sqliteReadsInboxInOrder is readsInboxInOrder for SQLite's EXPLAIN QUERY PLAN of sql: the
// page (all of the plan, or its "MATERIALIZE page") is a search of the inbox index with no
// sort, and no table is scanned whole but by the header of the inbox's statement, which reads
// no row (models/inbox.go): each once, there.
func sqliteReadsInboxInOrder(t *testing.T, db *gorm.DB, sql string, vars []any) bool {
	t.Helper()
	var steps []struct {
		ID, Parent int
		Detail     string
	}
	if err := db.Raw("EXPLAIN QUERY PLAN "+sql, vars...).Scan(&steps).Error; err != nil {
		t.Fatal(err)
	}
	var plan strings.Builder
	page := map[int]bool{} // the page's steps, when it is materialized
	scans := map[string]int{}
	for _, s := range steps {
		plan.WriteString(s.Detail + "\n")
		if s.Detail == "MATERIALIZE page" || page[s.Parent] {
			page[s.ID] = true
		}
		if table, ok := strings.CutPrefix(s.Detail, "SCAN "); ok && table != "page" && !strings.HasPrefix(table, "(") {
			scans[table]++
		}
	}
	inOrder, sorted := false, false
	for _, s := range steps {
		if len(page) == 0 || page[s.ID] {
			inOrder = inOrder || strings.Contains(s.Detail, "INDEX conversations_inbox_idx (seller_id=?")
			sorted = sorted || strings.Contains(s.Detail, "TEMP B-TREE")
		}
	}
	ok := inOrder && !sorted
	for table, n := range scans {
		if n > 1 || len(page) == 0 { // no header without a materialized page
			t.Logf("%s is scanned %d times", table, n)
			ok = false
		}
	}
	if !ok {
		t.Logf("plan:\n%s", plan.String())
	}
	return ok
}

// readsInboxInOrder says whether a plan (EXPLAIN's JSON) reads conversations by the inbox index
// only, in its order up to the page's LIMIT: no sort of conversations below that LIMIT. Above it
// the page's rows may be sorted again after joins (as tiny tables make the planner choose
// here), and the joined tables, empty here, may be read any way: the one sort of them is of
// messages (alias l), by newestMessage. (A plan of one table names its sort keys unqualified.)
func readsInboxInOrder(t *testing.T, plan string) bool {
	t.Helper()
	type node struct {
		NodeType  string   `json:"Node Type"`
		Relation  string   `json:"Relation Name"`
		IndexName string   `json:"Index Name"`
		SortKey   []string `json:"Sort Key"`
		Plans     []node
	}
	var explained []struct{ Plan node }
	if err := json.Unmarshal([]byte(plan), &explained); err != nil || len(explained) != 1 {
		t.Fatalf("EXPLAIN's JSON %s: %v", plan, err)
	}
	inboxScans, ok := 0, true
	var walk func(n node, sorted bool)
	walk = func(n node, sorted bool) {
		switch {
		case n.NodeType == "Limit":
			sorted = false // a sort above the page's LIMIT sorts the page only
		case n.NodeType == "Sort" && len(n.SortKey) > 0 && !strings.HasPrefix(n.SortKey[0], "l."):
			sorted = true
		}
		switch {
		case n.Relation == "conversations" && n.IndexName == "conversations_inbox_idx":
			inboxScans++
			ok = ok && !sorted
		case n.Relation == "conversations":
			ok = false
		}
		for _, child := range n.Plans {
			walk(child, sorted)
		}
	}
	walk(explained[0].Plan, false)
	return ok && inboxScans == 1
}

// TestEveryStoreMethodIsUnavailableWhileTheDatabaseIsDown drives each public method of Store
// against a stopped PostgreSQL server: each fails with EUNAVAILABLE, the code clients may
// retry, never a raw driver error (an internal error). A method added to Store without a case
// here fails the test.
func TestEveryStoreMethodIsUnavailableWhileTheDatabaseIsDown(t *testing.T) {
	t.Parallel()
	cluster := pgtest.Start(t)
	ctx := context.Background()
	db, err := database.Open(ctx, cluster.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer dbtest.Close(db)
	if _, err := database.Migrate(ctx, db); err != nil {
		t.Fatal(err)
	}
	store := models.NewStore(db)
	cluster.Stop(t)
	ids := []int64{1, 2}
	calls := map[string]func() error{
		"VendorConversations": func() error {
			_, err := store.VendorConversations(ctx, 1, models.PageArgs{First: ptr(2)}, models.InboxWith{})
			return err
		},
		"CountVendorConversations":     func() error { _, err := store.CountVendorConversations(ctx, 1, models.InboxFilter{}); return err },
		"UsersByID":                    func() error { _, err := store.UsersByID(ctx, ids); return err },
		"ProductsByID":                 func() error { _, err := store.ProductsByID(ctx, 1, ids); return err },
		"ImagesByProductID":            func() error { _, err := store.ImagesByProductID(ctx, ids); return err },
		"ParticipantsByConversationID": func() error { _, err := store.ParticipantsByConversationID(ctx, 1, ids); return err },
		"LastMessagesByConversationID": func() error { _, err := store.LastMessagesByConversationID(ctx, 1, ids); return err },
		"UnreadCounts":                 func() error { _, err := store.UnreadCounts(ctx, 1, ids); return err },
		"ConversationsByID":            func() error { _, err := store.ConversationsByID(ctx, 1, ids); return err },
		"MessagesByID":                 func() error { _, err := store.MessagesByID(ctx, 1, ids); return err },
		"BusiestVendor":                func() error { _, _, err := store.BusiestVendor(ctx); return err },
		"CreateSession":                func() error { _, err := store.CreateSession(ctx, 1, time.Hour); return err },
		"UserBySession":                func() error { _, err := store.UserBySession(ctx, "a-session-id"); return err },
		"ConversationMessages": func() error {
			_, err := store.ConversationMessages(ctx, 1, ids, models.PageArgs{Last: ptr(2)})
			return err
		},
		"CountMessages": func() error { _, err := store.CountMessages(ctx, 1, ids); return err },
		"SentMessage":   func() error { _, err := store.SentMessage(ctx, 1, "key"); return err },
		"SendMessage": func() error {
			_, _, err := store.SendMessage(ctx, 1, models.OutgoingMessage{ConversationID: 1, Text: ptr("Здравствуйте"), ClientMutationID: "key"})
			return err
		},
		"MarkConversationRead":     func() error { return store.MarkConversationRead(ctx, 1, 1, 0) },
		"UnreadConversationsCount": func() error { _, err := store.UnreadConversationsCount(ctx, 1); return err },
		"SessionsAlive":            func() error { _, err := store.SessionsAlive(ctx, []string{"a-session-id"}); return err },
	}
	configuration := map[string]bool{"Announce": true, "CacheSessions": true} // not queries
	typ := reflect.TypeOf(store)
	for i := range typ.NumMethod() {
		if name := typ.Method(i).Name; calls[name] == nil && !configuration[name] {
			t.Errorf("Store.%s has no case in this test", name)
		}
	}
	for name, call := range calls {
		if err := call(); models.ErrorCode(err) != models.EUNAVAILABLE {
			t.Errorf("%s: %v (code %q), want %q", name, err, models.ErrorCode(err), models.EUNAVAILABLE)
		}
	}
}
