package models_test

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/partizap/vendor-inbox/models"
)

// fuzzCursorKey signs the cursors of the fuzz targets; the valid cursors in
// testdata/fuzz/FuzzCursorDecode were made with it, so it must not change.
var fuzzCursorKey = []byte("fuzz")

// FuzzCursorDecode feeds arbitrary strings to Decode. It must never panic, must reject with
// ErrInvalidCursor, and the cursors it accepts must be canonical: re-encoding the key gives
// back the very same string, so one position has one spelling. Cursors are HMAC-signed, so
// random inputs essentially never decode; the seeds (f.Add and testdata) hold valid cursors
// and near misses of them.
func FuzzCursorDecode(f *testing.F) {
	c := models.NewCursors(fuzzCursorKey)
	valid := c.Encode(models.InboxKey{UpdatedAt: time.Date(2026, 11, 20, 9, 41, 7, 123456000, time.UTC), ID: 42})
	otherKey := models.NewCursors([]byte("k1")).Encode(models.InboxKey{UpdatedAt: time.Unix(0, 0), ID: 42})
	for _, s := range []string{
		valid,
		c.Encode(models.InboxKey{UpdatedAt: time.UnixMicro(math.MinInt64).UTC(), ID: math.MaxInt64}),
		c.Encode(models.InboxKey{UpdatedAt: time.UnixMicro(math.MaxInt64).UTC(), ID: 1}),
		c.Encode(models.InboxKey{UpdatedAt: time.Unix(0, 0).UTC(), ID: -1}),                       // signed but id <= 0
		c.Encode(models.InboxKey{UpdatedAt: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), ID: 1}), // signed but after year 9999
		c.Encode(models.InboxKey{UpdatedAt: time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC), ID: 1}),     // the first time accepted
		otherKey,                      // well-formed, signed with another key
		"",                            // empty
		"x" + valid[1:],               // one char changed, first
		valid[:19] + "A" + valid[20:], // one char changed, middle
		valid[:len(valid)-1] + paddingBitsSet(valid[len(valid)-1]), // last char: only its padding bits differ
		valid + "=", // padding variants
		valid + "==",
		valid[:len(valid)-1], // truncated
		valid + "A",          // extended
		strings.NewReplacer("-", "+", "_", "/").Replace(valid), // standard alphabet
		" " + valid, // whitespace
		valid + "\n",
		valid[:len(valid)-1] + "\x00", // NUL byte
		strings.Repeat("\x00", len(valid)),
		"\xff\xfe" + valid[2:], // invalid UTF-8
		"%41" + valid[3:],      // percent-escape
		"' OR 1=1--",           // SQL injection
		"1; DROP TABLE conversations;--",
		strings.Repeat("A", 39),
		strings.Repeat("A", 4096), // huge
		"١٢",                      // unicode digits
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		k, err := c.Decode(s)
		if err != nil {
			if !errors.Is(err, models.ErrInvalidCursor) {
				t.Fatalf("Decode(%q) error = %v, want ErrInvalidCursor", s, err)
			}
			if k != (models.InboxKey{}) {
				t.Fatalf("Decode(%q) failed but returned key %v", s, k)
			}
			return
		}
		if k.ID <= 0 {
			t.Fatalf("Decode(%q) = %v: id must be positive", s, k)
		}
		if k.UpdatedAt.Location() != time.UTC {
			t.Fatalf("Decode(%q) = %v: time not in UTC", s, k)
		}
		if y := k.UpdatedAt.Year(); y < 1 || y > 9999 {
			t.Fatalf("Decode(%q) = %v: year outside 1 to 9999", s, k)
		}
		if got := c.Encode(k); got != s {
			t.Fatalf("Decode(%q) = %v, but Encode of it = %q: not the canonical spelling", s, k, got)
		}
	})
}

// paddingBitsSet returns the base64url digit c with its two low bits set. The last digit of a
// 29-byte cursor carries 4 data bits and 2 padding bits, so this spells the same bytes
// non-canonically, which strict decoding must reject.
func paddingBitsSet(c byte) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	return string(alphabet[strings.IndexByte(alphabet, c)|3])
}

// FuzzCursorRoundTrip checks that every key with a positive id and a time at µs precision in
// the years 1 to 9999, as the databases store it, survives Encode then Decode unchanged, and
// that a key with a time outside those years is refused.
func FuzzCursorRoundTrip(f *testing.F) {
	for _, seed := range []struct{ micros, id int64 }{
		{time.Date(2026, 11, 20, 9, 41, 7, 123456000, time.UTC).UnixMicro(), 42},
		{0, 1},
		{-1, 1},
		{time.Date(1960, 1, 1, 0, 0, 0, 0, time.UTC).UnixMicro(), 1<<62 + 7},
		{math.MaxInt64, math.MaxInt64},
		{math.MinInt64, 1},
		{1, 0},             // id 0: skipped
		{1, -5},            // negative id: skipped
		{1, math.MinInt64}, // skipped
		{time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC).UnixMicro(), 1},                 // the first time accepted
		{time.Date(9999, 12, 31, 23, 59, 59, 999999000, time.UTC).UnixMicro(), 1}, // the last
		{time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC).UnixMicro(), 1},             // refused
	} {
		f.Add(seed.micros, seed.id)
	}
	c := models.NewCursors(fuzzCursorKey)
	f.Fuzz(func(t *testing.T, micros, id int64) {
		if id <= 0 {
			t.Skip("ids are positive")
		}
		want := models.InboxKey{UpdatedAt: time.UnixMicro(micros).UTC(), ID: id}
		s := c.Encode(want)
		got, err := c.Decode(s)
		if y := want.UpdatedAt.Year(); y < 1 || y > 9999 {
			if err != models.ErrInvalidCursor {
				t.Fatalf("Decode(Encode(%v)) = %v, %v; want ErrInvalidCursor for a year outside 1 to 9999", want, got, err)
			}
			return
		}
		if err != nil {
			t.Fatalf("Decode(Encode(%v)) = %q: error %v", want, s, err)
		}
		if got != want || got.UpdatedAt.UnixMicro() != micros {
			t.Fatalf("Decode(Encode(%v)) = %v", want, got)
		}
	})
}
