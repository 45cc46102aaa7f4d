package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"time"
)

// compressionRow is one page size's answer in one encoding, at one concurrency.
type compressionRow struct {
	Scenario string
	Encoding string // what the client accepts: "identity", "gzip" or "zstd"
	Bytes    int    // of the answer on the wire
	Clients  int
	RPS      float64
	P50      time.Duration
	Errors   int64
}

// compressionEncodings are what a client's Accept-Encoding asks for in each run. The client
// reads the compressed bytes as they come (its transport's own decompression is off), so the
// runs measure the service's cost of compressing, not the client's of decompressing.
var compressionEncodings = []struct{ name, accept string }{
	{"identity", ""},
	{"gzip", "gzip"},
	{"zstd", "zstd, gzip"},
}

// measureCompression runs rest-100 and graphql-100 in each encoding at 1 and 8 clients.
func (b *bench) measureCompression(ctx context.Context, scenarios []scenario, opts options, logf func(string, ...any)) ([]compressionRow, error) {
	var rows []compressionRow
	for _, name := range []string{rest100, graphQL100} {
		var base *scenario
		for i := range scenarios {
			if scenarios[i].Name == name {
				base = &scenarios[i]
			}
		}
		if base == nil {
			return nil, fmt.Errorf("no scenario %s", name)
		}
		for _, enc := range compressionEncodings {
			t := base.Target
			t.Header = t.Header.Clone()
			if t.Header == nil {
				t.Header = http.Header{}
			}
			if enc.accept != "" {
				t.Header.Set("Accept-Encoding", enc.accept)
			}
			size, err := answerBytes(ctx, b.client, t, enc.name)
			if err != nil {
				return nil, fmt.Errorf("%s %s: %w", name, enc.name, err)
			}
			for _, clients := range []int{1, 8} {
				logf("compression: %s, %s, %d clients", name, enc.name, clients)
				_ = runLoad(ctx, b.client, t, clients, opts.Warmup)
				r := runLoad(ctx, b.client, t, clients, compressionRun(opts.Duration))
				rows = append(rows, compressionRow{Scenario: name, Encoding: enc.name, Bytes: size, Clients: clients, RPS: r.RPS(), P50: r.Percentile(50), Errors: r.Errors})
			}
		}
	}
	return rows, nil
}

// compressionRun is each run's length: half the scenarios', at least 2s — six pairs of runs
// would otherwise double the benchmark's time.
func compressionRun(d time.Duration) time.Duration { return max(d/2, 2*time.Second) }

// answerBytes is the size of t's answer on the wire, checked to be in the encoding asked for.
func answerBytes(ctx context.Context, client *http.Client, t target, encoding string) (int, error) {
	req, err := t.request(ctx)
	if err != nil {
		return 0, err
	}
	res, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		return 0, err
	}
	got := res.Header.Get("Content-Encoding")
	if got == "" {
		got = "identity"
	}
	if res.StatusCode != http.StatusOK || got != encoding {
		return 0, fmt.Errorf("status %d, Content-Encoding %q, want %q", res.StatusCode, got, encoding)
	}
	return len(body), nil
}

// renderCompression writes the report's section on compression.
func renderCompression(w io.Writer, rows []compressionRow) {
	if len(rows) == 0 {
		return
	}
	p := func(format string, args ...any) { fmt.Fprintf(w, format+"\n", args...) }
	p("## Compression")
	p("")
	p("The service compresses answers of 1 KB or more with zstd or gzip, as the client accepts")
	p("(`httpserver.Compress`, klauspost's gzhttp at its default levels). The same pages, asked for")
	p("in each encoding; the client reads the bytes as they come, so the runs show what compressing")
	p("costs the service and what it saves on the wire. Identity is what every other section measures.")
	p("")
	p("| scenario | encoding | bytes | clients | req/s | vs identity | p50 ms | errors |")
	p("|---|---|---:|---:|---:|---:|---:|---:|")
	identity := map[string]float64{}
	for _, r := range rows {
		if r.Encoding == "identity" {
			identity[fmt.Sprint(r.Scenario, r.Clients)] = r.RPS
		}
	}
	for _, r := range rows {
		ratio := ""
		if base := identity[fmt.Sprint(r.Scenario, r.Clients)]; base > 0 {
			ratio = fmt.Sprintf("%.2f×", r.RPS/base)
		}
		p("| %s | %s | %d | %d | %.0f | %s | %.2f | %d |", r.Scenario, r.Encoding, r.Bytes, r.Clients, r.RPS, ratio, ms(r.P50), r.Errors)
	}
	p("")
}
