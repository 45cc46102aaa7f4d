package loaders_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/partizap/vendor-inbox/models"
	"github.com/partizap/vendor-inbox/models/database"
	"github.com/partizap/vendor-inbox/models/dbtest"
	"github.com/partizap/vendor-inbox/models/loaders"
)

var t0 = time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)

// rows inserts rows with known values, as the tests of models do.
type rows struct {
	t  *testing.T
	db *gorm.DB
}

func (r rows) create(v any) {
	r.t.Helper()
	if err := r.db.Create(v).Error; err != nil {
		r.t.Fatalf("insert %T: %v", v, err)
	}
}

func (r rows) user(name string) *models.User {
	r.t.Helper()
	u := &models.User{DisplayName: name, Rating: "4.50", CreatedAt: t0.Add(-1000 * time.Hour)}
	r.create(u)
	return u
}

// product inserts a product of seller, published unless draft.
func (r rows) product(seller *models.User, title string, draft bool) *models.Product {
	r.t.Helper()
	p := &models.Product{SellerID: seller.ID, Title: title, Price: 2500, CityID: 1, RegionID: 77, CreatedAt: t0.Add(-900 * time.Hour)}
	if !draft {
		published := t0.Add(-800 * time.Hour)
		p.PublishedAt = &published
	}
	r.create(p)
	return p
}

// image inserts an image of p named name (its thumbnail is name.webp).
func (r rows) image(p *models.Product, name string, sortOrder int) *models.ProductImage {
	r.t.Helper()
	i := &models.ProductImage{
		ProductID: p.ID, ThumbnailWebp: name + ".webp", ThumbnailJpeg: name + ".jpg",
		MediumWebp: name + "-m.webp", MediumJpeg: name + "-m.jpg", LargeWebp: name + "-l.webp", LargeJpeg: name + "-l.jpg",
		Status: "ready", SortOrder: sortOrder,
	}
	r.create(i)
	return i
}

// conversation inserts a conversation about p between its seller and buyer, who both joined
// an hour before updatedAt, the seller first.
func (r rows) conversation(p *models.Product, buyer *models.User, updatedAt time.Time) *models.Conversation {
	r.t.Helper()
	c := &models.Conversation{ProductID: p.ID, SellerID: p.SellerID, CreatedAt: updatedAt.Add(-time.Hour), UpdatedAt: updatedAt}
	r.create(c)
	r.create(&[]models.Participant{
		{ConversationID: c.ID, UserID: p.SellerID, JoinedAt: c.CreatedAt},
		{ConversationID: c.ID, UserID: buyer.ID, JoinedAt: c.CreatedAt.Add(time.Second)},
	})
	return c
}

func (r rows) message(c *models.Conversation, sender *models.User, text string, at time.Time, read bool) *models.Message {
	r.t.Helper()
	m := &models.Message{ConversationID: c.ID, SenderID: sender.ID, Text: &text, IsRead: read, IsDelivered: true, CreatedAt: at}
	r.create(m)
	if !read && sender.ID != c.SellerID { // the seller's read state, as every writer keeps it
		c.SellerUnreadCount++
		if err := r.db.Model(c).Update("seller_unread_count", c.SellerUnreadCount).Error; err != nil {
			r.t.Fatal(err)
		}
	}
	return m
}

// meter counts the statements db executes.
type meter struct{ n atomic.Int64 }

func newMeter(t *testing.T, db *gorm.DB) *meter {
	t.Helper()
	m := &meter{}
	if err := database.CountStatements(db, func() { m.n.Add(1) }); err != nil {
		t.Fatal(err)
	}
	return m
}

// cost returns how many statements f executes.
func (m *meter) cost(f func()) int64 {
	before := m.n.Load()
	f()
	return m.n.Load() - before
}

func newDB(t *testing.T) (rows, *models.Store, *meter) {
	t.Helper()
	_, db := dbtest.New(t)
	return rows{t, db}, models.NewStore(db), newMeter(t, db)
}

// Renderings of loaded values, so that results compare as exact strings; "<nil>" is not found.

func userName(u *models.User) string {
	if u == nil {
		return "<nil>"
	}
	return u.DisplayName
}

func userNames(us []*models.User) string {
	names := make([]string, len(us))
	for i, u := range us {
		names[i] = userName(u)
	}
	return "[" + strings.Join(names, " ") + "]"
}

func productTitle(p *models.Product) string {
	if p == nil {
		return "<nil>"
	}
	return p.Title
}

func imageNames(is []*models.ProductImage) string {
	names := make([]string, len(is))
	for i, im := range is {
		names[i] = im.ThumbnailWebp
	}
	return "[" + strings.Join(names, " ") + "]"
}

func conversationName(c *models.Conversation) string {
	if c == nil {
		return "<nil>"
	}
	return fmt.Sprintf("conversation %d about product %d", c.ID, c.ProductID)
}

func messageText(m *models.Message) string {
	if m == nil {
		return "<nil>"
	}
	return *m.Text
}

// inbox is a vendor's conversations: conversation i (from 1) is with buyer i about product
// i, which has two images; it holds, when i <= 4, a read message from the vendor and then i
// unread messages from the buyer, the last of which is the conversation's last message.
type inbox struct {
	vendor        *models.User
	buyers        []*models.User
	products      []*models.Product
	conversations []*models.Conversation // newest activity first, as the inbox lists them
	firstUnread   []*models.Message      // conversation i's first unread message, nil after 4
}

func newInbox(r rows, name string, n int) inbox {
	r.t.Helper()
	in := inbox{vendor: r.user(name)}
	for i := 1; i <= n; i++ {
		buyer := r.user(fmt.Sprintf("%s buyer %d", name, i))
		p := r.product(in.vendor, fmt.Sprintf("%s product %d", name, i), false)
		// Inserted out of display order: the images come back by sort order.
		r.image(p, fmt.Sprintf("%s-p%d-second", name, i), 2)
		r.image(p, fmt.Sprintf("%s-p%d-first", name, i), 1)
		c := r.conversation(p, buyer, t0.Add(time.Duration(i)*time.Minute))
		var first *models.Message
		if i <= 4 {
			r.message(c, in.vendor, fmt.Sprintf("%s c%d vendor", name, i), t0.Add(-time.Hour), true)
			for k := 1; k <= i; k++ {
				m := r.message(c, buyer, fmt.Sprintf("%s c%d buyer %d", name, i, k), t0.Add(time.Duration(k)*time.Second), false)
				if k == 1 {
					first = m
				}
			}
		}
		in.firstUnread = append(in.firstUnread, first)
		in.buyers = append(in.buyers, buyer)
		in.products = append(in.products, p)
		in.conversations = append([]*models.Conversation{c}, in.conversations...)
	}
	return in
}

// lastMessage is the text of conversation i's last message (i from 1), or "<nil>".
func (in inbox) lastMessage(i int) string {
	if i > 4 {
		return "<nil>"
	}
	return fmt.Sprintf("%s c%d buyer %d", in.vendor.DisplayName, i, i)
}

// unread is how many messages of conversation i (from 1) the vendor has not read.
func (in inbox) unread(i int) int {
	if i > 4 {
		return 0
	}
	return i
}

// TestEachLoaderCostsOneStatementPerBatch loads N keys of each kind in one batch: one
// statement whether N is 1 or 5, and each key gets exactly its value.
func TestEachLoaderCostsOneStatementPerBatch(t *testing.T) {
	t.Parallel()
	r, store, m := newDB(t)
	in := newInbox(r, "Vendor", 5)
	ctx := context.Background()

	// ids picks the ids of the items numbered (from 1) in order.
	ids := func(of func(i int) int64, order ...int) []int64 {
		out := make([]int64, len(order))
		for k, i := range order {
			out[k] = of(i)
		}
		return out
	}
	userID := func(i int) int64 { return in.buyers[i-1].ID }
	productID := func(i int) int64 { return in.products[i-1].ID }
	conversationID := func(i int) int64 { return in.conversations[len(in.conversations)-i].ID }
	// Conversation i's first unread message; conversation 5 has none, so its key, 0, is missing.
	messageID := func(i int) int64 {
		if m := in.firstUnread[i-1]; m != nil {
			return m.ID
		}
		return 0
	}

	type kind struct {
		name string
		keys func(order []int) []int64
		want func(i int) string
		load func(l *loaders.Loaders, keys []int64) ([]string, error)
	}
	kinds := []kind{
		{"UserByID",
			func(o []int) []int64 { return ids(userID, o...) },
			func(i int) string { return fmt.Sprintf("Vendor buyer %d", i) },
			func(l *loaders.Loaders, keys []int64) ([]string, error) {
				return render(ctx, l.UserByID, keys, userName)
			}},
		{"ProductByID",
			func(o []int) []int64 { return ids(productID, o...) },
			func(i int) string { return fmt.Sprintf("Vendor product %d", i) },
			func(l *loaders.Loaders, keys []int64) ([]string, error) {
				return render(ctx, l.ProductByID, keys, productTitle)
			}},
		{"ImagesByProductID",
			func(o []int) []int64 { return ids(productID, o...) },
			func(i int) string { return fmt.Sprintf("[Vendor-p%d-first.webp Vendor-p%d-second.webp]", i, i) },
			func(l *loaders.Loaders, keys []int64) ([]string, error) {
				return render(ctx, l.ImagesByProductID, keys, imageNames)
			}},
		{"ConversationByID",
			func(o []int) []int64 { return ids(conversationID, o...) },
			func(i int) string {
				return fmt.Sprintf("conversation %d about product %d", conversationID(i), productID(i))
			},
			func(l *loaders.Loaders, keys []int64) ([]string, error) {
				return render(ctx, l.ConversationByID, keys, conversationName)
			}},
		{"ParticipantsByConversationID",
			func(o []int) []int64 { return ids(conversationID, o...) },
			func(i int) string { return fmt.Sprintf("[Vendor Vendor buyer %d]", i) },
			func(l *loaders.Loaders, keys []int64) ([]string, error) {
				return render(ctx, l.ParticipantsByConversationID, keys, userNames)
			}},
		{"LastMessageByConversationID",
			func(o []int) []int64 { return ids(conversationID, o...) },
			in.lastMessage,
			func(l *loaders.Loaders, keys []int64) ([]string, error) {
				return render(ctx, l.LastMessageByConversationID, keys, messageText)
			}},
		{"UnreadCountByConversationID",
			func(o []int) []int64 { return ids(conversationID, o...) },
			func(i int) string { return strconv.Itoa(in.unread(i)) },
			func(l *loaders.Loaders, keys []int64) ([]string, error) {
				return render(ctx, l.UnreadCountByConversationID, keys, strconv.Itoa)
			}},
		{"MessageByID",
			func(o []int) []int64 { return ids(messageID, o...) },
			func(i int) string {
				if i > 4 {
					return "<nil>"
				}
				return fmt.Sprintf("Vendor c%d buyer 1", i)
			},
			func(l *loaders.Loaders, keys []int64) ([]string, error) {
				return render(ctx, l.MessageByID, keys, messageText)
			}},
	}
	for _, k := range kinds {
		for _, order := range [][]int{{2}, {3, 5, 1, 4, 2}} {
			t.Run(fmt.Sprintf("%s of %d", k.name, len(order)), func(t *testing.T) {
				keys := k.keys(order)
				var want []string
				for _, i := range order {
					want = append(want, k.want(i))
				}
				l := loaders.New(store, in.vendor.ID)
				var got []string
				var err error
				if n := m.cost(func() { got, err = k.load(l, keys) }); n != 1 {
					t.Errorf("%d keys cost %d statements, want 1", len(keys), n)
				}
				if err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(got, want) {
					t.Fatalf("values = %q, want %q", got, want)
				}
				// The batch primed the loader: asking again costs nothing.
				if n := m.cost(func() { got, err = k.load(l, keys) }); n != 0 || err != nil {
					t.Fatalf("loading the same keys again cost %d statements (error %v), want 0", n, err)
				}
			})
		}
	}
}

// render prefetches keys with l in one batch and renders the values in key order.
func render[V any](ctx context.Context, l *loaders.Loader[int64, V], keys []int64, show func(V) string) ([]string, error) {
	vs, err := l.Prefetch(ctx, keys)
	if err != nil {
		return nil, err
	}
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = show(v)
	}
	return out, nil
}

// TestMissingKeys loads ids that do not exist: each loader gives its documented empty value,
// with no error.
func TestMissingKeys(t *testing.T) {
	t.Parallel()
	r, store, _ := newDB(t)
	vendor := r.user("Vendor")
	l := loaders.New(store, vendor.ID)
	ctx := context.Background()
	const missing = 424242
	tests := []struct {
		name string
		load func() (string, error)
		want string
	}{
		{"UserByID", func() (string, error) { u, err := l.UserByID.Get(ctx, missing); return userName(u), err }, "<nil>"},
		{"ProductByID", func() (string, error) { p, err := l.ProductByID.Get(ctx, missing); return productTitle(p), err }, "<nil>"},
		{"ImagesByProductID", func() (string, error) {
			is, err := l.ImagesByProductID.Get(ctx, missing)
			return fmt.Sprintf("%s nil=%v", imageNames(is), is == nil), err
		}, "[] nil=false"},
		{"ConversationByID", func() (string, error) {
			c, err := l.ConversationByID.Get(ctx, missing)
			return conversationName(c), err
		}, "<nil>"},
		{"ParticipantsByConversationID", func() (string, error) {
			us, err := l.ParticipantsByConversationID.Get(ctx, missing)
			return fmt.Sprintf("%s nil=%v", userNames(us), us == nil), err
		}, "[] nil=false"},
		{"LastMessageByConversationID", func() (string, error) {
			m, err := l.LastMessageByConversationID.Get(ctx, missing)
			return messageText(m), err
		}, "<nil>"},
		{"UnreadCountByConversationID", func() (string, error) {
			n, err := l.UnreadCountByConversationID.Get(ctx, missing)
			return strconv.Itoa(n), err
		}, "0"},
		{"MessageByID", func() (string, error) { m, err := l.MessageByID.Get(ctx, missing); return messageText(m), err }, "<nil>"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.load()
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Fatalf("got %s, want %s", got, tt.want)
			}
		})
	}
}

// server is a handler wrapped in Middleware; its request method serves one request with context
// ctx (where the session middleware leaves the viewer) and returns the loaders the handler
// found with For.
func server(t *testing.T, store *models.Store) func(ctx context.Context) *loaders.Loaders {
	var got *loaders.Loaders
	h := loaders.Middleware(store)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = loaders.For(r.Context())
		if again := loaders.For(r.Context()); again != got {
			t.Error("For gave two different loaders within one request")
		}
	}))
	return func(ctx context.Context) *loaders.Loaders {
		t.Helper()
		got = nil
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/graphql", nil).WithContext(ctx))
		if got == nil {
			t.Fatal("the handler did not run")
		}
		return got
	}
}

// TestLoadersShowPrivateDataOnlyToParticipants loads one conversation's data through the
// loaders Middleware gives requests of each kind of viewer.
func TestLoadersShowPrivateDataOnlyToParticipants(t *testing.T) {
	t.Parallel()
	r, store, _ := newDB(t)
	vendor, buyer, otherBuyer, outsider := r.user("Vendor"), r.user("Buyer"), r.user("Other buyer"), r.user("Outsider")
	draft := r.product(vendor, "Draft headlight", true) // visible to its seller and its conversations' participants
	c := r.conversation(draft, buyer, t0)
	r.conversation(draft, otherBuyer, t0) // otherBuyer talks about the same product, not in c
	question := r.message(c, buyer, "question", t0, false)
	r.message(c, vendor, "answer", t0.Add(time.Minute), false)

	type view struct {
		Conversation, Participants, LastMessage string
		Unread                                  int
		Message, Product, Buyer                 string
	}
	look := func(t *testing.T, l *loaders.Loaders) view {
		t.Helper()
		ctx := context.Background()
		var v view
		var errs [7]error
		var conv *models.Conversation
		var parts []*models.User
		var last, msg *models.Message
		var p *models.Product
		var u *models.User
		conv, errs[0] = l.ConversationByID.Get(ctx, c.ID)
		parts, errs[1] = l.ParticipantsByConversationID.Get(ctx, c.ID)
		last, errs[2] = l.LastMessageByConversationID.Get(ctx, c.ID)
		v.Unread, errs[3] = l.UnreadCountByConversationID.Get(ctx, c.ID)
		msg, errs[4] = l.MessageByID.Get(ctx, question.ID)
		p, errs[5] = l.ProductByID.Get(ctx, draft.ID)
		u, errs[6] = l.UserByID.Get(ctx, buyer.ID)
		if err := errors.Join(errs[:]...); err != nil {
			t.Fatal(err)
		}
		v.Conversation, v.Participants, v.LastMessage = conversationName(conv), userNames(parts), messageText(last)
		v.Message, v.Product, v.Buyer = messageText(msg), productTitle(p), userName(u)
		return v
	}
	seen := view{
		Conversation: conversationName(c), Participants: "[Vendor Buyer]", LastMessage: "answer",
		Unread: 1, Message: "question", Product: "Draft headlight", Buyer: "Buyer",
	}
	// Users are public; nothing else of c is.
	nothing := view{Conversation: "<nil>", Participants: "[]", LastMessage: "<nil>", Unread: 0, Message: "<nil>", Product: "<nil>", Buyer: "Buyer"}
	otherBuyersView := nothing
	otherBuyersView.Product = "Draft headlight" // a participant of another conversation about it
	bg := context.Background()
	request := server(t, store)
	tests := []struct {
		name string
		ctx  context.Context
		want view
	}{
		{"the seller", models.WithViewer(bg, vendor, nil), seen},
		{"the buyer", models.WithViewer(bg, buyer, nil), seen},
		{"a participant of another conversation about the product", models.WithViewer(bg, otherBuyer, nil), otherBuyersView},
		{"an outsider", models.WithViewer(bg, outsider, nil), nothing},
		{"anonymous", models.WithViewer(bg, nil, nil), nothing},
		{"a failed session lookup", models.WithViewer(bg, nil, errors.New("session store down")), nothing},
		{"no session middleware", bg, nothing},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := look(t, request(tt.ctx)); got != tt.want {
				t.Fatalf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

// TestLoadersArePerRequest checks that nothing one request's loaders hold reaches another's:
// not from New, not from Middleware.
func TestLoadersArePerRequest(t *testing.T) {
	t.Parallel()
	r, store, m := newDB(t)
	vendor := r.user("Vendor")
	ctx := context.Background()
	asVendor := models.WithViewer(ctx, vendor, nil)
	request := server(t, store) // both requests go through one handler
	tests := []struct {
		name string
		new  func() *loaders.Loaders
	}{
		{"New", func() *loaders.Loaders { return loaders.New(store, vendor.ID) }},
		{"Middleware", func() *loaders.Loaders { return request(asVendor) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			first, second := tt.new(), tt.new()
			if first == second {
				t.Fatal("two requests got the same loaders")
			}
			get := func(l *loaders.Loaders) string {
				u, err := l.UserByID.Get(ctx, vendor.ID)
				if err != nil {
					t.Fatal(err)
				}
				return userName(u)
			}
			first.UserByID.Prime(ctx, 999, &models.User{ID: 999, DisplayName: "primed in the first"})
			steps := []struct {
				name  string
				l     *loaders.Loaders
				want  string
				costs int64
			}{
				{"the first loads", first, "Vendor", 1},
				{"the first again, from its cache", first, "Vendor", 0},
				{"the second, from the database", second, "Vendor", 1},
			}
			for _, s := range steps {
				var got string
				if n := m.cost(func() { got = get(s.l) }); n != s.costs || got != s.want {
					t.Fatalf("%s: %q for %d statements, want %q for %d", s.name, got, n, s.want, s.costs)
				}
			}
			u, err := second.UserByID.Get(ctx, 999)
			if err != nil || u != nil {
				t.Fatalf("the second found %v, %v for what the first primed, want nothing", u, err)
			}
		})
	}
}

func TestFor(t *testing.T) {
	t.Parallel()
	l := loaders.New(models.NewStore(nil), 7)
	if got := loaders.For(loaders.NewContext(context.Background(), l)); got != l {
		t.Fatalf("For(NewContext(l)) = %p, want %p", got, l)
	}
	defer func() {
		p := recover()
		if msg, _ := p.(string); !strings.Contains(msg, "loaders.Middleware") {
			t.Fatalf("For without loaders panicked with %v, want a message naming loaders.Middleware", p)
		}
	}()
	loaders.For(context.Background())
	t.Fatal("For without loaders did not panic")
}

// TestVendorInboxPrefetch reads a page of the inbox with each set of nested fields: the page
// costs one statement per kind asked for whatever its size, and reading those fields
// afterwards, as the resolvers do, costs nothing and gives each conversation its own data.
func TestVendorInboxPrefetch(t *testing.T) {
	t.Parallel()
	r, store, m := newDB(t)
	inboxes := []inbox{newInbox(r, "Solo", 1), newInbox(r, "Busy", 5), newInbox(r, "Empty", 0)}
	ctx := context.Background()
	tests := []struct {
		name   string
		fields loaders.ConversationFields
		costs  int64 // statements of VendorInbox, the page's own included
	}{
		// The page's statement reads the products, images, last messages and participants with it.
		{"no nested field", loaders.ConversationFields{}, 1},
		{"product", loaders.ConversationFields{Product: true}, 1},
		{"product images", loaders.ConversationFields{ProductImages: true}, 1},
		{"product seller", loaders.ConversationFields{ProductSeller: true}, 2}, // users
		{"participants", loaders.ConversationFields{Participants: true}, 1},    // participants prime the users
		{"participants and seller", loaders.ConversationFields{Participants: true, ProductSeller: true}, 1},
		{"last message", loaders.ConversationFields{LastMessage: true}, 1},
		{"message sender", loaders.ConversationFields{MessageSender: true}, 2},                         // users
		{"seller and sender", loaders.ConversationFields{ProductSeller: true, MessageSender: true}, 2}, // one users statement for both
		{"unread count", loaders.ConversationFields{UnreadCount: true}, 1},                             // the seller's: on the page's rows
		{"every field", loaders.AllConversationFields, 1},
	}
	for _, tt := range tests {
		for _, in := range inboxes {
			n := len(in.conversations)
			t.Run(fmt.Sprintf("%s, %d conversations", tt.name, n), func(t *testing.T) {
				l := loaders.New(store, in.vendor.ID)
				var page models.Page[*models.Conversation]
				var err error
				costs := m.cost(func() { page, err = l.VendorInbox(ctx, models.PageArgs{}, tt.fields) })
				if err != nil {
					t.Fatal(err)
				}
				want := tt.costs
				if n == 0 {
					want = 1 // an empty page has nothing nested to load
				}
				if costs != want {
					t.Errorf("VendorInbox cost %d statements, want %d", costs, want)
				}
				var got, wantFields []string
				if read := m.cost(func() { got = readFields(t, l, page.Items, tt.fields) }); read != 0 {
					t.Errorf("reading the prefetched fields cost %d statements, want 0", read)
				}
				for k := range page.Items {
					wantFields = append(wantFields, in.fields(n-k, tt.fields))
				}
				if !slices.Equal(got, wantFields) {
					t.Fatalf("fields:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(wantFields, "\n"))
				}
			})
		}
	}
}

// readFields reads the nested fields f of convs as the resolvers do, one Get at a time.
func readFields(t *testing.T, l *loaders.Loaders, convs []*models.Conversation, f loaders.ConversationFields) []string {
	t.Helper()
	ctx := context.Background()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	out := make([]string, len(convs))
	for i, c := range convs {
		var b strings.Builder
		fmt.Fprintf(&b, "conversation %d", c.ID)
		if f.Product || f.ProductSeller {
			p, err := l.ProductByID.Get(ctx, c.ProductID)
			must(err)
			if f.Product {
				fmt.Fprintf(&b, " product=%q", productTitle(p))
			}
			if f.ProductSeller {
				u, err := l.UserByID.Get(ctx, p.SellerID)
				must(err)
				fmt.Fprintf(&b, " seller=%q", userName(u))
			}
		}
		if f.ProductImages {
			is, err := l.ImagesByProductID.Get(ctx, c.ProductID)
			must(err)
			fmt.Fprintf(&b, " images=%s", imageNames(is))
		}
		if f.Participants {
			us, err := l.ParticipantsByConversationID.Get(ctx, c.ID)
			must(err)
			fmt.Fprintf(&b, " participants=%s", userNames(us))
		}
		if f.LastMessage || f.MessageSender {
			msg, err := l.LastMessageByConversationID.Get(ctx, c.ID)
			must(err)
			if f.LastMessage {
				fmt.Fprintf(&b, " last=%q", messageText(msg))
			}
			if f.MessageSender && msg != nil {
				u, err := l.UserByID.Get(ctx, msg.SenderID)
				must(err)
				fmt.Fprintf(&b, " sender=%q", userName(u))
			}
		}
		if f.UnreadCount {
			n, err := l.UnreadCountByConversationID.Get(ctx, c.ID)
			must(err)
			fmt.Fprintf(&b, " unread=%d", n)
		}
		out[i] = b.String()
	}
	return out
}

// fields is what readFields gives for conversation i (from 1) of the inbox, from the values
// newInbox inserted.
func (in inbox) fields(i int, f loaders.ConversationFields) string {
	name := in.vendor.DisplayName
	c := in.conversations[len(in.conversations)-i]
	var b strings.Builder
	fmt.Fprintf(&b, "conversation %d", c.ID)
	if f.Product {
		fmt.Fprintf(&b, " product=%q", fmt.Sprintf("%s product %d", name, i))
	}
	if f.ProductSeller {
		fmt.Fprintf(&b, " seller=%q", name)
	}
	if f.ProductImages {
		fmt.Fprintf(&b, " images=[%s-p%d-first.webp %s-p%d-second.webp]", name, i, name, i)
	}
	if f.Participants {
		fmt.Fprintf(&b, " participants=[%s %s buyer %d]", name, name, i)
	}
	if f.LastMessage {
		fmt.Fprintf(&b, " last=%q", in.lastMessage(i))
	}
	if f.MessageSender && i <= 4 {
		fmt.Fprintf(&b, " sender=%q", fmt.Sprintf("%s buyer %d", name, i))
	}
	if f.UnreadCount {
		fmt.Fprintf(&b, " unread=%d", in.unread(i))
	}
	return b.String()
}

// TestPrefetchConversationsOfNoConversations costs nothing, whatever is asked.
func TestPrefetchConversationsOfNoConversations(t *testing.T) {
	t.Parallel()
	_, store, m := newDB(t)
	l := loaders.New(store, 1)
	var err error
	if n := m.cost(func() { err = l.PrefetchConversations(context.Background(), nil, loaders.AllConversationFields) }); n != 0 || err != nil {
		t.Fatalf("PrefetchConversations(nil) cost %d statements, error %v; want 0 and none", n, err)
	}
}

// TestParticipantsPrimeUsers: once a conversation's participants are loaded, their profiles
// cost nothing.
func TestParticipantsPrimeUsers(t *testing.T) {
	t.Parallel()
	r, store, m := newDB(t)
	in := newInbox(r, "Vendor", 2)
	ctx := context.Background()
	l := loaders.New(store, in.vendor.ID)
	ids := []int64{in.conversations[0].ID, in.conversations[1].ID}
	if n := m.cost(func() {
		if _, err := l.ParticipantsByConversationID.Prefetch(ctx, ids); err != nil {
			t.Fatal(err)
		}
	}); n != 1 {
		t.Fatalf("participants of two conversations cost %d statements, want 1", n)
	}
	users := []*models.User{in.vendor, in.buyers[0], in.buyers[1]}
	var got []string
	if n := m.cost(func() {
		for _, u := range users {
			v, err := l.UserByID.Get(ctx, u.ID)
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, userName(v))
		}
	}); n != 0 {
		t.Fatalf("the participants' profiles cost %d statements, want 0", n)
	}
	if want := []string{"Vendor", "Vendor buyer 1", "Vendor buyer 2"}; !slices.Equal(got, want) {
		t.Fatalf("users = %q, want %q", got, want)
	}
}
