package main

import (
	"context"
	"fmt"
	"io"
	"math"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5"
)

// CPU per request: around each measured run the bench reads the CPU time of the serving
// process, of PostgreSQL's processes but other clients' backends, of itself (the load
// generator) and of the whole machine from /proc, and divides each difference by the requests
// of the run.

// clockTicks is the unit of the CPU times in /proc (USER_HZ, `getconf CLK_TCK`): 100 on every
// Linux this runs on, asked anyway.
func clockTicks(ctx context.Context) float64 {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "getconf", "CLK_TCK").Output()
	if err != nil {
		return 100
	}
	if hz, err := strconv.ParseFloat(strings.TrimSpace(string(out)), 64); err == nil && hz > 0 {
		return hz
	}
	return 100
}

// procStat is what the bench reads of /proc/<pid>/stat.
type procStat struct {
	Comm  string
	Ticks uint64 // utime + stime: CPU time of all the process's threads, in clock ticks
	Start uint64 // starttime, in clock ticks after boot: with the pid, it names one process
}

// parseProcStat parses a /proc/<pid>/stat line. Its second field, the command name, is in
// parentheses and may itself hold spaces and parentheses; it ends at the line's last ')'.
func parseProcStat(line string) (procStat, error) {
	open, end := strings.IndexByte(line, '('), strings.LastIndexByte(line, ')')
	if open < 0 || end < open {
		return procStat{}, fmt.Errorf("no (comm) in %q", clip([]byte(line)))
	}
	// After the comm come the fields from the third (state) on: utime is the 14th, stime the
	// 15th, starttime the 22nd (proc(5)).
	f := strings.Fields(line[end+1:])
	const utime, stime, starttime = 14 - 3, 15 - 3, 22 - 3
	if len(f) <= starttime {
		return procStat{}, fmt.Errorf("%d fields after the comm in %q, want more than %d", len(f), clip([]byte(line)), starttime)
	}
	var v [3]uint64
	for i, n := range []int{utime, stime, starttime} {
		var err error
		if v[i], err = strconv.ParseUint(f[n], 10, 64); err != nil {
			return procStat{}, fmt.Errorf("field %d of %q: %w", n+3, clip([]byte(line)), err)
		}
	}
	return procStat{Comm: line[open+1 : end], Ticks: v[0] + v[1], Start: v[2]}, nil
}

func readProcStat(pid string) (procStat, error) {
	b, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return procStat{}, err
	}
	return parseProcStat(strings.TrimSpace(string(b)))
}

// parseMachineBusy returns the busy clock ticks of all cores from /proc/stat: the first line,
// "cpu user nice system idle iowait irq softirq steal guest guest_nice", less idle and iowait.
// Steal is time the hypervisor gave to another guest, not work of this machine, so it is left
// out too; guest and guest_nice are already part of user and nice.
func parseMachineBusy(stat string) (uint64, error) {
	line, _, _ := strings.Cut(stat, "\n")
	f := strings.Fields(line)
	if len(f) < 8 || f[0] != "cpu" {
		return 0, fmt.Errorf("/proc/stat starts %q, not the cpu line", clip([]byte(line)))
	}
	var busy uint64
	for i, name := range []string{"user", "nice", "system", "idle", "iowait", "irq", "softirq"} {
		v, err := strconv.ParseUint(f[i+1], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("/proc/stat %s: %w", name, err)
		}
		if name != "idle" && name != "iowait" {
			busy += v
		}
	}
	return busy, nil
}

// isPostgres says whether a process is PostgreSQL's: the postmaster or one of its children
// (backends, checkpointer, walwriter, autovacuum, …), by its name or its command line, which
// PostgreSQL rewrites to "postgres: <cluster>: <what it does>".
func isPostgres(comm, cmdline string) bool {
	if comm == "postgres" {
		return true
	}
	argv0, _, _ := strings.Cut(cmdline, "\x00")
	return filepath.Base(argv0) == "postgres" || strings.HasPrefix(argv0, "postgres:")
}

// procKey names a process across two samples: a pid can be reused, its start time with it not.
type procKey struct {
	PID   string
	Start uint64
}

// postgresTicks reads the CPU time of every PostgreSQL process now running but those in skip.
func postgresTicks(skip map[string]bool) (map[procKey]uint64, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, err
	}
	out := map[procKey]uint64{}
	for _, e := range entries {
		pid := e.Name()
		if pid == "" || strings.Trim(pid, "0123456789") != "" || skip[pid] {
			continue
		}
		st, err := readProcStat(pid)
		if err != nil {
			continue // gone since the listing
		}
		if st.Comm != "postgres" {
			cmdline, err := os.ReadFile("/proc/" + pid + "/cmdline")
			if err != nil || !isPostgres(st.Comm, string(cmdline)) {
				continue
			}
		}
		out[procKey{pid, st.Start}] = st.Ticks
	}
	return out, nil
}

// The service's and the floor's connections carry an application_name of this run, so that
// their PostgreSQL backends can be told from other clients' (another engineer's seed or bench
// on the same server): a client backend of any other application counts as the rest of the
// machine. The server's own processes (postmaster, checkpointer, walwriter, autovacuum, parallel
// workers) count as PostgreSQL.

// runApplicationName is the application_name of this run's connections.
func runApplicationName() string { return "vendor-inbox-bench-" + strconv.Itoa(os.Getpid()) }

// tagDatabaseURL returns databaseURL with application_name set to name, and the name its
// connections will have: the URL's own, when it sets one.
func tagDatabaseURL(databaseURL, name string) (string, string, error) {
	if !strings.HasPrefix(databaseURL, "postgres://") && !strings.HasPrefix(databaseURL, "postgresql://") {
		// The keyword/value form: host=… dbname=…
		for _, kv := range strings.Fields(databaseURL) {
			if v, ok := strings.CutPrefix(kv, "application_name="); ok {
				return databaseURL, strings.Trim(v, "'"), nil
			}
		}
		return strings.TrimSpace(databaseURL + " application_name=" + name), name, nil
	}
	u, err := url.Parse(databaseURL)
	if err != nil {
		return "", "", fmt.Errorf("-database-url: %w", err)
	}
	q := u.Query()
	if v := q.Get("application_name"); v != "" {
		return databaseURL, v, nil
	}
	q.Set("application_name", name)
	u.RawQuery = q.Encode()
	return u.String(), name, nil
}

// pgActivity is a row of pg_stat_activity.
type pgActivity struct {
	PID             string
	BackendType     string
	ApplicationName string
}

// otherClients are the pids of the client backends whose application is not application.
func otherClients(rows []pgActivity, application string) map[string]bool {
	out := map[string]bool{}
	for _, r := range rows {
		if r.BackendType == "client backend" && r.ApplicationName != application {
			out[r.PID] = true
		}
	}
	return out
}

// otherClientsOf returns the lookup of the other clients' backends over conn.
func otherClientsOf(conn *pgx.Conn, application string) func() (map[string]bool, error) {
	return func() (map[string]bool, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		rows, err := conn.Query(ctx, "SELECT pid::text, coalesce(backend_type, ''), coalesce(application_name, '') FROM pg_stat_activity")
		if err != nil {
			return nil, err
		}
		activity, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (pgActivity, error) {
			var a pgActivity
			err := row.Scan(&a.PID, &a.BackendType, &a.ApplicationName)
			return a, err
		})
		if err != nil {
			return nil, err
		}
		return otherClients(activity, application), nil
	}
}

// cpuSample is the CPU time, in clock ticks, each part had used at one moment.
type cpuSample struct {
	Wall     time.Time
	Machine  uint64             // busy time of all cores
	Serving  uint64             // the service or the floor, whichever serves the scenario
	Postgres map[procKey]uint64 // every PostgreSQL process
	LoadGen  uint64             // this process
}

// sampleCPU reads every part's CPU time: before a run the machine first and the bench itself
// last, after it in the reverse order, so that the machine's window holds the others' and the
// bench's own window leaves out its reading of /proc. The PostgreSQL processes that others
// says are other clients' backends are left to the rest of the machine; others may be nil.
func sampleCPU(serving int, after bool, others func() (map[string]bool, error)) (cpuSample, error) {
	s := cpuSample{Wall: time.Now()}
	steps := []func() error{
		func() error {
			b, err := os.ReadFile("/proc/stat")
			if err == nil {
				s.Machine, err = parseMachineBusy(string(b))
			}
			return err
		},
		func() error {
			var skip map[string]bool
			if others != nil {
				var err error
				if skip, err = others(); err != nil {
					return fmt.Errorf("PostgreSQL's other clients: %w", err)
				}
			}
			var err error
			s.Postgres, err = postgresTicks(skip)
			return err
		},
		func() error {
			st, err := readProcStat(strconv.Itoa(serving))
			s.Serving = st.Ticks
			return err
		},
		func() error {
			st, err := readProcStat("self")
			s.LoadGen = st.Ticks
			return err
		},
	}
	if after {
		slices.Reverse(steps)
	}
	for _, step := range steps {
		if err := step(); err != nil {
			return cpuSample{}, err
		}
	}
	return s, nil
}

// cpuUse is the CPU time each part used between two samples, in seconds.
type cpuUse struct {
	Wall     time.Duration
	Machine  float64
	Serving  float64
	Postgres float64
	LoadGen  float64
}

// plus is u and v together: two slices of one measurement.
func (u cpuUse) plus(v cpuUse) cpuUse {
	return cpuUse{Wall: u.Wall + v.Wall, Machine: u.Machine + v.Machine, Serving: u.Serving + v.Serving,
		Postgres: u.Postgres + v.Postgres, LoadGen: u.LoadGen + v.LoadGen}
}

// cpuBetween is what each part used from a to b, with hz clock ticks a second. A PostgreSQL
// process in both samples counts its difference; one only in b started after a and counts
// whole; one only in a exited before b and its last part is not counted: the approximation is
// only about processes that come and go, and the backends of the pools live for the whole run.
func cpuBetween(a, b cpuSample, hz float64) cpuUse {
	diff := func(x, y uint64) float64 {
		if y < x {
			return 0
		}
		return float64(y-x) / hz
	}
	u := cpuUse{
		Wall:    b.Wall.Sub(a.Wall),
		Machine: diff(a.Machine, b.Machine),
		Serving: diff(a.Serving, b.Serving),
		LoadGen: diff(a.LoadGen, b.LoadGen),
	}
	for k, t := range b.Postgres {
		u.Postgres += diff(a.Postgres[k], t) // a missing key is 0: the whole of a new process
	}
	return u
}

// cpuPerRequest is milliseconds of CPU per request of one run, each NaN when not measured.
type cpuPerRequest struct {
	Serving  float64 // the service, or the floor for its scenarios
	Postgres float64
	LoadGen  float64
	Other    float64 // the rest of the machine: Machine less the three above
	Machine  float64
	Cores    float64 // cores busy on average over the run: the machine's CPU time over the wall time
}

func noCPU() cpuPerRequest {
	n := math.NaN()
	return cpuPerRequest{n, n, n, n, n, n}
}

// perRequest divides u by the requests of the run.
func (u cpuUse) perRequest(requests int64) cpuPerRequest {
	if requests <= 0 {
		return noCPU()
	}
	ms := func(s float64) float64 { return s * 1000 / float64(requests) }
	c := cpuPerRequest{
		Serving:  ms(u.Serving),
		Postgres: ms(u.Postgres),
		LoadGen:  ms(u.LoadGen),
		Machine:  ms(u.Machine),
		Other:    ms(u.Machine - u.Serving - u.Postgres - u.LoadGen),
		Cores:    math.NaN(),
	}
	if u.Wall > 0 {
		c.Cores = u.Machine / u.Wall.Seconds()
	}
	return c
}

// cpuMeter measures one run: start before it, stop after it.
type cpuMeter struct {
	hz      float64
	serving int
	others  func() (map[string]bool, error)
	before  cpuSample
	err     error
}

func startCPU(hz float64, serving int, others func() (map[string]bool, error)) *cpuMeter {
	m := &cpuMeter{hz: hz, serving: serving, others: others}
	m.before, m.err = sampleCPU(serving, false, others)
	return m
}

// stopUse returns the CPU the parts used since startCPU, or why it is not known.
func (m *cpuMeter) stopUse() (cpuUse, error) {
	if m.err != nil {
		return cpuUse{}, m.err
	}
	after, err := sampleCPU(m.serving, true, m.others)
	if err != nil {
		return cpuUse{}, err
	}
	return cpuBetween(m.before, after, m.hz), nil
}

// stop returns the CPU per request of the run, or why it has none.
func (m *cpuMeter) stop(requests int64) (cpuPerRequest, error) {
	u, err := m.stopUse()
	if err != nil {
		return noCPU(), err
	}
	return u.perRequest(requests), nil
}

// cpuMS formats milliseconds of CPU per request.
func cpuMS(v float64) string {
	if math.IsNaN(v) {
		return "?"
	}
	s := strconv.FormatFloat(v, 'f', 3, 64)
	if s == "-0.000" {
		return "0.000" // "other" a hair below zero by rounding
	}
	return s
}

func cores(v float64) string {
	if math.IsNaN(v) {
		return "?"
	}
	return strconv.FormatFloat(v, 'f', 2, 64)
}

// cpuMethod is the bullet of the report's method list that says how CPU is measured.
func cpuMethod(w io.Writer) {
	for _, line := range []string{
		"- CPU per request: around each measured run the bench reads the CPU time (user + system, in",
		"  clock ticks: `getconf CLK_TCK` a second) of the serving process (the service or the floor,",
		"  all its threads: `/proc/<pid>/stat`), of PostgreSQL, of the bench itself (the load generator,",
		"  `/proc/self/stat`) and of the whole machine (`/proc/stat`: all cores, less idle, iowait and",
		"  steal), and divides each difference by the run's requests. PostgreSQL is each process whose",
		"  name or command line is `postgres` (the postmaster, checkpointer, walwriter, autovacuum, and",
		"  the backends of both pools) but the client backends `pg_stat_activity` shows of another",
		"  application than this run's: the service and the floor connect with",
		"  `application_name=vendor-inbox-bench-<pid>`, so another client's work on the shared server",
		"  (a seed, another bench) is not theirs. \"other\" is the machine less the three: whatever",
		"  else ran on the shared cores, those other clients' backends among them (and a few ticks of",
		"  rounding, so it can be slightly negative). A PostgreSQL process that starts during the run",
		"  counts whole, one that ends during it loses its last part: the approximation is only about",
		"  processes that come and go, and the pools' backends live for the whole run. \"cores busy\"",
		"  is the machine's CPU time over the run's wall time (at most the number of cores)",
	} {
		fmt.Fprintln(w, line)
	}
}

// renderCPU writes the "CPU per request" table of the report.
func (r *report) renderCPU(w io.Writer) {
	p := func(format string, a ...any) { fmt.Fprintf(w, format+"\n", a...) }
	p("### CPU per request")
	p("")
	p("Milliseconds of CPU time per request of each measured run, by who spent it (see the method")
	p("under Commands): the serving process, PostgreSQL, the load generator, and everything else on")
	p("the machine; \"machine\" is their sum, \"cores busy\" the machine's average load over the run.")
	p("")
	p("| scenario | clients | service/floor ms | PostgreSQL ms | load generator ms | other ms | machine total ms | cores busy |")
	p("|---|---:|---:|---:|---:|---:|---:|---:|")
	for _, x := range r.Results {
		c := x.CPU
		p("| %s | %d | %s | %s | %s | %s | %s | %s |", x.Scenario, x.Concurrency,
			cpuMS(c.Serving), cpuMS(c.Postgres), cpuMS(c.LoadGen), cpuMS(c.Other), cpuMS(c.Machine), cores(c.Cores))
	}
	p("")
}

// summaryCPU prints the CPU per request as a compact table.
func (r *report) summaryCPU(w io.Writer) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "CPU ms/request\tclients\tserving\tpostgres\tloadgen\tother\tmachine\tcores\t")
	for _, x := range r.Results {
		c := x.CPU
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t\n", x.Scenario, x.Concurrency,
			cpuMS(c.Serving), cpuMS(c.Postgres), cpuMS(c.LoadGen), cpuMS(c.Other), cpuMS(c.Machine), cores(c.Cores))
	}
	tw.Flush()
}
