package seed

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/schema"

	"github.com/partizap/vendor-inbox/models"
	"github.com/partizap/vendor-inbox/models/database"
	"github.com/partizap/vendor-inbox/models/dbtest"
)

// The tests run on the dialect TEST_DB selects (dbtest.New), so every query in them is written
// in the SQL PostgreSQL 15 and SQLite 3 share; what they do not share is computed in Go.

func mustSeed(t *testing.T, db *gorm.DB, opts Options) Summary {
	t.Helper()
	sum, err := Seed(t.Context(), db, opts)
	if err != nil {
		t.Fatalf("Seed(%+v): %v", opts, err)
	}
	return sum
}

// count runs a query returning one integer.
func count(t *testing.T, db *gorm.DB, query string, args ...any) int64 {
	t.Helper()
	var n int64
	if err := db.Raw(query, args...).Scan(&n).Error; err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

// tableCounts counts the rows of every seeded table, in Summary's terms.
func tableCounts(t *testing.T, db *gorm.DB, vendors int) Summary {
	t.Helper()
	return Summary{
		Users:          count(t, db, "SELECT count(*) FROM users"),
		Vendors:        count(t, db, "SELECT count(*) FROM users WHERE id <= ?", vendors),
		Buyers:         count(t, db, "SELECT count(*) FROM users WHERE id > ?", vendors),
		Products:       count(t, db, "SELECT count(*) FROM products"),
		ProductImages:  count(t, db, "SELECT count(*) FROM product_images"),
		Conversations:  count(t, db, "SELECT count(*) FROM conversations"),
		Participants:   count(t, db, "SELECT count(*) FROM conversation_participants"),
		Messages:       count(t, db, "SELECT count(*) FROM messages"),
		UnreadMessages: count(t, db, "SELECT count(*) FROM messages WHERE NOT is_read"),
		// The vendor with most conversations, ties to the lowest id, computed independently.
		BusiestVendorID: count(t, db, `SELECT u.id FROM users u WHERE u.id <= ?
			ORDER BY (SELECT count(*) FROM conversations c WHERE c.seller_id = u.id) DESC, u.id LIMIT 1`, vendors),
	}
}

func TestSeedCounts(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		opts Options
		// want has every count the rules fix; images and unread messages are drawn, so they
		// are checked against the tables and their bounds instead.
		want Summary
	}{
		{
			name: "two vendors",
			opts: Options{Vendors: 2, Conversations: 5, Messages: 4, Seed: 1},
			want: Summary{Users: 6, Vendors: 2, Buyers: 4, Products: 4, Conversations: 10, Participants: 20, Messages: 40, BusiestVendorID: 1},
		},
		{
			name: "no conversations",
			opts: Options{Vendors: 3, Conversations: 0, Messages: 0, Seed: 1},
			want: Summary{Users: 9, Vendors: 3, Buyers: 6, Products: 3, BusiestVendorID: 1},
		},
		{
			name: "conversations without messages",
			opts: Options{Vendors: 1, Conversations: 1, Messages: 0, Seed: 2},
			want: Summary{Users: 4, Vendors: 1, Buyers: 3, Products: 1, Conversations: 1, Participants: 2, BusiestVendorID: 1},
		},
		{
			name: "a product per three conversations",
			opts: Options{Vendors: 1, Conversations: 3, Messages: 1, Seed: 3},
			want: Summary{Users: 4, Vendors: 1, Buyers: 3, Products: 1, Conversations: 3, Participants: 6, Messages: 3, BusiestVendorID: 1},
		},
		{
			name: "ties in every inbox",
			opts: Options{Vendors: 4, Conversations: 12, Messages: 7, Seed: 4},
			want: Summary{Users: 12, Vendors: 4, Buyers: 8, Products: 16, Conversations: 48, Participants: 96, Messages: 336, BusiestVendorID: 1},
		},
		{
			// Vendor 1: 40 conversations on 14 listings; the others 5 on 2 each.
			name: "a busiest vendor",
			opts: Options{Vendors: 3, Conversations: 5, BusiestConversations: 40, Messages: 2, Seed: 5},
			want: Summary{Users: 9, Vendors: 3, Buyers: 6, Products: 18, Conversations: 50, Participants: 100, Messages: 100, BusiestVendorID: 1},
		},
		{
			name: "a busiest vendor among vendors without conversations",
			opts: Options{Vendors: 2, Conversations: 0, BusiestConversations: 7, Messages: 3, Seed: 6},
			want: Summary{Users: 6, Vendors: 2, Buyers: 4, Products: 4, Conversations: 7, Participants: 14, Messages: 21, BusiestVendorID: 1},
		},
		{
			name: "BusiestConversations up to Conversations changes nothing",
			opts: Options{Vendors: 2, Conversations: 5, BusiestConversations: 5, Messages: 4, Seed: 1},
			want: Summary{Users: 6, Vendors: 2, Buyers: 4, Products: 4, Conversations: 10, Participants: 20, Messages: 40, BusiestVendorID: 1},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, db := dbtest.New(t)
			got := mustSeed(t, db, tt.opts)
			if got.DurationSeconds <= 0 || got.RowsPerSecond <= 0 || got.VacuumSeconds <= 0 {
				t.Errorf("timings: %g s, %g rows/s, vacuum %g s; want all positive", got.DurationSeconds, got.RowsPerSecond, got.VacuumSeconds)
			}
			// The rate is over the unrounded duration; the reported duration is rounded.
			if rate := float64(got.Rows()) / got.DurationSeconds; math.Abs(rate-got.RowsPerSecond) > 0.01*rate+1 {
				t.Errorf("RowsPerSecond = %g, but %d rows in %g s are %g", got.RowsPerSecond, got.Rows(), got.DurationSeconds, rate)
			}
			got = got.Counts()
			if inTables := tableCounts(t, db, tt.opts.Vendors); got != inTables {
				t.Errorf("Summary = %+v\nbut the tables hold %+v", got, inTables)
			}
			if got.ProductImages < 0 || got.ProductImages > 4*got.Products {
				t.Errorf("ProductImages = %d, want 0..%d", got.ProductImages, 4*got.Products)
			}
			if got.UnreadMessages < 0 || got.UnreadMessages > got.Messages {
				t.Errorf("UnreadMessages = %d, want 0..%d", got.UnreadMessages, got.Messages)
			}
			got.ProductImages, got.UnreadMessages = 0, 0
			if got != tt.want {
				t.Errorf("Seed(%+v) = %+v\nwant %+v", tt.opts, got, tt.want)
			}
		})
	}
}

// tableRows renders every row of every seeded table, one line per row in primary key order, in a
// form that depends on the values alone: not on the dialect, the driver's types or time zones.
func tableRows(t *testing.T, db *gorm.DB) map[string][]string {
	t.Helper()
	d := load(t, db)
	return map[string][]string{
		"users":                     renderRows(d.users),
		"products":                  renderRows(d.products),
		"product_images":            renderRows(d.images),
		"conversations":             renderRows(d.conversations),
		"conversation_participants": renderRows(d.participants),
		"messages":                  renderRows(d.messages),
	}
}

// tableHashes fingerprints every seeded table, each row in full, in a fixed order.
func tableHashes(t *testing.T, db *gorm.DB) map[string]string {
	t.Helper()
	hashes := map[string]string{}
	for table, rows := range tableRows(t, db) {
		sum := sha256.Sum256([]byte(strings.Join(rows, "\n")))
		hashes[table] = hex.EncodeToString(sum[:])
	}
	return hashes
}

// seeded is every seeded row, read back through the models.
type seeded struct {
	users         []models.User
	products      []models.Product
	images        []models.ProductImage
	conversations []models.Conversation
	participants  []models.Participant
	messages      []models.Message
}

func load(t *testing.T, db *gorm.DB) seeded {
	t.Helper()
	var d seeded
	for _, q := range []struct {
		dest  any
		order string
	}{
		{&d.users, "id"}, {&d.products, "id"}, {&d.images, "id"}, {&d.conversations, "id"},
		{&d.participants, "conversation_id, user_id"}, {&d.messages, "id"},
	} {
		if err := db.Order(q.order).Find(q.dest).Error; err != nil {
			t.Fatalf("read %T: %v", q.dest, err)
		}
	}
	return d
}

func renderRows[T any](rows []T) []string {
	lines := make([]string, len(rows))
	for i := range rows {
		lines[i] = render(reflect.ValueOf(rows[i]))
	}
	return lines
}

// render writes v canonically: a struct as {Field:value ...}, a pointer as its target or nil, a
// time in UTC as RFC 3339 with its fraction, a string quoted. (fmt's %+v would print pointers'
// addresses and times' locations.)
func render(v reflect.Value) string {
	if t, ok := v.Interface().(time.Time); ok {
		return t.UTC().Format(time.RFC3339Nano)
	}
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			return "nil"
		}
		return render(v.Elem())
	case reflect.String:
		return strconv.Quote(v.String())
	case reflect.Struct:
		var b strings.Builder
		b.WriteString("{")
		for i := range v.NumField() {
			if i > 0 {
				b.WriteString(" ")
			}
			b.WriteString(v.Type().Field(i).Name + ":" + render(v.Field(i)))
		}
		b.WriteString("}")
		return b.String()
	default:
		return fmt.Sprint(v.Interface())
	}
}

func TestSeedIsDeterministic(t *testing.T) {
	t.Parallel()
	opts := Options{Vendors: 3, Conversations: 10, Messages: 6, Seed: 42}
	_, a := dbtest.New(t)
	_, b := dbtest.New(t)
	_, c := dbtest.New(t)
	sumA, sumB := mustSeed(t, a, opts), mustSeed(t, b, opts)
	other := opts
	other.Seed = 43
	sumC := mustSeed(t, c, other)

	if sumA.Counts() != sumB.Counts() {
		t.Errorf("same options, different summaries: %+v and %+v", sumA, sumB)
	}
	hashA, hashB, hashC := tableHashes(t, a), tableHashes(t, b), tableHashes(t, c)
	for table, h := range hashA {
		if hashB[table] != h {
			t.Errorf("%s: same options, different rows", table)
		}
	}
	// Every table depends on the seed: names, prices, images, times, buyers and texts are drawn.
	for _, table := range seededTables {
		if hashC[table] == hashA[table] {
			t.Errorf("%s: seeds %d and %d gave the same rows", table, opts.Seed, other.Seed)
		}
	}
	if sumC.Users != sumA.Users || sumC.Messages != sumA.Messages {
		t.Errorf("another seed changed counts the options fix: %+v vs %+v", sumC, sumA)
	}
}

// TestSeedIsTheSameOnEveryDialect seeds a SQLite file this test opens itself and a database of
// the dialect TEST_DB selects (dbtest.New) with the same options, and compares them row by row.
// In the PostgreSQL run of `make test` (TEST_DB=postgres or unset) this compares PostgreSQL's
// COPY sink with SQLite's INSERT sink: that run is where the cross-dialect guarantee is checked.
// In the SQLite run both sides are SQLite files, so the test then only repeats
// TestSeedIsDeterministic.
func TestSeedIsTheSameOnEveryDialect(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		opts Options
	}{
		{
			// Ties, unread and undelivered messages, photos, and a Now neither whole nor in UTC.
			name: "a Now neither whole nor in UTC",
			opts: Options{Vendors: 4, Conversations: 12, Messages: 7, Seed: 2026,
				Now: time.Date(2025, 6, 30, 23, 59, 59, 999_999_999, time.FixedZone("VLAT", 10*60*60))},
		},
		{
			name: "a busiest vendor",
			opts: Options{Vendors: 3, Conversations: 8, BusiestConversations: 60, Messages: 5, Seed: 77},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background() // t.Context() is canceled before the cleanups run
			lite, err := database.Open(ctx, "sqlite:"+filepath.Join(t.TempDir(), "x.db"))
			if err != nil {
				t.Fatalf("open SQLite: %v", err)
			}
			t.Cleanup(func() {
				if sqlDB, err := lite.DB(); err == nil {
					_ = sqlDB.Close()
				}
			})
			if _, err := database.Migrate(ctx, lite); err != nil {
				t.Fatalf("migrate SQLite: %v", err)
			}
			_, other := dbtest.New(t)

			sumLite, sumOther := mustSeed(t, lite, tt.opts), mustSeed(t, other, tt.opts)
			if sumLite.Counts() != sumOther.Counts() {
				t.Errorf("summaries differ: SQLite %+v, %s %+v", sumLite, dbtest.Dialect(t), sumOther)
			}
			rowsLite, rowsOther := tableRows(t, lite), tableRows(t, other)
			for _, table := range seededTables {
				a, b := rowsLite[table], rowsOther[table]
				if len(a) == 0 {
					t.Errorf("%s: no rows", table)
				}
				if len(a) != len(b) {
					t.Errorf("%s: SQLite has %d rows, %s %d", table, len(a), dbtest.Dialect(t), len(b))
					continue
				}
				for i := range a {
					if a[i] != b[i] {
						t.Errorf("%s: row %d differs:\nSQLite:  %s\n%s: %s", table, i+1, a[i], dbtest.Dialect(t), b[i])
						break
					}
				}
			}
			hashLite, hashOther := tableHashes(t, lite), tableHashes(t, other)
			for _, table := range seededTables {
				if hashLite[table] != hashOther[table] {
					t.Errorf("%s: hashes differ: SQLite %s, %s %s", table, hashLite[table], dbtest.Dialect(t), hashOther[table])
				}
			}
		})
	}
}

// TestBusiestUpToConversationsChangesNothing checks that a BusiestConversations that does not
// exceed Conversations leaves every row as it is without it.
func TestBusiestUpToConversationsChangesNothing(t *testing.T) {
	t.Parallel()
	opts := Options{Vendors: 3, Conversations: 10, Messages: 4, Seed: 12}
	_, a := dbtest.New(t)
	_, b := dbtest.New(t)
	mustSeed(t, a, opts)
	opts.BusiestConversations = opts.Conversations
	mustSeed(t, b, opts)
	hashA, hashB := tableHashes(t, a), tableHashes(t, b)
	for _, table := range seededTables {
		if hashA[table] != hashB[table] {
			t.Errorf("%s: BusiestConversations = Conversations changed the rows", table)
		}
	}
}

// TestCopyColumnsAreTheModels checks that PostgreSQL's sink writes every column GORM writes for
// each model, in the model's order (which the sink's values follow); the cross-dialect test then
// checks the values.
func TestCopyColumnsAreTheModels(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		model   any
		columns []string
	}{
		{&models.User{}, userColumns},
		{&models.Product{}, productColumns},
		{&models.ProductImage{}, imageColumns},
		{&models.Conversation{}, conversationColumns},
		{&models.Participant{}, participantColumns},
		{&models.Message{}, messageColumns},
	} {
		s, err := schema.Parse(tt.model, &sync.Map{}, schema.NamingStrategy{})
		if err != nil {
			t.Fatalf("parse %T: %v", tt.model, err)
		}
		var want []string
		for _, f := range s.Fields {
			if f.DBName != "" && f.Creatable {
				want = append(want, f.DBName)
			}
		}
		if !slices.Equal(tt.columns, want) {
			t.Errorf("%T: the COPY sink writes %v, GORM writes %v", tt.model, tt.columns, want)
		}
	}
}

func TestSeedInvariants(t *testing.T) {
	t.Parallel()
	moscow := time.FixedZone("MSK", 3*60*60)
	tests := []struct {
		name    string
		opts    Options
		wantNow time.Time
	}{
		{
			name:    "given now, not whole seconds nor UTC",
			opts:    Options{Vendors: 10, Conversations: 20, Messages: 8, Seed: 7, Now: time.Date(2025, 3, 1, 8, 30, 15, 987654321, moscow)},
			wantNow: time.Date(2025, 3, 1, 5, 30, 15, 0, time.UTC),
		},
		{
			// More rows than a batch holds, so inserts happen between one vendor's conversations.
			name:    "long inboxes",
			opts:    Options{Vendors: 10, Conversations: 300, Messages: 6, Seed: 11},
			wantNow: time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC),
		},
		{
			name:    "zero now",
			opts:    Options{Vendors: 8, Conversations: 14, Messages: 4, Seed: -9},
			wantNow: time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC),
		},
		{
			// Vendor 1's 150 conversations share 50 listings among 8 buyers.
			name:    "a busiest vendor",
			opts:    Options{Vendors: 4, Conversations: 10, BusiestConversations: 150, Messages: 4, Seed: 23},
			wantNow: time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC),
		},
	}
	// Each query counts the rows that break a rule; all must be 0.
	violations := []struct{ rule, query string }{
		{"updated_at is the last message's created_at, or created_at without messages", `
			SELECT count(*) FROM conversations c WHERE c.updated_at <>
				COALESCE((SELECT max(m.created_at) FROM messages m WHERE m.conversation_id = c.id), c.created_at)`},
		{"the seller and one buyer take part, joined when it started", `
			SELECT count(*) FROM conversations c WHERE
				NOT EXISTS (SELECT 1 FROM conversation_participants p WHERE p.conversation_id = c.id AND p.user_id = c.seller_id)
				OR (SELECT count(*) FROM conversation_participants p WHERE p.conversation_id = c.id AND p.user_id > @vendors) <> 1
				OR (SELECT count(*) FROM conversation_participants p WHERE p.conversation_id = c.id) <> 2
				OR EXISTS (SELECT 1 FROM conversation_participants p WHERE p.conversation_id = c.id AND p.joined_at <> c.created_at)`},
		{"every vendor has Conversations conversations, vendor 1 BusiestConversations when more", `
			SELECT count(*) FROM users u WHERE u.id <= @vendors
				AND (SELECT count(*) FROM conversations c WHERE c.seller_id = u.id)
					<> CASE WHEN u.id = 1 THEN CAST(@first AS integer) ELSE CAST(@conversations AS integer) END`},
		{"only vendors sell", `SELECT count(*) FROM products WHERE seller_id > @vendors`},
		{"products_count is the number of products", `
			SELECT count(*) FROM users u WHERE u.products_count <> (SELECT count(*) FROM products p WHERE p.seller_id = u.id)`},
		{"a product is where its seller is", `
			SELECT count(*) FROM products p JOIN users u ON u.id = p.seller_id WHERE u.city_id IS NULL OR u.city_id <> p.city_id`},
		{"exactly one primary image per product with images, the first, and sort orders 0..n-1", `
			SELECT count(*) FROM (SELECT product_id FROM product_images GROUP BY product_id
				HAVING sum(CASE WHEN is_primary THEN 1 ELSE 0 END) <> 1
					OR sum(CASE WHEN is_primary AND sort_order <> 0 THEN 1 ELSE 0 END) <> 0
					OR max(sort_order) <> count(*) - 1 OR count(DISTINCT sort_order) <> count(*)) x`},
		{"a buyer has one conversation per product", `
			SELECT count(*) FROM (SELECT c.product_id, p.user_id FROM conversations c
				JOIN conversation_participants p ON p.conversation_id = c.id AND p.user_id <> c.seller_id
				GROUP BY 1, 2 HAVING count(*) > 1) x`},
		{"messages follow the conversation's start, strictly increasing", `
			SELECT count(*) FROM (SELECT m.created_at, c.created_at AS started,
					lag(m.created_at) OVER (PARTITION BY m.conversation_id ORDER BY m.id) AS prev
				FROM messages m JOIN conversations c ON c.id = m.conversation_id) x
			WHERE x.created_at <= COALESCE(x.prev, x.started)`},
		{"the buyer writes first", `
			SELECT count(*) FROM messages m JOIN conversations c ON c.id = m.conversation_id
			WHERE m.sender_id = c.seller_id AND m.id = (SELECT min(id) FROM messages f WHERE f.conversation_id = c.id)`},
		{"unread messages are the trailing ones of one sender", `
			SELECT count(*) FROM messages m WHERE NOT m.is_read AND (
				EXISTS (SELECT 1 FROM messages r WHERE r.conversation_id = m.conversation_id AND r.is_read AND r.id > m.id)
				OR EXISTS (SELECT 1 FROM messages o WHERE o.conversation_id = m.conversation_id AND NOT o.is_read AND o.sender_id <> m.sender_id))`},
		{"only an unread last message may be undelivered", `
			SELECT count(*) FROM messages m WHERE NOT m.is_delivered AND (m.is_read
				OR EXISTS (SELECT 1 FROM messages l WHERE l.conversation_id = m.conversation_id AND l.id > m.id))`},
		{"a message's image is named by its id", `
			SELECT count(*) FROM messages WHERE image_url <> 'https://s3.partizap.ru/messages/' || id || '.jpg'`},
		{"a product image's renditions are named by product and image", `
			SELECT count(*) FROM product_images
			WHERE thumbnail_webp <> 'https://s3.partizap.ru/products/' || product_id || '/' || id || '_thumb.webp'
				OR large_jpeg <> 'https://s3.partizap.ru/products/' || product_id || '/' || id || '_large.jpg'`},
		{"conversations start after their product was listed and their buyer signed up", `
			SELECT count(*) FROM conversations c JOIN products p ON p.id = c.product_id
				JOIN conversation_participants b ON b.conversation_id = c.id AND b.user_id <> c.seller_id
				JOIN users u ON u.id = b.user_id
			WHERE c.created_at < COALESCE(p.published_at, p.created_at) OR c.created_at < u.created_at`},
		{"products are published after they are created, by sellers already signed up", `
			SELECT count(*) FROM products p JOIN users u ON u.id = p.seller_id
			WHERE p.published_at < p.created_at OR p.created_at < u.created_at`},
		{"every vendor's inbox has a tie on updated_at (Conversations >= 10)", `
			SELECT count(*) FROM users u WHERE u.id <= @vendors AND NOT EXISTS (
				SELECT 1 FROM conversations a JOIN conversations b ON b.seller_id = a.seller_id AND b.updated_at = a.updated_at AND b.id > a.id
				WHERE a.seller_id = u.id)`},
	}
	// Each query counts rows of a kind the demo data must show at least once.
	variety := []struct{ kind, query string }{
		{"conversations with unread messages from the buyer", `
			SELECT count(DISTINCT m.conversation_id) FROM messages m JOIN conversations c ON c.id = m.conversation_id
			WHERE NOT m.is_read AND m.sender_id <> c.seller_id`},
		{"conversations whose last message, the seller's, is unread", `
			SELECT count(*) FROM messages m JOIN conversations c ON c.id = m.conversation_id
			WHERE NOT m.is_read AND m.sender_id = c.seller_id`},
		{"undelivered messages", `SELECT count(*) FROM messages WHERE NOT is_delivered`},
		{"photos alone", `SELECT count(*) FROM messages WHERE text IS NULL AND image_url IS NOT NULL`},
		{"photos with text", `SELECT count(*) FROM messages WHERE text IS NOT NULL AND image_url IS NOT NULL`},
		{"inbox entries not tied", `SELECT count(DISTINCT updated_at) FROM conversations`},
		{"users without avatar", `SELECT count(*) FROM users WHERE avatar_url IS NULL`},
		{"buyers without city", `SELECT count(*) FROM users WHERE city_id IS NULL AND id > @vendors`},
		{"right-hand drive products", `SELECT count(*) FROM products WHERE steering = 'right'`},
		{"products near a metro station", `SELECT count(*) FROM products WHERE metro_distance_m IS NOT NULL`},
		{"products with an unknown steering side", `SELECT count(*) FROM products WHERE steering IS NULL`},
		{"products without images", `SELECT count(*) FROM products p WHERE NOT EXISTS (SELECT 1 FROM product_images i WHERE i.product_id = p.id)`},
		{"images still processing", `SELECT count(*) FROM product_images WHERE status = 'processing'`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, db := dbtest.New(t)
			mustSeed(t, db, tt.opts)
			// GORM binds a map of named arguments only to a query that names one.
			run := func(query string) int64 {
				if !strings.Contains(query, "@") {
					return count(t, db, query)
				}
				return count(t, db, query, map[string]any{"vendors": tt.opts.Vendors, "conversations": tt.opts.Conversations,
					"first": max(tt.opts.Conversations, tt.opts.BusiestConversations)})
			}
			for _, v := range violations {
				if n := run(v.query); n != 0 {
					t.Errorf("%s: %d rows break it", v.rule, n)
				}
			}
			for _, v := range variety {
				if n := run(v.query); n == 0 {
					t.Errorf("no %s", v.kind)
				}
			}
			// Time arithmetic differs between the dialects, so the timestamps are checked in Go.
			d := load(t, db)
			var stamps []time.Time
			for _, u := range d.users {
				stamps = append(stamps, u.CreatedAt)
			}
			for _, p := range d.products {
				stamps = append(stamps, p.CreatedAt)
				if p.PublishedAt != nil {
					stamps = append(stamps, *p.PublishedAt)
				}
			}
			var newest time.Time
			for _, c := range d.conversations {
				stamps = append(stamps, c.CreatedAt, c.UpdatedAt)
				newest = later(newest, c.UpdatedAt)
			}
			for _, p := range d.participants {
				stamps = append(stamps, p.JoinedAt)
			}
			for _, m := range d.messages {
				stamps = append(stamps, m.CreatedAt)
			}
			bad := 0
			for _, ts := range stamps {
				if ts.After(tt.wantNow) || ts.Nanosecond() != 0 {
					bad++
				}
			}
			if bad != 0 {
				t.Errorf("every timestamp is in whole seconds, at or before Now: %d of %d break it", bad, len(stamps))
			}
			// Now itself is reached: the most recent conversation is seconds to days old.
			if age := tt.wantNow.Sub(newest); age < 0 || age > 3*day {
				t.Errorf("newest conversation is %s before Now, want the inbox to look active", age)
			}
		})
	}
}

// TestSeedMovesSequences checks that rows inserted after Seed number on from its ids, also in a
// table Seed left empty: through the moved sequences on PostgreSQL, through max(id)+1 on SQLite.
func TestSeedMovesSequences(t *testing.T) {
	t.Parallel()
	_, db := dbtest.New(t)
	sum := mustSeed(t, db, Options{Vendors: 3, Seed: 5})
	u := models.User{DisplayName: "Новый продавец", Rating: "0.00", CreatedAt: defaultNow}
	if err := db.Create(&u).Error; err != nil {
		t.Fatal(err)
	}
	img := models.ProductImage{ProductID: 1, Status: "ready", SortOrder: 9}
	if err := db.Create(&img).Error; err != nil {
		t.Fatal(err)
	}
	c := models.Conversation{ProductID: 1, SellerID: 1, CreatedAt: defaultNow, UpdatedAt: defaultNow}
	if err := db.Create(&c).Error; err != nil {
		t.Fatal(err)
	}
	if u.ID != sum.Users+1 || img.ID != sum.ProductImages+1 || c.ID != 1 {
		t.Fatalf("new ids: user %d, image %d, conversation %d; want %d, %d, 1", u.ID, img.ID, c.ID, sum.Users+1, sum.ProductImages+1)
	}
}

func TestSeedRefusesADatabaseThatIsNotEmpty(t *testing.T) {
	t.Parallel()
	_, db := dbtest.New(t)
	opts := Options{Vendors: 2, Conversations: 3, Messages: 2, Seed: 1}
	first := mustSeed(t, db, opts)
	sum, err := Seed(t.Context(), db, opts)
	if !errors.Is(err, ErrNotEmpty) {
		t.Fatalf("second Seed: error = %v, want ErrNotEmpty", err)
	}
	if sum != (Summary{}) {
		t.Errorf("second Seed: Summary = %+v, want zero", sum)
	}
	if got := tableCounts(t, db, opts.Vendors); got != first.Counts() {
		t.Errorf("after the refused Seed the tables hold %+v, want %+v", got, first)
	}
}

// TestConcurrentSeedsFillOnce runs two Seeds at once on one database: one fills it, the other
// finds it filled rather than failing on duplicate ids.
func TestConcurrentSeedsFillOnce(t *testing.T) {
	t.Parallel()
	_, db := dbtest.New(t)
	opts := Options{Vendors: 5, Conversations: 10, Messages: 5, Seed: 1}
	errs := make(chan error, 2)
	for range 2 {
		go func() {
			_, err := Seed(t.Context(), db, opts)
			errs <- err
		}()
	}
	first, second := <-errs, <-errs
	if (first != nil) == (second != nil) || !errors.Is(cmp.Or(first, second), ErrNotEmpty) {
		t.Fatalf("concurrent Seeds returned %v and %v, want nil and ErrNotEmpty", first, second)
	}
	if n := count(t, db, "SELECT count(*) FROM users"); n != 15 {
		t.Errorf("users = %d, want 15", n)
	}
}

func TestSeedRejectsBadOptions(t *testing.T) {
	t.Parallel()
	_, db := dbtest.New(t)
	tests := []struct {
		opts    Options
		wantErr string
	}{
		{Options{Vendors: 0}, "Vendors must be at least 1, got 0"},
		{Options{Vendors: -1, Conversations: 5}, "Vendors must be at least 1, got -1"},
		{Options{Vendors: 100_001}, "Vendors must be at most 100000"},
		{Options{Vendors: 1, Conversations: -1}, "Conversations must not be negative"},
		{Options{Vendors: 1, Messages: -1}, "Messages must not be negative"},
		{Options{Vendors: 1, Conversations: 1, Messages: 10_001}, "Messages must be at most 10000 per conversation"},
		{Options{Vendors: 1001, Conversations: 1000}, "Vendors × Conversations must be at most 1000000, got 1001 × 1000"},
		{Options{Vendors: 1, Conversations: math.MaxInt}, "Vendors × Conversations must be at most 1000000"},
		{Options{Vendors: 1000, Conversations: 1000, Messages: 11}, "Vendors × Conversations × Messages must be at most 10000000"},
		{Options{Vendors: 1, BusiestConversations: -1}, "BusiestConversations must not be negative"},
		{Options{Vendors: 1, BusiestConversations: math.MaxInt}, "conversations in all, with BusiestConversations"},
		{Options{Vendors: 1000, Conversations: 1000, BusiestConversations: 1001}, "conversations in all, with BusiestConversations 1001 for vendor 1, must be at most 1000000, got 1000001"},
		{Options{Vendors: 200, Conversations: 1000, BusiestConversations: 50_000, Messages: 41}, "messages in all, with BusiestConversations 50000 for vendor 1, must be at most 10000000, got 10209000"},
	}
	for _, tt := range tests {
		_, err := Seed(t.Context(), db, tt.opts)
		if err == nil || !strings.Contains(err.Error(), tt.wantErr) || errors.Is(err, ErrNotEmpty) {
			t.Errorf("Seed(%+v): error = %v, want one containing %q", tt.opts, err, tt.wantErr)
		}
	}
	if n := count(t, db, "SELECT count(*) FROM users"); n != 0 {
		t.Errorf("rejected options left %d users", n)
	}
}

// TestOptionsAdmitTheLoadTest checks that the limits admit the load test's data: 200 vendors ×
// 1,000 conversations × 20 messages, with a busiest vendor of 50,000 conversations.
func TestOptionsAdmitTheLoadTest(t *testing.T) {
	t.Parallel()
	opts := Options{Vendors: 200, Conversations: 1000, BusiestConversations: 50_000, Messages: 20, Seed: 1}
	if err := opts.validate(); err != nil {
		t.Fatal(err)
	}
	if n := opts.totalConversations(); n != 249_000 {
		t.Errorf("totalConversations() = %d, want 249000", n)
	}
}

// TestSeedReportsProgress checks the progress lines: the rows so far and the rate, then the
// commit and the statistics.
func TestSeedReportsProgress(t *testing.T) {
	t.Parallel()
	_, db := dbtest.New(t)
	var progress bytes.Buffer
	sum := mustSeed(t, db, Options{Vendors: 2, Conversations: 30, Messages: 3, Seed: 1, Progress: &progress})
	lines := strings.Split(strings.TrimSuffix(progress.String(), "\n"), "\n")
	// Each line starts with its prefix and, when rate is set, has the rate after the time.
	type line struct {
		prefix string
		rate   bool
	}
	want := []line{{fmt.Sprintf("seed: 100%%: 60 of 60 conversations, %d rows in ", sum.Rows()), true}}
	if dbtest.Dialect(t) == database.Postgres {
		want = append(want, line{fmt.Sprintf("seed: %d rows copied in ", sum.Rows()), false})
	}
	want = append(want, line{fmt.Sprintf("seed: committed %d rows in ", sum.Rows()), true}, line{"seed: statistics collected in ", false})
	if len(lines) != len(want) {
		t.Fatalf("progress:\n%s\nwant %d lines", progress.String(), len(want))
	}
	for i, got := range lines {
		w := want[i]
		if !strings.HasPrefix(got, w.prefix) || (w.rate && !strings.HasSuffix(got, " rows/s)") && !strings.Contains(got, " rows/s);")) {
			t.Errorf("progress line %d: %q, want %q…", i+1, got, w.prefix)
		}
	}
}

// TestSeedLeavesTheMigrationsSchema checks that the indexes and constraints Seed drops for its
// load on PostgreSQL come back as the migrations define them, and that a Seed failing with
// them dropped leaves them, and no rows, behind.
func TestSeedLeavesTheMigrationsSchema(t *testing.T) {
	t.Parallel()
	_, fresh := dbtest.NewOn(t, database.Postgres)
	want := dbtest.Schema(t, fresh)
	// The listing itself is checked on a few lines of each kind the migrations make.
	for _, line := range []string{
		"constraint messages_conversation_id_sender_id_fkey on messages: FOREIGN KEY (conversation_id, sender_id) REFERENCES conversation_participants(conversation_id, user_id) ON DELETE CASCADE; deferrable f, deferred f, validated t, index conversation_participants_pkey; comment NULL",
		"constraint products_id_seller_id_key on products: UNIQUE (id, seller_id); deferrable f, deferred f, validated t, index products_id_seller_id_key; comment NULL",
		"index messages_unread_idx on messages: CREATE INDEX messages_unread_idx ON public.messages USING btree (conversation_id, sender_id) WHERE (NOT is_read); valid t, clustered f, replica identity f; comment NULL",
		"index users_pkey on users: CREATE UNIQUE INDEX users_pkey ON public.users USING btree (id); valid t, clustered f, replica identity f; comment NULL",
	} {
		if !slices.Contains(want, line) {
			t.Fatalf("the migrated schema:\n%s\nlacks\n%s", strings.Join(want, "\n"), line)
		}
	}

	opts := Options{Vendors: 3, Conversations: 1000, BusiestConversations: 3000, Messages: 4, Seed: 1}
	for _, tt := range []struct {
		name  string
		fail  bool // cancel Seed at its first progress line, between two COPYs
		users int64
	}{
		{"seeded", false, 9},
		{"failed", true, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, db := dbtest.NewOn(t, database.Postgres)
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			o := opts
			if tt.fail {
				o.Progress = writerFunc(func(p []byte) (int, error) { cancel(); return len(p), nil })
			}
			_, err := Seed(ctx, db, o)
			if tt.fail != (err != nil) {
				t.Fatalf("Seed: error %v, want one: %v", err, tt.fail)
			}
			if got := dbtest.Schema(t, db); !slices.Equal(got, want) {
				t.Errorf("schema after Seed:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
			if n := count(t, db, "SELECT count(*) FROM users"); n != tt.users {
				t.Errorf("users = %d, want %d", n, tt.users)
			}
		})
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// TestSeedOnPostgresOutlastsTheStatementTimeout seeds through a pool whose statement_timeout
// (DB_STATEMENT_TIMEOUT) is shorter than Seed's wait for a concurrent writer's lock: Seed lifts
// it for its own statements, and hands the connection back to the pool with it in place.
func TestSeedOnPostgresOutlastsTheStatementTimeout(t *testing.T) {
	t.Parallel()
	const timeout = 100 * time.Millisecond
	dsn, admin := dbtest.NewOn(t, database.Postgres)
	ctx := context.Background()
	db, err := database.OpenWith(ctx, dsn, database.DBOptions{MaxOpenConns: 1, StatementTimeout: timeout})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if sqlDB, err := db.DB(); err == nil {
			_ = sqlDB.Close()
		}
	})

	// A writer holds a lock that Seed's LOCK TABLE users waits for.
	blocker := admin.Begin()
	if err := blocker.Exec("LOCK TABLE users IN ROW EXCLUSIVE MODE").Error; err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := Seed(ctx, db, Options{Vendors: 2, Conversations: 5, Messages: 2, Seed: 1})
		done <- err
	}()
	deadline := time.Now().Add(10 * time.Second)
	for count(t, admin, "SELECT count(*) FROM pg_locks WHERE relation = 'users'::regclass AND NOT granted") == 0 {
		if time.Now().After(deadline) {
			t.Fatal("Seed never waited for the lock")
		}
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(3 * timeout) // long enough for statement_timeout to cancel the wait, were it in force
	if err := blocker.Commit().Error; err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("Seed: %v", err)
	}
	var setting string
	if err := db.Raw("SHOW statement_timeout").Scan(&setting).Error; err != nil {
		t.Fatal(err)
	}
	if setting != "100ms" {
		t.Errorf("after Seed the pool's connection has statement_timeout %s, want 100ms", setting)
	}
}

// recordSink records the ids of the rows of each call it gets, and fails the call numbered
// failAt (from 1; 0: none).
type recordSink struct {
	calls  []string
	failAt int
}

func record[T any](r *recordSink, table string, rows []T, id func(*T) int64) error {
	call := table
	for i := range rows {
		call += " " + strconv.FormatInt(id(&rows[i]), 10)
	}
	r.calls = append(r.calls, call)
	if len(r.calls) == r.failAt {
		return errors.New("stored nothing")
	}
	return nil
}

func (r *recordSink) users(rows []models.User) error {
	return record(r, "users", rows, func(u *models.User) int64 { return u.ID })
}
func (r *recordSink) products(rows []models.Product) error {
	return record(r, "products", rows, func(p *models.Product) int64 { return p.ID })
}
func (r *recordSink) images(rows []models.ProductImage) error {
	return record(r, "images", rows, func(i *models.ProductImage) int64 { return i.ID })
}
func (r *recordSink) conversations(rows []models.Conversation) error {
	return record(r, "conversations", rows, func(c *models.Conversation) int64 { return c.ID })
}
func (r *recordSink) participants(rows []models.Participant) error {
	return record(r, "participants", rows, func(p *models.Participant) int64 { return p.ConversationID })
}
func (r *recordSink) messages(rows []models.Message) error {
	return record(r, "messages", rows, func(m *models.Message) int64 { return m.ID })
}

// TestPipeSinkStoresInOrderAndStopsAtAnError checks that pipeSink passes the calls on in order,
// with rows the caller may overwrite at once, and that after a failed call it stores nothing
// more and returns that error.
func TestPipeSinkStoresInOrderAndStopsAtAnError(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name      string
		failAt    int
		wantCalls []string
	}{
		{"no error", 0, []string{"users 1 2", "messages 1", "users 3 4", "messages 2", "users 5 6", "messages 3"}},
		{"the third call fails", 3, []string{"users 1 2", "messages 1", "users 3 4"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			next := &recordSink{failAt: tt.failAt}
			p := newPipeSink(next)
			// One slice for every call, rewritten at once, as the generator does.
			users, messages := make([]models.User, 2), make([]models.Message, 1)
			var sendErr error
			for i := range int64(3) {
				users[0].ID, users[1].ID, messages[0].ID = 2*i+1, 2*i+2, i+1
				if sendErr = errors.Join(p.users(users), p.messages(messages)); sendErr != nil {
					break
				}
			}
			err := p.close()
			if !slices.Equal(next.calls, tt.wantCalls) {
				t.Errorf("calls %q, want %q", next.calls, tt.wantCalls)
			}
			if tt.failAt == 0 {
				if err != nil || sendErr != nil {
					t.Errorf("errors %v and %v, want none", sendErr, err)
				}
				return
			}
			if err == nil || err.Error() != "stored nothing" || (sendErr != nil && sendErr.Error() != "stored nothing") {
				t.Errorf("close: %v (a call: %v), want the failed call's error", err, sendErr)
			}
		})
	}
}

// TestSeedRowsAreFixed pins the rows of two small data sets by their hashes, so that a change
// to the generator that changes the data (a draw more or less, another order) is seen: the
// same options must give the same rows from one version to the next, not only within one.
// Update the hashes only with a change that is meant to change the data (the last: migration
// 0002's seller_unread_count and client_mutation_id, in conversations' and messages' rows).
func TestSeedRowsAreFixed(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		opts Options
		want map[string]string
	}{
		{Options{Vendors: 3, Conversations: 10, Messages: 6, Seed: 42}, map[string]string{
			"users":                     "65ddbf7a94a550a031c19ad89e789985769d1ed31214ff5a6f97f7cfc87aca5f",
			"products":                  "6a9a504f3b5a20973ad4c5bcb04bbab3a62bb05899552f31a123fcc11d5c710d",
			"product_images":            "5a47f2359e5e41162b24bf81a20a370bb038d6b13ad9d59f78f3a5969fad9dd7",
			"conversations":             "8bf4564ffd41c55ea74122e0e1e6251cb1b31dbe7c547eb7f7f6892146a2c442",
			"conversation_participants": "bc2a78e01814b68609a9ade25e99c8448c20be2a0ff35adf369f3a0bbea0729b",
			"messages":                  "7c63d51e133b3b303bc08f463e440cc9720dc3c055a5c1b9176dd931660188de",
		}},
		{Options{Vendors: 2, Conversations: 5, BusiestConversations: 40, Messages: 30, Seed: 7}, map[string]string{
			"users":                     "4e436786cc7722ba97243ddbc54215e6217fb970fac41f777d066ef9d9bbaa63",
			"products":                  "b21f88a7e18d90fc71a0d6f1e76de1b117f7f08318e43b439648fc6e67ecfd50",
			"product_images":            "987dca6f03ca8acdc817585f399a91bd2d54caa5f5596a8aef1901042965c436",
			"conversations":             "8a4c959e9193e53bb596521ec3e93e393753ddce3a1de3d6ccd89cdabf4cf31f",
			"conversation_participants": "b0f532dffdc296e8a773c11d3a5aed3256ccd7b392193a6a9efd2be363dfac39",
			"messages":                  "e46d0db890fb5940c2a9255e1cf6dd1922d2cf1d2f2d95e37d878848451faa9e",
		}},
	} {
		t.Run(fmt.Sprintf("%+v", tt.opts), func(t *testing.T) {
			t.Parallel()
			_, db := dbtest.New(t)
			mustSeed(t, db, tt.opts)
			if got := tableHashes(t, db); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("table hashes:\n%#v\nwant\n%#v", got, tt.want)
			}
		})
	}
}
