package scalar_test

import (
	"bytes"
	"encoding/json"
	"strconv"
	"testing"
	"time"

	"github.com/partizap/vendor-inbox/resolvers/scalar"
)

// marshal returns what MarshalTime writes for t.
func marshal(t time.Time) string {
	var b bytes.Buffer
	scalar.MarshalTime(t).MarshalGQL(&b)
	return b.String()
}

// zone returns a fixed zone offset by hours (and minutes) from UTC.
func zone(name string, hours, minutes int) *time.Location {
	return time.FixedZone(name, hours*3600+minutes*60)
}

func TestMarshalTimeIsRFC3339InUTC(t *testing.T) {
	t.Parallel()
	moscow := zone("MSK", 3, 0)
	tests := []struct {
		name string
		in   time.Time
		want string // the GraphQL literal, quotes included
	}{
		{"UTC, whole seconds", time.Date(2026, 11, 20, 9, 41, 7, 0, time.UTC), `"2026-11-20T09:41:07Z"`},
		{"east of UTC is shifted back", time.Date(2026, 11, 20, 12, 41, 7, 0, moscow), `"2026-11-20T09:41:07Z"`},
		{"west of UTC is shifted forward", time.Date(2026, 11, 20, 4, 41, 7, 0, zone("EST", -5, 0)), `"2026-11-20T09:41:07Z"`},
		{"half-hour zone", time.Date(2026, 11, 20, 15, 11, 7, 0, zone("IST", 5, 30)), `"2026-11-20T09:41:07Z"`},
		{"the shift crosses midnight and the year", time.Date(2027, 1, 1, 2, 30, 0, 0, moscow), `"2026-12-31T23:30:00Z"`},
		{"milliseconds kept", time.Date(2026, 11, 20, 9, 41, 7, 123_000_000, time.UTC), `"2026-11-20T09:41:07.123Z"`},
		{"microseconds kept", time.Date(2026, 11, 20, 9, 41, 7, 123_456_000, time.UTC), `"2026-11-20T09:41:07.123456Z"`},
		{"nanoseconds kept", time.Date(2026, 11, 20, 9, 41, 7, 123_456_789, moscow), `"2026-11-20T06:41:07.123456789Z"`},
		{"trailing zeros of the fraction dropped", time.Date(2026, 11, 20, 9, 41, 7, 500_000_000, time.UTC), `"2026-11-20T09:41:07.5Z"`},
		{"zero time", time.Time{}, `"0001-01-01T00:00:00Z"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := marshal(tt.in); got != tt.want {
				t.Fatalf("MarshalTime(%v) wrote %s, want %s", tt.in, got, tt.want)
			}
		})
	}
}

// TestMarshalTimeWritesAJSONString checks the output is a quoted string a JSON decoder reads
// back, not a bare token.
func TestMarshalTimeWritesAJSONString(t *testing.T) {
	t.Parallel()
	var s string
	out := marshal(time.Date(2026, 11, 20, 9, 41, 7, 0, zone("MSK", 3, 0)))
	if err := json.Unmarshal([]byte(out), &s); err != nil {
		t.Fatalf("MarshalTime wrote %s, not a JSON string: %v", out, err)
	}
	if s != "2026-11-20T06:41:07Z" {
		t.Fatalf("decoded %q, want %q", s, "2026-11-20T06:41:07Z")
	}
}

func TestUnmarshalTimeAcceptsRFC3339(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
		want time.Time
	}{
		{"UTC", "2026-11-20T09:41:07Z", time.Date(2026, 11, 20, 9, 41, 7, 0, time.UTC)},
		{"positive offset", "2026-11-20T12:41:07+03:00", time.Date(2026, 11, 20, 9, 41, 7, 0, time.UTC)},
		{"negative offset", "2026-11-20T04:41:07-05:00", time.Date(2026, 11, 20, 9, 41, 7, 0, time.UTC)},
		{"zero offset", "2026-11-20T09:41:07+00:00", time.Date(2026, 11, 20, 9, 41, 7, 0, time.UTC)},
		{"fraction", "2026-11-20T09:41:07.123Z", time.Date(2026, 11, 20, 9, 41, 7, 123_000_000, time.UTC)},
		{"nanoseconds and an offset", "2026-11-20T12:41:07.123456789+03:00", time.Date(2026, 11, 20, 9, 41, 7, 123_456_789, time.UTC)},
		{"the offset crosses the year", "2027-01-01T02:30:00+03:00", time.Date(2026, 12, 31, 23, 30, 0, 0, time.UTC)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := scalar.UnmarshalTime(tt.in)
			if err != nil {
				t.Fatalf("UnmarshalTime(%q): %v", tt.in, err)
			}
			if !got.Equal(tt.want) {
				t.Fatalf("UnmarshalTime(%q) = %v, want %v", tt.in, got, tt.want)
			}
			// The value is in UTC, not merely the same instant.
			if got.Location() != time.UTC {
				t.Fatalf("UnmarshalTime(%q) is in %v, want UTC", tt.in, got.Location())
			}
		})
	}
}

func TestUnmarshalTimeRejectsOtherInput(t *testing.T) {
	t.Parallel()
	const message = "time must be an RFC 3339 string"
	tests := []struct {
		name string
		in   any
	}{
		{"nil", nil},
		{"integer", 1795167667},
		{"int64", int64(1795167667)},
		{"float", 1795167667.5},
		{"JSON number", json.Number("1795167667")},
		{"boolean", true},
		{"time.Time", time.Date(2026, 11, 20, 9, 41, 7, 0, time.UTC)},
		{"pointer to string", new(string)},
		{"list", []any{"2026-11-20T09:41:07Z"}},
		{"object", map[string]any{"time": "2026-11-20T09:41:07Z"}},
		{"empty string", ""},
		{"date only", "2026-11-20"},
		{"no zone", "2026-11-20T09:41:07"},
		{"no seconds", "2026-11-20T09:41Z"},
		{"unix seconds as a string", "1795167667"},
		{"RFC 1123", "Fri, 20 Nov 2026 09:41:07 UTC"},
		{"impossible date", "2026-02-30T09:41:07Z"},
		{"hour 25", "2026-11-20T25:41:07Z"},
		{"surrounding spaces", " 2026-11-20T09:41:07Z "},
		{"trailing text", "2026-11-20T09:41:07Zjunk"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := scalar.UnmarshalTime(tt.in)
			if err == nil {
				t.Fatalf("UnmarshalTime(%#v) = %v, want an error", tt.in, got)
			}
			if err.Error() != message {
				t.Fatalf("UnmarshalTime(%#v): error %q, want %q", tt.in, err, message)
			}
			if !got.IsZero() {
				t.Fatalf("UnmarshalTime(%#v) = %v with its error, want the zero time", tt.in, got)
			}
		})
	}
}

func TestTimeRoundTrip(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   time.Time
	}{
		{"UTC", time.Date(2026, 11, 20, 9, 41, 7, 0, time.UTC)},
		{"another zone", time.Date(2026, 11, 20, 12, 41, 7, 0, zone("MSK", 3, 0))},
		{"microseconds, as PostgreSQL stores them", time.Date(2026, 11, 20, 9, 41, 7, 123_456_000, zone("EST", -5, 0))},
		{"nanoseconds", time.Date(2026, 11, 20, 9, 41, 7, 999_999_999, time.UTC)},
		{"zero time", time.Time{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			literal := marshal(tt.in)
			s, err := strconv.Unquote(literal)
			if err != nil {
				t.Fatalf("MarshalTime wrote %s, not a quoted string: %v", literal, err)
			}
			got, err := scalar.UnmarshalTime(s)
			if err != nil {
				t.Fatalf("UnmarshalTime(%q): %v", s, err)
			}
			if !got.Equal(tt.in) || got.Location() != time.UTC {
				t.Fatalf("round trip of %v gave %v, want the same instant in UTC", tt.in, got)
			}
			// Text to time to text gives the same text back.
			if again := marshal(got); again != literal {
				t.Fatalf("second marshal wrote %s, want %s", again, literal)
			}
		})
	}
}
