package models_test

import (
	"encoding/base64"
	"math"
	"testing"
	"time"

	"github.com/partizap/vendor-inbox/models"
)

func TestCursorRoundTrip(t *testing.T) {
	c := models.NewCursors([]byte("k1"))
	tests := []struct {
		name string
		key  models.InboxKey
	}{
		{"whole seconds", models.InboxKey{UpdatedAt: time.Date(2026, 11, 20, 9, 41, 7, 0, time.UTC), ID: 42}},
		{"microseconds", models.InboxKey{UpdatedAt: time.Date(2026, 1, 2, 3, 4, 5, 123456000, time.UTC), ID: 1}},
		{"before the epoch", models.InboxKey{UpdatedAt: time.Date(1960, 1, 1, 0, 0, 0, 0, time.UTC), ID: 1<<62 + 7}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := c.Encode(tt.key)
			got, err := c.Decode(s)
			if err != nil {
				t.Fatalf("Decode(Encode(%v)) error: %v", tt.key, err)
			}
			if !got.UpdatedAt.Equal(tt.key.UpdatedAt) || got.ID != tt.key.ID {
				t.Fatalf("Decode(Encode(%v)) = %v", tt.key, got)
			}
			if got.UpdatedAt.Location() != time.UTC {
				t.Errorf("decoded time is in %v, want UTC", got.UpdatedAt.Location())
			}
		})
	}
}

func TestCursorRejectsAnythingNotIssued(t *testing.T) {
	c := models.NewCursors([]byte("k1"))
	valid := c.Encode(models.InboxKey{UpdatedAt: time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC), ID: 9})
	raw, _ := base64.RawURLEncoding.DecodeString(valid)
	flip := func(i int) string {
		b := append([]byte(nil), raw...)
		b[i] ^= 1
		return base64.RawURLEncoding.EncodeToString(b)
	}
	tests := []struct {
		name, cursor string
	}{
		{"empty", ""},
		{"not base64", "!!!!"},
		{"truncated", valid[:len(valid)-1]},
		{"extended", valid + "A"},
		{"padded", base64.URLEncoding.EncodeToString(raw)},
		{"std alphabet", base64.StdEncoding.EncodeToString(raw)},
		{"edited time", flip(5)},
		{"edited id", flip(16)},
		{"edited tag", flip(len(raw) - 1)},
		{"other version", flip(0)},
		{"other key", models.NewCursors([]byte("k2")).Encode(models.InboxKey{UpdatedAt: time.Unix(0, 0), ID: 9})},
		{"zero id", c.Encode(models.InboxKey{UpdatedAt: time.Unix(0, 0), ID: 0})},
		{"sql", "' OR 1=1 --"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := c.Decode(tt.cursor); err != models.ErrInvalidCursor {
				t.Fatalf("Decode(%q) error = %v, want ErrInvalidCursor", tt.cursor, err)
			}
		})
	}
}

// TestCursorTimesOutsideWhatTheDatabasesStoreAreRefused: a cursor signed with the right key
// but carrying a time outside years 1 to 9999 is refused, as the databases cannot compare it
// faithfully; the first and last µs of that range still decode.
func TestCursorTimesOutsideWhatTheDatabasesStoreAreRefused(t *testing.T) {
	c := models.NewCursors([]byte("k1"))
	first := time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC)
	last := time.Date(9999, 12, 31, 23, 59, 59, 999999000, time.UTC)
	tests := []struct {
		name   string
		micros int64
		ok     bool
	}{
		{"min int64", math.MinInt64, false},
		{"max int64", math.MaxInt64, false},
		{"year 10000", time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC).UnixMicro(), false},
		{"1 µs after year 9999", last.UnixMicro() + 1, false},
		{"1 µs before year 1", first.UnixMicro() - 1, false},
		{"year 4713 BC, PostgreSQL's first", time.Date(-4712, 1, 1, 0, 0, 0, 0, time.UTC).UnixMicro(), false},
		{"first µs of year 1", first.UnixMicro(), true},
		{"last µs of year 9999", last.UnixMicro(), true},
		{"epoch", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := c.Encode(models.InboxKey{UpdatedAt: time.UnixMicro(tt.micros), ID: 3})
			got, err := c.Decode(s)
			if !tt.ok {
				if err != models.ErrInvalidCursor || got != (models.InboxKey{}) {
					t.Fatalf("Decode(cursor at %d µs) = %v, %v; want ErrInvalidCursor", tt.micros, got, err)
				}
				return
			}
			if want := (models.InboxKey{UpdatedAt: time.UnixMicro(tt.micros).UTC(), ID: 3}); err != nil || got != want {
				t.Fatalf("Decode(cursor at %d µs) = %v, %v; want %v", tt.micros, got, err, want)
			}
		})
	}
}

// TestCursorsBelongToTheirList: a cursor decodes only in the scope it was issued for, and the
// unfiltered inbox's cursors are those issued before scopes existed.
func TestCursorsBelongToTheirList(t *testing.T) {
	c := models.NewCursors([]byte("k1"))
	key := models.InboxKey{UpdatedAt: time.Date(2026, 11, 20, 9, 41, 7, 0, time.UTC), ID: 42}
	// Issued before scopes, by Encode: the HMAC of the body alone.
	const unscoped = "AQAGYLILGpLAAAAAAAAAACqSm9_EQUev3jHR65I" // HMAC-SHA256 of the body alone, computed apart
	unread := models.InboxFilter{UnreadOnly: true}.Scope()
	scopes := []string{"", unread, models.InboxFilter{ProductID: 7}.Scope(), models.MessagesScope(1), models.MessagesScope(11)}
	for _, issued := range scopes {
		s := c.EncodeIn(issued, key)
		for _, used := range scopes {
			_, err := c.DecodeIn(used, s)
			if (err == nil) != (issued == used) {
				t.Errorf("issued in %q, decoded in %q: error %v", issued, used, err)
			}
		}
	}
	if got := c.Encode(key); got != unscoped {
		t.Errorf("Encode = %s, want %s (as issued before scopes)", got, unscoped)
	}
	if (models.InboxFilter{}).Scope() != "" {
		t.Error("the whole inbox must keep the unscoped cursors REST hands out")
	}
}
