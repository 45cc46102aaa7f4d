package main

import (
	"strings"
	"testing"
)

func TestScratchURL(t *testing.T) {
	for _, tt := range []struct {
		url, want string
	}{
		{"postgres://postgres@127.0.0.1:5432/bench?sslmode=disable", "postgres://postgres@127.0.0.1:5432/bench_cmp_seed?sslmode=disable"},
		{"postgresql://u:p@db/x", "postgresql://u:p@db/x_cmp_seed"},
		{"host=127.0.0.1 dbname=bench", ""},
		{"postgres://127.0.0.1:5432/", ""},
		{"sqlite:bench.db", ""},
	} {
		got, err := scratchURL(tt.url, "_cmp_seed")
		if got != tt.want || (err != nil) != (tt.want == "") {
			t.Errorf("scratchURL(%q) = %q, %v; want %q", tt.url, got, err, tt.want)
		}
	}
}

func TestSeededRows(t *testing.T) {
	line := `{"users":600,"vendors":200,"buyers":400,"products":83133,"product_images":186812,"conversations":249000,"participants":498000,"messages":4980000,"unread_messages":223895,"busiest_vendor_id":1,"duration_seconds":57.1,"rows_per_second":105044,"vacuum_seconds":4.3}`
	if n, err := seededRows(line); n != 5_997_545 || err != nil {
		t.Errorf("seededRows = %d, %v; want 5997545", n, err)
	}
	if _, err := seededRows("seeded"); err == nil {
		t.Error("seededRows of a line that is not JSON: no error")
	}
}

// TestRenderSeed: the Seed section is there when the run compared, with both loads and the
// verdict, and not otherwise.
func TestRenderSeed(t *testing.T) {
	for _, tt := range []struct {
		name     string
		seed     *seedComparison
		want     []string
		wantNone bool
	}{
		{"not compared", nil, nil, true},
		{"met", &seedComparison{
			Seed:     loadTiming{Rows: 6_000_000, Seconds: 60, Bytes: 1 << 30},
			SeedLine: `{"users":600}`,
			SQL:      loadTiming{Rows: 5_000_000, Seconds: 50, Bytes: 900 << 20},
		}, []string{
			"## Seed\n",
			"| seed | 6000000 | 60.0 | 100000 | 1024 |\n| SQL-only | 5000000 | 50.0 | 100000 | 900 |\n",
			"- **MET** the seed's rows/s ≥ 0.7× the SQL-only load's: 1.00×\n",
			"```json\n{\"users\":600}\n```\n",
		}, false},
		{"missed", &seedComparison{
			Seed: loadTiming{Rows: 6_000_000, Seconds: 300},
			SQL:  loadTiming{Rows: 6_000_000, Seconds: 60},
		}, []string{"- **MISSED** the seed's rows/s ≥ 0.7× the SQL-only load's: 0.20×\n"}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := testReport(t)
			r.Seed = tt.seed
			var b strings.Builder
			r.render(&b, notesPlaceholder)
			out := b.String()
			if got := strings.Contains(out, "## Seed"); got == tt.wantNone {
				t.Errorf("Seed section there: %v, want %v", got, !tt.wantNone)
			}
			for _, want := range tt.want {
				if !strings.Contains(out, want) {
					t.Errorf("report lacks %q:\n%s", want, out)
				}
			}
		})
	}
}

func TestSeedComparisonLine(t *testing.T) {
	c := &seedComparison{Seed: loadTiming{Rows: 5_997_545, Seconds: 45.5, Bytes: 1200 << 20}, SQL: loadTiming{Rows: 5_997_776, Seconds: 68.4, Bytes: 1150 << 20}}
	want := "seed: 5997545 rows in 45.5 s (131814 rows/s); SQL-only: 5997776 rows in 68.4 s (87687 rows/s); ratio 1.50 (databases of 1200 and 1150 MiB)"
	if got := c.String(); got != want {
		t.Errorf("String() = %q\nwant %q", got, want)
	}
}
