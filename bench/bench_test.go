package main

import (
	"context"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestParseConcurrency(t *testing.T) {
	got, err := parseConcurrency("1, 8,32")
	if err != nil || len(got) != 3 || got[0] != 1 || got[1] != 8 || got[2] != 32 {
		t.Fatalf("parseConcurrency = %v, %v", got, err)
	}
	for _, bad := range []string{"", "0", "8,1", "1,1", "x", "1,100000"} {
		if _, err := parseConcurrency(bad); err == nil {
			t.Errorf("parseConcurrency(%q) accepted", bad)
		}
	}
}

func TestPercentile(t *testing.T) {
	r := runResult{}
	for i := 1; i <= 100; i++ {
		r.Latencies = append(r.Latencies, time.Duration(i)*time.Millisecond)
	}
	for p, want := range map[float64]time.Duration{50: 50 * time.Millisecond, 95: 95 * time.Millisecond, 99: 99 * time.Millisecond, 100: 100 * time.Millisecond} {
		if got := r.Percentile(p); got != want {
			t.Errorf("p%v = %v, want %v", p, got, want)
		}
	}
	if got := (runResult{Latencies: []time.Duration{7}}).Percentile(50); got != 7 {
		t.Errorf("one sample: p50 = %v", got)
	}
	if got := (runResult{}).Percentile(50); got != 0 {
		t.Errorf("no sample: p50 = %v", got)
	}
}

func TestParseCounter(t *testing.T) {
	text := "# HELP bff_db_queries_total SQL statements.\n# TYPE bff_db_queries_total counter\nbff_db_queries_total_other 3\nbff_db_queries_total 1234\n"
	if v, err := parseCounter(strings.NewReader(text), statementsMetric); err != nil || v != 1234 {
		t.Fatalf("parseCounter = %v, %v", v, err)
	}
	if _, err := parseCounter(strings.NewReader("go_goroutines 3\n"), statementsMetric); err == nil {
		t.Fatal("a missing counter was read")
	}
}

func TestCheck(t *testing.T) {
	gql := target{GraphQL: true}
	for _, c := range []struct {
		t      target
		status int
		body   string
		ok     bool
	}{
		{gql, 200, `{"data":{"node":{"text":"say \"errors\": none"}}}`, true},
		{gql, 200, `{"errors":[{"message":"no"}],"data":null}`, false},
		{gql, 500, `{"data":{}}`, false},
		{target{}, 200, `{"errors":1}`, true}, // REST has no GraphQL errors
		{target{}, 401, `{"error":{}}`, false},
	} {
		if err := c.t.check(c.status, []byte(c.body)); (err == nil) != c.ok {
			t.Errorf("check(%d, %s) = %v", c.status, c.body, err)
		}
	}
}

// TestRunLoad runs the closed loop against a local server: every answer is counted, errors are
// told apart, and the run ends on time.
func TestRunLoad(t *testing.T) {
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1)%10 == 0 {
			http.Error(w, "no", http.StatusServiceUnavailable)
			return
		}
		_, _ = io.WriteString(w, "ok")
	}))
	defer srv.Close()
	client := newClient(4)
	start := time.Now()
	r := runLoad(context.Background(), client, target{Method: http.MethodGet, URL: srv.URL}, 4, 200*time.Millisecond)
	if took := time.Since(start); took > 5*time.Second {
		t.Fatalf("the run took %v", took)
	}
	if r.Completed == 0 || r.Completed != n.Load() || int64(len(r.Latencies)) != r.Completed {
		t.Fatalf("completed %d, served %d, latencies %d", r.Completed, n.Load(), len(r.Latencies))
	}
	if want := r.Completed / 10; r.Errors != want {
		t.Errorf("errors = %d, want %d", r.Errors, want)
	}
	if !strings.Contains(r.FirstError, "503") {
		t.Errorf("first error = %q", r.FirstError)
	}
	if r.RPS() <= 0 || r.Percentile(50) <= 0 {
		t.Errorf("rps %v, p50 %v", r.RPS(), r.Percentile(50))
	}
}

func TestShellQuote(t *testing.T) {
	for in, want := range map[string]string{
		"-duration": "-duration",
		"3s":        "3s",
		"1,8,32":    "1,8,32",
		"postgres://postgres@127.0.0.1:5432/b?sslmode=disable": "'postgres://postgres@127.0.0.1:5432/b?sslmode=disable'",
		"it's": `'it'\''s'`,
		"":     "''",
	} {
		if got := shellQuote(in); got != want {
			t.Errorf("shellQuote(%q) = %s, want %s", in, got, want)
		}
	}
}

// testReport is a run where every target is met but the deep page's statements.
func testReport(t *testing.T) *report {
	dir := t.TempDir()
	r := &report{
		Opts: options{Concurrency: []int{1, 8}, Duration: time.Second, DeepPage: 500,
			Out: filepath.Join(dir, "BENCHMARKS.md"), Chart: filepath.Join(dir, "bench", "latency.svg"),
			Args: []string{"-duration", "1s"}, LoadAvg: "0.10"},
		Data: dataset{Database: "bench", Users: 10, Conversations: 100, Messages: 1000, BusiestVendorID: 1, BusiestConversations: 60},
		HWM:  map[string]float64{"server": 50, "floor": 20},
	}
	for _, s := range []struct{ name, baseline string }{
		{graphQL20, floor20}, {graphQL100, floor100}, {rest20, floor20}, {rest100, floor100},
		{restDeep, floorDeep}, {nodeByID, ""}, {floor20, ""}, {floor100, ""}, {floorDeep, ""},
	} {
		r.Scenarios = append(r.Scenarios, scenario{Name: s.name, Request: "GET /" + s.name, Baseline: s.baseline, Floor: strings.HasPrefix(s.name, "floor")})
		for _, c := range r.Opts.Concurrency {
			m := measurement{Scenario: s.name, Concurrency: c, Completed: 100, RPS: 100, P50: 10 * time.Millisecond,
				P95: 20 * time.Millisecond, P99: 30 * time.Millisecond, Statements: 7, PeakRSSMiB: 40}
			switch s.name {
			case floor20, floor100, floorDeep:
				m.RPS, m.Statements = 120, 1 // the service at 0.83×: every throughput goal met
			case restDeep:
				m.Statements = 8
			case nodeByID:
				m.Statements = math.NaN()
			}
			r.Results = append(r.Results, m)
		}
	}
	return r
}

func TestTargets(t *testing.T) {
	r := testReport(t)
	got := r.targets()
	if got[0].Status != met || got[1].Status != met || got[2].Status != missed {
		t.Fatalf("targets = %+v", got)
	}
	// Errors spoil a target even when the numbers would meet it.
	r.find(graphQL20, 8).Errors = 3
	if s := r.targetThroughput().Status; s != missed {
		t.Errorf("with errors: %s", s)
	}
	r.find(restDeep, 1).P50 = 12 * time.Millisecond // over 1.1 × 10ms
	if s := r.targetDeepPage().Status; s != missed {
		t.Errorf("slow deep page: %s", s)
	}
	r.Opts.Concurrency = []int{1}
	r.Results = r.Results[:0]
	if s := r.targetThroughput().Status; s != notMeasured {
		t.Errorf("without concurrency 8: %s", s)
	}
}

// TestWriteKeepsNotes: a run rewrites the report but what a person wrote between the markers.
func TestWriteKeepsNotes(t *testing.T) {
	r := testReport(t)
	r.FloorPlan = "Result (actual time=1.890..1.894 rows=1 loops=1)\n  Buffers: shared hit=583\n"
	if err := r.write(r.Opts.Out); err != nil {
		t.Fatal(err)
	}
	first, _ := os.ReadFile(r.Opts.Out)
	for _, want := range []string{notesStart + "\n" + notesPlaceholder + "\n" + notesEnd, "| rest-20 | 8 | 100.0 | 10.00 | 20.00 | 30.00 | 0 | 7.00 | 40.0 | 0.83× |",
		"| node | 1 |", "| ? | 40.0 | — |", "![p50 latency by concurrency](bench/latency.svg)", "go run ./bench -duration 1s", "**MISSED** (c)",
		"## The floor's plan", "```\nResult (actual time=1.890..1.894 rows=1 loops=1)\n  Buffers: shared hit=583\n```"} {
		if !strings.Contains(string(first), want) {
			t.Errorf("report lacks %q:\n%s", want, first)
		}
	}
	edited := strings.Replace(string(first), notesPlaceholder, "The deep page costs a probe.\n\nSee #12.", 1)
	if err := os.WriteFile(r.Opts.Out, []byte(edited), 0o644); err != nil {
		t.Fatal(err)
	}
	r.Results[0].RPS = 99
	if err := r.write(r.Opts.Out); err != nil {
		t.Fatal(err)
	}
	second, _ := os.ReadFile(r.Opts.Out)
	if !strings.Contains(string(second), notesStart+"\nThe deep page costs a probe.\n\nSee #12.\n"+notesEnd) {
		t.Errorf("notes lost:\n%s", second)
	}
	if !strings.Contains(string(second), "| graphql-20 | 1 | 99.0 |") {
		t.Error("results not rewritten")
	}
}

func TestWriteChart(t *testing.T) {
	r := testReport(t)
	if err := writeChart(r.Opts.Chart, r); err != nil {
		t.Fatal(err)
	}
	svg, err := os.ReadFile(r.Opts.Chart)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"<svg", "p50 latency (ms)", "concurrent clients", rest20, graphQL100, floor100} {
		if !strings.Contains(string(svg), want) {
			t.Errorf("chart lacks %q", want)
		}
	}
}
