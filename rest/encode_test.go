package rest

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/partizap/vendor-inbox/httpserver"
)

// encodingJSON is what httpserver.WriteJSON wrote for v before the hand-written encoder: the
// reference every test here compares with.
func encodingJSON(t testing.TB, v any) []byte {
	t.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// hostileStrings are the strings most likely to be escaped differently: every ASCII control
// character, the characters JSON or HTML treat specially, the two line separators JavaScript
// did, invalid and truncated UTF-8, and characters of every UTF-8 length.
var hostileStrings = func() []string {
	s := []string{
		"",
		"plain",
		`"`, `\`, `"quoted" and \back\slashed\`,
		"\x7f", "<script>alert('x')</script> & &amp;",
		"\u2028", "\u2029", "line\u2028separator\u2029paragraph",
		// the neighbours of U+2028 and U+2029, not escaped
		"\u2027\u202a",
		// invalid, truncated, a surrogate
		"\xff", "\xc3", "\xe2\x82", "\xf0\x9f\x98", "\xf0\x9f", "\xed\xa0\x80",
		// overlong, too long, lone continuation bytes
		"\xc0\xaf", "\xf8\x88\x80\x80\x80", "a\xffb\xc3", "\x80\x80",
		// U+FFFD itself, valid
		"\xef\xbf\xbd",
		"é", "Привет, мир", "中文", "😀", "👩‍👩‍👧", "\U0010ffff", "\U00010000",
		"ends with a truncated emoji \xf0\x9f\x98",
		"mixed: \t\"é\"\n😀\\\x00\u2028\xff<&>",
	}
	var all strings.Builder
	for c := range 0x20 {
		s = append(s, string(rune(c)), "a"+string(rune(c))+"b")
		all.WriteByte(byte(c))
	}
	return append(s, all.String())
}()

func ptr[T any](v T) *T { return &v }

func TestAppendStringMatchesEncodingJSON(t *testing.T) {
	for _, s := range hostileStrings {
		t.Run(strconv.Quote(s), func(t *testing.T) {
			want := encodingJSON(t, s)
			got := append(appendString(nil, s), '\n')
			if !bytes.Equal(got, want) {
				t.Fatalf("appendString(%q) = %s, encoding/json writes %s", s, got, want)
			}
		})
	}
}

// FuzzAppendString checks appendString against encoding/json for any string; its seeds, run by
// every go test, are hostileStrings.
func FuzzAppendString(f *testing.F) {
	for _, s := range hostileStrings {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want := encodingJSON(t, s)
		got := append(appendString(nil, s), '\n')
		if !bytes.Equal(got, want) {
			t.Fatalf("appendString(%q) = %s, encoding/json writes %s", s, got, want)
		}
	})
}

// fullUser sets every field of a user, its pointers included.
func fullUser(id int64, name string) user {
	return user{ID: id, DisplayName: name, AvatarURL: ptr("https://cdn.example.com/avatars/" + strconv.FormatInt(id, 10) + ".webp"),
		CityID: ptr(int64(-3)), Rating: "4.87", ReviewsCount: 12, ProductsCount: 0, CreatedAt: "2026-11-20T12:00:00.123456Z"}
}

func fullImage(id int64, primary bool) image {
	base := "https://cdn.example.com/i/" + strconv.FormatInt(id, 10)
	return image{ID: id, ThumbnailWebp: base + "/t.webp", ThumbnailJpeg: base + "/t.jpg", MediumWebp: base + "/m.webp",
		MediumJpeg: base + "/m.jpg", LargeWebp: base + "/l.webp", LargeJpeg: base + "/l.jpg", Status: "ready",
		IsPrimary: primary, SortOrder: int(id % 3)}
}

// fullConversation sets every field of a conversation and of everything in it.
func fullConversation(id int64) conversation {
	return conversation{
		ID: id, ProductID: id * 10,
		Product: product{
			ID: id * 10, Title: "Toyota Camry 2.5 AT, 2019", Price: 2_450_000, Steering: ptr("left"),
			CityID: 1, RegionID: 77, DistrictID: ptr(int64(12)), MetroStationID: ptr(int64(9_223_372_036_854_775_807)),
			MetroDistanceM: ptr(-450), AddressID: ptr("addr-42"),
			Images: []image{fullImage(1, true), fullImage(2, false), fullImage(3, false)},
			Seller: fullUser(5, "Seller"), PublishedAt: ptr("2026-11-19T08:30:00Z"),
		},
		Participants: []user{fullUser(5, "Seller"), fullUser(6, "Buyer")},
		LastMessage: &message{ID: 100, ConversationID: id, SenderID: 6, Text: ptr("Is it still for sale?"),
			ImageURL: ptr("https://cdn.example.com/m/100.jpg"), IsRead: true, IsDelivered: true, CreatedAt: "2026-11-21T09:00:00Z"},
		UnreadCount: 3, CreatedAt: "2026-11-20T12:00:00Z", UpdatedAt: "2026-11-21T09:00:00Z",
	}
}

// sparseConversation has every pointer nil, every number zero, and empty, non-nil slices, as
// renderConversation makes them.
func sparseConversation() conversation {
	return conversation{Product: product{Images: []image{}}, Participants: []user{}}
}

// hostileConversation puts a hostile string in every string field.
func hostileConversation(s string) conversation {
	u := user{DisplayName: s, AvatarURL: &s, Rating: s, CreatedAt: s}
	return conversation{
		Product: product{Title: s, Steering: &s, AddressID: &s, PublishedAt: &s, Seller: u,
			Images: []image{{ThumbnailWebp: s, ThumbnailJpeg: s, MediumWebp: s, MediumJpeg: s, LargeWebp: s, LargeJpeg: s, Status: s}}},
		Participants: []user{u},
		LastMessage:  &message{Text: &s, ImageURL: &s, CreatedAt: s},
		CreatedAt:    s, UpdatedAt: s,
	}
}

func TestAppendJSONMatchesEncodingJSON(t *testing.T) {
	const minInt64, maxInt64 = -1 << 63, 1<<63 - 1
	withoutLast := fullConversation(2)
	withoutLast.LastMessage = nil
	nilSlices := sparseConversation()
	nilSlices.Product.Images, nilSlices.Participants = nil, nil
	sparseMessage := fullConversation(3)
	sparseMessage.LastMessage = &message{}
	extremes := fullConversation(maxInt64)
	extremes.ProductID, extremes.Product.Price, extremes.UnreadCount = minInt64, minInt64, -1
	extremes.Product.CityID, extremes.Product.RegionID = maxInt64, minInt64

	tests := []struct {
		name string
		v    listResponse
	}{
		{"empty page", listResponse{Data: []conversation{}}},
		{"nil data", listResponse{}}, // never rendered (conversations uses make), but encoded as encoding/json does: null
		{"last page", listResponse{Data: []conversation{fullConversation(1)}, Meta: meta{HasMore: false}}},
		{"more to come", listResponse{Data: []conversation{fullConversation(1), withoutLast, sparseMessage},
			Meta: meta{HasMore: true, NextCursor: ptr("eyJ1IjoiMjAyNi0xMS0yMCJ9.c2ln")}}},
		{"every pointer nil, empty slices", listResponse{Data: []conversation{sparseConversation()}}},
		{"nil slices", listResponse{Data: []conversation{nilSlices}}},
		{"extreme numbers", listResponse{Data: []conversation{extremes}}},
		{"empty cursor", listResponse{Data: []conversation{}, Meta: meta{HasMore: true, NextCursor: ptr("")}}},
	}
	for _, s := range hostileStrings {
		tests = append(tests, struct {
			name string
			v    listResponse
		}{"hostile " + strconv.Quote(s), listResponse{Data: []conversation{hostileConversation(s)}, Meta: meta{NextCursor: &s}}})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := encodingJSON(t, tt.v)
			got := append(tt.v.appendJSON(nil), '\n')
			if !bytes.Equal(got, want) {
				t.Fatalf("appendJSON differs from encoding/json:\n got %s\nwant %s", got, want)
			}
		})
	}
}

// TestWritePage checks the whole answer: the bytes, headers and status httpserver.WriteJSON
// gave, for GET and for HEAD, and again once the buffer comes from the pool.
func TestWritePage(t *testing.T) {
	page := listResponse{Data: []conversation{fullConversation(1), fullConversation(2)}, Meta: meta{HasMore: true, NextCursor: ptr("c")}}
	want := encodingJSON(t, page)
	for _, method := range []string{http.MethodGet, http.MethodHead, http.MethodGet} {
		t.Run(method, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { writePage(w, &page) }))
			defer srv.Close()
			req, _ := http.NewRequest(method, srv.URL, nil)
			res, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			var body bytes.Buffer
			if _, err := body.ReadFrom(res.Body); err != nil {
				t.Fatal(err)
			}
			if res.StatusCode != http.StatusOK {
				t.Errorf("status %d, want 200", res.StatusCode)
			}
			if ct := res.Header.Get("Content-Type"); ct != "application/json; charset=utf-8" {
				t.Errorf("Content-Type %q", ct)
			}
			if cl := res.Header.Get("Content-Length"); cl != strconv.Itoa(len(want)) {
				t.Errorf("Content-Length %q, want %d", cl, len(want))
			}
			wantBody := want
			if method == http.MethodHead {
				wantBody = nil
			}
			if !bytes.Equal(body.Bytes(), wantBody) {
				t.Errorf("body differs:\n got %s\nwant %s", body.Bytes(), wantBody)
			}
		})
	}
}

func TestWritePageDropsHugeBuffers(t *testing.T) {
	huge := fullConversation(1)
	huge.Product.Title = strings.Repeat("x", maxPooledBuffer)
	page := listResponse{Data: []conversation{huge}}
	writePage(httptest.NewRecorder(), &page)
	// A pool may drop anything at any time, so only what it hands back can be checked: never
	// the huge buffer.
	for range 10 {
		buf := pageBuffers.Get().(*[]byte)
		if cap(*buf) > maxPooledBuffer {
			t.Fatalf("the pool kept a buffer of %d bytes", cap(*buf))
		}
	}
}

// benchmarkPage is a page of n conversations of realistic sizes: 3 images, 2 participants and
// a last message each, with URLs, names and texts of the lengths the seed data has.
func benchmarkPage(n int) listResponse {
	page := listResponse{Data: make([]conversation, n), Meta: meta{HasMore: true, NextCursor: ptr("eyJ1IjoiMjAyNi0xMS0yMFQxMjowMDowMFoiLCJpIjo0Mn0.3q2-7w")}}
	for i := range page.Data {
		c := fullConversation(int64(1000 + i))
		c.Product.Title = "Квартира 2-комн., 54 м², 7/12 эт. — у метро, после ремонта"
		c.LastMessage.Text = ptr("Здравствуйте! Подскажите, пожалуйста, предложение ещё актуально? Можно посмотреть в субботу после обеда?")
		c.Participants[1].DisplayName = "Александр К."
		page.Data[i] = c
	}
	return page
}

func BenchmarkWritePage(b *testing.B) {
	for _, n := range []int{20, 100} {
		page := benchmarkPage(n)
		b.Run("encoding_json/"+strconv.Itoa(n), func(b *testing.B) {
			w := discardResponse{header: http.Header{}}
			for b.Loop() {
				httpserver.WriteJSON(w, http.StatusOK, page) // what the endpoint used before writePage
			}
		})
		b.Run("appendJSON/"+strconv.Itoa(n), func(b *testing.B) {
			w := discardResponse{header: http.Header{}}
			for b.Loop() {
				writePage(w, &page)
			}
		})
	}
}

// discardResponse is a ResponseWriter that drops what it is sent, so the benchmark measures
// the encoding and not a recorder's copying.
type discardResponse struct{ header http.Header }

func (w discardResponse) Header() http.Header         { return w.header }
func (w discardResponse) WriteHeader(int)             {}
func (w discardResponse) Write(p []byte) (int, error) { return len(p), nil }
