package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"gorm.io/gorm"

	"github.com/partizap/vendor-inbox/bench/floor"
	"github.com/partizap/vendor-inbox/httpserver"
	"github.com/partizap/vendor-inbox/models"
	"github.com/partizap/vendor-inbox/models/database"
	"github.com/partizap/vendor-inbox/models/dbtest"
	"github.com/partizap/vendor-inbox/models/pgtest"
	"github.com/partizap/vendor-inbox/models/seed"
	"github.com/partizap/vendor-inbox/rest"
)

// fullQuery reads every field the schema offers for a page of the inbox.
const fullQuery = `query Inbox($first: Int, $after: String, $last: Int, $before: String) {
  vendorConversations(first: $first, after: $after, last: $last, before: $before) {
    edges { cursor node { ...Conv } }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  }
}
fragment U on User { id databaseId displayName avatarUrl cityId rating reviewsCount productsCount createdAt }
fragment Conv on Conversation {
  id databaseId createdAt updatedAt unreadCount
  product {
    id databaseId title price steering cityId regionId districtId metroStationId metroDistanceM addressId publishedAt
    images { databaseId thumbnailWebp thumbnailJpeg mediumWebp mediumJpeg largeWebp largeJpeg status isPrimary sortOrder }
    seller { ...U }
  }
  participants { ...U }
  lastMessage { id databaseId conversationId text imageUrl isRead isDelivered createdAt sender { ...U } }
}`

// testServer is the real handler over its own seeded database.
type testServer struct {
	t    *testing.T
	url  string
	db   *gorm.DB
	app  *app
	seed seed.Summary
}

func newTestServer(t *testing.T, opts seed.Options) *testServer {
	t.Helper()
	return newTestServerWith(t, opts, nil)
}

// newTestServerWith is newTestServer configured by env on top of the defaults.
func newTestServerWith(t *testing.T, opts seed.Options, env map[string]string) *testServer {
	t.Helper()
	dsn, db := dbtest.New(t)
	summary, err := seed.Seed(context.Background(), db, opts)
	if err != nil {
		t.Fatalf("seed: %v", err)
	}
	env = maps.Clone(env)
	if env == nil {
		env = map[string]string{}
	}
	env["DATABASE_URL"] = dsn
	return startTestServer(t, db, summary, env)
}

// startTestServer serves the real handler over db, configured by env on top of the defaults.
func startTestServer(t *testing.T, db *gorm.DB, summary seed.Summary, env map[string]string) *testServer {
	t.Helper()
	return startTestServerLogging(t, db, summary, env, io.Discard)
}

func startTestServerLogging(t *testing.T, db *gorm.DB, summary seed.Summary, env map[string]string, logs io.Writer) *testServer {
	t.Helper()
	a := newTestApp(t, env, logs)
	srv := httptest.NewServer(a.handler())
	t.Cleanup(srv.Close)
	return &testServer{t: t, url: srv.URL, db: db, app: a, seed: summary}
}

// testCursorSecret is the CURSOR_SECRET of the test apps: tests sign cursors with it.
const testCursorSecret = "vendor-inbox-tests-cursor-secret-0123456789"

// newTestApp opens the app configured by env on top of the defaults, closed when tb ends.
func newTestApp(tb testing.TB, env map[string]string, logs io.Writer) *app {
	tb.Helper()
	env["CURSOR_SECRET"] = testCursorSecret
	if _, set := env["SESSION_CACHE_TTL"]; !set {
		// Every request looks its session up, so that the statements a test counts are a
		// request's own, whatever ran before it; TestSessionsAreLookedUpOnceATTL turns it on.
		env["SESSION_CACHE_TTL"] = "0"
	}
	cfg, err := loadConfig(func(k string) string { return env[k] })
	if err != nil {
		tb.Fatal(err)
	}
	a, err := openApp(context.Background(), cfg, slog.New(slog.NewTextHandler(logs, nil)))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(a.close)
	return a
}

// seededApp is newTestApp over a fresh database seeded with opts.
func seededApp(tb testing.TB, opts seed.Options) *app {
	tb.Helper()
	dsn, db := dbtest.New(tb)
	if _, err := seed.Seed(context.Background(), db, opts); err != nil {
		tb.Fatal(err)
	}
	return newTestApp(tb, map[string]string{"DATABASE_URL": dsn}, io.Discard)
}

// session signs userID in and returns the cookie value.
func (s *testServer) session(userID int64) string {
	s.t.Helper()
	id, err := s.app.store.CreateSession(context.Background(), userID, time.Hour)
	if err != nil {
		s.t.Fatal(err)
	}
	return id
}

type gqlError struct {
	Message    string         `json:"message"`
	Path       []any          `json:"path"`
	Extensions map[string]any `json:"extensions"`
}

type gqlResponse struct {
	Data   json.RawMessage `json:"data"`
	Errors []gqlError      `json:"errors"`
}

func (r gqlResponse) code() string {
	if len(r.Errors) == 0 {
		return ""
	}
	c, _ := r.Errors[0].Extensions["code"].(string)
	return c
}

// graphql POSTs a query with the session cookie (none when empty) and decodes the answer.
func (s *testServer) graphql(cookie, query string, vars map[string]any) gqlResponse {
	s.t.Helper()
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	req, _ := http.NewRequest(http.MethodPost, s.url+"/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if cookie != "" {
		req.AddCookie(&http.Cookie{Name: httpserver.SessionCookie, Value: cookie})
	}
	return s.do(req)
}

func (s *testServer) do(req *http.Request) gqlResponse {
	s.t.Helper()
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	var out gqlResponse
	if err := json.Unmarshal(raw, &out); err != nil {
		s.t.Fatalf("status %d, body %s: %v", res.StatusCode, raw, err)
	}
	return out
}

// statements reads bff_db_queries_total from GET /metrics.
func (s *testServer) statements() int {
	s.t.Helper()
	return int(s.metric("bff_db_queries_total"))
}

// metric reads one sample from GET /metrics: a name, with its labels when it has any
// (`bff_graphql_cache_bytes{cache="documents"}`).
func (s *testServer) metric(sample string) float64 {
	s.t.Helper()
	res, err := http.Get(s.url + "/metrics")
	if err != nil {
		s.t.Fatal(err)
	}
	defer res.Body.Close()
	sc := bufio.NewScanner(res.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), sample+" "); ok {
			n, err := strconv.ParseFloat(v, 64)
			if err != nil {
				s.t.Fatal(err)
			}
			return n
		}
	}
	s.t.Fatalf("%s not in /metrics", sample)
	return 0
}

// inboxOrder is the vendor's conversation ids in contract order, read straight from the table.
func (s *testServer) inboxOrder(vendorID int64) []int64 {
	var ids []int64
	s.db.Raw("SELECT id FROM conversations WHERE seller_id = ? ORDER BY updated_at DESC, id DESC", vendorID).Scan(&ids)
	return ids
}

type page struct {
	VendorConversations struct {
		Edges []struct {
			Cursor string         `json:"cursor"`
			Node   map[string]any `json:"node"`
		} `json:"edges"`
		PageInfo pageInfo `json:"pageInfo"`
	} `json:"vendorConversations"`
}

type pageInfo struct {
	HasNextPage     bool    `json:"hasNextPage"`
	HasPreviousPage bool    `json:"hasPreviousPage"`
	StartCursor     *string `json:"startCursor"`
	EndCursor       *string `json:"endCursor"`
}

func (s *testServer) page(cookie string, vars map[string]any) page {
	s.t.Helper()
	res := s.graphql(cookie, fullQuery, vars)
	if len(res.Errors) > 0 {
		s.t.Fatalf("vendorConversations(%v): %+v", vars, res.Errors)
	}
	var p page
	if err := json.Unmarshal(res.Data, &p); err != nil {
		s.t.Fatal(err)
	}
	return p
}

func (p page) ids() []int64 {
	var ids []int64
	for _, e := range p.VendorConversations.Edges {
		ids = append(ids, int64(e.Node["databaseId"].(float64)))
	}
	return ids
}

func TestPaginationVisitsEveryConversationOnceInBothDirections(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, seed.Options{Vendors: 2, Conversations: 23, Messages: 2, Seed: 3})
	vendor := s.seed.BusiestVendorID
	cookie := s.session(vendor)
	want := s.inboxOrder(vendor)
	if len(want) != 23 {
		t.Fatalf("seeded %d conversations for vendor %d, want 23", len(want), vendor)
	}
	for _, size := range []int{1, 7, 23, 100} {
		t.Run(fmt.Sprintf("forward by %d", size), func(t *testing.T) {
			var got []int64
			vars := map[string]any{"first": size}
			for n := 0; ; n++ {
				p := s.page(cookie, vars)
				info := p.VendorConversations.PageInfo
				got = append(got, p.ids()...)
				if info.HasPreviousPage != (n > 0) {
					t.Errorf("page %d: hasPreviousPage = %v", n, info.HasPreviousPage)
				}
				if *info.StartCursor != p.VendorConversations.Edges[0].Cursor || *info.EndCursor != p.VendorConversations.Edges[len(p.ids())-1].Cursor {
					t.Errorf("page %d: start/end cursors are not the first/last edges'", n)
				}
				if !info.HasNextPage {
					break
				}
				vars["after"] = *info.EndCursor
			}
			if !slices.Equal(got, want) {
				t.Fatalf("ids = %v\nwant %v", got, want)
			}
		})
		t.Run(fmt.Sprintf("backward by %d", size), func(t *testing.T) {
			var got []int64
			vars := map[string]any{"last": size}
			for n := 0; ; n++ {
				p := s.page(cookie, vars)
				info := p.VendorConversations.PageInfo
				got = append(p.ids(), got...)
				if info.HasNextPage != (n > 0) {
					t.Errorf("page %d: hasNextPage = %v", n, info.HasNextPage)
				}
				if !info.HasPreviousPage {
					break
				}
				vars["before"] = *info.StartCursor
			}
			if !slices.Equal(got, want) {
				t.Fatalf("ids = %v\nwant %v", got, want)
			}
		})
	}
	t.Run("default page is the first 20", func(t *testing.T) {
		p := s.page(cookie, nil)
		if !slices.Equal(p.ids(), want[:20]) || !p.VendorConversations.PageInfo.HasNextPage {
			t.Fatalf("ids = %v, want %v and a next page", p.ids(), want[:20])
		}
	})
	t.Run("first 0", func(t *testing.T) {
		p := s.page(cookie, map[string]any{"first": 0})
		info := p.VendorConversations.PageInfo
		if len(p.ids()) != 0 || !info.HasNextPage || info.StartCursor != nil || info.EndCursor != nil {
			t.Fatalf("first: 0 gave %d edges and %+v", len(p.ids()), info)
		}
	})
	t.Run("totalCount", func(t *testing.T) {
		res := s.graphql(cookie, `{ vendorConversations(first: 1) { totalCount } }`, nil)
		if string(res.Data) != `{"vendorConversations":{"totalCount":23}}` {
			t.Fatalf("got %s %+v", res.Data, res.Errors)
		}
	})
}

// TestConversationFieldsMatchTheirRows compares whole pages with what the rows, read with plain
// SQL independent of the service's queries, say.
func TestConversationFieldsMatchTheirRows(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, seed.Options{Vendors: 2, Conversations: 12, Messages: 5, Seed: 11})
	vendor := s.seed.BusiestVendorID
	p := s.page(s.session(vendor), map[string]any{"first": 12})
	ids := s.inboxOrder(vendor)
	if len(p.VendorConversations.Edges) != len(ids) {
		t.Fatalf("%d edges, want %d", len(p.VendorConversations.Edges), len(ids))
	}
	var unreadSeen int
	for i, e := range p.VendorConversations.Edges {
		want := s.expectedConversation(vendor, ids[i])
		unreadSeen += int(want["unreadCount"].(float64))
		gotJSON, _ := json.MarshalIndent(e.Node, "", "  ")
		wantJSON, _ := json.MarshalIndent(want, "", "  ")
		if string(gotJSON) != string(wantJSON) {
			t.Errorf("conversation %d:\n got %s\nwant %s", ids[i], gotJSON, wantJSON)
		}
	}
	if unreadSeen == 0 {
		t.Fatal("the seeded inbox has no unread messages; unread counts went untested")
	}

	// node(id) reaches the same data without the page's prefetch, through batching alone.
	cookie := s.session(vendor)
	for _, id := range ids[:3] {
		res := s.graphql(cookie, `query($id: ID!) { node(id: $id) { ...Conv } }`+fullQuery[strings.Index(fullQuery, "fragment U"):],
			map[string]any{"id": models.GlobalID("Conversation", id)})
		var got struct{ Node map[string]any }
		if err := json.Unmarshal(res.Data, &got); err != nil || len(res.Errors) > 0 {
			t.Fatalf("node(%d): %s %+v", id, res.Data, res.Errors)
		}
		gotJSON, _ := json.Marshal(got.Node)
		wantJSON, _ := json.Marshal(s.expectedConversation(vendor, id))
		if string(gotJSON) != string(wantJSON) {
			t.Errorf("node(conversation %d):\n got %s\nwant %s", id, gotJSON, wantJSON)
		}
	}
}

// expectedConversation builds the GraphQL node of conversation id from its rows, read with
// plain SQL statements of its own rather than the service's queries.
func (s *testServer) expectedConversation(viewerID, id int64) map[string]any {
	s.t.Helper()
	must := func(err error) {
		s.t.Helper()
		if err != nil {
			s.t.Fatal(err)
		}
	}
	ts := func(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }
	const userColumns = "u.id, u.display_name, u.avatar_url, u.city_id, CAST(u.rating AS TEXT) AS rating, u.reviews_count, u.products_count, u.created_at"
	user := func(u models.User) map[string]any {
		return map[string]any{
			"id": models.GlobalID("User", u.ID), "databaseId": u.ID, "displayName": u.DisplayName,
			"avatarUrl": u.AvatarURL, "cityId": u.CityID, "rating": u.Rating, "reviewsCount": u.ReviewsCount,
			"productsCount": u.ProductsCount, "createdAt": ts(u.CreatedAt),
		}
	}
	userByID := func(id int64) map[string]any {
		var u models.User
		must(s.db.Raw("SELECT "+userColumns+" FROM users u WHERE u.id = ?", id).Scan(&u).Error)
		return user(u)
	}
	var c models.Conversation
	var p models.Product
	var images []models.ProductImage
	var participants []models.User
	var last []models.Message
	var unread int64
	must(s.db.Raw("SELECT * FROM conversations WHERE id = ?", id).Scan(&c).Error)
	must(s.db.Raw("SELECT * FROM products WHERE id = ?", c.ProductID).Scan(&p).Error)
	must(s.db.Raw("SELECT * FROM product_images WHERE product_id = ? ORDER BY sort_order, id", p.ID).Scan(&images).Error)
	must(s.db.Raw("SELECT "+userColumns+" FROM conversation_participants p JOIN users u ON u.id = p.user_id WHERE p.conversation_id = ? ORDER BY p.joined_at, p.user_id", id).Scan(&participants).Error)
	must(s.db.Raw("SELECT * FROM messages WHERE conversation_id = ? ORDER BY created_at DESC, id DESC LIMIT 1", id).Scan(&last).Error)
	must(s.db.Raw("SELECT count(*) FROM messages WHERE conversation_id = ? AND sender_id <> ? AND NOT is_read", id, viewerID).Scan(&unread).Error)

	imageList := []any{}
	for _, im := range images {
		imageList = append(imageList, map[string]any{
			"databaseId": im.ID, "thumbnailWebp": im.ThumbnailWebp, "thumbnailJpeg": im.ThumbnailJpeg,
			"mediumWebp": im.MediumWebp, "mediumJpeg": im.MediumJpeg, "largeWebp": im.LargeWebp,
			"largeJpeg": im.LargeJpeg, "status": im.Status, "isPrimary": im.IsPrimary, "sortOrder": im.SortOrder,
		})
	}
	participantList := []any{}
	for _, u := range participants {
		participantList = append(participantList, user(u))
	}
	var lastMessage any
	if len(last) == 1 {
		m := last[0]
		lastMessage = map[string]any{
			"id": models.GlobalID("Message", m.ID), "databaseId": m.ID,
			"conversationId": models.GlobalID("Conversation", id), "text": m.Text, "imageUrl": m.ImageURL,
			"isRead": m.IsRead, "isDelivered": m.IsDelivered, "createdAt": ts(m.CreatedAt),
			"sender": userByID(m.SenderID),
		}
	}
	var publishedAt any
	if p.PublishedAt != nil {
		publishedAt = ts(*p.PublishedAt)
	}
	want := map[string]any{
		"id": models.GlobalID("Conversation", id), "databaseId": id,
		"createdAt": ts(c.CreatedAt), "updatedAt": ts(c.UpdatedAt), "unreadCount": unread,
		"product": map[string]any{
			"id": models.GlobalID("Product", p.ID), "databaseId": p.ID, "title": p.Title,
			"price": p.Price, "steering": p.Steering, "cityId": p.CityID, "regionId": p.RegionID,
			"districtId": p.DistrictID, "metroStationId": p.MetroStationID, "metroDistanceM": p.MetroDistanceM,
			"addressId": p.AddressID, "publishedAt": publishedAt, "images": imageList,
			"seller": userByID(p.SellerID),
		},
		"participants": participantList,
		"lastMessage":  lastMessage,
	}
	// Round-trip through JSON so numbers compare as the response's do.
	raw, _ := json.Marshal(want)
	var out map[string]any
	_ = json.Unmarshal(raw, &out)
	return out
}

func TestSignedOutRequestsGetNoVendorData(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, seed.Options{Vendors: 1, Conversations: 3, Messages: 1, Seed: 1})
	vendor := s.seed.BusiestVendorID
	expired := s.session(vendor)
	dbtest.ExpireSession(t, s.db, expired)
	tests := []struct{ name, cookie string }{
		{"no cookie", ""},
		{"unknown session", "c2Vzc2lvbi10aGF0LW5ldmVyLWV4aXN0ZWQ"},
		{"expired session", expired},
		{"hostile", "%27%20OR%201%3D1%20--"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := s.graphql(tt.cookie, `{ viewer { id } vendorConversations { edges { node { id } } } }`, nil)
			if res.code() != "UNAUTHENTICATED" || len(res.Errors) != 1 {
				t.Fatalf("errors = %+v, want one UNAUTHENTICATED", res.Errors)
			}
			if string(res.Data) != "null" {
				t.Fatalf("data = %s, want null", res.Data)
			}
			res = s.graphql(tt.cookie, `{ viewer { id } }`, nil)
			if string(res.Data) != `{"viewer":null}` || len(res.Errors) != 0 {
				t.Fatalf("viewer: data = %s, errors = %+v", res.Data, res.Errors)
			}
		})
	}
	res := s.graphql(s.session(vendor), `{ viewer { databaseId } }`, nil)
	if want := fmt.Sprintf(`{"viewer":{"databaseId":%d}}`, vendor); string(res.Data) != want {
		t.Fatalf("signed in: viewer = %s, want %s", res.Data, want)
	}
}

func TestVendorSeesOnlyTheirOwnConversations(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, seed.Options{Vendors: 3, Conversations: 4, Messages: 2, Seed: 5})
	var mine, theirs struct {
		Conv, Msg, Product int64
	}
	s.db.Raw("SELECT c.id AS conv, (SELECT max(id) FROM messages WHERE conversation_id = c.id) AS msg, c.product_id AS product FROM conversations c WHERE seller_id = 1 ORDER BY id LIMIT 1").Scan(&theirs)
	s.db.Raw("SELECT c.id AS conv, (SELECT max(id) FROM messages WHERE conversation_id = c.id) AS msg, c.product_id AS product FROM conversations c WHERE seller_id = 2 ORDER BY id LIMIT 1").Scan(&mine)
	// A draft of the other vendor must stay hidden; a published product is public.
	s.db.Model(&models.Product{}).Where("id = ?", theirs.Product).Update("published_at", nil)
	s.db.Model(&models.Product{}).Where("id = ?", mine.Product).Update("published_at", time.Now().UTC())
	cookie := s.session(2)

	p := s.page(cookie, map[string]any{"first": 100})
	if got, want := p.ids(), s.inboxOrder(2); !slices.Equal(got, want) {
		t.Fatalf("list = %v, want vendor 2's %v", got, want)
	}

	gid := models.GlobalID
	tests := []struct {
		name string
		id   string
		want string
	}{
		{"own conversation", gid("Conversation", mine.Conv), fmt.Sprintf(`{"databaseId":%d}`, mine.Conv)},
		{"other vendor's conversation", gid("Conversation", theirs.Conv), "null"},
		{"own message", gid("Message", mine.Msg), fmt.Sprintf(`{"databaseId":%d}`, mine.Msg)},
		{"other vendor's message", gid("Message", theirs.Msg), "null"},
		{"other vendor's draft product", gid("Product", theirs.Product), "null"},
		{"published product", gid("Product", mine.Product), fmt.Sprintf(`{"databaseId":%d}`, mine.Product)},
		{"any user", gid("User", 1), `{"databaseId":1}`},
		{"missing conversation", gid("Conversation", 999999), "null"},
	}
	const fields = `... on Conversation { databaseId } ... on Message { databaseId } ... on Product { databaseId } ... on User { databaseId }`
	var all []string
	var wantAll []string
	for _, tt := range tests {
		all = append(all, tt.id)
		wantAll = append(wantAll, tt.want)
		t.Run(tt.name, func(t *testing.T) {
			res := s.graphql(cookie, `query($id: ID!) { node(id: $id) { `+fields+` } }`, map[string]any{"id": tt.id})
			if want := `{"node":` + tt.want + `}`; string(res.Data) != want || len(res.Errors) != 0 {
				t.Fatalf("node = %s %+v, want %s", res.Data, res.Errors, want)
			}
		})
	}
	res := s.graphql(cookie, `query($ids: [ID!]!) { nodes(ids: $ids) { `+fields+` } }`, map[string]any{"ids": all})
	if want := `{"nodes":[` + strings.Join(wantAll, ",") + `]}`; string(res.Data) != want {
		t.Fatalf("nodes = %s %+v\nwant %s", res.Data, res.Errors, want)
	}
}

// TestProductVisibilityIsTheSameOnEveryPath: a product is visible to its seller, to anyone
// once published, and to the participants of a conversation about it; node, nodes and a
// conversation's product agree, for buyers, sellers, strangers and anonymous callers alike.
func TestProductVisibilityIsTheSameOnEveryPath(t *testing.T) {
	t.Parallel()
	dsn, db := dbtest.New(t)
	s := startTestServer(t, db, seed.Summary{}, map[string]string{"DATABASE_URL": dsn})
	must := func(v any) {
		t.Helper()
		if err := db.Create(v).Error; err != nil {
			t.Fatal(err)
		}
	}
	seller := &models.User{DisplayName: "Продавец", Rating: "4.50"}
	buyer := &models.User{DisplayName: "Покупатель", Rating: "0.00"}
	stranger := &models.User{DisplayName: "Другой продавец", Rating: "3.00"} // sells, and talks to the buyer, too
	for _, u := range []*models.User{seller, buyer, stranger} {
		must(u)
	}
	now := time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)
	product := func(sellerID int64, title string, published bool) *models.Product {
		p := &models.Product{SellerID: sellerID, Title: title, Price: 1000, CityID: 1, RegionID: 77}
		if published {
			p.PublishedAt = &now
		}
		must(p)
		return p
	}
	draft := product(seller.ID, "Черновик, о котором говорят", false) // back to draft after the buyer wrote
	published := product(seller.ID, "Опубликованный", true)
	lone := product(seller.ID, "Черновик, о котором не говорят", false)
	strangers := product(stranger.ID, "Черновик другого продавца", false)
	conversation := func(p *models.Product, at time.Duration, users ...*models.User) *models.Conversation {
		c := &models.Conversation{ProductID: p.ID, SellerID: p.SellerID, CreatedAt: now, UpdatedAt: now.Add(at)}
		must(c)
		for _, u := range users {
			must(&models.Participant{ConversationID: c.ID, UserID: u.ID})
		}
		return c
	}
	aboutDraft := conversation(draft, 2*time.Minute, seller, buyer)
	aboutPublished := conversation(published, time.Minute, seller, buyer)
	aboutStrangers := conversation(strangers, 0, stranger, buyer)

	type viewer struct {
		name   string
		cookie string
	}
	viewers := []viewer{{"seller", s.session(seller.ID)}, {"buyer", s.session(buyer.ID)}, {"stranger", s.session(stranger.ID)}, {"anonymous", ""}}
	products := []*models.Product{draft, published, lone, strangers}
	// visible[viewer][product], in the order of viewers and products above.
	visible := [][]bool{
		{true, true, true, false},   // seller: their own, drafts or not
		{true, true, false, true},   // buyer: the published one and those they talk about
		{false, true, false, true},  // stranger: the published one and their own
		{false, true, false, false}, // anonymous: the published one
	}
	conversations := []*models.Conversation{aboutDraft, aboutPublished, aboutStrangers}
	// visibleConversation[viewer][conversation]: participants only, showing their product.
	visibleConversation := [][]bool{
		{true, true, false},
		{true, true, true},
		{false, false, true},
		{false, false, false},
	}
	productJSON := func(p *models.Product) string {
		return fmt.Sprintf(`{"databaseId":%d,"title":%q}`, p.ID, p.Title)
	}
	const productFields = `... on Product { databaseId title }`
	for vi, v := range viewers {
		t.Run(v.name, func(t *testing.T) {
			var ids, wantNodes []string
			for pi, p := range products {
				id := models.GlobalID(models.TypeProduct, p.ID)
				want := "null"
				if visible[vi][pi] {
					want = productJSON(p)
				}
				ids, wantNodes = append(ids, id), append(wantNodes, want)
				res := s.graphql(v.cookie, `query($id: ID!) { node(id: $id) { `+productFields+` } }`, map[string]any{"id": id})
				if string(res.Data) != `{"node":`+want+`}` || len(res.Errors) != 0 {
					t.Errorf("node(%q) = %s %+v, want %s", p.Title, res.Data, res.Errors, want)
				}
			}
			before := s.statements()
			res := s.graphql(v.cookie, `query($ids: [ID!]!) { nodes(ids: $ids) { `+productFields+` } }`, map[string]any{"ids": ids})
			if want := `{"nodes":[` + strings.Join(wantNodes, ",") + `]}`; string(res.Data) != want || len(res.Errors) != 0 {
				t.Errorf("nodes = %s %+v\nwant %s", res.Data, res.Errors, want)
			}
			wantStatements := 2 // the session, then every product in one statement
			if v.cookie == "" {
				wantStatements = 1
			}
			if got := s.statements() - before; got != wantStatements {
				t.Errorf("nodes of %d products: %d statements, want %d", len(ids), got, wantStatements)
			}
			for ci, c := range conversations {
				want := "null"
				if visibleConversation[vi][ci] {
					var p *models.Product
					for _, candidate := range products {
						if candidate.ID == c.ProductID {
							p = candidate
						}
					}
					want = `{"product":` + productJSON(p) + `}`
				}
				res := s.graphql(v.cookie, `query($id: ID!) { node(id: $id) { ... on Conversation { product { databaseId title } } } }`,
					map[string]any{"id": models.GlobalID(models.TypeConversation, c.ID)})
				if string(res.Data) != `{"node":`+want+`}` || len(res.Errors) != 0 {
					t.Errorf("conversation %d: %s %+v, want %s", c.ID, res.Data, res.Errors, want)
				}
			}
		})
	}
	// Through the inbox, GraphQL and REST: each seller sees the products of their conversations.
	for _, tt := range []struct {
		name     string
		cookie   string
		products []*models.Product
	}{
		{"seller", viewers[0].cookie, []*models.Product{draft, published}},
		{"stranger", viewers[2].cookie, []*models.Product{strangers}},
	} {
		t.Run(tt.name+"'s inbox", func(t *testing.T) {
			var graphQL, rest []string
			for _, p := range tt.products {
				graphQL = append(graphQL, `{"product":`+productJSON(p)+`}`)
				rest = append(rest, fmt.Sprintf(`%d %s`, p.ID, p.Title))
			}
			res := s.graphql(tt.cookie, `{ vendorConversations { nodes { product { databaseId title } } } }`, nil)
			if want := `{"vendorConversations":{"nodes":[` + strings.Join(graphQL, ",") + `]}}`; string(res.Data) != want || len(res.Errors) != 0 {
				t.Errorf("GraphQL inbox = %s %+v, want %s", res.Data, res.Errors, want)
			}
			var got []string
			for _, c := range s.restPage("", tt.cookie).Data {
				p := c["product"].(map[string]any)
				got = append(got, fmt.Sprintf(`%v %v`, p["id"], p["title"]))
			}
			if !slices.Equal(got, rest) {
				t.Errorf("REST inbox products = %q, want %q", got, rest)
			}
		})
	}
}

func TestBadArgumentsAreBadUserInput(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, seed.Options{Vendors: 1, Conversations: 3, Messages: 1, Seed: 1})
	cookie := s.session(s.seed.BusiestVendorID)
	valid := s.page(cookie, map[string]any{"first": 1}).VendorConversations.PageInfo.EndCursor
	tampered := []byte(*valid)
	tampered[3] ^= 1
	otherKey := models.NewCursors([]byte("another secret")).Encode(models.InboxKey{UpdatedAt: time.Now(), ID: 1})
	tests := []struct {
		name  string
		vars  map[string]any
		code  string
		field string
	}{
		{"first and last", map[string]any{"first": 1, "last": 1}, "BAD_USER_INPUT", "first"},
		{"negative first", map[string]any{"first": -1}, "BAD_USER_INPUT", "first"},
		{"first over 100", map[string]any{"first": 101}, "BAD_USER_INPUT", "first"},
		{"negative last", map[string]any{"last": -5}, "BAD_USER_INPUT", "last"},
		{"last over 100", map[string]any{"last": 1000}, "BAD_USER_INPUT", "last"},
		{"malformed after", map[string]any{"after": "not-a-cursor"}, "BAD_USER_INPUT", "after"},
		{"tampered after", map[string]any{"after": string(tampered)}, "BAD_USER_INPUT", "after"},
		{"after from another key", map[string]any{"after": otherKey}, "BAD_USER_INPUT", "after"},
		{"malformed before", map[string]any{"last": 2, "before": "' OR 1=1 --"}, "BAD_USER_INPUT", "before"},
		{"first not an int", map[string]any{"first": "ten"}, "GRAPHQL_VALIDATION_FAILED", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := s.graphql(cookie, fullQuery, tt.vars)
			if res.code() != tt.code || len(res.Errors) != 1 {
				t.Fatalf("errors = %+v, want one %s", res.Errors, tt.code)
			}
			if field, _ := res.Errors[0].Extensions["field"].(string); field != tt.field {
				t.Errorf("extensions.field = %q, want %q", field, tt.field)
			}
			if len(res.Data) > 0 && string(res.Data) != "null" {
				t.Errorf("data = %s, want null", res.Data)
			}
		})
	}
	t.Run("malformed global id", func(t *testing.T) {
		res := s.graphql(cookie, `{ node(id: "Q29udmVyc2F0aW9uOjAx") { id } }`, nil) // "Conversation:01"
		if res.code() != "BAD_USER_INPUT" {
			t.Fatalf("errors = %+v, want BAD_USER_INPUT", res.Errors)
		}
	})
}

// TestStatementsDoNotGrowWithPageSize asserts the exact number of SQL statements of a
// full-depth page: the session, then the page with every nested kind.
func TestStatementsDoNotGrowWithPageSize(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, seed.Options{Vendors: 2, Conversations: 120, Messages: 3, Seed: 9})
	cookie := s.session(s.seed.BusiestVendorID)
	// session + page (with its products, images, last messages and participants); sellers and
	// senders are participants, already loaded, and the seller's unread counts are on the
	// page's rows. node and nodes read the conversations, then each nested kind on its own.
	const fullPage, nodes = 2, 6
	cursor := *s.page(cookie, map[string]any{"first": 1}).VendorConversations.PageInfo.EndCursor
	tests := []struct {
		name string
		vars map[string]any
		want int
	}{
		{"first 1", map[string]any{"first": 1}, fullPage},
		{"first 20", map[string]any{"first": 20}, fullPage},
		{"first 100", map[string]any{"first": 100}, fullPage},
		{"last 100", map[string]any{"last": 100}, fullPage},
		{"first 100 after a cursor", map[string]any{"first": 100, "after": cursor}, fullPage + 1}, // + the probe for hasPreviousPage
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := s.statements()
			p := s.page(cookie, tt.vars)
			if got := s.statements() - before; got != tt.want {
				t.Fatalf("%d statements for %d conversations, want %d", got, len(p.ids()), tt.want)
			}
		})
	}
	withoutPageInfo := strings.Replace(fullQuery, "pageInfo { hasNextPage hasPreviousPage startCursor endCursor }", "pageInfo { endCursor }", 1)
	fragments := fullQuery[strings.Index(fullQuery, "fragment U"):]
	var newest string
	s.db.Raw("SELECT id FROM conversations WHERE seller_id = ? ORDER BY updated_at DESC, id DESC LIMIT 1", s.seed.BusiestVendorID).Scan(&newest)
	newestID, _ := strconv.ParseInt(newest, 10, 64)
	for _, tt := range []struct {
		name, query string
		vars        map[string]any
		want        int
	}{
		{"after a cursor, not asking what lies before", withoutPageInfo, map[string]any{"first": 100, "after": cursor}, fullPage},
		{"node of a conversation", `query($id: ID!) { node(id: $id) { ...Conv } }` + fragments, map[string]any{"id": models.GlobalID(models.TypeConversation, newestID)}, nodes},
		{"nodes of two conversations", `query($ids: [ID!]!) { nodes(ids: $ids) { ...Conv } }` + fragments,
			map[string]any{"ids": []string{models.GlobalID(models.TypeConversation, newestID), models.GlobalID(models.TypeConversation, newestID-1)}}, nodes},
	} {
		t.Run(tt.name, func(t *testing.T) {
			before := s.statements()
			if res := s.graphql(cookie, tt.query, tt.vars); len(res.Errors) > 0 {
				t.Fatal(res.Errors)
			}
			if got := s.statements() - before; got != tt.want {
				t.Fatalf("%d statements, want %d", got, tt.want)
			}
		})
	}
}

func TestGetRunsQueries(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, seed.Options{Vendors: 1, Conversations: 2, Messages: 1, Seed: 1})
	req, _ := http.NewRequest(http.MethodGet, s.url+"/graphql?query="+url.QueryEscape(`{ vendorConversations(first: 1) { nodes { databaseId } } }`), nil)
	req.AddCookie(&http.Cookie{Name: httpserver.SessionCookie, Value: s.session(s.seed.BusiestVendorID)})
	res := s.do(req)
	want := fmt.Sprintf(`{"vendorConversations":{"nodes":[{"databaseId":%d}]}}`, s.inboxOrder(s.seed.BusiestVendorID)[0])
	if string(res.Data) != want {
		t.Fatalf("data = %s %+v, want %s", res.Data, res.Errors, want)
	}
}

func TestTheRootSendsBrowsersToThePlaygroundAndListsTheEndpoints(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, seed.Options{Vendors: 1, Conversations: 1, Messages: 1, Seed: 1})
	noRedirects := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	req, _ := http.NewRequest(http.MethodGet, s.url+"/", nil)
	req.Header.Set("Accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8") // a browser's
	res, err := noRedirects.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/playground" {
		t.Errorf("a browser got %d to %q, want 303 to /playground", res.StatusCode, res.Header.Get("Location"))
	}
	res, body := s.rawRequest("GET", "/", nil, "")
	var index struct {
		Endpoints []struct{ Path, What string }
	}
	if err := json.Unmarshal(body, &index); err != nil || res.StatusCode != 200 {
		t.Fatalf("%d %s: %v", res.StatusCode, body, err)
	}
	var paths []string
	for _, e := range index.Endpoints {
		paths = append(paths, e.Path)
	}
	if want := []string{"/graphql", "/vendor/conversations", "/openapi.json", "/playground", "/healthz", "/readyz", "/metrics"}; !slices.Equal(paths, want) {
		t.Errorf("endpoints %q, want %q", paths, want)
	}
	// Demo sign-in is off here (PostgreSQL or DEMO=false): its page says how to turn it on.
	if res, body := s.rawRequest("GET", "/demo/login", nil, ""); res.StatusCode != 404 || !strings.Contains(string(body), "DEMO_LOGIN=true") {
		t.Errorf("/demo/login: %d %s", res.StatusCode, body)
	}
	if res, _ := s.rawRequest("GET", "/nothing-here", nil, ""); res.StatusCode != 404 {
		t.Errorf("/nothing-here: %d, want 404", res.StatusCode)
	}
}

func TestPlaygroundAndHealth(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, seed.Options{Vendors: 1, Conversations: 0, Messages: 0, Seed: 1})
	tests := []struct{ path, contentType, contains string }{
		{"/playground", "text/html", "/graphql"},
		{"/healthz", "text/plain; charset=utf-8", "ok"},
		{"/metrics", "text/plain", "bff_db_queries_total"},
	}
	for _, tt := range tests {
		res, err := http.Get(s.url + tt.path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusOK || !strings.HasPrefix(res.Header.Get("Content-Type"), tt.contentType) || !strings.Contains(string(body), tt.contains) {
			t.Errorf("GET %s: %d %q, body without %q", tt.path, res.StatusCode, res.Header.Get("Content-Type"), tt.contains)
		}
	}
}

// ---- REST: GET /vendor/conversations ----

var updateGolden = flag.Bool("update", false, "rewrite the golden files in rest/testdata")

// openAPIRouter finds operations of rest/openapi.json, for validating real responses.
var openAPIRouter = sync.OnceValues(func() (routers.Router, error) {
	doc, err := openapi3.NewLoader().LoadFromData(rest.OpenAPI)
	if err != nil {
		return nil, err
	}
	if err := doc.Validate(context.Background()); err != nil {
		return nil, err
	}
	return gorillamux.NewRouter(doc)
})

// restGet calls the REST endpoint with method and raw query, validates the response against
// the OpenAPI document, and returns it with its body.
func (s *testServer) restCall(method, query, cookie string) (*http.Response, []byte) {
	s.t.Helper()
	req, _ := http.NewRequest(method, s.url+"/vendor/conversations?"+query, nil)
	if cookie != "" {
		req.AddCookie(&http.Cookie{Name: httpserver.SessionCookie, Value: cookie})
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	if ct := res.Header.Get("Content-Type"); ct != "application/json; charset=utf-8" {
		s.t.Errorf("%s ?%s: Content-Type %q", method, query, ct)
	}
	s.validateOpenAPI(req, res, body)
	return res, body
}

func (s *testServer) validateOpenAPI(req *http.Request, res *http.Response, body []byte) {
	s.t.Helper()
	router, err := openAPIRouter()
	if err != nil {
		s.t.Fatalf("openapi.json: %v", err)
	}
	// Refusals of other methods are documented on the GET operation, the only one there is.
	get := req.Clone(context.Background())
	get.Method = http.MethodGet
	route, params, err := router.FindRoute(get)
	if err != nil {
		s.t.Fatalf("openapi.json has no route for %s: %v", req.URL, err)
	}
	input := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: get, PathParams: params, Route: route},
		Status:                 res.StatusCode,
		Header:                 res.Header,
		Options:                &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
	}
	input.SetBodyBytes(body)
	if err := openapi3filter.ValidateResponse(context.Background(), input); err != nil {
		s.t.Errorf("%s %s: response %d does not match openapi.json: %v\n%s", req.Method, req.URL, res.StatusCode, err, body)
	}
}

type restPage struct {
	Data []map[string]any `json:"data"`
	Meta struct {
		HasMore    bool    `json:"has_more"`
		NextCursor *string `json:"next_cursor"`
	} `json:"meta"`
}

func (s *testServer) restPage(query, cookie string) restPage {
	s.t.Helper()
	res, body := s.restCall(http.MethodGet, query, cookie)
	if res.StatusCode != http.StatusOK {
		s.t.Fatalf("GET ?%s: %d %s", query, res.StatusCode, body)
	}
	var p restPage
	if err := json.Unmarshal(body, &p); err != nil {
		s.t.Fatal(err)
	}
	return p
}

func (p restPage) ids() []int64 {
	var ids []int64
	for _, c := range p.Data {
		ids = append(ids, int64(c["id"].(float64)))
	}
	return ids
}

// TestRESTGolden compares a whole response, byte for byte, with one reviewed by hand. Run
// `go test -run TestRESTGolden -update .` to rewrite it after a deliberate change.
func TestRESTGolden(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, seed.Options{Vendors: 2, Conversations: 3, Messages: 3, Seed: 42})
	_, body := s.restCall(http.MethodGet, "limit=2", s.session(1))
	const golden = "rest/testdata/vendor-conversations.golden.json"
	if *updateGolden {
		if err := os.WriteFile(golden, body, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(body, want) {
		t.Fatalf("response differs from %s:\n got %s\nwant %s", golden, body, want)
	}
}

// keyTree lists an object's keys in order, recursively; an array stands for its first element.
func keyTree(t *testing.T, raw json.RawMessage) any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(raw))
	tok, err := dec.Token()
	if err != nil {
		t.Fatal(err)
	}
	switch tok {
	case json.Delim('{'):
		var m map[string]json.RawMessage
		_ = json.Unmarshal(raw, &m)
		var tree []any
		for dec.More() {
			k, _ := dec.Token()
			var skip json.RawMessage
			_ = dec.Decode(&skip)
			tree = append(tree, k, keyTree(t, m[k.(string)]))
		}
		return tree
	case json.Delim('['):
		var a []json.RawMessage
		_ = json.Unmarshal(raw, &a)
		if len(a) == 0 {
			return "[]"
		}
		return []any{keyTree(t, a[0])}
	default:
		return nil // a scalar or null: only keys are compared
	}
}

func TestRESTKeysFollowTheContract(t *testing.T) {
	t.Parallel()
	example, err := os.ReadFile("rest/testdata/contract-example.json")
	if err != nil {
		t.Fatal(err)
	}
	// The copy must be the contract's own, where shared/ is beside the repository (as in CI).
	if contract, err := os.ReadFile("../shared/contract/vendor-conversations.example.json"); err == nil && !bytes.Equal(contract, example) {
		t.Fatal("rest/testdata/contract-example.json differs from ../shared/contract/vendor-conversations.example.json; copy it again")
	}
	s := newTestServer(t, seed.Options{Vendors: 1, Conversations: 10, Messages: 2, Seed: 4})
	_, body := s.restCall(http.MethodGet, "limit=10", s.session(1))
	// Compare with a conversation whose every nested value is present, as in the example.
	var page struct {
		Data []json.RawMessage `json:"data"`
		Meta json.RawMessage   `json:"meta"`
	}
	_ = json.Unmarshal(body, &page)
	var full json.RawMessage
	for _, c := range page.Data {
		var probe struct {
			LastMessage *json.RawMessage `json:"last_message"`
			Product     struct{ Images []any }
		}
		_ = json.Unmarshal(c, &probe)
		if probe.LastMessage != nil && len(probe.Product.Images) > 0 {
			full = c
			break
		}
	}
	if full == nil {
		t.Fatal("no seeded conversation has both a last message and images")
	}
	got, _ := json.Marshal(keyTree(t, json.RawMessage(`{"data":[`+string(full)+`],"meta":`+string(page.Meta)+`}`)))
	want, _ := json.Marshal(keyTree(t, example))
	if string(got) != string(want) {
		t.Fatalf("keys differ from the contract:\n got %s\nwant %s", got, want)
	}
}

// TestRESTAndGraphQLAgree reads the same page both ways and compares every value.
func TestRESTAndGraphQLAgree(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, seed.Options{Vendors: 2, Conversations: 15, Messages: 4, Seed: 8})
	cookie := s.session(1)
	rp := s.restPage("limit=15", cookie)
	gp := s.page(cookie, map[string]any{"first": 15})
	if len(rp.Data) != 15 || len(gp.VendorConversations.Edges) != 15 {
		t.Fatalf("%d REST and %d GraphQL conversations, want 15 each", len(rp.Data), len(gp.VendorConversations.Edges))
	}
	for i, e := range gp.VendorConversations.Edges {
		got, _ := json.Marshal(rp.Data[i])
		want, _ := json.Marshal(graphQLToREST(e.Node))
		if string(got) != string(want) {
			t.Errorf("conversation %d:\nREST    %s\nGraphQL %s", i, got, want)
		}
	}
}

// graphQLToREST renames a GraphQL value's keys as REST spells them: databaseId becomes id,
// global ids and nested objects that REST flattens (sender) become their database ids.
func graphQLToREST(v any) any {
	switch v := v.(type) {
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = graphQLToREST(e)
		}
		return out
	case map[string]any:
		out := map[string]any{}
		for k, e := range v {
			switch k {
			case "id", "conversationId":
				continue // global ids; REST has database ids
			case "databaseId":
				out["id"] = e
			case "sender":
				out["sender_id"] = e.(map[string]any)["databaseId"]
			default:
				out[snake(k)] = graphQLToREST(e)
			}
		}
		if product, ok := out["product"].(map[string]any); ok {
			out["product_id"] = product["id"]
		}
		if msg, ok := out["last_message"].(map[string]any); ok {
			msg["conversation_id"] = out["id"]
		}
		return out
	default:
		return v
	}
}

func snake(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r >= 'A' && r <= 'Z' {
			b.WriteByte('_')
			r += 'a' - 'A'
		}
		b.WriteRune(r)
	}
	return b.String()
}

func TestRESTErrors(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, seed.Options{Vendors: 1, Conversations: 3, Messages: 1, Seed: 1})
	cookie := s.session(1)
	expired := s.session(1)
	dbtest.ExpireSession(t, s.db, expired)
	valid := *s.restPage("limit=1", cookie).Meta.NextCursor
	tampered := valid[:5] + string(valid[5]^1) + valid[6:]
	tests := []struct {
		name, method, query, cookie string
		status                      int
		code                        string
	}{
		{"limit 0", "GET", "limit=0", cookie, 400, "invalid_limit"},
		{"limit 101", "GET", "limit=101", cookie, 400, "invalid_limit"},
		{"negative limit", "GET", "limit=-3", cookie, 400, "invalid_limit"},
		{"limit not an integer", "GET", "limit=abc", cookie, 400, "invalid_limit"},
		{"fractional limit", "GET", "limit=2.0", cookie, 400, "invalid_limit"},
		{"malformed cursor", "GET", "cursor=abc", cookie, 400, "invalid_cursor"},
		{"tampered cursor", "GET", "cursor=" + tampered, cookie, 400, "invalid_cursor"},
		{"repeated limit", "GET", "limit=5&limit=5", cookie, 400, "invalid_parameter"},
		{"repeated cursor", "GET", "cursor=" + valid + "&cursor=" + valid, cookie, 400, "invalid_parameter"},
		{"broken query string", "GET", "limit=%zz", cookie, 400, "invalid_query"},
		{"no cookie", "GET", "", "", 401, "unauthenticated"},
		{"unknown session", "GET", "", "bm90LWEtc2Vzc2lvbg", 401, "unauthenticated"},
		{"expired session", "GET", "", expired, 401, "unauthenticated"},
		{"no cookie beats a bad limit", "GET", "limit=0", "", 401, "unauthenticated"},
		{"POST", "POST", "", cookie, 405, "method_not_allowed"},
		{"PUT", "PUT", "", cookie, 405, "method_not_allowed"},
		{"DELETE", "DELETE", "", cookie, 405, "method_not_allowed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, body := s.restCall(tt.method, tt.query, tt.cookie)
			var e struct {
				Error struct{ Code, Message string }
			}
			if err := json.Unmarshal(body, &e); err != nil {
				t.Fatalf("body %s: %v", body, err)
			}
			if res.StatusCode != tt.status || e.Error.Code != tt.code || e.Error.Message == "" {
				t.Fatalf("%d %s, want %d %s", res.StatusCode, body, tt.status, tt.code)
			}
			if tt.status == 405 && res.Header.Get("Allow") != "GET, HEAD" {
				t.Errorf("Allow = %q, want \"GET, HEAD\"", res.Header.Get("Allow"))
			}
		})
	}
}

// TestSignedCursorsOutsideTheStoredTimeRangeAreInvalid: a cursor signed with the server's own
// key but carrying a time the databases cannot represent faithfully is a client error on both
// APIs, never an internal one; the first and last µs of years 1 to 9999 are served.
func TestSignedCursorsOutsideTheStoredTimeRangeAreInvalid(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, seed.Options{Vendors: 1, Conversations: 3, Messages: 1, Seed: 1})
	cookie := s.session(1)
	all := s.inboxOrder(1)
	signed := func(at time.Time) string {
		return models.NewCursors([]byte(testCursorSecret)).Encode(models.InboxKey{UpdatedAt: at, ID: 1})
	}
	first := time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC)
	last := time.Date(9999, 12, 31, 23, 59, 59, 999999000, time.UTC)
	const restRefusal = `{"error":{"code":"invalid_cursor","message":"cursor must be a meta.next_cursor value from a previous page, passed unchanged; omit it for the first page"}}` + "\n"
	tests := []struct {
		name      string
		at        time.Time
		after     []int64 // the page after the cursor; nil: refused
		beforeAll bool    // whether last/before the cursor is the whole inbox (else empty)
	}{
		{"min int64 µs", time.UnixMicro(math.MinInt64), nil, false},
		{"max int64 µs", time.UnixMicro(math.MaxInt64), nil, false},
		{"year 10000", time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), nil, false},
		{"1 µs before year 1", first.Add(-time.Microsecond), nil, false},
		{"year 294277, past PostgreSQL's last", time.Date(294277, 1, 1, 0, 0, 0, 0, time.UTC), nil, false},
		{"first µs of year 1", first, []int64{}, true},
		{"last µs of year 9999", last, all, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cursor := signed(tt.at)
			res, body := s.restCall(http.MethodGet, "cursor="+cursor, cookie)
			gAfter := s.graphql(cookie, `query($c: String) { vendorConversations(first: 100, after: $c) { nodes { databaseId } } }`, map[string]any{"c": cursor})
			gBefore := s.graphql(cookie, `query($c: String) { vendorConversations(last: 100, before: $c) { nodes { databaseId } } }`, map[string]any{"c": cursor})
			if tt.after == nil {
				if res.StatusCode != http.StatusBadRequest || string(body) != restRefusal {
					t.Fatalf("REST: %d %s, want 400 %s", res.StatusCode, body, restRefusal)
				}
				for field, g := range map[string]gqlResponse{"after": gAfter, "before": gBefore} {
					if len(g.Errors) != 1 || g.code() != "BAD_USER_INPUT" || g.Errors[0].Extensions["field"] != field || string(g.Data) != "null" {
						t.Fatalf("GraphQL %s: %s %+v, want only BAD_USER_INPUT on %s", field, g.Data, g.Errors, field)
					}
				}
				return
			}
			if res.StatusCode != http.StatusOK {
				t.Fatalf("REST: %d %s", res.StatusCode, body)
			}
			var p restPage
			if err := json.Unmarshal(body, &p); err != nil {
				t.Fatal(err)
			}
			if got := p.ids(); !slices.Equal(got, tt.after) {
				t.Fatalf("REST after the cursor: %v, want %v", got, tt.after)
			}
			wantAfter := graphQLIDs(tt.after)
			wantBefore := graphQLIDs(nil)
			if tt.beforeAll {
				wantBefore = graphQLIDs(all)
			}
			if string(gAfter.Data) != wantAfter || len(gAfter.Errors) != 0 {
				t.Fatalf("GraphQL after: %s %+v, want %s", gAfter.Data, gAfter.Errors, wantAfter)
			}
			if string(gBefore.Data) != wantBefore || len(gBefore.Errors) != 0 {
				t.Fatalf("GraphQL before: %s %+v, want %s", gBefore.Data, gBefore.Errors, wantBefore)
			}
		})
	}
}

// graphQLIDs is the data of a vendorConversations query selecting nodes { databaseId }.
func graphQLIDs(ids []int64) string {
	nodes := make([]string, len(ids))
	for i, id := range ids {
		nodes[i] = fmt.Sprintf(`{"databaseId":%d}`, id)
	}
	return `{"vendorConversations":{"nodes":[` + strings.Join(nodes, ",") + `]}}`
}

func TestRESTPaginatesToTheEnd(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, seed.Options{Vendors: 2, Conversations: 130, Messages: 1, Seed: 6})
	cookie := s.session(1)
	want := s.inboxOrder(1)
	for _, size := range []int{1, 7, 20, 100} {
		t.Run(fmt.Sprintf("limit %d", size), func(t *testing.T) {
			var got []int64
			query := fmt.Sprintf("limit=%d", size)
			for {
				p := s.restPage(query, cookie)
				got = append(got, p.ids()...)
				if len(p.Data) > size || p.Meta.HasMore != (p.Meta.NextCursor != nil) {
					t.Fatalf("page of %d with has_more %v, next_cursor %v", len(p.Data), p.Meta.HasMore, p.Meta.NextCursor)
				}
				if !p.Meta.HasMore {
					break
				}
				query = fmt.Sprintf("limit=%d&cursor=%s", size, url.QueryEscape(*p.Meta.NextCursor))
			}
			if !slices.Equal(got, want) {
				t.Fatalf("ids = %v\nwant %v", got, want)
			}
		})
	}
	t.Run("cursors are interchangeable with GraphQL", func(t *testing.T) {
		rp := s.restPage("limit=5", cookie)
		gp := s.page(cookie, map[string]any{"first": 5, "after": *rp.Meta.NextCursor})
		if !slices.Equal(gp.ids(), want[5:10]) {
			t.Fatalf("GraphQL after REST's next_cursor = %v, want %v", gp.ids(), want[5:10])
		}
		rp = s.restPage("limit=5&cursor="+*gp.VendorConversations.PageInfo.EndCursor, cookie)
		if !slices.Equal(rp.ids(), want[10:15]) {
			t.Fatalf("REST after GraphQL's endCursor = %v, want %v", rp.ids(), want[10:15])
		}
	})
	t.Run("statements do not grow with the page", func(t *testing.T) {
		for _, size := range []int{1, 20, 100} {
			before := s.statements()
			s.restPage(fmt.Sprintf("limit=%d", size), cookie)
			if got := s.statements() - before; got != 2 { // see TestStatementsDoNotGrowWithPageSize
				t.Errorf("limit=%d: %d statements, want 2", size, got)
			}
		}
	})
}

// TestSessionsAreLookedUpOnceATTL serves pages with SESSION_CACHE_TTL on: a session's first
// request looks it up, the next ones within the ttl do not, through REST and GraphQL alike;
// a session that ends keeps working for the ttl, and a session never seen costs its lookup.
func TestSessionsAreLookedUpOnceATTL(t *testing.T) {
	t.Parallel()
	s := newTestServerWith(t, seed.Options{Vendors: 2, Conversations: 5, Messages: 2, Seed: 1}, map[string]string{"SESSION_CACHE_TTL": "1h"})
	cookie, other := s.session(1), s.session(2)
	for _, tt := range []struct {
		name       string
		request    func()
		statements int
	}{
		{"the first REST page: the session, then the page", func() { s.restPage("limit=20", cookie) }, 2},
		{"the next REST page: the page", func() { s.restPage("limit=20", cookie) }, 1},
		{"a GraphQL page: the page", func() { s.page(cookie, map[string]any{"first": 20}) }, 1},
		{"another vendor's first page: its session, then its page", func() { s.restPage("limit=20", other) }, 2},
	} {
		before := s.statements()
		tt.request()
		if got := s.statements() - before; got != tt.statements {
			t.Errorf("%s: %d statements, want %d", tt.name, got, tt.statements)
		}
	}
	// Ended in the database, the session still signs in on this instance until its ttl is out.
	if err := s.db.Exec("DELETE FROM sessions").Error; err != nil {
		t.Fatal(err)
	}
	if p := s.restPage("limit=2", cookie); len(p.Data) != 2 {
		t.Fatalf("a remembered session's page after its deletion: %d conversations, want 2", len(p.Data))
	}
	for range 2 { // an unknown session is never remembered
		before := s.statements()
		if res, body := s.restCall("GET", "limit=2", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"); res.StatusCode != http.StatusUnauthorized || s.statements()-before != 1 {
			t.Fatalf("unknown session: %d %s in %d statements, want 401 in 1", res.StatusCode, body, s.statements()-before)
		}
	}
}

func TestOpenAPIIsServed(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, seed.Options{Vendors: 1, Conversations: 0, Messages: 0, Seed: 1})
	res, err := http.Get(s.url + "/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != 200 || res.Header.Get("Content-Type") != "application/json; charset=utf-8" || !bytes.Equal(body, rest.OpenAPI) {
		t.Fatalf("GET /openapi.json: %d %q, %d bytes", res.StatusCode, res.Header.Get("Content-Type"), len(body))
	}
}

// ---- hardening: every rule below has a test through the real handler ----

// post sends a raw POST /graphql with the given headers and body.
func (s *testServer) rawRequest(method, path string, header map[string]string, body string) (*http.Response, []byte) {
	s.t.Helper()
	req, _ := http.NewRequest(method, s.url+path, strings.NewReader(body))
	for k, v := range header {
		req.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res, b
}

func decodeGraphQL(t *testing.T, body []byte) gqlResponse {
	t.Helper()
	var r gqlResponse
	if err := json.Unmarshal(body, &r); err != nil {
		t.Fatalf("not a GraphQL response: %s", body)
	}
	return r
}

func TestQueryLimits(t *testing.T) {
	t.Parallel()
	dsn, db := dbtest.New(t)
	summary, err := seed.Seed(context.Background(), db, seed.Options{Vendors: 1, Conversations: 3, Messages: 1, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	// Small limits, so each is easy to cross on purpose.
	s := startTestServer(t, db, summary, map[string]string{"DATABASE_URL": dsn, "GRAPHQL_MAX_DEPTH": "4", "GRAPHQL_MAX_COMPLEXITY": "300", "GRAPHQL_MAX_ALIASES": "3"})
	cookie := s.session(1)
	tests := []struct {
		name, query string
		code        string
		limit       int
		value       int
	}{
		{"depth at the limit", `{ vendorConversations(first: 1) { nodes { product { title } } } }`, "", 0, 0},
		{"too deep", `{ vendorConversations(first: 1) { nodes { product { seller { displayName } } } } }`, "QUERY_TOO_DEEP", 4, 5},
		{"too deep through a fragment", `{ vendorConversations(first: 1) { nodes { ...C } } } fragment C on Conversation { lastMessage { sender { id } } }`, "QUERY_TOO_DEEP", 4, 5},
		{"introspection is exempt from depth", `{ __schema { types { fields { type { ofType { name } } } } } }`, "", 0, 0},
		// A connection costs its page size times its children: 1 + 20 × (1 + 1 + 1) = 61.
		{"cheap page", `{ vendorConversations(first: 20) { nodes { id databaseId } } }`, "", 0, 0},
		{"page priced by its size", `{ vendorConversations(first: 100) { nodes { id databaseId } } }`, "QUERY_TOO_COMPLEX", 300, 301},
		{"last priced too", `{ vendorConversations(last: 100) { nodes { id databaseId } } }`, "QUERY_TOO_COMPLEX", 300, 301},
		{"aliases at the limit", `{ a: viewer { id } b: viewer { id } c: viewer { id } }`, "", 0, 0},
		{"too many aliases", `{ a: viewer { id } b: viewer { id } c: viewer { id } d: viewer { id } }`, "TOO_MANY_ALIASES", 3, 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := s.graphql(cookie, tt.query, nil)
			if tt.code == "" {
				if len(res.Errors) > 0 {
					t.Fatalf("refused: %+v", res.Errors)
				}
				return
			}
			if len(res.Errors) != 1 || res.code() != tt.code || string(res.Data) != "" && string(res.Data) != "null" {
				t.Fatalf("got %s %+v, want only %s", res.Data, res.Errors, tt.code)
			}
			ext := res.Errors[0].Extensions
			if ext["limit"] != float64(tt.limit) || ext["value"] != float64(tt.value) {
				t.Fatalf("extensions = %v, want limit %d and value %d", ext, tt.limit, tt.value)
			}
		})
	}
}

func TestDefaultLimitsAdmitAFullPageAndRefuseTwoNestedHundreds(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, seed.Options{Vendors: 1, Conversations: 2, Messages: 1, Seed: 1})
	cookie := s.session(1)
	if res := s.graphql(cookie, fullQuery, map[string]any{"first": 100}); len(res.Errors) > 0 {
		t.Fatalf("a full-depth page of 100 is refused: %+v", res.Errors)
	}
	// The schema has no connection inside a connection, so two pages of 100 side by side with
	// every field twice stand in for "100 under 100": the cost is what refuses it.
	double := strings.Replace(fullQuery, "edges { cursor node { ...Conv } }", "edges { cursor node { ...Conv } } nodes { ...Conv }", 1)
	double = strings.Replace(double, "vendorConversations(", "a: vendorConversations(", 1)
	double = strings.Replace(double, "  }\n}\nfragment U", "  }\n  b: vendorConversations(first: $first) { edges { node { ...Conv } } nodes { ...Conv } }\n}\nfragment U", 1)
	if res := s.graphql(cookie, double, map[string]any{"first": 100}); res.code() != "QUERY_TOO_COMPLEX" {
		t.Fatalf("got %+v, want QUERY_TOO_COMPLEX", res.Errors)
	}
}

func TestRequestBodyLimit(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, seed.Options{Vendors: 1, Conversations: 0, Messages: 0, Seed: 1})
	padding := strings.Repeat(" ", 64<<10)
	res, body := s.rawRequest("POST", "/graphql", map[string]string{"Content-Type": "application/json"}, `{"query":"{ viewer { id } }`+padding+`"}`)
	r := decodeGraphQL(t, body)
	if res.StatusCode != http.StatusRequestEntityTooLarge || r.code() != "REQUEST_TOO_LARGE" || r.Errors[0].Extensions["limit"] != float64(64<<10) {
		t.Fatalf("%d %s, want 413 REQUEST_TOO_LARGE with the limit", res.StatusCode, body)
	}
	res, body = s.rawRequest("POST", "/graphql", map[string]string{"Content-Type": "application/json"}, `{"query":"{ viewer { id } }"}`)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("a small body: %d %s", res.StatusCode, body)
	}
}

func TestIntrospectionSwitch(t *testing.T) {
	t.Parallel()
	for _, on := range []bool{true, false} {
		t.Run(fmt.Sprint("introspection ", on), func(t *testing.T) {
			t.Parallel()
			dsn, db := dbtest.New(t)
			s := startTestServer(t, db, seed.Summary{}, map[string]string{"DATABASE_URL": dsn, "GRAPHQL_INTROSPECTION": strconv.FormatBool(on)})
			res := s.graphql("", `{ __schema { queryType { name } } }`, nil)
			if on && string(res.Data) != `{"__schema":{"queryType":{"name":"Query"}}}` {
				t.Fatalf("introspection on: %s %+v", res.Data, res.Errors)
			}
			if !on && (len(res.Errors) == 0 || strings.Contains(string(res.Data), "Query")) {
				t.Fatalf("introspection off: %s %+v", res.Data, res.Errors)
			}
		})
	}
}

func TestAutomaticPersistedQueries(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, seed.Options{Vendors: 1, Conversations: 0, Messages: 0, Seed: 1})
	query := `{ viewer { databaseId } }`
	sum := sha256.Sum256([]byte(query))
	ext := map[string]any{"persistedQuery": map[string]any{"version": 1, "sha256Hash": hex.EncodeToString(sum[:])}}
	send := func(withQuery bool) gqlResponse {
		payload := map[string]any{"extensions": ext}
		if withQuery {
			payload["query"] = query
		}
		b, _ := json.Marshal(payload)
		req, _ := http.NewRequest("POST", s.url+"/graphql", bytes.NewReader(b))
		req.Header.Set("Content-Type", "application/json")
		req.AddCookie(&http.Cookie{Name: httpserver.SessionCookie, Value: s.session(1)})
		return s.do(req)
	}
	if r := send(false); r.code() != "PERSISTED_QUERY_NOT_FOUND" {
		t.Fatalf("hash before registration: %+v, want PERSISTED_QUERY_NOT_FOUND", r.Errors)
	}
	if r := send(true); string(r.Data) != `{"viewer":{"databaseId":1}}` {
		t.Fatalf("registration: %s %+v", r.Data, r.Errors)
	}
	if r := send(false); string(r.Data) != `{"viewer":{"databaseId":1}}` {
		t.Fatalf("hash alone: %s %+v", r.Data, r.Errors)
	}
}

func TestCrossSiteRequestsAreRefused(t *testing.T) {
	t.Parallel()
	dsn, db := dbtest.New(t)
	s := startTestServer(t, db, seed.Summary{}, map[string]string{"DATABASE_URL": dsn, "CORS_ALLOWED_ORIGINS": "https://app.partizap.ru"})
	const query = `{"query":"{ viewer { id } }"}`
	tests := []struct {
		name, method, path string
		header             map[string]string
		body               string
		status             int
		code               string
	}{
		{"JSON POST", "POST", "/graphql", map[string]string{"Content-Type": "application/json"}, query, 200, ""},
		{"JSON POST with charset", "POST", "/graphql", map[string]string{"Content-Type": "application/json; charset=utf-8"}, query, 200, ""},
		{"graphql-response+json accepted", "POST", "/graphql", map[string]string{"Content-Type": "application/json", "Accept": "application/graphql-response+json"}, query, 200, ""},
		{"text/plain", "POST", "/graphql", map[string]string{"Content-Type": "text/plain"}, query, 415, "UNSUPPORTED_MEDIA_TYPE"},
		{"form", "POST", "/graphql", map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, "query=%7B+viewer+%7B+id+%7D+%7D", 415, "UNSUPPORTED_MEDIA_TYPE"},
		{"multipart", "POST", "/graphql", map[string]string{"Content-Type": "multipart/form-data; boundary=x"}, "--x--", 415, "UNSUPPORTED_MEDIA_TYPE"},
		{"no content type", "POST", "/graphql", nil, query, 415, "UNSUPPORTED_MEDIA_TYPE"},
		{"HTML only accepted", "POST", "/graphql", map[string]string{"Content-Type": "application/json", "Accept": "text/html"}, query, 406, "NOT_ACCEPTABLE"},
		{"GET query", "GET", "/graphql?query=" + url.QueryEscape("{ viewer { id } }"), nil, "", 200, ""},
		{"GET mutation", "GET", "/graphql?query=" + url.QueryEscape("mutation { viewer { id } }"), nil, "", 422, "GRAPHQL_VALIDATION_FAILED"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, body := s.rawRequest(tt.method, tt.path, tt.header, tt.body)
			r := decodeGraphQL(t, body)
			if res.StatusCode != tt.status || r.code() != tt.code {
				t.Fatalf("%d %s, want %d %q", res.StatusCode, body, tt.status, tt.code)
			}
		})
	}
}

func TestCORS(t *testing.T) {
	t.Parallel()
	dsn, db := dbtest.New(t)
	s := startTestServer(t, db, seed.Summary{}, map[string]string{"DATABASE_URL": dsn, "CORS_ALLOWED_ORIGINS": "https://app.partizap.ru"})
	tests := []struct {
		name, method, origin string
		preflightHeaders     string
		status               int
		allowOrigin          string
	}{
		{"allowed origin", "POST", "https://app.partizap.ru", "", 200, "https://app.partizap.ru"},
		{"other origin", "POST", "https://evil.example", "", 200, ""},
		{"lookalike origin", "POST", "https://app.partizap.ru.evil.example", "", 200, ""},
		{"null origin", "POST", "null", "", 200, ""},
		{"allowed preflight", "OPTIONS", "https://app.partizap.ru", "content-type", 204, "https://app.partizap.ru"},
		{"refused preflight", "OPTIONS", "https://evil.example", "content-type", 403, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := map[string]string{"Origin": tt.origin, "Content-Type": "application/json"}
			if tt.method == "OPTIONS" {
				h["Access-Control-Request-Method"] = "POST"
				h["Access-Control-Request-Headers"] = tt.preflightHeaders
			}
			res, body := s.rawRequest(tt.method, "/graphql", h, `{"query":"{ viewer { id } }"}`)
			got := res.Header.Get("Access-Control-Allow-Origin")
			if res.StatusCode != tt.status || got != tt.allowOrigin {
				t.Fatalf("%d, Access-Control-Allow-Origin %q; want %d, %q (%s)", res.StatusCode, got, tt.status, tt.allowOrigin, body)
			}
			creds := res.Header.Get("Access-Control-Allow-Credentials")
			if (tt.allowOrigin != "") != (creds == "true") {
				t.Fatalf("Access-Control-Allow-Credentials %q with Allow-Origin %q", creds, got)
			}
			if !slices.Contains(res.Header.Values("Vary"), "Origin") {
				t.Fatalf("Vary = %v, want Origin", res.Header.Values("Vary"))
			}
			if tt.status == 204 && (res.Header.Get("Access-Control-Allow-Methods") != "GET, POST" || !strings.Contains(res.Header.Get("Access-Control-Allow-Headers"), "Content-Type")) {
				t.Fatalf("preflight answer headers: %v", res.Header)
			}
		})
	}
}

func TestSecurityHeaders(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, seed.Options{Vendors: 1, Conversations: 0, Messages: 0, Seed: 1})
	for _, path := range []string{"/graphql?query=%7Bviewer%7Bid%7D%7D", "/vendor/conversations", "/playground", "/metrics", "/healthz", "/readyz", "/openapi.json", "/no/such/page"} {
		res, _ := s.rawRequest("GET", path, nil, "")
		if res.Header.Get("X-Content-Type-Options") != "nosniff" || res.Header.Get("X-Request-ID") == "" {
			t.Errorf("GET %s: X-Content-Type-Options %q, X-Request-ID %q", path, res.Header.Get("X-Content-Type-Options"), res.Header.Get("X-Request-ID"))
		}
	}
	res, _ := s.rawRequest("GET", "/playground", nil, "")
	csp := res.Header.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'none'", "connect-src 'self'", "frame-ancestors 'none'", "base-uri 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("playground CSP %q lacks %q", csp, want)
		}
	}
	if strings.Contains(csp, "unsafe-eval") {
		t.Errorf("playground CSP %q allows eval", csp)
	}
	res, _ = s.rawRequest("GET", "/vendor/conversations", map[string]string{"X-Request-ID": "lb-7f3a"}, "")
	if res.Header.Get("X-Request-ID") != "lb-7f3a" {
		t.Errorf("a proxy's request id was not kept: %q", res.Header.Get("X-Request-ID"))
	}
	res, _ = s.rawRequest("GET", "/vendor/conversations", map[string]string{"X-Request-ID": "bad id\twith spaces"}, "")
	if id := res.Header.Get("X-Request-ID"); id == "" || strings.Contains(id, " ") {
		t.Errorf("a malformed request id was echoed: %q", id)
	}
}

// TestGraphQLResponsesAreNeverStored: every answer of /graphql, successful or not, whoever
// writes it, forbids caches to keep it.
func TestGraphQLResponsesAreNeverStored(t *testing.T) {
	t.Parallel()
	dsn, db := dbtest.New(t)
	s := startTestServer(t, db, seed.Summary{}, map[string]string{"DATABASE_URL": dsn, "CORS_ALLOWED_ORIGINS": "https://app.partizap.ru"})
	const query = `{"query":"{ viewer { id } }"}`
	jsonBody := map[string]string{"Content-Type": "application/json"}
	tests := []struct {
		name, method, path string
		header             map[string]string
		body               string
		status             int
	}{
		{"POST query", "POST", "/graphql", jsonBody, query, 200},
		{"GET query", "GET", "/graphql?query=" + url.QueryEscape("{ viewer { id } }"), nil, "", 200},
		{"unauthenticated vendor data", "POST", "/graphql", jsonBody, `{"query":"{ vendorConversations { totalCount } }"}`, 200},
		{"malformed JSON", "POST", "/graphql", jsonBody, `{"query":`, 400},
		{"parse error", "POST", "/graphql", jsonBody, `{"query":"{"}`, 422},
		{"GET mutation", "GET", "/graphql?query=" + url.QueryEscape("mutation { viewer { id } }"), nil, "", 422},
		{"GET without a query", "GET", "/graphql", nil, "", 422},
		{"not JSON", "POST", "/graphql", map[string]string{"Content-Type": "text/plain"}, query, 415},
		{"body over the limit", "POST", "/graphql", jsonBody, `{"query":"{ viewer { id } }` + strings.Repeat(" ", 64<<10) + `"}`, 413},
		{"HTML only accepted", "POST", "/graphql", map[string]string{"Content-Type": "application/json", "Accept": "text/html"}, query, 406},
		{"PUT", "PUT", "/graphql", jsonBody, query, 405},
		{"DELETE", "DELETE", "/graphql", nil, "", 405},
		{"allowed preflight", "OPTIONS", "/graphql", map[string]string{"Origin": "https://app.partizap.ru", "Access-Control-Request-Method": "POST"}, "", 204},
		{"refused preflight", "OPTIONS", "/graphql", map[string]string{"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"}, "", 403},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, body := s.rawRequest(tt.method, tt.path, tt.header, tt.body)
			if cc := res.Header.Values("Cache-Control"); res.StatusCode != tt.status || len(cc) != 1 || cc[0] != "private, no-store" {
				t.Fatalf("%d, Cache-Control %q (%s); want %d, [\"private, no-store\"]", res.StatusCode, res.Header.Values("Cache-Control"), body, tt.status)
			}
		})
	}
	t.Run("recovered panic", func(t *testing.T) {
		// A nil store makes the session lookup panic in the middleware.
		a := &app{store: models.NewStore(nil), cursors: models.NewCursors([]byte(testCursorSecret)), metrics: prometheus.NewRegistry(),
			logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
		a.cfg, _ = loadConfig(func(string) string { return "" })
		srv := httptest.NewServer(a.handler())
		defer srv.Close()
		res, body := (&testServer{t: t, url: srv.URL}).rawRequest("POST", "/graphql", map[string]string{"Content-Type": "application/json", "Cookie": httpserver.SessionCookie + "=abc"}, query)
		if res.StatusCode != 500 || res.Header.Get("Cache-Control") != "private, no-store" {
			t.Fatalf("%d, Cache-Control %q (%s); want 500, \"private, no-store\"", res.StatusCode, res.Header.Get("Cache-Control"), body)
		}
	})
	t.Run("other endpoints keep their own", func(t *testing.T) {
		for path, want := range map[string]string{"/healthz": "", "/openapi.json": "", "/playground": "no-cache"} {
			if res, _ := s.rawRequest("GET", path, nil, ""); res.Header.Get("Cache-Control") != want {
				t.Errorf("GET %s: Cache-Control %q, want %q", path, res.Header.Get("Cache-Control"), want)
			}
		}
	})
}

// TestInternalErrorsLeakNothing breaks the database under a running server and checks that
// clients get a generic message with the request id while the log gets the details.
func TestInternalErrorsLeakNothing(t *testing.T) {
	t.Parallel()
	dsn, db := dbtest.New(t)
	summary, err := seed.Seed(context.Background(), db, seed.Options{Vendors: 1, Conversations: 2, Messages: 1, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	var logs syncBuffer
	s := startTestServerLogging(t, db, summary, map[string]string{"DATABASE_URL": dsn}, &logs)
	cookie := s.session(1)
	if err := db.Exec("DROP TABLE product_images").Error; err != nil {
		t.Fatal(err)
	}
	leaks := []string{"product_images", "SELECT", "relation", "no such table", ".go:", "goroutine", "SQLSTATE"}

	res, body := s.restCall("GET", "", cookie)
	var restErr struct {
		Error struct{ Code, Message string }
	}
	_ = json.Unmarshal(body, &restErr)
	id := res.Header.Get("X-Request-ID")
	if res.StatusCode != 500 || restErr.Error.Code != "internal_error" || !strings.Contains(restErr.Error.Message, id) {
		t.Fatalf("REST: %d %s (request id %s)", res.StatusCode, body, id)
	}
	req, _ := http.NewRequest("POST", s.url+"/graphql", strings.NewReader(`{"query":"{ vendorConversations { nodes { product { images { databaseId } } } } }"}`))
	req.Header.Set("Content-Type", "application/json")
	req.AddCookie(&http.Cookie{Name: httpserver.SessionCookie, Value: cookie})
	gres, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	gbody, _ := io.ReadAll(gres.Body)
	gres.Body.Close()
	g := decodeGraphQL(t, gbody)
	gid := gres.Header.Get("X-Request-ID")
	if g.code() != "INTERNAL_SERVER_ERROR" || g.Errors[0].Extensions["requestId"] != gid || !strings.Contains(g.Errors[0].Message, gid) {
		t.Fatalf("GraphQL: %s (request id %s)", gbody, gid)
	}
	for _, leak := range leaks {
		if strings.Contains(string(body)+string(gbody), leak) {
			t.Errorf("a response shows %q:\n%s\n%s", leak, body, gbody)
		}
	}
	logged := logs.String()
	if !strings.Contains(logged, "product_images") || !strings.Contains(logged, id) || !strings.Contains(logged, gid) {
		t.Errorf("the log lacks the cause or the request ids:\n%s", logged)
	}
	if strings.Contains(logged, cookie) {
		t.Error("a session id reached the log")
	}
}

// TestPanicsBecomeInternalErrors serves from a store without a database, so that the first
// query panics, in an HTTP middleware and in a resolver.
func TestPanicsBecomeInternalErrors(t *testing.T) {
	t.Parallel()
	var logs syncBuffer
	a := &app{store: models.NewStore(nil), cursors: models.NewCursors([]byte("k")), metrics: prometheus.NewRegistry(),
		logger: slog.New(slog.NewTextHandler(&logs, nil))}
	a.cfg, _ = loadConfig(func(string) string { return "" })
	srv := httptest.NewServer(a.handler())
	defer srv.Close()
	s := &testServer{t: t, url: srv.URL}

	// REST with a cookie: the session lookup panics in the middleware.
	res, body := s.rawRequest("GET", "/vendor/conversations", map[string]string{"Cookie": httpserver.SessionCookie + "=abc"}, "")
	id := res.Header.Get("X-Request-ID")
	if res.StatusCode != 500 || !strings.Contains(string(body), `"code":"internal_error"`) || !strings.Contains(string(body), id) {
		t.Fatalf("REST: %d %s", res.StatusCode, body)
	}
	// GraphQL, anonymous: node(id) queries in its resolver, which panics.
	res, body = s.rawRequest("POST", "/graphql", map[string]string{"Content-Type": "application/json"}, `{"query":"{ node(id: \"VXNlcjox\") { id } }"}`)
	g := decodeGraphQL(t, body)
	if g.code() != "INTERNAL_SERVER_ERROR" || g.Errors[0].Extensions["requestId"] != res.Header.Get("X-Request-ID") {
		t.Fatalf("GraphQL: %d %s", res.StatusCode, body)
	}
	if strings.Contains(string(body), "nil pointer") || strings.Contains(string(body), "goroutine") {
		t.Fatalf("GraphQL shows the panic: %s", body)
	}
	if n := strings.Count(logs.String(), "nil pointer dereference"); n != 2 {
		t.Fatalf("logged %d panics, want 2:\n%s", n, logs.String())
	}
}

func TestHeaderSizeLimit(t *testing.T) {
	t.Parallel()
	dsn, db := dbtest.New(t)
	s := startTestServer(t, db, seed.Summary{}, map[string]string{"DATABASE_URL": dsn})
	a := s.app
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.serve(ctx, listener, nil) }()
	defer func() { cancel(); <-done }()
	req, _ := http.NewRequest("GET", "http://"+listener.Addr().String()+"/healthz", nil)
	req.Header.Set("X-Filler", strings.Repeat("x", 128<<10))
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Fatalf("128 KiB of headers: %d, want 431", res.StatusCode)
	}
}

func TestServerTimeouts(t *testing.T) {
	t.Parallel()
	a := &app{logger: slog.New(slog.NewTextHandler(io.Discard, nil)), store: models.NewStore(nil), metrics: prometheus.NewRegistry()}
	a.cfg, _ = loadConfig(func(string) string { return "" })
	srv := a.server().NewHTTPServer(a.handler())
	for name, d := range map[string]time.Duration{"ReadHeaderTimeout": srv.ReadHeaderTimeout, "ReadTimeout": srv.ReadTimeout,
		"WriteTimeout": srv.WriteTimeout, "IdleTimeout": srv.IdleTimeout} {
		if d <= 0 || d > 2*time.Minute {
			t.Errorf("%s = %v, want a bound", name, d)
		}
	}
}

// TestSlowStatementsAreCancelled holds a lock the inbox query needs, so the request overruns
// first the request's deadline, then (with a long deadline) the statement timeout: either way
// the client gets an answer at once (504 when the request ran out of time, 503 with
// Retry-After when the database was too slow) and the statement is cancelled in PostgreSQL,
// not left waiting.
func TestSlowStatementsAreCancelled(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name, requestTimeout, statementTimeout string
		status                                 int
		code                                   string
	}{
		{"request deadline", "300ms", "1m", 504, "timeout"},
		{"statement timeout", "1m", "300ms", 503, "unavailable"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			slowStatementIsCancelled(t, map[string]string{"REQUEST_TIMEOUT": tt.requestTimeout, "DB_STATEMENT_TIMEOUT": tt.statementTimeout}, tt.status, tt.code)
		})
	}
}

func slowStatementIsCancelled(t *testing.T, env map[string]string, status int, code string) {
	dsn, db := dbtest.NewOn(t, database.Postgres)
	summary, err := seed.Seed(context.Background(), db, seed.Options{Vendors: 1, Conversations: 2, Messages: 1, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	env["DATABASE_URL"] = dsn
	s := startTestServer(t, db, summary, env)
	cookie := s.session(1)
	tx := db.Begin()
	defer tx.Rollback()
	if err := tx.Exec("LOCK TABLE conversations IN ACCESS EXCLUSIVE MODE").Error; err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	res, body := s.restCall("GET", "", cookie)
	var got struct{ Error struct{ Code string } }
	_ = json.Unmarshal(body, &got)
	if elapsed := time.Since(start); res.StatusCode != status || got.Error.Code != code || elapsed > 3*time.Second || (status == 503) != (res.Header.Get("Retry-After") != "") {
		t.Fatalf("%d %s after %v, want a quick %d %s (Retry-After only with 503)", res.StatusCode, body, elapsed, status, code)
	}
	var waiting int64
	for range 50 {
		db.Raw("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'").Scan(&waiting)
		if waiting == 0 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if waiting != 0 {
		t.Fatalf("%d statements still wait on the lock after the request gave up", waiting)
	}
}

// TestGracefulShutdown starts a request, shuts the server down while it is in flight, and
// checks that it still completes while new connections are refused.
func TestGracefulShutdown(t *testing.T) {
	t.Parallel()
	dsn, db := dbtest.New(t)
	s := startTestServer(t, db, seed.Summary{}, map[string]string{"DATABASE_URL": dsn, "SHUTDOWN_GRACE": "5s"})
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := listener.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.app.serve(ctx, listener, nil) }()

	// The request is in flight: headers sent, half of its body still to come.
	body := `{"query":"{ viewer { id } }"}`
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", len(body), body[:10])
	time.Sleep(100 * time.Millisecond) // let the handler start reading
	cancel()
	time.Sleep(100 * time.Millisecond) // let Shutdown close the listener
	if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		c.Close()
		t.Fatal("a new connection was accepted during shutdown")
	}
	select {
	case err := <-done:
		t.Fatalf("the server stopped (%v) before its in-flight request finished", err)
	default:
	}
	fmt.Fprint(conn, body[10:])
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(res.Body)
	if res.StatusCode != 200 || string(decodeGraphQL(t, got).Data) != `{"viewer":null}` {
		t.Fatalf("in-flight request: %d %s", res.StatusCode, got)
	}
	if err := <-done; err != nil {
		t.Fatalf("serve returned %v after a clean shutdown", err)
	}
}

// TestMetricsAddress: without METRICS_ADDR the service's handler serves /metrics; with it, it
// does not (the metrics server does, see TestMetricsServer).
func TestMetricsAddress(t *testing.T) {
	t.Parallel()
	dsn, db := dbtest.New(t)
	for _, tt := range []struct {
		name, metricsAddr string
		status            int
	}{
		{"METRICS_ADDR unset", "", 200},
		{"METRICS_ADDR set", "127.0.0.1:9", 404},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := startTestServer(t, db, seed.Summary{}, map[string]string{"DATABASE_URL": dsn, "METRICS_ADDR": tt.metricsAddr})
			res, body := s.rawRequest("GET", "/metrics", nil, "")
			if res.StatusCode != tt.status || strings.Contains(string(body), "bff_db_queries_total") != (tt.status == 200) {
				t.Fatalf("GET /metrics: %d %.200s; want %d", res.StatusCode, body, tt.status)
			}
			if res, _ := s.rawRequest("GET", "/healthz", nil, ""); res.StatusCode != 200 {
				t.Fatalf("GET /healthz: %d", res.StatusCode)
			}
		})
	}
}

// TestMetricsServer runs serve with a metrics listener: /metrics is there and only there,
// behind the same timeouts; on shutdown both listeners stop accepting while an in-flight
// metrics request still completes; and when one server fails, the other is stopped too.
func TestMetricsServer(t *testing.T) {
	t.Parallel()
	dsn, db := dbtest.New(t)
	s := startTestServer(t, db, seed.Summary{}, map[string]string{"DATABASE_URL": dsn, "METRICS_ADDR": "127.0.0.1:0", "SHUTDOWN_GRACE": "5s"})
	a := s.app
	main, srv := a.server().NewHTTPServer(a.handler()), a.server().NewHTTPServer(a.server().MetricsServerHandler())
	if srv.ReadHeaderTimeout != main.ReadHeaderTimeout || srv.ReadTimeout != main.ReadTimeout || srv.WriteTimeout != main.WriteTimeout ||
		srv.IdleTimeout != main.IdleTimeout || srv.MaxHeaderBytes != main.MaxHeaderBytes || srv.ReadHeaderTimeout == 0 {
		t.Fatalf("the metrics server's limits differ from the main one's: %+v", srv)
	}
	listen := func() (net.Listener, string) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		return l, "http://" + l.Addr().String()
	}
	mainListener, mainURL := listen()
	metricsListener, metricsURL := listen()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- a.serve(ctx, mainListener, metricsListener) }()

	get := func(url string) (int, string) {
		t.Helper()
		res, err := http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		body, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(body)
	}
	for _, tt := range []struct {
		url    string
		status int
	}{
		{metricsURL + "/metrics", 200},
		{metricsURL + "/healthz", 404},
		{metricsURL + "/graphql?query=%7Bviewer%7Bid%7D%7D", 404},
		{metricsURL + "/vendor/conversations", 404},
		{mainURL + "/metrics", 404},
		{mainURL + "/healthz", 200},
	} {
		status, body := get(tt.url)
		if status != tt.status || strings.Contains(body, "bff_db_queries_total") != (tt.status == 200 && strings.HasSuffix(tt.url, "/metrics")) {
			t.Fatalf("GET %s: %d %.200s; want %d", tt.url, status, body, tt.status)
		}
	}

	// A collector that waits keeps a metrics request in flight across the shutdown.
	entered, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	a.metrics.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "test_slow_gauge", Help: "Waits for the test."}, func() float64 {
		once.Do(func() { close(entered) })
		<-release
		return 1
	}))
	inFlight := make(chan string, 1)
	go func() {
		res, err := http.Get(metricsURL + "/metrics")
		if err != nil {
			inFlight <- err.Error()
			return
		}
		defer res.Body.Close()
		body, _ := io.ReadAll(res.Body)
		inFlight <- fmt.Sprint(res.StatusCode, " ", strings.Contains(string(body), "test_slow_gauge 1"))
	}()
	<-entered
	cancel()
	time.Sleep(100 * time.Millisecond) // let Shutdown close the listeners
	for _, addr := range []net.Addr{mainListener.Addr(), metricsListener.Addr()} {
		if c, err := net.DialTimeout("tcp", addr.String(), time.Second); err == nil {
			c.Close()
			t.Fatalf("%s accepted a connection during shutdown", addr)
		}
	}
	select {
	case err := <-done:
		t.Fatalf("serve returned (%v) before the in-flight metrics request finished", err)
	default:
	}
	close(release)
	if got := <-inFlight; got != "200 true" {
		t.Fatalf("in-flight metrics request: %s, want 200 with the gauge", got)
	}
	if err := <-done; err != nil {
		t.Fatalf("serve returned %v after a clean shutdown", err)
	}

	t.Run("one server failing stops the other", func(t *testing.T) {
		mainListener, _ := listen()
		broken, _ := listen()
		broken.Close()
		errc := make(chan error, 1)
		go func() { errc <- a.serve(context.Background(), mainListener, broken) }()
		select {
		case err := <-errc:
			if err == nil || !errors.Is(err, net.ErrClosed) {
				t.Fatalf("serve = %v, want the closed listener's error", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("serve kept running with its metrics listener gone")
		}
		if c, err := net.DialTimeout("tcp", mainListener.Addr().String(), time.Second); err == nil {
			c.Close()
			t.Fatal("the main server still accepts after the metrics server failed")
		}
	})
}

// TestServeSaysWhichAddressIsTaken: the serve command binds its addresses before anything
// else (nothing is migrated when one is taken), and says which setting to change.
func TestServeSaysWhichAddressIsTaken(t *testing.T) {
	t.Parallel()
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	busy := taken.Addr().String()
	for _, tt := range []struct{ name, addr, metricsAddr, want string }{
		{"ADDR", busy, "", "listen on ADDR " + busy + ": listen tcp " + busy + ": bind: address already in use (set ADDR to a free address, e.g. ADDR=:8081)"},
		{"METRICS_ADDR", "127.0.0.1:0", busy, "listen on METRICS_ADDR " + busy + ": listen tcp " + busy + ": bind: address already in use (set METRICS_ADDR to a free address)"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			env := map[string]string{"DATA_DIR": dir, "CURSOR_SECRET": testCursorSecret, "ADDR": tt.addr, "METRICS_ADDR": tt.metricsAddr}
			err := run(context.Background(), []string{"serve"}, func(k string) string { return env[k] }, io.Discard, io.Discard)
			if err == nil || err.Error() != tt.want {
				t.Fatalf("run = %v, want %q", err, tt.want)
			}
			db, err := database.Open(context.Background(), "sqlite:"+filepath.Join(dir, "partizap.db"))
			if err != nil {
				t.Fatal(err)
			}
			defer dbtest.Close(db)
			var tables int
			db.Raw("SELECT count(*) FROM sqlite_master WHERE type = 'table'").Scan(&tables)
			if tables != 0 {
				t.Errorf("%d tables were created before the address was found taken", tables)
			}
		})
	}
}

// syncBuffer is a log sink safe for the server's goroutines.
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

// seededCluster is a throwaway PostgreSQL server of the test's own, migrated and seeded with one
// vendor's three conversations, for the tests that stop or pause it.
func seededCluster(t *testing.T) (*pgtest.Cluster, *gorm.DB, seed.Summary) {
	t.Helper()
	cluster := pgtest.Start(t)
	ctx := context.Background()
	db, err := database.Open(ctx, cluster.URL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dbtest.Close(db) })
	if _, err := database.Migrate(ctx, db); err != nil {
		t.Fatal(err)
	}
	summary, err := seed.Seed(ctx, db, seed.Options{Vendors: 1, Conversations: 3, Messages: 1, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	return cluster, db, summary
}

// TestDatabaseOutageAndRecovery stops a PostgreSQL server the test owns under a running
// service: requests fail fast and cleanly, readiness drops while liveness stays, and when the
// server is back the service recovers by itself.
func TestDatabaseOutageAndRecovery(t *testing.T) {
	t.Parallel()
	cluster, db, summary := seededCluster(t)
	s := startTestServer(t, db, summary, map[string]string{"DATABASE_URL": cluster.URL()})
	cookie := s.session(1)
	status := func(path string) int {
		res, _ := s.rawRequest("GET", path, nil, "")
		return res.StatusCode
	}
	check := func(phase string, wantREST int, wantCode string, wantReady int) {
		t.Helper()
		start := time.Now()
		res, body := s.restCall("GET", "limit=2", cookie)
		if res.StatusCode != wantREST {
			t.Fatalf("%s: REST %d %s, want %d", phase, res.StatusCode, body, wantREST)
		}
		g := s.graphql(cookie, `{ vendorConversations(first: 2) { nodes { databaseId product { title } } } }`, nil)
		if g.code() != wantCode {
			t.Fatalf("%s: GraphQL %s %+v, want code %q", phase, g.Data, g.Errors, wantCode)
		}
		if got := status("/readyz"); got != wantReady {
			t.Fatalf("%s: /readyz %d, want %d", phase, got, wantReady)
		}
		if got := status("/healthz"); got != 200 {
			t.Fatalf("%s: /healthz %d, want 200", phase, got)
		}
		if elapsed := time.Since(start); elapsed > 5*time.Second {
			t.Fatalf("%s: the checks took %v; failures must be fast", phase, elapsed)
		}
		if strings.Contains(string(body), "dial") || strings.Contains(string(body), "127.0.0.1") {
			t.Fatalf("%s: the error shows connection details: %s", phase, body)
		}
	}

	check("up", 200, "", 200)
	cluster.Stop(t)
	check("down", 503, "SERVICE_UNAVAILABLE", 503)
	check("still down", 503, "SERVICE_UNAVAILABLE", 503)
	cluster.Start(t)
	// Pooled connections died with the server; the service must replace them on its own.
	deadline := time.Now().Add(15 * time.Second)
	for status("/readyz") != 200 {
		if time.Now().After(deadline) {
			t.Fatal("/readyz did not recover within 15s of the database's return")
		}
		time.Sleep(100 * time.Millisecond)
	}
	for range 3 { // every pooled connection, not just the first, must work again
		check("back", 200, "", 200)
	}
}

// ---- fuzzing the whole handler ----

// fuzzServer is the real handler over a small seeded database, with a vendor's session.
func fuzzServer(f *testing.F) (http.Handler, string) {
	a := seededApp(f, seed.Options{Vendors: 2, Conversations: 5, Messages: 2, Seed: 1})
	cookie, err := a.store.CreateSession(context.Background(), 1, time.Hour)
	if err != nil {
		f.Fatal(err)
	}
	return a.handler(), cookie
}

func serveFuzz(t *testing.T, h http.Handler, req *http.Request) *httptest.ResponseRecorder {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code >= 500 {
		t.Fatalf("%s %s: %d %s", req.Method, req.URL, rec.Code, rec.Body)
	}
	if ct := rec.Header().Get("Content-Type"); strings.HasPrefix(ct, "application/") && !json.Valid(rec.Body.Bytes()) {
		t.Fatalf("%s %s: invalid JSON body %q", req.Method, req.URL, rec.Body)
	}
	return rec
}

// FuzzQueryString sends arbitrary query strings to the REST endpoint and to GET /graphql:
// bad input must be a 4xx, never a 5xx or a panic.
func FuzzQueryString(f *testing.F) {
	h, cookie := fuzzServer(f)
	cursors := models.NewCursors([]byte(testCursorSecret))
	for _, seed := range []string{
		"", "limit=1", "limit=100", "limit=101", "limit=0", "limit=-1", "limit=1&limit=2", "limit=%zz",
		"cursor=" + cursors.Encode(models.InboxKey{UpdatedAt: time.Date(2026, 9, 24, 19, 29, 20, 0, time.UTC), ID: 1}),
		"cursor=" + cursors.Encode(models.InboxKey{UpdatedAt: time.Date(294277, 1, 1, 0, 0, 0, 0, time.UTC), ID: 1}), // signed, past PostgreSQL's last year
		"cursor=%27%20OR%201%3D1--", "cursor=" + strings.Repeat("A", 4096),
		"query=%7B%20viewer%20%7B%20id%20%7D%20%7D", "query=%7B%20vendorConversations(first%3A%20-1)%20%7B%20totalCount%20%7D%20%7D",
		"query=mutation%7Bx%7D", "query={", "query=%00", "variables=%7B", "extensions=%7B%22persistedQuery%22%3A1%7D",
	} {
		f.Add(seed, true)
		f.Add(seed, false)
	}
	f.Fuzz(func(t *testing.T, rawQuery string, signedIn bool) {
		for _, path := range []string{"/vendor/conversations", "/graphql"} {
			req := httptest.NewRequest(http.MethodGet, path, nil)
			req.URL.RawQuery = rawQuery
			if signedIn {
				req.AddCookie(&http.Cookie{Name: httpserver.SessionCookie, Value: cookie})
			}
			serveFuzz(t, h, req)
		}
	})
}

// FuzzGraphQLBody posts arbitrary bodies to /graphql with a session: malformed JSON, invalid
// operations and hostile arguments must all be 4xx or GraphQL errors, never a 5xx or a panic.
func FuzzGraphQLBody(f *testing.F) {
	h, cookie := fuzzServer(f)
	for _, seed := range []string{
		`{"query":"{ viewer { id } }"}`,
		`{"query":"query($f: Int){ vendorConversations(first: $f) { nodes { id } } }","variables":{"f":5}}`,
		`{"query":"{ vendorConversations(first: 2, after: \"x\") { nodes { id } } }"}`,
		`{"query":"{ node(id: \"Q29udmVyc2F0aW9uOjE\") { id ... on Conversation { unreadCount } } }"}`,
		`{"query":"{ nodes(ids: [\"VXNlcjox\", \"' OR 1=1\"]) { id } }"}`,
		`{"query":"{ a: viewer { id } b: viewer { id } }"}`,
		`{"query":"{ __schema { types { name } } }"}`,
		`{"query":"fragment A on Query { ...A } { ...A }"}`,
		`{"query":"{ vendorConversations(first: 2147483648) { totalCount } }"}`,
		`{"extensions":{"persistedQuery":{"version":1,"sha256Hash":"00"}}}`,
		`{"query": 5}`, `{"query":"{", "variables": []}`, `[]`, `null`, `{`, "\x00", ``,
	} {
		f.Add(seed)
	}
	for _, d := range hostileDocuments() {
		body, _ := json.Marshal(map[string]any{"query": d.query})
		f.Add(string(body))
	}
	f.Fuzz(func(t *testing.T, body string) {
		req := httptest.NewRequest(http.MethodPost, "/graphql", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.AddCookie(&http.Cookie{Name: httpserver.SessionCookie, Value: cookie})
		serveFuzz(t, h, req)
	})
}

// TestFloorAnswersByteForByteLikeTheService checks the benchmarks' reference against the real
// handler, so that comparing their speed compares the same work.
func TestFloorAnswersByteForByteLikeTheService(t *testing.T) {
	t.Parallel()
	dsn, db := dbtest.NewOn(t, database.Postgres)
	summary, err := seed.Seed(context.Background(), db, seed.Options{Vendors: 2, Conversations: 30, Messages: 3, Seed: 2})
	if err != nil {
		t.Fatal(err)
	}
	s := startTestServer(t, db, summary, map[string]string{"DATABASE_URL": dsn})
	pool, err := pgxpool.New(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	for _, form := range []struct {
		name string
		form floor.Form
	}{{"json", floor.JSON}, {"rows", floor.Rows}} {
		t.Run(form.name, func(t *testing.T) {
			ref := httptest.NewServer(floor.New(pool, s.app.cursors, form.form))
			defer ref.Close()
			get := func(base, cookie, query string) []byte {
				req, _ := http.NewRequest("GET", base+"/vendor/conversations?"+query, nil)
				req.AddCookie(&http.Cookie{Name: httpserver.SessionCookie, Value: cookie})
				res, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				defer res.Body.Close()
				body, _ := io.ReadAll(res.Body)
				if res.StatusCode != 200 {
					t.Fatalf("%s?%s: %d %s", base, query, res.StatusCode, body)
				}
				return body
			}
			vendor := s.session(1)
			for _, limit := range []int{1, 7, 20, 100} {
				query := fmt.Sprintf("limit=%d", limit)
				for page := 0; ; page++ {
					want, got := get(s.url, vendor, query), get(ref.URL, vendor, query)
					if !bytes.Equal(got, want) {
						t.Fatalf("limit %d, page %d: the floor differs\n got %s\nwant %s", limit, page, got, want)
					}
					var p restPage
					_ = json.Unmarshal(want, &p)
					if !p.Meta.HasMore {
						break
					}
					query = fmt.Sprintf("limit=%d&cursor=%s", limit, *p.Meta.NextCursor)
				}
			}
			// A buyer sells nothing: an empty page, not a missing session.
			buyer := s.session(summary.Vendors + 1) // the first buyer: users after the vendors
			const empty = `{"data":[],"meta":{"has_more":false,"next_cursor":null}}` + "\n"
			for _, base := range []string{s.url, ref.URL} {
				if got := string(get(base, buyer, "limit=20")); got != empty {
					t.Errorf("%s, a buyer's page = %s, want %s", base, got, empty)
				}
			}
		})
	}
}

// ---- in-process benchmarks: allocations and time per request, without the network ----

// BenchmarkInbox serves the load benchmark's scenarios through the real handler. Run with
// `go test -run '^$' -bench Inbox -benchmem .` (TEST_DB picks the database).
func BenchmarkInbox(b *testing.B) {
	const deepPage = 500
	a := seededApp(b, seed.Options{Vendors: 2, Conversations: 50, BusiestConversations: deepPage*20 + 100, Messages: 3, Seed: 1})
	h := a.handler()
	cookie, err := a.store.CreateSession(context.Background(), 1, time.Hour)
	if err != nil {
		b.Fatal(err)
	}
	serve := func(req *http.Request) *httptest.ResponseRecorder {
		req.AddCookie(&http.Cookie{Name: httpserver.SessionCookie, Value: cookie})
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK || strings.Contains(rec.Body.String(), `"errors"`) {
			b.Fatalf("%s %s: %d %s", req.Method, req.URL, rec.Code, rec.Body)
		}
		return rec
	}
	rest := func(query string) func() *http.Request {
		return func() *http.Request { return httptest.NewRequest("GET", "/vendor/conversations?"+query, nil) }
	}
	graphQL := func(query string, vars map[string]any) func() *http.Request {
		body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
		return func() *http.Request {
			req := httptest.NewRequest("POST", "/graphql", bytes.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			return req
		}
	}
	// The cursor of the deep page, reached as a client would.
	deep := "limit=20"
	for range deepPage - 1 {
		var p restPage
		_ = json.Unmarshal(serve(rest(deep)()).Body.Bytes(), &p)
		deep = "limit=20&cursor=" + *p.Meta.NextCursor
	}
	var first page
	_ = json.Unmarshal(decodeGraphQLBody(b, serve(graphQL(fullQuery, map[string]any{"first": 1})()).Body.Bytes()), &first)
	nodeID := first.VendorConversations.Edges[0].Node["id"].(string)

	for _, sc := range []struct {
		name    string
		request func() *http.Request
	}{
		{"graphql-20", graphQL(fullQuery, map[string]any{"first": 20})},
		{"graphql-100", graphQL(fullQuery, map[string]any{"first": 100})},
		{"rest-20", rest("limit=20")},
		{"rest-100", rest("limit=100")},
		{"rest-deep", rest(deep)},
		{"node", graphQL(`query($id: ID!) { node(id: $id) { ...Conv } }`+fullQuery[strings.Index(fullQuery, "fragment U"):], map[string]any{"id": nodeID})},
	} {
		b.Run(sc.name, func(b *testing.B) {
			statements := func() float64 {
				families, _ := a.metrics.Gather()
				for _, f := range families {
					if f.GetName() == "bff_db_queries_total" {
						return f.Metric[0].GetCounter().GetValue()
					}
				}
				return 0
			}
			before := statements()
			b.ReportAllocs()
			for b.Loop() {
				serve(sc.request())
			}
			b.ReportMetric((statements()-before)/float64(b.N), "stmts/op")
		})
	}
}

func decodeGraphQLBody(tb testing.TB, body []byte) json.RawMessage {
	tb.Helper()
	var r gqlResponse
	if err := json.Unmarshal(body, &r); err != nil || len(r.Errors) > 0 {
		tb.Fatalf("GraphQL answer %s: %v", body, err)
	}
	return r.Data
}

// ---- hostile documents (the cost of checking) ----

// hostileDocuments are the documents that once took the service down, each with the limit that
// now refuses it before validation.
func hostileDocuments() []struct{ name, query, code string } {
	doubling := func(k int) string {
		var b strings.Builder
		fmt.Fprintf(&b, "{ ...F%d } fragment F0 on Query { viewer { id } }", k)
		for i := 1; i <= k; i++ {
			fmt.Fprintf(&b, " fragment F%d on Query { ...F%d ...F%d }", i, i-1, i-1)
		}
		return b.String()
	}
	var aliases strings.Builder
	aliases.WriteString("{")
	for i := 0; aliases.Len() < 63<<10; i++ {
		fmt.Fprintf(&aliases, " a%d: viewer { id }", i)
	}
	aliases.WriteString(" }")
	return []struct{ name, query, code string }{
		{"doubling fragments, k = 20", doubling(20), "TOO_MANY_SELECTIONS"},
		{"doubling fragments, k = 22", doubling(22), "TOO_MANY_SELECTIONS"},
		{"doubling fragments, k = 24", doubling(24), "TOO_MANY_SELECTIONS"},
		{"doubling fragments, k = 40", doubling(40), "TOO_MANY_SELECTIONS"},
		{"8,000 duplicated fields", "{ viewer { " + strings.Repeat("id ", 8000) + "} }", "TOO_MANY_TOKENS"},
		{"10,000 spreads of one fragment", "{ " + strings.Repeat("...F ", 10000) + "} fragment F on Query { viewer { id } }", "TOO_MANY_TOKENS"},
		{"63 KB of aliases", aliases.String(), "TOO_MANY_TOKENS"},
	}
}

// TestHostileDocumentsAreRefusedBeforeValidation counts the work each hostile document costs:
// refused with the code of its limit, never validated, and walked in time linear in its size
// (k = 40 doubling fragments visit 2k+3 selections, as k = 20 does).
func TestHostileDocumentsAreRefusedBeforeValidation(t *testing.T) {
	t.Parallel()
	dsn, db := dbtest.New(t)
	s := startTestServer(t, db, seed.Summary{}, map[string]string{"DATABASE_URL": dsn, "MAX_BODY_BYTES": "131072"})
	visits := map[string]float64{}
	for _, tt := range hostileDocuments() {
		t.Run(tt.name, func(t *testing.T) {
			visited, validated := s.metric("bff_graphql_selections_visited_total"), s.metric("bff_graphql_validations_total")
			statements := s.statements()
			body, _ := json.Marshal(map[string]any{"query": tt.query})
			res, raw := s.rawRequest("POST", "/graphql", map[string]string{"Content-Type": "application/json"}, string(body))
			r := decodeGraphQL(t, raw)
			if res.StatusCode != http.StatusUnprocessableEntity || len(r.Errors) != 1 || r.code() != tt.code {
				t.Fatalf("%d %.300s, want 422 and only %s", res.StatusCode, raw, tt.code)
			}
			if got := s.metric("bff_graphql_validations_total") - validated; got != 0 {
				t.Fatalf("validated %v times, want never", got)
			}
			visits[tt.name] = s.metric("bff_graphql_selections_visited_total") - visited
			if tt.code == "TOO_MANY_TOKENS" && visits[tt.name] != 0 {
				t.Fatalf("visited %v selections of a document over the token limit, want none (it is not even parsed)", visits[tt.name])
			}
			if got := s.statements() - statements; got != 0 {
				t.Fatalf("%d statements for an anonymous refused document", got)
			}
		})
	}
	for _, k := range []int{20, 22, 24, 40} {
		if got := visits[fmt.Sprintf("doubling fragments, k = %d", k)]; got != float64(2*k+3) {
			t.Errorf("k = %d visited %v selections, want %d: each fragment once", k, got, 2*k+3)
		}
	}
}

// TestRefusedDocumentsCostNoMemory sends documents refused by each limit, some registering a
// persisted query: neither cache keeps any. Admitted documents are kept within the byte bound.
func TestRefusedDocumentsCostNoMemory(t *testing.T) {
	t.Parallel()
	dsn, db := dbtest.New(t)
	summary, err := seed.Seed(context.Background(), db, seed.Options{Vendors: 1, Conversations: 1, Messages: 1, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	s := startTestServer(t, db, summary, map[string]string{"DATABASE_URL": dsn, "MAX_BODY_BYTES": "131072",
		"GRAPHQL_MAX_ALIASES": "2", "GRAPHQL_MAX_DEPTH": "3", "GRAPHQL_CACHE_BYTES": "200000"})
	cookie := s.session(1)
	refused := []string{
		`{ a: viewer { id } b: viewer { id } c: viewer { id } }`,
		`{ vendorConversations { nodes { product { seller { id } } } } }`,
		`{ vendorConversations(first: 100) { ` + strings.Repeat("nodes { id databaseId createdAt updatedAt unreadCount } ", 50) + `} }`,
		`{ viewer { nosuchfield } }`,
		`{ viewer { id }`,
	}
	for _, tt := range hostileDocuments() {
		refused = append(refused, tt.query)
	}
	send := func(query string, register bool) gqlResponse {
		payload := map[string]any{"query": query}
		if register {
			sum := sha256.Sum256([]byte(query))
			payload["extensions"] = map[string]any{"persistedQuery": map[string]any{"version": 1, "sha256Hash": hex.EncodeToString(sum[:])}}
		}
		body, _ := json.Marshal(payload)
		_, raw := s.rawRequest("POST", "/graphql", map[string]string{"Content-Type": "application/json", "Cookie": httpserver.SessionCookie + "=" + cookie}, string(body))
		return decodeGraphQL(t, raw)
	}
	for i, q := range refused {
		for _, variant := range []string{q, q + fmt.Sprintf(" # %d", i)} {
			if r := send(variant, i%2 == 0); len(r.Errors) == 0 {
				t.Fatalf("admitted: %.200s", variant)
			}
		}
	}
	if docs, persisted := s.metric(`bff_graphql_cache_bytes{cache="documents"}`), s.metric(`bff_graphql_cache_bytes{cache="persisted"}`); docs != 0 || persisted != 0 {
		t.Fatalf("refused documents hold %v bytes of parsed documents and %v of persisted queries, want none", docs, persisted)
	}
	for i := range 40 {
		q := fmt.Sprintf("{ viewer { id } } # %d %s", i, strings.Repeat("x", 2000))
		if r := send(q, true); len(r.Errors) > 0 {
			t.Fatalf("%+v", r.Errors)
		}
	}
	docs, persisted := s.metric(`bff_graphql_cache_bytes{cache="documents"}`), s.metric(`bff_graphql_cache_bytes{cache="persisted"}`)
	if docs == 0 || docs > 200000 || persisted == 0 || persisted > 200000 {
		t.Fatalf("admitted documents hold %v and %v bytes, want some and at most GRAPHQL_CACHE_BYTES (200000)", docs, persisted)
	}
}

// TestRequestsThatRunOutOfTimeGetTimeout: a request whose deadline passes before its answer
// gets 504 and TIMEOUT on GraphQL (GET and POST) and REST, never 200 with `null`; nothing is
// logged as an error.
func TestRequestsThatRunOutOfTimeGetTimeout(t *testing.T) {
	t.Parallel()
	dsn, db := dbtest.New(t)
	var logs syncBuffer
	s := startTestServerLogging(t, db, seed.Summary{}, map[string]string{"DATABASE_URL": dsn, "REQUEST_TIMEOUT": "1ns"}, &logs)
	json := map[string]string{"Content-Type": "application/json"}
	withCookie := map[string]string{"Cookie": httpserver.SessionCookie + "=abc"}
	tests := []struct {
		name, method, path string
		header             map[string]string
		body, want         string
	}{
		{"GraphQL POST", "POST", "/graphql", json, `{"query":"{ viewer { id } }"}`, `"code":"TIMEOUT"`},
		{"GraphQL POST, a document never seen", "POST", "/graphql", json, `{"query":"{ viewer { id displayName } }"}`, `"code":"TIMEOUT"`},
		{"GraphQL GET", "GET", "/graphql?query=%7Bviewer%7Bid%7D%7D", nil, "", `"code":"TIMEOUT"`},
		{"REST with a session", "GET", "/vendor/conversations", withCookie, "", `"code":"timeout"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, body := s.rawRequest(tt.method, tt.path, tt.header, tt.body)
			if res.StatusCode != http.StatusGatewayTimeout || !strings.Contains(string(body), tt.want) {
				t.Fatalf("%d %s, want 504 with %s", res.StatusCode, body, tt.want)
			}
		})
	}
	if strings.Contains(logs.String(), "level=ERROR") {
		t.Fatalf("a timeout was logged as an error:\n%s", logs.String())
	}
}

// TestSlowGraphQLRequestsTimeOut holds a lock the inbox needs: the GraphQL request gets 504
// TIMEOUT when its deadline passes, and a client that goes away is logged at INFO, not as an
// internal error.
func TestSlowGraphQLRequestsTimeOut(t *testing.T) {
	t.Parallel()
	dsn, db := dbtest.NewOn(t, database.Postgres)
	summary, err := seed.Seed(context.Background(), db, seed.Options{Vendors: 1, Conversations: 2, Messages: 1, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	var logs syncBuffer
	s := startTestServerLogging(t, db, summary, map[string]string{"DATABASE_URL": dsn, "REQUEST_TIMEOUT": "300ms"}, &logs)
	cookie := s.session(1)
	tx := db.Begin()
	defer tx.Rollback()
	if err := tx.Exec("LOCK TABLE conversations IN ACCESS EXCLUSIVE MODE").Error; err != nil {
		t.Fatal(err)
	}
	query := `{"query":"{ vendorConversations(first: 2) { nodes { databaseId } } }"}`
	header := map[string]string{"Content-Type": "application/json", "Cookie": httpserver.SessionCookie + "=" + cookie}
	res, body := s.rawRequest("POST", "/graphql", header, query)
	if res.StatusCode != http.StatusGatewayTimeout || decodeGraphQL(t, body).code() != "TIMEOUT" || strings.Contains(string(body), `"data"`) {
		t.Fatalf("%d %s, want 504 TIMEOUT and no data", res.StatusCode, body)
	}

	for _, path := range []string{"/graphql", "/vendor/conversations"} {
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		method, reqBody := "POST", strings.NewReader(query)
		if path != "/graphql" {
			method, reqBody = "GET", strings.NewReader("")
		}
		req, _ := http.NewRequestWithContext(ctx, method, s.url+path, reqBody)
		for k, v := range header {
			req.Header.Set(k, v)
		}
		if _, err := http.DefaultClient.Do(req); err == nil {
			t.Fatalf("%s answered before the client left", path)
		}
		cancel()
	}
	deadline := time.Now().Add(5 * time.Second)
	for strings.Count(logs.String(), "client went away") < 2 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if n := strings.Count(logs.String(), "level=INFO msg=\"client went away"); n != 2 || strings.Contains(logs.String(), "level=ERROR") {
		t.Fatalf("logged %d INFO lines for 2 clients that went away, or an ERROR:\n%s", n, logs.String())
	}
}

// TestIntrospectionOffKeepsTheSchemaPrivate: without introspection no form of __schema or
// __type runs, each is a client error with its own code (not logged as an error), and
// validation suggests no names.
func TestIntrospectionOffKeepsTheSchemaPrivate(t *testing.T) {
	t.Parallel()
	misspelled := []string{
		`{ viewr { id } }`,
		`{ viewer { displayNam } }`,
		`{ vendorConversations(frist: 1) { totalCount } }`,
	}
	for _, on := range []bool{true, false} {
		t.Run(fmt.Sprint("introspection ", on), func(t *testing.T) {
			t.Parallel()
			dsn, db := dbtest.New(t)
			var logs syncBuffer
			s := startTestServerLogging(t, db, seed.Summary{}, map[string]string{"DATABASE_URL": dsn, "GRAPHQL_INTROSPECTION": strconv.FormatBool(on)}, &logs)
			for _, q := range []string{
				`{ __schema { queryType { name } } }`,
				`{ s: __schema { queryType { name } } }`,
				`{ ...I } fragment I on Query { __schema { types { name } } }`,
				`{ ... on Query { __type(name: "User") { fields { name } } } }`,
				`query($skip: Boolean = true) { __schema @include(if: $skip) { queryType { name } } }`,
				`{ viewer { id } t: __type(name: "Conversation") { name } }`,
			} {
				body, _ := json.Marshal(map[string]any{"query": q})
				res, raw := s.rawRequest("POST", "/graphql", map[string]string{"Content-Type": "application/json"}, string(body))
				r := decodeGraphQL(t, raw)
				if on && len(r.Errors) > 0 {
					t.Fatalf("%s: %s", q, raw)
				}
				if !on && (res.StatusCode != http.StatusUnprocessableEntity || len(r.Errors) != 1 || r.code() != "INTROSPECTION_DISABLED" || strings.Contains(string(raw), "User")) {
					t.Fatalf("%s: %d %s, want 422 INTROSPECTION_DISABLED", q, res.StatusCode, raw)
				}
			}
			for _, q := range misspelled {
				r := s.graphql("", q, nil)
				if len(r.Errors) == 0 {
					t.Fatalf("%s was accepted", q)
				}
				if suggests := strings.Contains(r.Errors[0].Message, "Did you mean"); suggests != on {
					t.Fatalf("%s: %q, want a suggestion only with introspection on", q, r.Errors[0].Message)
				}
			}
			if strings.Contains(logs.String(), "level=ERROR") {
				t.Fatalf("logged as an error:\n%s", logs.String())
			}
		})
	}
}

// TestRequestErrorsHaveCodesAndEchoNothing: every malformed request gets its code and a
// message that quotes neither the body nor Go's types.
func TestRequestErrorsHaveCodesAndEchoNothing(t *testing.T) {
	t.Parallel()
	dsn, db := dbtest.New(t)
	s := startTestServer(t, db, seed.Summary{}, map[string]string{"DATABASE_URL": dsn})
	const marker = "ZQXJ"
	query := `{ viewer { id } }`
	sum := sha256.Sum256([]byte(query))
	hash := hex.EncodeToString(sum[:])
	tests := []struct {
		name, method, path, body string
		status                   int
		code                     string
	}{
		{"invalid JSON", "POST", "/graphql", `{"query": "` + marker, 400, "INVALID_JSON"},
		{"not an object", "POST", "/graphql", `"` + marker + `"`, 400, "INVALID_JSON"},
		{"null", "POST", "/graphql", `null`, 400, "INVALID_JSON"},
		{"a batch", "POST", "/graphql", `[{"query": "{ viewer { id } }"}, {"query": "` + marker + `"}]`, 400, "BATCH_NOT_SUPPORTED"},
		{"query is a number", "POST", "/graphql", `{"query": 7, "x": "` + marker + `"}`, 400, "BAD_REQUEST"},
		{"operationName is an object", "POST", "/graphql", `{"query": "{ viewer { id } }", "operationName": {"` + marker + `": 1}}`, 400, "BAD_REQUEST"},
		{"variables is a list", "POST", "/graphql", `{"query": "{ viewer { id } }", "variables": ["` + marker + `"]}`, 400, "BAD_REQUEST"},
		{"extensions is a string", "POST", "/graphql", `{"query": "{ viewer { id } }", "extensions": "` + marker + `"}`, 400, "BAD_REQUEST"},
		{"variables of a GET are not JSON", "GET", "/graphql?query=%7Bviewer%7Bid%7D%7D&variables=" + marker, "", 400, "BAD_REQUEST"},
		{"a GET's query string is not URL encoding", "GET", "/graphql?query=%zz" + marker, "", 400, "BAD_REQUEST"},
		{"unknown operation name", "POST", "/graphql", `{"query": "query A { viewer { id } }", "operationName": "` + marker + `"}`, 422, "OPERATION_NOT_FOUND"},
		{"several operations, none named", "POST", "/graphql", `{"query": "query A { viewer { id } } query B { viewer { id } }"}`, 422, "OPERATION_NOT_FOUND"},
		{"persisted query hash mismatch", "POST", "/graphql", `{"query": "{ viewer { id } }", "extensions": {"persistedQuery": {"version": 1, "sha256Hash": "` + strings.Repeat("0", 64) + `"}}}`, 422, "PERSISTED_QUERY_HASH_MISMATCH"},
		{"persisted query version 2", "POST", "/graphql", `{"extensions": {"persistedQuery": {"version": 2, "sha256Hash": "` + hash + `"}}}`, 422, "PERSISTED_QUERY_INVALID"},
		{"persisted query hash is no hash", "POST", "/graphql", `{"extensions": {"persistedQuery": {"version": 1, "sha256Hash": "` + marker + `"}}}`, 422, "PERSISTED_QUERY_INVALID"},
		{"persisted query unknown", "POST", "/graphql", `{"extensions": {"persistedQuery": {"version": 1, "sha256Hash": "` + hash + `"}}}`, 200, "PERSISTED_QUERY_NOT_FOUND"},
		{"syntax error", "POST", "/graphql", `{"query": "{ viewer { id "}`, 422, "GRAPHQL_PARSE_FAILED"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, raw := s.rawRequest(tt.method, tt.path, map[string]string{"Content-Type": "application/json"}, tt.body)
			r := decodeGraphQL(t, raw)
			if res.StatusCode != tt.status || r.code() != tt.code {
				t.Fatalf("%d %s, want %d %s", res.StatusCode, raw, tt.status, tt.code)
			}
			for _, leak := range []string{marker, "RawParams", "map[string]", "interface {}", "json:", "body:"} {
				if strings.Contains(string(raw), leak) {
					t.Fatalf("the answer shows %q: %s", leak, raw)
				}
			}
			if cc := res.Header.Get("Content-Type"); !strings.HasPrefix(cc, "application/") || !strings.Contains(cc, "json") {
				t.Fatalf("Content-Type %q", cc)
			}
		})
	}
}

// TestLongErrorListsAreCut: with the limits raised far enough, a document with 6,000 unknown
// fields answers with the first GRAPHQL_MAX_ERRORS errors and one that counts the rest.
func TestLongErrorListsAreCut(t *testing.T) {
	t.Parallel()
	dsn, db := dbtest.New(t)
	s := startTestServer(t, db, seed.Summary{}, map[string]string{"DATABASE_URL": dsn, "MAX_BODY_BYTES": "262144",
		"GRAPHQL_MAX_TOKENS": "10000", "GRAPHQL_MAX_SELECTIONS": "10000", "GRAPHQL_MAX_ERRORS": "100"})
	var b strings.Builder
	b.WriteString("{ viewer {")
	for i := range 6000 {
		fmt.Fprintf(&b, " f%d", i)
	}
	b.WriteString(" } }")
	body, _ := json.Marshal(map[string]any{"query": b.String()})
	_, raw := s.rawRequest("POST", "/graphql", map[string]string{"Content-Type": "application/json"}, string(body))
	r := decodeGraphQL(t, raw)
	if len(r.Errors) != 101 || r.Errors[100].Extensions["code"] != "TOO_MANY_ERRORS" || r.Errors[100].Extensions["omitted"] != float64(5900) {
		t.Fatalf("%d errors, the last %+v; want 100 and one counting 5900 more", len(r.Errors), r.Errors[len(r.Errors)-1])
	}
	if len(raw) > 20000 {
		t.Fatalf("the answer is %d bytes", len(raw))
	}
}

// BenchmarkHostileDocuments measures what each hostile document costs the service, each
// request a document it has not seen (a comment makes each distinct), beside a full-depth
// inbox query checked from scratch:
//
//	go test -run '^$' -bench HostileDocuments -benchmem .
func BenchmarkHostileDocuments(b *testing.B) {
	dsn, _ := dbtest.New(b)
	a := newTestApp(b, map[string]string{"DATABASE_URL": dsn, "MAX_BODY_BYTES": "131072"}, io.Discard)
	h := a.handler()
	docs := append(hostileDocuments(), struct{ name, query, code string }{"full inbox query, not cached", fullQuery, ""})
	for _, d := range docs {
		b.Run(d.name, func(b *testing.B) {
			for i := 0; b.Loop(); i++ {
				body, _ := json.Marshal(map[string]any{"query": fmt.Sprintf("%s # %d", d.query, i)})
				req := httptest.NewRequest("POST", "/graphql", bytes.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				if d.code != "" && !strings.Contains(rec.Body.String(), d.code) || d.code == "" && rec.Code != http.StatusOK {
					b.Fatalf("%d %.300s", rec.Code, rec.Body)
				}
			}
		})
	}
}

// TestRESTErrorsAreNeverStored: the REST endpoint's errors, like its pages, are private.
func TestRESTErrorsAreNeverStored(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, seed.Options{Vendors: 1, Conversations: 1, Messages: 1, Seed: 1})
	cookie := s.session(1)
	for _, tt := range []struct {
		name, method, query, cookie string
		status                      int
	}{
		{"a page", "GET", "limit=1", cookie, 200},
		{"signed out", "GET", "", "", 401},
		{"bad limit", "GET", "limit=0", cookie, 400},
		{"DELETE", "DELETE", "", cookie, 405},
	} {
		t.Run(tt.name, func(t *testing.T) {
			res, body := s.restCall(tt.method, tt.query, tt.cookie)
			if cc := res.Header.Values("Cache-Control"); res.StatusCode != tt.status || len(cc) != 1 || cc[0] != "private, no-store" {
				t.Fatalf("%d %s with Cache-Control %q, want %d and private, no-store", res.StatusCode, body, cc, tt.status)
			}
		})
	}
}

// TestRefusedRequestsTouchNoDatabase: a request refused on its method, content type, size or
// body is refused before its session cookie is looked up, so it costs no SQL statement.
func TestRefusedRequestsTouchNoDatabase(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, seed.Options{Vendors: 1, Conversations: 1, Messages: 1, Seed: 1})
	cookie := httpserver.SessionCookie + "=" + s.session(1)
	json := map[string]string{"Content-Type": "application/json", "Cookie": cookie}
	for _, tt := range []struct {
		name, method, path string
		header             map[string]string
		body               string
		status             int
	}{
		{"text/plain POST", "POST", "/graphql", map[string]string{"Content-Type": "text/plain", "Cookie": cookie}, `{"query":"{ viewer { id } }"}`, 415},
		{"HTML only accepted", "POST", "/graphql", map[string]string{"Content-Type": "application/json", "Accept": "text/html", "Cookie": cookie}, `{"query":"{ viewer { id } }"}`, 406},
		{"body over the limit", "POST", "/graphql", json, `{"query":"{ viewer { id } }` + strings.Repeat(" ", 64<<10) + `"}`, 413},
		{"not JSON", "POST", "/graphql", json, `{"query":`, 400},
		{"PUT on GraphQL", "PUT", "/graphql", json, `{"query":"{ viewer { id } }"}`, 405},
		{"DELETE on REST", "DELETE", "/vendor/conversations", map[string]string{"Cookie": cookie}, "", 405},
		{"POST on REST", "POST", "/vendor/conversations", json, "{}", 405},
	} {
		t.Run(tt.name, func(t *testing.T) {
			before := s.statements()
			res, body := s.rawRequest(tt.method, tt.path, tt.header, tt.body)
			if res.StatusCode != tt.status {
				t.Fatalf("%d %s, want %d", res.StatusCode, body, tt.status)
			}
			if n := s.statements() - before; n != 0 {
				t.Fatalf("%d SQL statements for a refused request, want none", n)
			}
		})
	}
}

// TestNodesReadNestedObjects: node(id) of a product or a message reads the same nested objects
// (images, seller, sender) as the inbox shows for them, from one prefetch per kind.
func TestNodesReadNestedObjects(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, seed.Options{Vendors: 1, Conversations: 3, Messages: 2, Seed: 1})
	cookie := s.session(1)
	p := s.page(cookie, map[string]any{"first": 1})
	conv := p.VendorConversations.Edges[0].Node
	product := conv["product"].(map[string]any)
	message := conv["lastMessage"].(map[string]any)
	const query = `query($p: ID!, $m: ID!) {
  p: node(id: $p) { ... on Product { databaseId images { databaseId } seller { databaseId } } }
  m: node(id: $m) { ... on Message { databaseId sender { databaseId } } }
}`
	before := s.statements()
	res := s.graphql(cookie, query, map[string]any{"p": product["id"], "m": message["id"]})
	if len(res.Errors) > 0 {
		t.Fatalf("%+v", res.Errors)
	}
	var got struct {
		P map[string]any `json:"p"`
		M map[string]any `json:"m"`
	}
	if err := json.Unmarshal(res.Data, &got); err != nil {
		t.Fatal(err)
	}
	ids := func(images any) []any {
		var out []any
		for _, i := range images.([]any) {
			out = append(out, i.(map[string]any)["databaseId"])
		}
		return out
	}
	if !reflect.DeepEqual(ids(got.P["images"]), ids(product["images"])) ||
		got.P["seller"].(map[string]any)["databaseId"] != product["seller"].(map[string]any)["databaseId"] ||
		got.M["sender"].(map[string]any)["databaseId"] != message["sender"].(map[string]any)["databaseId"] {
		t.Fatalf("node answers %+v, the inbox %+v and %+v", got, product, message)
	}
	// Session, products, messages, images, users: one statement each.
	if n := s.statements() - before; n != 5 {
		t.Fatalf("%d statements, want 5", n)
	}
}
