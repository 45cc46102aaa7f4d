package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/partizap/vendor-inbox/models"
	"github.com/partizap/vendor-inbox/models/dbtest"
	"github.com/partizap/vendor-inbox/models/seed"
	"github.com/partizap/vendor-inbox/resolvers"
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
	dsn, db := dbtest.New(t)
	summary, err := seed.Seed(context.Background(), db, opts)
	if err != nil {
		t.Fatalf("seed: %v", err)
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	a, err := openApp(context.Background(), config{DatabaseURL: dsn, CursorSecret: "test-secret"}, logger)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.close)
	srv := httptest.NewServer(a.handler())
	t.Cleanup(srv.Close)
	return &testServer{t: t, url: srv.URL, db: db, app: a, seed: summary}
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
		req.AddCookie(&http.Cookie{Name: models.SessionCookie, Value: cookie})
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
	res, err := http.Get(s.url + "/metrics")
	if err != nil {
		s.t.Fatal(err)
	}
	defer res.Body.Close()
	sc := bufio.NewScanner(res.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "bff_db_queries_total "); ok {
			n, err := strconv.ParseFloat(v, 64)
			if err != nil {
				s.t.Fatal(err)
			}
			return int(n)
		}
	}
	s.t.Fatal("bff_db_queries_total not in /metrics")
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
		PageInfo struct {
			HasNextPage     bool    `json:"hasNextPage"`
			HasPreviousPage bool    `json:"hasPreviousPage"`
			StartCursor     *string `json:"startCursor"`
			EndCursor       *string `json:"endCursor"`
		} `json:"pageInfo"`
	} `json:"vendorConversations"`
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
			map[string]any{"id": resolvers.GlobalID("Conversation", id)})
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

// expectedConversation builds the GraphQL node of conversation id from its rows.
func (s *testServer) expectedConversation(viewerID, id int64) map[string]any {
	s.t.Helper()
	row := func(query string, args ...any) map[string]any {
		var m map[string]any
		if err := s.db.Raw(query, args...).Take(&m).Error; err != nil {
			s.t.Fatalf("%s: %v", query, err)
		}
		return m
	}
	rows := func(query string, args ...any) []map[string]any {
		var ms []map[string]any
		if err := s.db.Raw(query, args...).Find(&ms).Error; err != nil {
			s.t.Fatalf("%s: %v", query, err)
		}
		return ms
	}
	ts := func(v any) any {
		if v == nil {
			return nil
		}
		return v.(time.Time).UTC().Format(time.RFC3339Nano)
	}
	user := func(u map[string]any) map[string]any {
		return map[string]any{
			"id": resolvers.GlobalID("User", u["id"].(int64)), "databaseId": u["id"], "displayName": u["display_name"],
			"avatarUrl": u["avatar_url"], "cityId": u["city_id"], "rating": u["rating"], "reviewsCount": u["reviews_count"],
			"productsCount": u["products_count"], "createdAt": ts(u["created_at"]),
		}
	}
	const userColumns = "u.id, u.display_name, u.avatar_url, u.city_id, u.rating::text AS rating, u.reviews_count, u.products_count, u.created_at"
	c := row("SELECT * FROM conversations WHERE id = ?", id)
	p := row("SELECT * FROM products WHERE id = ?", c["product_id"])
	var images []any
	for _, im := range rows("SELECT * FROM product_images WHERE product_id = ? ORDER BY sort_order, id", p["id"]) {
		images = append(images, map[string]any{
			"databaseId": im["id"], "thumbnailWebp": im["thumbnail_webp"], "thumbnailJpeg": im["thumbnail_jpeg"],
			"mediumWebp": im["medium_webp"], "mediumJpeg": im["medium_jpeg"], "largeWebp": im["large_webp"],
			"largeJpeg": im["large_jpeg"], "status": im["status"], "isPrimary": im["is_primary"], "sortOrder": im["sort_order"],
		})
	}
	if images == nil {
		images = []any{}
	}
	var participants []any
	for _, u := range rows("SELECT "+userColumns+" FROM conversation_participants p JOIN users u ON u.id = p.user_id WHERE p.conversation_id = ? ORDER BY p.joined_at, p.user_id", id) {
		participants = append(participants, user(u))
	}
	var last any
	if ms := rows("SELECT * FROM messages WHERE conversation_id = ? ORDER BY created_at DESC, id DESC LIMIT 1", id); len(ms) == 1 {
		m := ms[0]
		last = map[string]any{
			"id": resolvers.GlobalID("Message", m["id"].(int64)), "databaseId": m["id"],
			"conversationId": resolvers.GlobalID("Conversation", id), "text": m["text"], "imageUrl": m["image_url"],
			"isRead": m["is_read"], "isDelivered": m["is_delivered"], "createdAt": ts(m["created_at"]),
			"sender": user(row("SELECT "+userColumns+" FROM users u WHERE id = ?", m["sender_id"])),
		}
	}
	var unread int64
	s.db.Raw("SELECT count(*) FROM messages WHERE conversation_id = ? AND sender_id <> ? AND NOT is_read", id, viewerID).Scan(&unread)
	want := map[string]any{
		"id": resolvers.GlobalID("Conversation", id), "databaseId": id,
		"createdAt": ts(c["created_at"]), "updatedAt": ts(c["updated_at"]), "unreadCount": unread,
		"product": map[string]any{
			"id": resolvers.GlobalID("Product", p["id"].(int64)), "databaseId": p["id"], "title": p["title"],
			"price": p["price"], "steering": p["steering"], "cityId": p["city_id"], "regionId": p["region_id"],
			"districtId": p["district_id"], "metroStationId": p["metro_station_id"], "metroDistanceM": p["metro_distance_m"],
			"addressId": p["address_id"], "publishedAt": ts(p["published_at"]), "images": images,
			"seller": user(row("SELECT "+userColumns+" FROM users u WHERE id = ?", p["seller_id"])),
		},
		"participants": participants,
		"lastMessage":  last,
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
	s.db.Exec("UPDATE sessions SET created_at = now() - interval '2 days', expires_at = now() - interval '1 second' WHERE id_hash = sha256(?::bytea)", expired)
	tests := []struct{ name, cookie string }{
		{"no cookie", ""},
		{"unknown session", "c2Vzc2lvbi10aGF0LW5ldmVyLWV4aXN0ZWQ"},
		{"expired session", expired},
		{"garbage", "'; DROP TABLE sessions; --"},
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
	s.db.Exec("UPDATE products SET published_at = NULL WHERE id = ?", theirs.Product)
	s.db.Exec("UPDATE products SET published_at = now() WHERE id = ?", mine.Product)
	cookie := s.session(2)

	p := s.page(cookie, map[string]any{"first": 100})
	if got, want := p.ids(), s.inboxOrder(2); !slices.Equal(got, want) {
		t.Fatalf("list = %v, want vendor 2's %v", got, want)
	}

	gid := resolvers.GlobalID
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
// full-depth page: the session, the page, then one per nested kind.
func TestStatementsDoNotGrowWithPageSize(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, seed.Options{Vendors: 2, Conversations: 120, Messages: 3, Seed: 9})
	cookie := s.session(s.seed.BusiestVendorID)
	// session + page + participants + products + images + last messages + unread counts;
	// sellers and senders are participants, already loaded.
	const fullPage = 7
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
}

func TestGetRunsQueries(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, seed.Options{Vendors: 1, Conversations: 2, Messages: 1, Seed: 1})
	req, _ := http.NewRequest(http.MethodGet, s.url+"/graphql?query="+url.QueryEscape(`{ vendorConversations(first: 1) { nodes { databaseId } } }`), nil)
	req.AddCookie(&http.Cookie{Name: models.SessionCookie, Value: s.session(s.seed.BusiestVendorID)})
	res := s.do(req)
	want := fmt.Sprintf(`{"vendorConversations":{"nodes":[{"databaseId":%d}]}}`, s.inboxOrder(s.seed.BusiestVendorID)[0])
	if string(res.Data) != want {
		t.Fatalf("data = %s %+v, want %s", res.Data, res.Errors, want)
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
