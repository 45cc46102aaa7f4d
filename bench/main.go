// Command bench measures the vendor inbox end to end on PostgreSQL, against a floor.
//
// In one run it seeds (or reuses) a benchmark database, builds and starts the real server and
// the floor (bench/floor: one hand-written statement per REST page, the fastest honest
// implementation), signs in as the busiest vendor, drives closed-loop load at each concurrency
// through every scenario, and writes BENCHMARKS.md, an SVG chart and a summary on stdout.
// `make bench` runs it; README.md ("Benchmarks") says how long it takes and how to shrink it.
//
// Usage:
//
//	go run ./bench [flags]
//
// Every request it sends goes to 127.0.0.1, and every loop is bounded in count and time.
package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/partizap/vendor-inbox/bench/floor"
	"github.com/partizap/vendor-inbox/models"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	if len(os.Args) > 1 && os.Args[1] == floorCommand {
		err = runFloor(ctx, os.Args[2:])
	} else {
		err = run(ctx, os.Args[1:], os.Stdout)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		stop()
		os.Exit(1)
	}
}

// options are the flags of a run.
type options struct {
	DatabaseURL   string
	Vendors       int
	Conversations int
	Messages      int
	Busiest       int
	Seed          int64
	Concurrency   []int
	Duration      time.Duration
	Warmup        time.Duration
	DeepPage      int
	Profile       bool
	// ProfileDir, when set, keeps the CPU profiles and the server binary they were taken of
	// there, for `go tool pprof`; with Only, the chosen scenarios among profileScenarios are
	// profiled too.
	ProfileDir string
	Out        string
	Chart      string
	PlansOnly  bool
	// SeedCompare runs the seed against the SQL-only load (compareSeed) before the load tests;
	// SeedCompareOnly runs only that, and prints it instead of writing the report.
	SeedCompare     bool
	SeedCompareOnly bool
	// Live measures live updates (live.go) after the load tests; LiveOnly measures only that,
	// and prints its section instead of writing the report.
	Live     bool
	LiveOnly bool
	LiveOpts liveOptions
	// Only, when not empty, names the scenarios to measure: only those run, and their results
	// are printed instead of the report written (no profiles, compression or live updates).
	Only []string

	// Args are the flags as given, to quote the command in the report.
	Args []string
	// LoadAvg is the machine's 1-minute load average before the run did anything: other work
	// running alongside shares the same two cores and skews every number.
	LoadAvg string
}

const defaultDatabaseURL = "postgres://postgres@127.0.0.1:5432/bench?sslmode=disable"

func parseOptions(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.DatabaseURL, "database-url", defaultDatabaseURL, "PostgreSQL database to benchmark on; created and seeded when missing or empty, reused as is otherwise")
	fs.IntVar(&o.Vendors, "vendors", 200, "seed: number of vendors")
	fs.IntVar(&o.Conversations, "conversations", 1000, "seed: conversations per vendor")
	fs.IntVar(&o.Messages, "messages", 20, "seed: messages per conversation")
	fs.IntVar(&o.Busiest, "busiest", 50000, "seed: conversations of the busiest vendor (0: as many as the others)")
	fs.Int64Var(&o.Seed, "seed", 1, "seed: random seed")
	concurrency := fs.String("concurrency", "1,8,32", "comma-separated numbers of concurrent clients")
	fs.DurationVar(&o.Duration, "duration", 8*time.Second, "measured time of each scenario at each concurrency")
	fs.DurationVar(&o.Warmup, "warmup", time.Second, "unmeasured load before each measured run")
	fs.BoolVar(&o.Profile, "profile", true, "after the measured runs, profile the service's CPU during one more run of rest-20 and graphql-20 at 8 clients each")
	fs.StringVar(&o.ProfileDir, "profile-dir", "", "keep the CPU profiles (<scenario>.pprof) and the server binary they were taken of (server) in this directory; with -scenarios, profile those of rest-20 and graphql-20 chosen")
	fs.IntVar(&o.DeepPage, "deep-page", 500, "rest-deep and floor-deep read this page of 20 (the cursor is found by paging from the first)")
	fs.StringVar(&o.Out, "out", "", "report to write (default: BENCHMARKS.md at the repository root)")
	fs.StringVar(&o.Chart, "chart", "", "SVG chart to write (default: bench/latency.svg at the repository root)")
	fs.BoolVar(&o.PlansOnly, "plans", false, "only measure the plans of the service's statements and print them: no load, no report")
	fs.BoolVar(&o.SeedCompare, "seed-compare", false, "also seed a scratch database and SQL-load another with as many rows, and report both rows/s (about two minutes more at the default size)")
	fs.BoolVar(&o.SeedCompareOnly, "seed-compare-only", false, "run only the -seed-compare comparison and print it; no report is written")
	fs.BoolVar(&o.Live, "live", true, "after the load tests, measure live updates on three more instances: subscriptions' memory, delivery latency and throughput, and what live updates cost sendMessage (about a minute)")
	only := fs.String("scenarios", "", "measure only these comma-separated scenarios (e.g. graphql-20,floor-20) and print their results; no report is written: for trying a change")
	fs.BoolVar(&o.LiveOnly, "live-only", false, "run only the -live measurement and print its section; no report is written")
	fs.IntVar(&o.LiveOpts.Subscriptions, "live-subscriptions", 1000, "live: subscriptions held open on instance B")
	fs.IntVar(&o.LiveOpts.Tabs, "live-tabs", 50, "live: the busiest vendor's sockets (tabs), each with inboxUpdated and messageAdded of one conversation; the rest are the buyers' messageAdded")
	fs.IntVar(&o.LiveOpts.Messages, "live-messages", 200, "live: messages sent one every -live-interval to measure the delivery latency")
	fs.DurationVar(&o.LiveOpts.Interval, "live-interval", 50*time.Millisecond, "live: time between the latency run's messages")
	fs.IntVar(&o.LiveOpts.Writers, "live-writers", 8, "live: writers sending as fast as they can in the throughput run")
	fs.DurationVar(&o.LiveOpts.Duration, "live-duration", 3*time.Second, "live: length of the throughput run and of each run of the cost comparison (LIVE_UPDATES=false against true)")
	fs.IntVar(&o.LiveOpts.NotifyWriters, "live-notify-writers", 32, "live: concurrent writers of the cost comparison")
	fs.BoolVar(&o.LiveOpts.Profile, "live-profile", false, "live: take a CPU profile of B during the latency run and report its top")
	fs.IntVar(&o.LiveOpts.Rounds, "live-rounds", 2, "live: rounds of the cost comparison, each one run with LIVE_UPDATES=false and one with true")
	if err := fs.Parse(args); err != nil {
		return options{}, err
	}
	if fs.NArg() > 0 {
		return options{}, fmt.Errorf("unexpected argument %q (flags only; see -h)", fs.Arg(0))
	}
	var err error
	if o.Concurrency, err = parseConcurrency(*concurrency); err != nil {
		return options{}, err
	}
	switch {
	case o.Vendors < 1 || o.Conversations < 1 || o.Messages < 0 || o.Busiest < 0:
		return options{}, errors.New("-vendors and -conversations must be positive, -messages and -busiest not negative")
	case o.Duration <= 0 || o.Duration > time.Hour:
		return options{}, errors.New("-duration must be positive and at most 1h")
	case o.Warmup < 0 || o.Warmup > time.Minute:
		return options{}, errors.New("-warmup must be from 0 to 1m")
	case o.DeepPage < 2 || o.DeepPage > maxDeepPage:
		return options{}, fmt.Errorf("-deep-page must be from 2 to %d", maxDeepPage)
	}
	if *only != "" {
		o.Only = strings.Split(*only, ",")
	}
	if o.Live || o.LiveOnly {
		o.LiveOpts.Warmup = o.Warmup
		if err := o.LiveOpts.check(); err != nil {
			return options{}, err
		}
	}
	o.Args = args
	return o, nil
}

// maxConcurrency bounds the clients of a run: each is a goroutine and a connection, and the
// machine this runs on has two cores.
const maxConcurrency = 512

// maxDeepPage bounds the pages read to find the deep cursor (one request each).
const maxDeepPage = 10_000

func parseConcurrency(s string) ([]int, error) {
	var levels []int
	for _, part := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(part))
		if err != nil || n < 1 || n > maxConcurrency {
			return nil, fmt.Errorf("-concurrency: %q is not a number of clients from 1 to %d", part, maxConcurrency)
		}
		for _, m := range levels {
			if m >= n {
				return nil, fmt.Errorf("-concurrency: list each level once, in increasing order (%q)", s)
			}
		}
		levels = append(levels, n)
	}
	return levels, nil
}

// repoRoot is the directory holding go.mod, from the working directory up: `go run ./bench`
// and `make bench` run from the root, but a run from bench/ should work too.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for range 64 {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			break
		}
		dir = parent
	}
	return "", errors.New("no go.mod in the working directory or above it: run from the repository")
}

func run(ctx context.Context, args []string, stdout io.Writer) (err error) {
	opts, err := parseOptions(args, os.Stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	opts.LoadAvg = loadAverage()
	root, err := repoRoot()
	if err != nil {
		return err
	}
	if opts.Out == "" {
		opts.Out = filepath.Join(root, "BENCHMARKS.md")
	}
	if opts.Chart == "" {
		opts.Chart = filepath.Join(root, "bench", "latency.svg")
	}
	tmp, err := os.MkdirTemp("", "vendor-inbox-bench-")
	if err != nil {
		return err
	}
	// The logs are what a failed run is debugged with, so they outlive it.
	defer func() {
		if err != nil {
			err = fmt.Errorf("%w\n(binaries and logs kept in %s)", err, tmp)
			return
		}
		_ = os.RemoveAll(tmp)
	}()

	logf := func(format string, a ...any) { fmt.Fprintf(os.Stderr, "bench: "+format+"\n", a...) }
	logf("building the server in %s", root)
	server, err := buildServer(ctx, root, tmp)
	if err != nil {
		return err
	}
	var seedCmp *seedComparison
	if opts.SeedCompare || opts.SeedCompareOnly {
		if seedCmp, err = compareSeed(ctx, opts, server, logf); err != nil {
			return fmt.Errorf("seed comparison: %w", err)
		}
		logf("%s", seedCmp)
		if opts.SeedCompareOnly {
			fmt.Fprintln(stdout, seedCmp)
			return nil
		}
	}
	data, err := ensureDataset(ctx, opts, server, logf)
	if err != nil {
		return err
	}
	logf("dataset: %d users, %d conversations, %d messages; busiest vendor %d with %d conversations",
		data.Users, data.Conversations, data.Messages, data.BusiestVendorID, data.BusiestConversations)

	if opts.LiveOnly {
		live, err := measureLive(ctx, opts, server, tmp, data, logf)
		if err != nil {
			return fmt.Errorf("live: %w", err)
		}
		liveOnly(stdout, live, opts)
		return nil
	}

	if opts.PlansOnly {
		session, err := signIn(ctx, server, opts.DatabaseURL, data.BusiestVendorID)
		if err != nil {
			return err
		}
		plans, err := measurePlans(ctx, opts.DatabaseURL, session)
		if err != nil {
			return fmt.Errorf("plans: %w", err)
		}
		renderPlans(stdout, plans)
		return nil
	}

	b, err := startTargets(ctx, opts, server, tmp, logf)
	if err != nil {
		return err
	}
	defer b.stop()
	if b.session, err = signIn(ctx, server, opts.DatabaseURL, data.BusiestVendorID); err != nil {
		return err
	}
	var writerID, writerConversation int64
	if err := b.pg.QueryRow(ctx, `SELECT seller_id, id FROM conversations WHERE seller_id <> $1
		ORDER BY updated_at DESC, id DESC LIMIT 1`, data.BusiestVendorID).Scan(&writerID, &writerConversation); err != nil {
		return fmt.Errorf("a conversation of another vendor for the send scenario: %w", err)
	}
	if b.writer, err = signIn(ctx, server, opts.DatabaseURL, writerID); err != nil {
		return err
	}
	b.writerConversation = models.GlobalID(models.TypeConversation, writerConversation)
	floorPlan, err := explainFloor(ctx, opts.DatabaseURL, b.session, floor.JSON)
	if err != nil {
		return fmt.Errorf("explain the floor: %w", err)
	}
	floorRowsPlan, err := explainFloor(ctx, opts.DatabaseURL, b.session, floor.Rows)
	if err != nil {
		return fmt.Errorf("explain the floor's rows form: %w", err)
	}
	plans, err := measurePlans(ctx, opts.DatabaseURL, b.session)
	if err != nil {
		return fmt.Errorf("plans: %w", err)
	}
	scenarios, err := b.prepare(ctx, opts.DeepPage, logf)
	if err != nil {
		return err
	}
	if len(opts.Only) > 0 {
		if scenarios, err = onlyScenarios(scenarios, opts.Only); err != nil {
			return err
		}
	}
	results, err := b.measure(ctx, scenarios, opts, logf)
	if err != nil {
		return err
	}
	profileDir := tmp
	if opts.ProfileDir != "" {
		if profileDir, err = keepProfiles(opts.ProfileDir, server); err != nil {
			return err
		}
	}
	var profiles []profileTop
	if opts.Profile && (len(opts.Only) == 0 || opts.ProfileDir != "") {
		if profiles, err = b.profile(ctx, scenarios, opts, server, profileDir, logf); err != nil {
			return err
		}
	}
	if len(opts.Only) > 0 {
		for _, p := range profiles {
			logf("%s: %s", p.Scenario, cmp.Or(p.Err, "profile in "+filepath.Join(profileDir, p.Scenario+".pprof")))
		}
		return nil // measure printed each result
	}
	// After the profiles, so that the peak RSS of the load tests is their own.
	hwm := b.highWaterMarks()
	compression, err := b.measureCompression(ctx, scenarios, opts, logf)
	if err != nil {
		return fmt.Errorf("compression: %w", err)
	}
	b.stop()
	var live *liveResult
	if opts.Live {
		// After the load tests, with their server and floor stopped: its instances would share
		// the cores, and its writes move the inbox the scenarios read.
		if live, err = measureLive(ctx, opts, server, tmp, data, logf); err != nil {
			return fmt.Errorf("live: %w", err)
		}
	}

	r := &report{
		Opts:      opts,
		Machine:   describeMachine(data.PostgresVersion),
		Data:      data,
		Scenarios: scenarios,
		Results:   results,
		HWM:       hwm,
		Profiles:  profiles,
		Env:       inheritedServiceEnv(),
		When:      time.Now().UTC(),
		FloorPlan: floorPlan,

		FloorRowsPlan: floorRowsPlan,
		Plans:         plans,
		Seed:          seedCmp,
		Live:          live,

		Compression: compression,
	}
	if err := writeChart(opts.Chart, r); err != nil {
		return fmt.Errorf("chart: %w", err)
	}
	if err := r.write(opts.Out); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	r.summary(stdout)
	logf("wrote %s and %s", opts.Out, opts.Chart)
	return nil
}

// explainFloor is the plan of the floor in form for the first page of 20 of the session's
// inbox, the second of two runs (the first warms the caches as the measured runs are warmed).
func explainFloor(ctx context.Context, databaseURL, session string, form floor.Form) (string, error) {
	pool, err := pgxpool.New(ctx, databaseURL)
	if err != nil {
		return "", err
	}
	defer pool.Close()
	f := floor.New(pool, models.NewCursors([]byte(benchCursorSecret)), form)
	if _, err := f.Explain(ctx, session, 20); err != nil {
		return "", err
	}
	return f.Explain(ctx, session, 20)
}

// onlyScenarios is the scenarios named, in the order given.
func onlyScenarios(all []scenario, names []string) ([]scenario, error) {
	var out []scenario
	for _, name := range names {
		i := slices.IndexFunc(all, func(s scenario) bool { return s.Name == strings.TrimSpace(name) })
		if i < 0 {
			known := make([]string, len(all))
			for j, s := range all {
				known[j] = s.Name
			}
			return nil, fmt.Errorf("-scenarios: no scenario %q (there are %s)", name, strings.Join(known, ", "))
		}
		out = append(out, all[i])
	}
	return out, nil
}
