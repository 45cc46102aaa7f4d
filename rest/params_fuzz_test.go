package rest

import (
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/partizap/vendor-inbox/models"
)

// fuzzCursorKey signs the cursors of FuzzParseParams; the valid cursors in
// testdata/fuzz/FuzzParseParams were made with it, so it must not change.
var fuzzCursorKey = []byte("fuzz")

// FuzzParseParams feeds arbitrary query strings to parseParams. It must never panic; every
// error must be an EINVALID *models.Error naming the field at fault with a message; every
// success must be a forward page of 1 to 100 items, after the cursor given, if any.
func FuzzParseParams(f *testing.F) {
	cursors := models.NewCursors(fuzzCursorKey)
	valid := cursors.Encode(models.InboxKey{UpdatedAt: time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC), ID: 7})
	negative := cursors.Encode(models.InboxKey{UpdatedAt: time.Unix(0, 0), ID: -7})
	otherKey := models.NewCursors([]byte("k")).Encode(models.InboxKey{UpdatedAt: time.Unix(0, 0), ID: 7})
	for _, q := range []string{
		// valid
		"",
		"limit=1",
		"limit=20",
		"limit=100",
		"cursor=" + valid,
		"limit=7&cursor=" + valid,
		"cursor=" + valid + "&limit=7",
		"limit=3&utm_source=mail",
		"limit=%31%30", // percent-escaped "10"
		"&&limit=5&",
		"LIMIT=0&Cursor=x", // names are case-sensitive: ignored
		// out of range or not a plain decimal limit
		"limit=0",
		"limit=101",
		"limit=-1",
		"limit=-0",
		"limit=+5",
		"limit=%2B5",
		"limit=05",
		"limit=5.0",
		"limit=1e2",
		"limit=0x10",
		"limit=9223372036854775807",
		"limit=9223372036854775808",
		"limit=-9223372036854775809",
		"limit=99999999999999999999999999999",
		"limit=١٢", // unicode digits
		"limit=%D9%A1%D9%A2",
		"limit=",
		"limit",
		"limit= 5",
		"limit=5 ",
		"limit=5+",
		"limit=%205",
		"limit=\t5",
		"limit=5%0A",
		"limit=5%00",
		"limit=\x005",
		"limit=\xff",
		"limit=%FF",
		"limit=5' OR 1=1--", // SQL injection
		"limit=5;DROP TABLE conversations",
		"limit=5%3B%20DROP%20TABLE%20conversations%3B--",
		"limit=" + strings.Repeat("9", 4096), // huge
		// repeated parameters
		"limit=1&limit=1",
		"limit=1&limit=2",
		"cursor=" + valid + "&cursor=" + valid,
		"cursor=a&cursor=b",
		"limit=5&cursor=" + valid + "&limit=5",
		// bad cursors
		"cursor=",
		"cursor",
		"cursor=x" + valid[1:], // one char changed
		"cursor=" + valid[:19] + "A" + valid[20:],
		"cursor=" + valid + "%3D", // padding
		"cursor=" + valid + "%3D%3D",
		"cursor=" + valid + "=",
		"cursor=" + valid[:len(valid)-1],
		"cursor=" + valid + "%00",
		"cursor=" + valid + "+",
		"cursor=" + strings.NewReplacer("-", "%2B", "_", "%2F").Replace(valid), // standard alphabet
		"cursor=" + negative,
		"cursor=" + otherKey,
		"cursor=%27%20OR%201%3D1--",
		"cursor='; DROP TABLE conversations;--",
		"cursor=%E2%82%AC",
		"cursor=\xff\xfe",
		"cursor=" + strings.Repeat("A", 4096),
		// not a query string
		"%",
		"limit=%",
		"limit=%zz",
		"cursor=%G1",
		"limit=1;cursor=x",
		";",
		"=",
		"%00=%00",
		"\x00",
		"\xff\xfe\xfd",
		" ",
		"?limit=5",
		"#limit=5",
		strings.Repeat("a=b&", 2048), // huge, many parameters
	} {
		f.Add(q)
	}
	f.Fuzz(func(t *testing.T, rawQuery string) {
		args, err := parseParams(rawQuery, cursors)
		if err != nil {
			var e *models.Error
			if !errors.As(err, &e) || err != error(e) {
				t.Fatalf("parseParams(%q) error %T %v, want a *models.Error", rawQuery, err, err)
			}
			if e.Code != models.EINVALID || e.Field == "" || e.Message == "" {
				t.Fatalf("parseParams(%q) error = %+v, want code %q with a field and a message", rawQuery, e, models.EINVALID)
			}
			return
		}
		if args.First == nil || *args.First < minLimit || *args.First > maxLimit {
			t.Fatalf("parseParams(%q) First = %v, want 1..100", rawQuery, args.First)
		}
		if args.Last != nil || args.Before != nil {
			t.Fatalf("parseParams(%q) = %+v: Last and Before must be nil", rawQuery, args)
		}
		// Success means the query is well-formed; the page starts after the cursor given, if
		// one was, and the cursor was given in its one canonical spelling.
		q, qErr := url.ParseQuery(rawQuery)
		if qErr != nil {
			t.Fatalf("parseParams(%q) accepted a query url.ParseQuery rejects: %v", rawQuery, qErr)
		}
		if c, ok := q["cursor"]; ok != (args.After != nil) {
			t.Fatalf("parseParams(%q) After = %v, but cursor given: %v", rawQuery, args.After, ok)
		} else if ok && cursors.Encode(*args.After) != c[0] {
			t.Fatalf("parseParams(%q) After = %v, which is not the cursor given", rawQuery, *args.After)
		}
		if args.After != nil && args.After.ID <= 0 {
			t.Fatalf("parseParams(%q) After = %v: id must be positive", rawQuery, *args.After)
		}
		if _, ok := q["limit"]; !ok && *args.First != models.DefaultPageSize {
			t.Fatalf("parseParams(%q) First = %d without a limit, want %d", rawQuery, *args.First, models.DefaultPageSize)
		}
	})
}
