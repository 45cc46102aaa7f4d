package main

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/partizap/vendor-inbox/bench/floor"
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

// statLine is a /proc/<pid>/stat line of the given comm, utime, stime and starttime, the rest
// as the kernel writes it.
func statLine(pid, comm string, utime, stime, start int) string {
	return fmt.Sprintf("%s (%s) S 1 2206 2206 0 -1 4194304 4527 148495 0 14 %d %d 50252 2412 20 0 1 0 %d 222543872 7645 18446744073709551615 94345023471616 94345028927961 140723561601520 0 0 0 0 24129536 84487 1 0 0 17 0 0 0 0 0 0 94345031407696 94345031625418 94345795727360 140723561602718 140723561602840 140723561602840 140723561603028 0",
		pid, comm, utime, stime, start)
}

func TestParseProcStat(t *testing.T) {
	tests := []struct {
		name, line string
		want       procStat
		err        bool
	}{
		{"postmaster", statLine("2206", "postgres", 2, 6, 4149), procStat{Comm: "postgres", Ticks: 8, Start: 4149}, false},
		{"comm with spaces and parentheses", statLine("1234", "postgres: x (y)", 250, 75, 98765), procStat{Comm: "postgres: x (y)", Ticks: 325, Start: 98765}, false},
		{"comm that is a closing parenthesis and a space", statLine("7", ") ", 1, 0, 3), procStat{Comm: ") ", Ticks: 1, Start: 3}, false},
		{"comm that looks like the fields", statLine("8", "x) S 1 2 3", 10, 20, 30), procStat{Comm: "x) S 1 2 3", Ticks: 30, Start: 30}, false},
		{"real line of cat", "14598 (cat) R 14596 14596 6717 0 -1 4194304 100 0 0 0 0 0 0 0 20 0 1 0 67522 3133440 354 18446744073709551615 94397691232256 94397691252137 140725236304400 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0 94397691268144 94397691269760 94398436950016 140725236312771 140725236312791 140725236312791 140725236314091 0",
			procStat{Comm: "cat", Ticks: 0, Start: 67522}, false},
		{"no parentheses", "1234 postgres S 1 2 3", procStat{}, true},
		{"cut before starttime", "1234 (postgres) S 1 2206 2206 0 -1 4194304 4527 148495 0 14 2 6 50252 2412 20 0 1 0", procStat{}, true},
		{"utime not a number", strings.Replace(statLine("1", "p", 2, 6, 4149), " 14 2 6 ", " 14 x 6 ", 1), procStat{}, true},
		{"empty", "", procStat{}, true},
	}
	for _, tt := range tests {
		got, err := parseProcStat(tt.line)
		if (err != nil) != tt.err || got != tt.want {
			t.Errorf("%s: parseProcStat = %+v, %v; want %+v, error %v", tt.name, got, err, tt.want, tt.err)
		}
	}
}

func TestParseMachineBusy(t *testing.T) {
	tests := []struct {
		name, stat string
		want       uint64
		err        bool
	}{
		// user 26522 + nice 0 + system 6372 + irq 0 + softirq 324; not idle, iowait, steal, guest.
		{"this machine", "cpu  26522 0 6372 23074 719 0 324 917 0 0\ncpu0 13000 0 3000 11000 300 0 100 400 0 0\nintr 1 2\n", 33218, false},
		{"guest time is in user already", "cpu  100 10 20 1000 5 1 2 3 40 4\n", 133, false},
		{"an old kernel's seven fields", "cpu  1 2 3 4 5 6 7\n", 19, false},
		{"per-core line first", "cpu0 1 2 3 4 5 6 7 8\n", 0, true},
		{"too short", "cpu  1 2 3\n", 0, true},
		{"not a number", "cpu  1 2 x 4 5 6 7 8 9 10\n", 0, true},
		{"empty", "", 0, true},
	}
	for _, tt := range tests {
		got, err := parseMachineBusy(tt.stat)
		if (err != nil) != tt.err || got != tt.want {
			t.Errorf("%s: parseMachineBusy = %d, %v; want %d, error %v", tt.name, got, err, tt.want, tt.err)
		}
	}
}

func TestIsPostgres(t *testing.T) {
	tests := []struct {
		comm, cmdline string
		want          bool
	}{
		{"postgres", "/usr/lib/postgresql/15/bin/postgres\x00-D\x00/var/lib/postgresql/15/main\x00", true},
		{"postgres", "postgres: 15/main: postgres bench 127.0.0.1(58352) idle\x00\x00\x00", true},
		{"postmaster", "/usr/lib/postgresql/15/bin/postgres\x00-D\x00/data\x00", true},
		{"bgworker", "postgres: 15/main: checkpointer \x00\x00", true},
		{"psql", "psql\x00-h\x00127.0.0.1\x00-U\x00postgres\x00", false},
		{"vendor-inbox", "/tmp/vendor-inbox\x00serve\x00", false},
		{"sh", "sh\x00-c\x00echo postgres\x00", false},
		{"kthreadd", "", false},
	}
	for _, tt := range tests {
		if got := isPostgres(tt.comm, tt.cmdline); got != tt.want {
			t.Errorf("isPostgres(%q, %q) = %v, want %v", tt.comm, tt.cmdline, got, tt.want)
		}
	}
}

func TestTagDatabaseURL(t *testing.T) {
	tests := []struct {
		in, url, name string
	}{
		{"postgres://postgres@127.0.0.1:5432/bench?sslmode=disable", "postgres://postgres@127.0.0.1:5432/bench?application_name=run-1&sslmode=disable", "run-1"},
		{"postgresql://u:p@db/bench", "postgresql://u:p@db/bench?application_name=run-1", "run-1"},
		{"postgres://u@db/bench?application_name=mine&sslmode=disable", "postgres://u@db/bench?application_name=mine&sslmode=disable", "mine"},
		{"host=127.0.0.1 dbname=bench", "host=127.0.0.1 dbname=bench application_name=run-1", "run-1"},
		{"host=127.0.0.1 application_name='mine' dbname=bench", "host=127.0.0.1 application_name='mine' dbname=bench", "mine"},
	}
	for _, tt := range tests {
		url, name, err := tagDatabaseURL(tt.in, "run-1")
		if err != nil || url != tt.url || name != tt.name {
			t.Errorf("tagDatabaseURL(%q) = %q, %q, %v; want %q, %q", tt.in, url, name, err, tt.url, tt.name)
		}
	}
	if _, _, err := tagDatabaseURL("postgres://u@db:x/bench", "run-1"); err == nil {
		t.Error("a bad URL was tagged")
	}
}

func TestOtherClients(t *testing.T) {
	rows := []pgActivity{
		{"2207", "checkpointer", ""},
		{"2211", "logical replication launcher", ""},
		{"3000", "client backend", "run-1"},             // the service's pool
		{"3001", "client backend", "run-1"},             // the floor's
		{"3002", "client backend", ""},                  // the bench's own sampler, psql
		{"3003", "client backend", "vendor-inbox-seed"}, // someone's seed
		{"3004", "autovacuum worker", ""},
		{"3005", "parallel worker", "run-1"},
	}
	got := otherClients(rows, "run-1")
	if want := map[string]bool{"3002": true, "3003": true}; !maps.Equal(got, want) {
		t.Errorf("otherClients = %v, want %v", got, want)
	}
}

func TestCPUPerRequest(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	before := cpuSample{Wall: t0, Machine: 1000, Serving: 100, LoadGen: 50, Postgres: map[procKey]uint64{
		{"10", 5}:  1000, // a pool's backend: its difference
		{"11", 5}:  70,   // a backend that exits during the run: not counted
		{"12", 6}:  400,  // its pid is reused by a process started during the run
		{"13", 7}:  20,   // idle
		{"14", 20}: 9,    // a counter that went back (cannot be): nothing, not a wrap-around
	}}
	after := cpuSample{Wall: t0.Add(2500 * time.Millisecond), Machine: 1500, Serving: 300, LoadGen: 100, Postgres: map[procKey]uint64{
		{"10", 5}:   1100,
		{"12", 900}: 25, // new: counted whole
		{"13", 7}:   20,
		{"14", 20}:  3,
		{"15", 901}: 5, // new
	}}
	u := cpuBetween(before, after, 100)
	if want := (cpuUse{Wall: 2500 * time.Millisecond, Machine: 5, Serving: 2, Postgres: 1.3, LoadGen: 0.5}); math.Abs(u.Postgres-want.Postgres) > 1e-9 || u.Wall != want.Wall || u.Machine != want.Machine || u.Serving != want.Serving || u.LoadGen != want.LoadGen {
		t.Fatalf("cpuBetween = %+v, want %+v", u, want)
	}
	tests := []struct {
		name     string
		use      cpuUse
		requests int64
		want     cpuPerRequest // NaN fields must be NaN
	}{
		{"the samples above", u, 1000, cpuPerRequest{Serving: 2, Postgres: 1.3, LoadGen: 0.5, Other: 1.2, Machine: 5, Cores: 2}},
		{"at a USER_HZ of 250", cpuBetween(before, after, 250), 400, cpuPerRequest{Serving: 2, Postgres: 1.3, LoadGen: 0.5, Other: 1.2, Machine: 5, Cores: 0.8}},
		{"other below zero by rounding", cpuUse{Wall: time.Second, Machine: 1, Serving: 0.6, Postgres: 0.3, LoadGen: 0.11}, 100, cpuPerRequest{Serving: 6, Postgres: 3, LoadGen: 1.1, Other: -0.1, Machine: 10, Cores: 1}},
		{"no wall time", cpuUse{Machine: 1, Serving: 1}, 10, cpuPerRequest{Serving: 100, Machine: 100, Cores: math.NaN()}},
		{"no requests", u, 0, noCPU()},
	}
	for _, tt := range tests {
		got := tt.use.perRequest(tt.requests)
		g := []float64{got.Serving, got.Postgres, got.LoadGen, got.Other, got.Machine, got.Cores}
		w := []float64{tt.want.Serving, tt.want.Postgres, tt.want.LoadGen, tt.want.Other, tt.want.Machine, tt.want.Cores}
		for i := range g {
			if math.IsNaN(w[i]) != math.IsNaN(g[i]) || (!math.IsNaN(w[i]) && math.Abs(g[i]-w[i]) > 1e-9) {
				t.Errorf("%s: perRequest = %+v, want %+v", tt.name, got, tt.want)
				break
			}
		}
	}
}

// TestCPUMeter measures this process as if it served: its CPU shows up as the serving
// process's and the load generator's.
func TestCPUMeter(t *testing.T) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("no /proc:", err)
	}
	m := startCPU(100, os.Getpid(), nil)
	if m.err != nil {
		t.Fatal(m.err)
	}
	start, _ := readProcStat("self")
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); {
		if st, _ := readProcStat("self"); st.Ticks >= start.Ticks+5 {
			break
		}
	}
	got, err := m.stop(10)
	if err != nil {
		t.Fatal(err)
	}
	if got.Serving < 4 || got.LoadGen < 4 || got.Machine < 4 || got.Postgres < 0 || got.Cores <= 0 {
		t.Errorf("after 50ms of CPU: %+v", got)
	}
	failing := func() (map[string]bool, error) { return nil, errors.New("connection refused") }
	if got, err := startCPU(100, os.Getpid(), failing).stop(10); err == nil || !math.IsNaN(got.Serving) {
		t.Errorf("without pg_stat_activity: %+v, %v; want no measurement", got, err)
	}
	all, err := postgresTicks(nil)
	if err != nil {
		t.Fatal(err)
	}
	skip := map[string]bool{}
	for k := range all {
		skip[k.PID] = true
	}
	if rest, err := postgresTicks(skip); err != nil || len(rest) > 1 { // one may have started since
		t.Errorf("skipping every PostgreSQL process of %v: %v, %v", all, rest, err)
	}
}

func TestRenderCPU(t *testing.T) {
	r := &report{Results: []measurement{
		{Scenario: rest20, Concurrency: 8, CPU: cpuPerRequest{Serving: 1.23456, Postgres: 0.5, LoadGen: 0.0625, Other: -0.0004, Machine: 1.79666, Cores: 1.987}},
		{Scenario: floor20, Concurrency: 1, CPU: cpuPerRequest{Serving: 0.25, Postgres: 0.75, LoadGen: 0.1, Other: 0.02, Machine: 1.12, Cores: 0.5}},
		{Scenario: nodeByID, Concurrency: 32, CPU: noCPU()},
	}}
	var b bytes.Buffer
	r.renderCPU(&b)
	want := `### CPU per request

Milliseconds of CPU time per request of each measured run, by who spent it (see the method
under Commands): the serving process, PostgreSQL, the load generator, and everything else on
the machine; "machine" is their sum, "cores busy" the machine's average load over the run.

| scenario | clients | service/floor ms | PostgreSQL ms | load generator ms | other ms | machine total ms | cores busy |
|---|---:|---:|---:|---:|---:|---:|---:|
| rest-20 | 8 | 1.235 | 0.500 | 0.062 | 0.000 | 1.797 | 1.99 |
| floor-20 | 1 | 0.250 | 0.750 | 0.100 | 0.020 | 1.120 | 0.50 |
| node | 32 | ? | ? | ? | ? | ? | ? |

`
	if b.String() != want {
		t.Errorf("renderCPU:\n%s\nwant:\n%s", b.String(), want)
	}

	b.Reset()
	r.summaryCPU(&b)
	want = `  CPU ms/request  clients  serving  postgres  loadgen  other  machine  cores
         rest-20        8    1.235     0.500    0.062  0.000    1.797   1.99
        floor-20        1    0.250     0.750    0.100  0.020    1.120   0.50
            node       32        ?         ?        ?      ?        ?      ?
`
	if b.String() != want {
		t.Errorf("summaryCPU:\n%s\nwant:\n%s", b.String(), want)
	}
}

func TestTrimPprofHeader(t *testing.T) {
	const rows = "Duration: 2.01s, Total samples = 1.60s (79.60%)\n" +
		"Showing nodes accounting for 0.40s, 25.00% of 1.60s total\n" +
		"      flat  flat%   sum%        cum   cum%\n" +
		"     0.30s 18.75% 18.75%      0.30s 18.75%  runtime/internal/syscall.Syscall6\n" +
		"     0.10s  6.25% 25.00%      0.10s  6.25%  runtime.memmove"
	for name, tt := range map[string]struct{ in, want string }{
		"header dropped": {"File: vendor-inbox\nBuild ID: 0123abcd\nType: cpu\nTime: 2026-01-02 03:04:05 UTC\n" + rows + "\n", rows},
		"no header":      {rows + "\n\n", rows},
		"no Duration":    {"File: x\nsomething else\n", "File: x\nsomething else"},
	} {
		if got := trimPprofHeader(tt.in); got != tt.want {
			t.Errorf("%s: trimPprofHeader =\n%s\nwant\n%s", name, got, tt.want)
		}
	}
}

func TestRenderProfiles(t *testing.T) {
	r := &report{
		Results: []measurement{{Scenario: rest20, Concurrency: 8, RPS: 1500}},
		Profiles: []profileTop{
			{Scenario: rest20, Clients: 8, Seconds: 8, RPS: 1450.25, Flat: "Duration: 8s\n flat row", Cum: "Duration: 8s\n cum row"},
			{Scenario: graphQL20, Clients: 8, Seconds: 8, RPS: 300, Errors: 2, Err: "GET /debug/pprof/profile: status 500:\nno"},
		},
	}
	var b bytes.Buffer
	r.renderProfiles(&b)
	want := "## Where the service's time goes\n\n" +
		"After the measured runs, one more run at 8 clients of each of rest-20 and graphql-20. During it\n" +
		"the bench takes a CPU profile of the service from its metrics address (`GET\n" +
		"/debug/pprof/profile?seconds=N` on `METRICS_ADDR`), and `go tool pprof -top -nodecount=15`\n" +
		"with the server binary renders its top: first by flat time (spent in the function itself),\n" +
		"then by cumulative time (in it and in what it calls: `-cum`), leaving out the frames every\n" +
		"request passes whole, net/http's server and the service's middleware (`-hide`, below).\n" +
		"Profiling costs the service a little; the load's throughput during the profile is given\n" +
		"beside the measured run's.\n\n" +
		"The cumulative top's `-hide`: `" + profileHide + "`\n\n" +
		"### rest-20 at 8 clients\n\n" +
		"Profiled for 8 s under 1450.2 req/s (the measured run: 1500.0 req/s), 0 errors.\n\n" +
		"```\nDuration: 8s\n flat row\n```\n\n" +
		"By cumulative time:\n\n" +
		"```\nDuration: 8s\n cum row\n```\n\n" +
		"### graphql-20 at 8 clients\n\n" +
		"Profiled for 8 s under 300.0 req/s, 2 errors.\n\n" +
		"No profile: GET /debug/pprof/profile: status 500: no\n\n"
	if b.String() != want {
		t.Errorf("renderProfiles:\n%s\nwant:\n%s", b.String(), want)
	}
	b.Reset()
	(&report{}).renderProfiles(&b)
	if b.Len() != 0 {
		t.Errorf("without profiles: %q", b.String())
	}
}

// TestProfileHide: the cumulative top leaves out the layers every request passes whole, and
// keeps the service's own work.
func TestProfileHide(t *testing.T) {
	hide := regexp.MustCompile(profileHide)
	for name, want := range map[string]bool{
		"net/http.(*conn).serve":         true,
		"net/http.HandlerFunc.ServeHTTP": true,
		"github.com/partizap/vendor-inbox/httpserver.(*Server).Handler.requestID.func5":                                true,
		"github.com/partizap/vendor-inbox/httpserver.(*Server).WithViewer.(*Server).WithViewer.Middleware.func2.func3": true,
		"github.com/partizap/vendor-inbox/httpserver.(*Server).GraphQL.(*Server).graphQLRequests.func4":                true,
		"main.(*app).server.NoStore.func1":                                   true,
		"github.com/partizap/vendor-inbox/rest.(*Handler).ServeHTTP":         false,
		"github.com/partizap/vendor-inbox/rest.(*Handler).conversations":     false,
		"github.com/partizap/vendor-inbox/httpserver.(*deadlineGuard).Write": false,
		"github.com/99designs/gqlgen/graphql/handler.(*Server).ServeHTTP":    false,
		"gorm.io/gorm.(*DB).scanIntoStruct":                                  false,
		"encoding/json.appendCompact":                                        false,
	} {
		if got := hide.MatchString(name); got != want {
			t.Errorf("-hide matches %s: %v, want %v", name, got, want)
		}
	}
}

func TestProfileSeconds(t *testing.T) {
	for d, want := range map[time.Duration]int{0: 1, 400 * time.Millisecond: 1, 2 * time.Second: 2, 8 * time.Second: 8, 2500 * time.Millisecond: 3, time.Hour: maxProfileSeconds} {
		if got := profileSeconds(d); got != want {
			t.Errorf("profileSeconds(%v) = %d, want %d", d, got, want)
		}
	}
}

// TestReportHasCPUAndProfiles: the whole report says how CPU is measured, and carries the CPU
// table and the profile tops after the results.
func TestReportHasCPUAndProfiles(t *testing.T) {
	r := testReport(t)
	r.Profiles = []profileTop{{Scenario: rest20, Clients: 8, Seconds: 1, RPS: 90, Flat: "Duration: 1s", Cum: "Duration: 1s"}}
	var b bytes.Buffer
	r.render(&b, notesPlaceholder)
	out := b.String()
	last := 0
	for _, want := range []string{"`METRICS_ADDR` a loopback port of its own", "- CPU per request: around each measured run", "## Results",
		"### CPU per request", "| rest-20 | 8 | 0.000 | 0.000 | 0.000 | 0.000 | 0.000 | 0.00 |", "## Where the service's time goes", "## Targets"} {
		i := strings.Index(out, want)
		if i < last {
			t.Fatalf("report lacks %q after offset %d:\n%s", want, last, out)
		}
		last = i
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
	for _, s := range []struct {
		name      string
		baselines []string
	}{
		{graphQL20, floors20}, {graphQL100, floors100}, {rest20, floors20}, {rest100, floors100},
		{restDeep, floorsDeep}, {nodeByID, nil}, {floor20, nil}, {floor100, nil}, {floorDeep, nil},
		{floorRows20, nil}, {floorRows100, nil}, {floorRowsDeep, nil},
	} {
		r.Scenarios = append(r.Scenarios, scenario{Name: s.name, Request: "GET /" + s.name, Baselines: s.baselines, Floor: strings.HasPrefix(s.name, "floor")})
		for _, c := range r.Opts.Concurrency {
			m := measurement{Scenario: s.name, Concurrency: c, Completed: 100, RPS: 100, P50: 10 * time.Millisecond,
				P95: 20 * time.Millisecond, P99: 30 * time.Millisecond, Statements: 7, PeakRSSMiB: 40}
			switch s.name {
			case floor20, floor100, floorDeep:
				m.RPS, m.Statements = 120, 1 // the service at 0.83×: every throughput goal met
			case floorRows20, floorRowsDeep:
				m.RPS, m.Statements = 110, 1 // slower than the json form: not the floor
			case floorRows100:
				m.RPS, m.Statements = 125, 1 // faster: the floor of the pages of 100, at 0.80×
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
	// Each page is compared with the faster form of the floor.
	for i, want := range []string{
		"rest-20: 100.0 req/s = 0.83× floor-20's 120.0 req/s (goal 0.8×) — MET",
		"graphql-20: 100.0 req/s = 0.83× floor-20's 120.0 req/s (goal 0.5×) — MET",
		"rest-100: 100.0 req/s = 0.80× floor-rows-100's 125.0 req/s (goal 0.7×) — MET",
		"graphql-100: 100.0 req/s = 0.80× floor-rows-100's 125.0 req/s (goal 0.4×) — MET",
	} {
		if got[0].Detail[i] != want {
			t.Errorf("throughput detail %d = %q, want %q", i, got[0].Detail[i], want)
		}
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
	for _, want := range []string{notesStart + "\n" + notesPlaceholder + "\n" + notesEnd, "| rest-20 | 8 | 100.0 | 10.00 | 20.00 | 30.00 | 0 | 7.00 | 40.0 | 0.83× json |",
		"| rest-100 | 8 | 100.0 | 10.00 | 20.00 | 30.00 | 0 | 7.00 | 40.0 | 0.80× rows |",
		"| node | 1 |", "| ? | 40.0 | — |", "![p50 latency by concurrency](bench/latency.svg)", "go run ./bench -duration 1s", "**MISSED** (c)",
		"## The floor's plans", "```\nResult (actual time=1.890..1.894 rows=1 loops=1)\n  Buffers: shared hit=583\n```"} {
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
	// Well-formed XML, with a line per scenario measured.
	dec := xml.NewDecoder(bytes.NewReader(svg))
	lines := 0
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("not XML: %v", err)
		}
		if el, ok := tok.(xml.StartElement); ok && el.Name.Local == "polyline" {
			lines++
		}
	}
	if lines == 0 {
		t.Error("no line drawn")
	}
}

func TestNiceStep(t *testing.T) {
	for raw, want := range map[float64]float64{0: 1, 0.3: 0.5, 1: 1, 1.2: 2, 3: 5, 7: 10, 12: 20, 450: 500} {
		if got := niceStep(raw); math.Abs(got-want) > 1e-9 {
			t.Errorf("niceStep(%v) = %v, want %v", raw, got, want)
		}
	}
}

func TestRatioText(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		ratio, goal float64
		want        string
	}{
		{0.68, 0.8, "0.68"},
		{1.152, 0.7, "1.15"},
		{0.397, 0.4, "0.397"}, // two decimals would read 0.40: met
		{0.7996, 0.8, "0.7996"},
		{0.4004, 0.4, "0.40"},
		{0.5, 0.5, "0.50"},
	} {
		if got := ratioText(tt.ratio, tt.goal); got != tt.want {
			t.Errorf("ratioText(%g, %g) = %q, want %q", tt.ratio, tt.goal, got, tt.want)
		}
	}
}

// TestStatementNames: the plans table names each form of the floor's statement apart, and the
// service's inbox statement (a UNION ALL too) apart from them.
func TestStatementNames(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		form floor.Form
		want string
	}{{floor.JSON, floorStatement}, {floor.Rows, floorRowsStatement}} {
		sql, _ := floor.New(nil, nil, tt.form).FirstPage("session", 20)
		if got := statementName(sql, 0); got != tt.want {
			t.Errorf("form %d is named %q, want %q", tt.form, got, tt.want)
		}
	}
	inbox := "WITH page AS (SELECT conversations.id FROM conversations LIMIT 21) SELECT page.n, 0 AS part FROM page WHERE 1 = 0 UNION ALL SELECT page.n, 1 FROM page ORDER BY n, part"
	if got := statementName(inbox, 0); got != inboxStatement {
		t.Errorf("the inbox's statement is named %q, want %q", got, inboxStatement)
	}
}
