package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"runtime/debug"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/partizap/vendor-inbox/httpserver"
	"github.com/partizap/vendor-inbox/models"
	"github.com/partizap/vendor-inbox/models/database"
	"github.com/partizap/vendor-inbox/models/seed"
	"github.com/partizap/vendor-inbox/playground"
)

// program is the binary's name, the module's.
const program = "vendor-inbox"

// command is one of the binary's commands.
type command struct {
	name, args, summary string
	flags               func(fs *flag.FlagSet) // declares the command's flags, if it has any
	run                 func(a *app, ctx context.Context, fs *flag.FlagSet, stdout io.Writer) error
	noApp               bool // runs without configuration or database
	// serves requests until stopped: the collector's serving defaults apply (applyGCDefaults).
	// A bulk command keeps Go's own: under the serving soft limit the seed spent four times
	// the CPU of its work collecting, and ran 40% longer (BENCHMARKS.md).
	serves bool
}

// commands are the binary's commands; the first is the default.
var commands = []command{
	{name: "serve", summary: "start the HTTP server (the default): GraphQL, REST and the playground", run: (*app).serveCommand, serves: true},
	{name: "migrate", summary: "apply pending database migrations", run: func(a *app, ctx context.Context, _ *flag.FlagSet, _ io.Writer) error { return a.migrate(ctx) }},
	{name: "seed", args: "[flags]", summary: "fill an empty database with generated data; prints a JSON summary", flags: seedFlags, run: (*app).seedCommand},
	{name: "session", args: "--user ID [--ttl D]", summary: "sign a user in and print the PARTIZAP_SESSION cookie value", flags: sessionFlags, run: (*app).sessionCommand},
	{name: "version", summary: "print the module version and the VCS revision it was built from", noApp: true,
		run: func(_ *app, _ context.Context, _ *flag.FlagSet, stdout io.Writer) error {
			_, err := fmt.Fprintln(stdout, version())
			return err
		}},
}

// usageError is a command line that does not parse: main exits 2 for it, not 1.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

// exitStatus is the process's exit status after run returned err: 0, 2 for a command line that
// does not parse, 1 for any other failure.
func exitStatus(err error) int {
	var usage usageError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &usage):
		return 2
	default:
		return 1
	}
}

// commandName splits a command line into the command it names (the default when it names
// none, help for -h and --help) and the rest.
func commandName(args []string) (string, []string) {
	switch {
	case len(args) > 0 && !strings.HasPrefix(args[0], "-"):
		return args[0], args[1:]
	case len(args) > 0 && isHelp(args[0]):
		return "help", args[1:]
	}
	return commands[0].name, args
}

// serves says whether the command line runs a command that serves requests.
func serves(args []string) bool {
	name, _ := commandName(args)
	cmd, ok := findCommand(name)
	return ok && cmd.serves
}

// run parses the command line and runs the command it names. help, -h and --help, alone or
// after a command, print what it does and never run anything.
// Logs go to logs, as LOG_FORMAT and LOG_LEVEL say.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, logs io.Writer) error {
	name, args := commandName(args)
	if name == "help" {
		if len(args) > 0 {
			name, args = args[0], []string{"--help"}
		} else {
			printUsage(stdout)
			return nil
		}
	}
	cmd, ok := findCommand(name)
	if !ok {
		return usageError{fmt.Sprintf("unknown command %q; run '%s help' for the commands", name, program)}
	}
	fs := flag.NewFlagSet(program+" "+cmd.name, flag.ContinueOnError)
	fs.SetOutput(io.Discard) // errors are reported in one line below, help by printCommandUsage
	if cmd.flags != nil {
		cmd.flags(fs)
	}
	if err := fs.Parse(args); errors.Is(err, flag.ErrHelp) {
		printCommandUsage(stdout, cmd, fs)
		return nil
	} else if err != nil {
		return usageError{fmt.Sprintf("%s: %v (run '%s help %s')", cmd.name, err, program, cmd.name)}
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Sprintf("%s: unexpected arguments %q (run '%s help %s')", cmd.name, fs.Args(), program, cmd.name)}
	}
	if cmd.noApp {
		return cmd.run(nil, ctx, fs, stdout)
	}
	cfg, err := loadConfig(getenv)
	if err != nil {
		return err
	}
	a, err := openApp(ctx, cfg, newLogger(logs, cfg.LogFormat, cfg.LogLevel))
	if err != nil {
		return err
	}
	defer a.close()
	return cmd.run(a, ctx, fs, stdout)
}

func isHelp(arg string) bool { return arg == "-h" || arg == "-help" || arg == "--help" }

func findCommand(name string) (command, bool) {
	for _, c := range commands {
		if c.name == name {
			return c, true
		}
	}
	return command{}, false
}

func printUsage(w io.Writer) {
	fmt.Fprintf(w, "%s is the Partizap vendor-inbox backend-for-frontend.\n\nUsage:\n\n", program)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, c := range commands {
		fmt.Fprintf(tw, "  %s %s %s\t%s\n", program, c.name, c.args, c.summary)
	}
	fmt.Fprintf(tw, "  %s help [COMMAND]\tsay what a command does, its flags and the environment\n", program)
	_ = tw.Flush()
	fmt.Fprintln(w)
	printEnvironment(w)
}

func printCommandUsage(w io.Writer, c command, fs *flag.FlagSet) {
	fmt.Fprintf(w, "Usage: %s %s %s\n\n%s.\n", program, c.name, c.args, strings.ToUpper(c.summary[:1])+c.summary[1:])
	if c.flags != nil {
		fmt.Fprintln(w, "\nFlags:")
		fs.SetOutput(w)
		fs.PrintDefaults()
	}
	if !c.noApp {
		fmt.Fprintln(w)
		printEnvironment(w)
	}
}

func printEnvironment(w io.Writer) {
	fmt.Fprintln(w, "Environment (default in brackets):")
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, s := range settings {
		def := s.def
		if def == "" {
			def = "empty"
		}
		fmt.Fprintf(tw, "  %s\t[%s]\t%s\n", s.name, def, s.meaning)
	}
	_ = tw.Flush()
}

// version is the module version and the VCS revision of the build, from its build info.
func version() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return program + " (no build information)"
	}
	v := program + " " + info.Main.Version
	vcs := map[string]string{}
	for _, s := range info.Settings {
		vcs[s.Key] = s.Value
	}
	if rev := vcs["vcs.revision"]; rev != "" {
		v += " " + rev
		if vcs["vcs.modified"] == "true" {
			v += " (modified)"
		}
		if t := vcs["vcs.time"]; t != "" {
			v += " " + t
		}
	}
	return v + " " + info.GoVersion
}

// serveCommand binds the addresses first (a busy port is the commonest mistake, found at
// once), then migrates when AUTO_MIGRATE says so, seeds the demo, greets, and serves until ctx
// ends.
func (a *app) serveCommand(ctx context.Context, _ *flag.FlagSet, _ io.Writer) error {
	listener, err := net.Listen("tcp", a.cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen on ADDR %s: %w (set ADDR to a free address, e.g. ADDR=:8081)", a.cfg.Addr, err)
	}
	var metricsListener net.Listener
	if a.cfg.MetricsAddr != "" {
		if metricsListener, err = net.Listen("tcp", a.cfg.MetricsAddr); err != nil {
			listener.Close()
			return fmt.Errorf("listen on METRICS_ADDR %s: %w (set METRICS_ADDR to a free address)", a.cfg.MetricsAddr, err)
		}
		a.logger.Info("serving /metrics and /debug/pprof/ on their own address only", "addr", metricsListener.Addr().String())
	}
	closeListeners := func() {
		listener.Close()
		if metricsListener != nil {
			metricsListener.Close()
		}
	}
	if a.cfg.AutoMigrate {
		if err := a.migrate(ctx); err != nil {
			closeListeners()
			return err
		}
	}
	if err := a.greet(ctx, a.cfg, listener.Addr(), os.Stderr); err != nil {
		closeListeners()
		return err
	}
	return a.serve(ctx, listener, metricsListener)
}

func (a *app) migrate(ctx context.Context) error {
	applied, err := database.Migrate(ctx, a.db)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	a.logger.Info("database migrated", "applied", applied)
	return nil
}

func seedFlags(fs *flag.FlagSet) {
	fs.Int("vendors", 5, "number of vendors")
	fs.Int("conversations", 30, "conversations per vendor")
	fs.Int("busiest", 0, "conversations of vendor 1, the busiest, when more than --conversations (0: as many as the others)")
	fs.Int("messages", 8, "messages per conversation")
	fs.Int64("seed", 1, "random seed; the same seed gives the same data")
}

func (a *app) seedCommand(ctx context.Context, fs *flag.FlagSet, stdout io.Writer) error {
	get := func(name string) flag.Getter { return fs.Lookup(name).Value.(flag.Getter) }
	opts := seed.Options{
		Vendors:              get("vendors").Get().(int),
		Conversations:        get("conversations").Get().(int),
		BusiestConversations: get("busiest").Get().(int),
		Messages:             get("messages").Get().(int),
		Seed:                 get("seed").Get().(int64),
		Progress:             os.Stderr, // stdout gets only the summary's one JSON line
	}
	if err := a.migrate(ctx); err != nil {
		return err
	}
	summary, err := seed.Seed(ctx, a.db, opts)
	if err != nil {
		return err
	}
	return json.NewEncoder(stdout).Encode(summary)
}

func sessionFlags(fs *flag.FlagSet) {
	fs.Int64("user", 0, "id of the user to sign in (required)")
	fs.Duration("ttl", 24*time.Hour, "how long the session lasts")
}

func (a *app) sessionCommand(ctx context.Context, fs *flag.FlagSet, stdout io.Writer) error {
	userID := fs.Lookup("user").Value.(flag.Getter).Get().(int64)
	ttl := fs.Lookup("ttl").Value.(flag.Getter).Get().(time.Duration)
	if userID <= 0 {
		return errors.New("session: --user must be a user id")
	}
	id, err := a.store.CreateSession(ctx, userID, ttl)
	if err != nil {
		return fmt.Errorf("session: %s", models.ErrorMessage(err))
	}
	_, err = fmt.Fprintln(stdout, id)
	return err
}

// demoSeed is the demo data of a first start: small enough to load in a blink, large enough
// to page through.
var demoSeed = seed.Options{Vendors: 5, Conversations: 30, Messages: 8, Seed: 1}

const demoSessionTTL = 30 * 24 * time.Hour

// greet says in a few lines where the service listens, on which database, and, in demo mode,
// how to sign in (seeding an empty database first).
func (a *app) greet(ctx context.Context, cfg config, addr net.Addr, w io.Writer) error {
	// The demo data first: the banner says the service is ready only once it is.
	seeded := false
	if cfg.Demo {
		_, err := seed.Seed(ctx, a.db, demoSeed)
		if err != nil && !errors.Is(err, seed.ErrNotEmpty) {
			return fmt.Errorf("seed demo data: %w", err)
		}
		seeded = err == nil
	}
	// The banner goes out in one write: whole, never interleaved with log lines.
	var banner bytes.Buffer
	defer func(out io.Writer) { _, _ = out.Write(banner.Bytes()) }(w)
	w = &banner
	base := "http://" + displayAddr(addr)
	fmt.Fprintf(w, "Partizap vendor inbox listening on %s\n", base)
	fmt.Fprintf(w, "  database:   %s\n", describeDatabase(cfg.DatabaseURL))
	fmt.Fprintf(w, "  playground: %s%s\n", base, playground.Path)
	if cfg.DemoLogin {
		fmt.Fprintf(w, "  sign in:    %s%s  (opens the playground as the demo vendor; ?user=ID for another user)\n", base, playground.DemoLoginPath)
	} else {
		fmt.Fprintf(w, "  sessions:   `%s session --user ID` prints a PARTIZAP_SESSION cookie; DEMO_LOGIN=true would serve browser sign-in at %s%s\n", program, base, playground.DemoLoginPath)
	}
	if a.cursorSecretFile != "" {
		fmt.Fprintf(w, "  cursors:    signed with the demo key in %s (outside demo mode, set CURSOR_SECRET)\n", a.cursorSecretFile)
	}
	if !cfg.Demo {
		return nil
	}
	if seeded {
		fmt.Fprintf(w, "  demo data:  seeded %d vendors with %d conversations each\n", demoSeed.Vendors, demoSeed.Conversations)
	}
	vendor, n, err := a.store.BusiestVendor(ctx)
	if err != nil || vendor == nil {
		return err
	}
	session, err := a.store.CreateSession(ctx, vendor.ID, demoSessionTTL)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "  session:    %s=%s  (vendor %d «%s», %d conversations; valid %s)\n",
		httpserver.SessionCookie, session, vendor.ID, vendor.DisplayName, n, demoSessionTTL)
	fmt.Fprintf(w, "  try:        curl -s '%s/vendor/conversations?limit=2' --cookie '%s=%s'\n", base, httpserver.SessionCookie, session)
	return nil
}

// displayAddr turns a listening address into one a browser can open.
func displayAddr(addr net.Addr) string {
	host, port, err := net.SplitHostPort(addr.String())
	if err != nil {
		return addr.String()
	}
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() || ip.IsLoopback() {
		host = "localhost"
	}
	return net.JoinHostPort(host, port)
}

func describeDatabase(databaseURL string) string {
	if path, ok := strings.CutPrefix(databaseURL, "sqlite:"); ok {
		return "SQLite " + path + " (embedded; set DATABASE_URL=postgres://… for PostgreSQL)"
	}
	return "PostgreSQL " + database.RedactURL(databaseURL)
}
