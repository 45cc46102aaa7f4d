package main

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// machine is what the numbers were measured on.
type machine struct {
	Cores    int
	CPU      string
	MemGiB   float64
	Go       string
	Postgres string
}

func describeMachine(postgres string) machine {
	m := machine{Cores: runtime.NumCPU(), CPU: "unknown", Go: runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH, Postgres: postgres}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.SplitSeq(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPU = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for line := range strings.SplitSeq(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "MemTotal:"); ok {
				kb, _ := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 64)
				m.MemGiB = kb / (1 << 20)
			}
		}
	}
	return m
}

// loadAverage is the 1-minute load average from /proc/loadavg, or "unknown".
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if f := strings.Fields(string(b)); err == nil && len(f) > 0 {
		return f[0]
	}
	return "unknown"
}

// report is everything one run found, and writes BENCHMARKS.md.
type report struct {
	Opts      options
	Machine   machine
	Data      dataset
	Scenarios []scenario
	Results   []measurement
	HWM       map[string]float64 // peak RSS of each process over the whole run, MiB
	Profiles  []profileTop       // CPU profile tops of the service (profile.go)
	Env       []string           // service variables inherited from the environment
	When      time.Time
	FloorPlan string // EXPLAIN (ANALYZE, BUFFERS) of the floor's first page of 20
	// FloorRowsPlan is the same for the floor's rows form.
	FloorRowsPlan string
	Plans         []statementPlan

	Seed *seedComparison // the seed against the SQL-only load; nil unless -seed-compare
	Live *liveResult     // the live updates (live.go); nil unless -live

	Compression []compressionRow // compression.go
}

func (r *report) find(name string, clients int) *measurement {
	for i := range r.Results {
		if m := &r.Results[i]; m.Scenario == name && m.Concurrency == clients {
			return m
		}
	}
	return nil
}

func (r *report) scenario(name string) *scenario {
	for i := range r.Scenarios {
		if r.Scenarios[i].Name == name {
			return &r.Scenarios[i]
		}
	}
	return nil
}

// floor is the fastest of floors at concurrency c (nil when none was measured): the floor is
// the least work for the answer, whichever of its forms does it.
func (r *report) floor(floors []string, c int) *measurement {
	var best *measurement
	for _, name := range floors {
		if f := r.find(name, c); f != nil && (best == nil || f.RPS > best.RPS) {
			best = f
		}
	}
	return best
}

// vsFloor is a measurement's throughput over its floor's at the same concurrency.
func (r *report) vsFloor(m measurement) string {
	s := r.scenario(m.Scenario)
	if s == nil || len(s.Baselines) == 0 {
		return "—"
	}
	f := r.floor(s.Baselines, m.Concurrency)
	if f == nil || f.RPS == 0 {
		return "—"
	}
	form := "json"
	if strings.HasPrefix(f.Scenario, "floor-rows-") {
		form = "rows"
	}
	return fmt.Sprintf("%.2f× %s", m.RPS/f.RPS, form)
}

func statements(v float64) string {
	if math.IsNaN(v) {
		return "?"
	}
	return fmt.Sprintf("%.2f", v)
}

// The notes markers delimit the one part of BENCHMARKS.md a person writes: a run keeps what is
// between them and rewrites everything else.
const (
	notesStart       = "<!-- notes -->"
	notesEnd         = "<!-- /notes -->"
	notesPlaceholder = "(analysis: see the closing note of the issue)"
)

// previousNotes returns the notes of an earlier report, or the placeholder.
func previousNotes(old string) string {
	_, rest, ok := strings.Cut(old, notesStart)
	if !ok {
		return notesPlaceholder
	}
	notes, _, ok := strings.Cut(rest, notesEnd)
	if !ok || strings.TrimSpace(notes) == "" {
		return notesPlaceholder
	}
	return strings.Trim(notes, "\n")
}

// shellQuote quotes an argument for sh when it needs it.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_./:=,@+-") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func (r *report) commands() (makeLine, goLine string) {
	var args []string
	for _, a := range r.Opts.Args {
		args = append(args, shellQuote(a))
	}
	goLine = strings.TrimSpace("go run ./bench " + strings.Join(args, " "))
	makeLine = "make bench"
	if len(args) > 0 {
		makeLine += ` BENCH_ARGS="` + strings.ReplaceAll(strings.Join(args, " "), `"`, `\"`) + `"`
	}
	return makeLine, goLine
}

// write renders the report to path, keeping the notes of the report already there.
func (r *report) write(path string) error {
	old, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		return err
	}
	var b strings.Builder
	r.render(&b, previousNotes(string(old)))
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, []byte(b.String()), 0o644)
}

func (r *report) render(w io.Writer, notes string) {
	p := func(format string, a ...any) { fmt.Fprintf(w, format+"\n", a...) }
	o, m, d := r.Opts, r.Machine, r.Data
	makeLine, goLine := r.commands()

	p("# Benchmarks")
	p("")
	p("_Generated by `make bench` on %s (the exact command is under Commands). Every run rewrites", r.When.Format("2006-01-02 15:04 MST"))
	p("the whole file except the text between the notes markers at the end: edit only there._")
	p("")
	p("The service (built from this repository, on PostgreSQL) against the **floor**: `bench/floor`, one")
	p("hand-written statement per request, byte for byte the service's answer (checked before")
	p("measuring): the fewest round trips this page can take. It comes in two forms, measured side by")
	p("side: **json**, whose statement builds the page's JSON text inside PostgreSQL (floor-20,")
	p("floor-100, floor-deep), and **rows**, whose statement returns the page's rows, each nested part")
	p("(images, participants) as rows of its own, the text written by Go (floor-rows-…). Which one is")
	p("less work depends on the page: PostgreSQL builds JSON at several µs an object, Go decodes rows")
	p("at a cost of its own. \"vs floor\" is the service's throughput as a multiple of the faster form's")
	p("at the same concurrency, named beside it.")
	p("")
	p("## Machine")
	p("")
	p("| | |")
	p("|---|---|")
	p("| CPU | %s, %d cores (nproc) |", m.CPU, m.Cores)
	p("| memory | %.1f GiB |", m.MemGiB)
	p("| Go | %s |", m.Go)
	p("| PostgreSQL | %s |", m.Postgres)
	p("| load average (1 min) before the run | %s |", o.LoadAvg)
	p("")
	p("The load generator, the service or the floor, and PostgreSQL share these cores, so a number")
	p("here is what the whole stack does on this machine, not what the service alone could. A load")
	p("average well above 0 before the run means other work shared the machine: every number is noisier.")
	p("")
	p("## Dataset")
	p("")
	p("Database `%s`:", d.Database)
	p("")
	p("| users | conversations | messages | busiest vendor | its conversations |")
	p("|---:|---:|---:|---:|---:|")
	p("| %d | %d | %d | %d | %d |", d.Users, d.Conversations, d.Messages, d.BusiestVendorID, d.BusiestConversations)
	p("")
	if d.SeedLine != "" {
		p("Seeded by this run; the seed's summary:")
		p("")
		p("```json")
		p("%s", d.SeedLine)
		p("```")
	} else {
		p("The database was seeded before this run and used as it was; the counts are read from it.")
	}
	p("")
	p("Every request is the busiest vendor's (a session from `vendor-inbox session --user %d`).", d.BusiestVendorID)
	p("")
	r.renderSeed(p)
	p("## Commands")
	p("")
	p("```sh")
	p("%s", makeLine)
	p("%s   # the same", goLine)
	p("```")
	p("")
	p("- concurrency %s; each run %s, in %d slices of %s that take turns with the other scenarios' at the", joinInts(o.Concurrency), o.Duration, measureSlices, o.Duration/measureSlices)
	p("  same concurrency (so that the machine's drift over minutes falls on the service and the floor")
	p("  alike), after an unmeasured warm-up of %s (%s before each later slice)", o.Warmup, min(o.Warmup, sliceWarmup))
	p("- the deep page is page %d of 20 (its cursor found by paging from the first)", o.DeepPage)
	p("- the service: `DEMO=false`, a fixed `CURSOR_SECRET`, `METRICS_ADDR` a loopback port of its own")
	p("  (where the bench reads `/metrics` and the profiles), `SEND_RATE_LIMIT=%d` (so that the send", benchSendRateLimit)
	p("  scenario measures sending, not the limit), `SESSION_CACHE_TTL=%s` (each run's session is looked up", benchSessionCacheTTL)
	p("  once, so that statements per request are a page's own; at the default 5s a lookup comes back")
	p("  every 5 seconds, one statement in thousands of requests), every other setting %s", envNote(r.Env))
	p("- live updates are on in the service (`LIVE_UPDATES` at its default unless listed above): every")
	p("  send records its change in the outbox, which the instance's notifier announces; the section")
	p("  Live updates measures what that costs")
	p("- send writes one message per request as another vendor, in their newest conversation: away")
	p("  from the busiest vendor's inbox, which every other scenario reads; the messages stay")
	p("- the floor: a process of its own (`bench floor`), a pgx pool of 20 connections like the service's")
	p("- load: a closed loop in Go, one client per concurrent user, each sending its next request when")
	p("  the previous answer has been read whole; keep-alive connections; an answer is an error unless")
	p("  its status is 200 and, for GraphQL, it has no `errors`")
	p("- statements/request: the service's `bff_db_queries_total` over the run divided by the")
	p("  requests (the floor: 1, by construction); peak RSS: the serving process's `VmRSS`, sampled")
	p("  every 100ms during the measured run")
	cpuMethod(w)
	p("")
	p("## Scenarios")
	p("")
	p("| scenario | request |")
	p("|---|---|")
	for _, s := range r.Scenarios {
		p("| %s | %s |", s.Name, strings.ReplaceAll(s.Request, "|", `\|`))
	}
	p("")
	p("## Results")
	p("")
	p("| scenario | clients | req/s | p50 ms | p95 ms | p99 ms | errors | statements/request | peak RSS MiB | vs floor |")
	p("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
	for _, x := range r.Results {
		p("| %s | %d | %.1f | %.2f | %.2f | %.2f | %d | %s | %.1f | %s |", x.Scenario, x.Concurrency, x.RPS,
			ms(x.P50), ms(x.P95), ms(x.P99), x.Errors, statements(x.Statements), x.PeakRSSMiB, r.vsFloor(x))
	}
	p("")
	p("Peak resident memory over the whole run (`VmHWM`): service %.1f MiB, floor %.1f MiB.", r.HWM["server"], r.HWM["floor"])
	if errs := r.errorLines(); len(errs) > 0 {
		p("")
		p("Errors (the first of each run):")
		p("")
		for _, e := range errs {
			p("- %s", e)
		}
	}
	p("")
	chart, err := filepath.Rel(filepath.Dir(r.Opts.Out), r.Opts.Chart)
	if err != nil {
		chart = r.Opts.Chart
	}
	p("![p50 latency by concurrency](%s)", filepath.ToSlash(chart))
	p("")
	r.renderCPU(w)
	r.renderProfiles(w)
	if r.FloorPlan != "" {
		p("## The floor's plans")
		p("")
		p("`EXPLAIN (ANALYZE, BUFFERS)` of the floor's statement for the first page of 20 of the busiest")
		p("vendor (the second of two runs), in each form. The seller's id is a parameter of the inbox")
		p("index scan, which stops after the page; the page is materialized once; each nested part")
		p("(product, images, seller, participants, last message, unread count) is one index probe per")
		p("row. The top line's `Buffers` is the pages the whole answer touched.")
		p("")
		p("The json form:")
		p("")
		p("```")
		p("%s", strings.TrimRight(r.FloorPlan, "\n"))
		p("```")
		p("")
		if r.FloorRowsPlan != "" {
			p("The rows form:")
			p("")
			p("```")
			p("%s", strings.TrimRight(r.FloorRowsPlan, "\n"))
			p("```")
			p("")
		}
	}
	renderPlans(w, r.Plans)
	renderCompression(w, r.Compression)
	renderLive(w, r.Live, goLine)
	p("## Targets")
	p("")
	for _, t := range r.targets() {
		p("- **%s** %s", t.Status, t.Name)
		for _, line := range t.Detail {
			p("  - %s", line)
		}
	}
	p("")
	p("## Notes")
	p("")
	p("%s", notesStart)
	p("%s", notes)
	p("%s", notesEnd)
}

func (r *report) errorLines() []string {
	var out []string
	for _, m := range r.Results {
		if m.Errors > 0 {
			out = append(out, fmt.Sprintf("%s at %d clients: %d errors; %s", m.Scenario, m.Concurrency, m.Errors,
				strings.ReplaceAll(m.FirstError, "\n", " ")))
		}
	}
	return out
}

func envNote(env []string) string {
	if len(env) == 0 {
		return "at its default"
	}
	return "at its default except `" + strings.Join(env, "`, `") + "` (from the environment)"
}

func joinInts(v []int) string {
	s := make([]string, len(v))
	for i, n := range v {
		s[i] = strconv.Itoa(n)
	}
	return strings.Join(s, ", ")
}

// targetResult is a target's verdict on this run.
type targetResult struct {
	Name   string
	Status string // MET, MISSED, or NOT MEASURED when the run lacks what it needs
	Detail []string
}

const (
	met         = "MET"
	missed      = "MISSED"
	notMeasured = "NOT MEASURED"
)

// targets judges the run against the service's performance targets. A run with errors never
// meets a target: failing fast can look like serving fast.
func (r *report) targets() []targetResult {
	return append([]targetResult{r.targetThroughput(), r.targetDeepPage(), r.targetStatements(), r.targetUnread()}, liveTargets(r.Live)...)
}

// (d) issue 14: the unread filter's first page costs at most 1.5× the plain first page.
func (r *report) targetUnread() targetResult {
	return r.p50Within("(d)", unread20, graphQL20, 1.5)
}

// p50Within is the target that scenario's p50 is at most factor times base's, at concurrency 1
// and 8.
func (r *report) p50Within(label, scenario, base string, factor float64) targetResult {
	t := targetResult{Name: fmt.Sprintf("%s %s p50 ≤ %g × %s p50, at concurrency 1 and 8", label, scenario, factor, base)}
	ok, measured := true, 0
	for _, c := range []int{1, 8} {
		m, b := r.find(scenario, c), r.find(base, c)
		if m == nil || b == nil {
			t.Detail = append(t.Detail, fmt.Sprintf("concurrency %d: not measured", c))
			ok = false
			continue
		}
		measured++
		limit := factor * ms(b.P50)
		pass := m.Errors == 0 && b.Errors == 0 && ms(m.P50) <= limit
		ok = ok && pass
		t.Detail = append(t.Detail, fmt.Sprintf("concurrency %d: %s p50 %.2f ms vs %g × %.2f ms = %.2f ms (%.2f×) — %s%s",
			c, scenario, ms(m.P50), factor, ms(b.P50), limit, ms(m.P50)/ms(b.P50), verdict(pass), errNote(m, b)))
	}
	if measured == 0 {
		t.Status = notMeasured
	} else {
		t.Status = verdict(ok)
	}
	return t
}

func verdict(ok bool) string {
	if ok {
		return met
	}
	return missed
}

// (a) at 8 clients, full depth, the service reaches these multiples of the floor's throughput.
func (r *report) targetThroughput() targetResult {
	t := targetResult{Name: "(a) at concurrency 8: REST ≥ 0.8× and GraphQL ≥ 0.5× the floor for pages of 20; REST ≥ 0.7× and GraphQL ≥ 0.4× for pages of 100"}
	if r.floor(floors20, 8) == nil {
		t.Status, t.Detail = notMeasured, []string{"needs concurrency 8 in -concurrency"}
		return t
	}
	ok := true
	for _, goal := range []struct {
		name   string
		floors []string
		ratio  float64
	}{
		{rest20, floors20, 0.8}, {graphQL20, floors20, 0.5}, {rest100, floors100, 0.7}, {graphQL100, floors100, 0.4},
	} {
		m, f := r.find(goal.name, 8), r.floor(goal.floors, 8)
		if m == nil || f == nil {
			ok = false
			t.Detail = append(t.Detail, goal.name+": not measured (needs concurrency 8)")
			continue
		}
		ratio := m.RPS / f.RPS
		pass := m.Errors == 0 && f.Errors == 0 && f.RPS > 0 && ratio >= goal.ratio
		ok = ok && pass
		t.Detail = append(t.Detail, fmt.Sprintf("%s: %.1f req/s = %s× %s's %.1f req/s (goal %.1f×) — %s%s",
			goal.name, m.RPS, ratioText(ratio, goal.ratio), f.Scenario, f.RPS, goal.ratio, verdict(pass), errNote(m, f)))
	}
	t.Status = verdict(ok)
	return t
}

// ratioText is ratio with two decimals, or as many more as it takes not to round it across
// goal (0.397 is not 0.40 when the goal is 0.4).
func ratioText(ratio, goal float64) string {
	for digits := 2; ; digits++ {
		text := strconv.FormatFloat(ratio, 'f', digits, 64)
		if rounded, _ := strconv.ParseFloat(text, 64); (rounded >= goal) == (ratio >= goal) || digits == 6 {
			return text
		}
	}
}

// (b) the 500th page costs about what the first does: keyset paging, not OFFSET.
func (r *report) targetDeepPage() targetResult {
	return r.p50Within("(b)", restDeep, rest20, 1.1)
}

// (c) a page costs a fixed number of statements, whatever its size or position.
func (r *report) targetStatements() targetResult {
	t := targetResult{Name: "(c) statements per request identical for graphql-20/graphql-100 and for rest-20/rest-100/rest-deep"}
	ok := true
	for _, group := range [][]string{{graphQL20, graphQL100}, {rest20, rest100, restDeep}} {
		values := map[string]bool{}
		var parts []string
		hadErrors := false
		for _, name := range group {
			var per []string
			for _, c := range r.Opts.Concurrency {
				if m := r.find(name, c); m != nil {
					v := statements(m.Statements)
					values[v] = true
					per = append(per, v)
					hadErrors = hadErrors || m.Errors > 0
				}
			}
			parts = append(parts, fmt.Sprintf("%s %s", name, strings.Join(slices.Compact(per), "/")))
		}
		pass := len(values) == 1 && !values["?"] && !hadErrors
		ok = ok && pass
		note := ""
		if hadErrors {
			note = " (runs with errors)"
		}
		t.Detail = append(t.Detail, fmt.Sprintf("%s — %s%s", strings.Join(parts, ", "), verdict(pass), note))
	}
	t.Status = verdict(ok)
	return t
}

func errNote(runs ...*measurement) string {
	for _, m := range runs {
		if m.Errors > 0 {
			return fmt.Sprintf(" (%s had %d errors)", m.Scenario, m.Errors)
		}
	}
	return ""
}

// summary prints the results as a compact table, and the targets.
func (r *report) summary(w io.Writer) {
	bw := bufio.NewWriter(w)
	defer bw.Flush()
	tw := tabwriter.NewWriter(bw, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "scenario\tclients\treq/s\tp50 ms\tp95 ms\tp99 ms\terrors\tstmts/req\tRSS MiB\tvs floor\t")
	for _, x := range r.Results {
		fmt.Fprintf(tw, "%s\t%d\t%.1f\t%.2f\t%.2f\t%.2f\t%d\t%s\t%.0f\t%s\t\n", x.Scenario, x.Concurrency, x.RPS,
			ms(x.P50), ms(x.P95), ms(x.P99), x.Errors, statements(x.Statements), x.PeakRSSMiB, r.vsFloor(x))
	}
	tw.Flush()
	fmt.Fprintf(bw, "peak RSS over the run (VmHWM): service %.1f MiB, floor %.1f MiB\n", r.HWM["server"], r.HWM["floor"])
	r.summaryCPU(bw)
	liveSummary(bw, r.Live)
	for _, t := range r.targets() {
		fmt.Fprintf(bw, "%s %s\n", t.Status, t.Name)
		for _, line := range t.Detail {
			fmt.Fprintf(bw, "    %s\n", line)
		}
	}
}
