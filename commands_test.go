package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"
)

// unreachable is a configuration whose database cannot be reached: a command that tried to
// open it would fail, so a command that succeeds under it ran nothing.
var unreachable = map[string]string{"DATABASE_URL": "postgres://postgres@127.0.0.1:1/none?sslmode=disable", "CURSOR_SECRET": testCursorSecret}

func runCommand(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	err := run(context.Background(), args, func(k string) string { return unreachable[k] }, &out, io.Discard)
	return out.String(), err
}

// TestHelpPrintsAndRunsNothing: help in every spelling, for the program and for each command,
// says what it does, its flags and the environment with defaults, and opens no database.
func TestHelpPrintsAndRunsNothing(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		args []string
		want []string
	}{
		{"help", []string{"help"}, []string{"Usage:", "vendor-inbox serve", "vendor-inbox migrate", "vendor-inbox seed [flags]", "vendor-inbox session --user ID", "vendor-inbox version", "GRAPHQL_MAX_TOKENS           [2000]", "CURSOR_SECRET"}},
		{"--help", []string{"--help"}, []string{"Usage:", "vendor-inbox seed [flags]"}},
		{"-h", []string{"-h"}, []string{"Usage:", "vendor-inbox seed [flags]"}},
		{"serve --help", []string{"serve", "--help"}, []string{"Usage: vendor-inbox serve", "Start the HTTP server", "ADDR", "[:8080]"}},
		{"migrate --help", []string{"migrate", "--help"}, []string{"Usage: vendor-inbox migrate", "Apply pending database migrations", "DATABASE_URL"}},
		{"seed --help", []string{"seed", "--help"}, []string{"Usage: vendor-inbox seed [flags]", "-vendors int", "number of vendors (default 5)", "-seed int", "DATA_DIR"}},
		{"seed -h", []string{"seed", "-h"}, []string{"Usage: vendor-inbox seed [flags]", "-busiest int"}},
		{"session --help", []string{"session", "--help"}, []string{"Usage: vendor-inbox session --user ID [--ttl D]", "-ttl duration", "(default 24h0m0s)"}},
		{"help seed", []string{"help", "seed"}, []string{"Usage: vendor-inbox seed [flags]", "-messages int"}},
		{"version --help", []string{"version", "--help"}, []string{"Usage: vendor-inbox version", "Print the module version"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := runCommand(t, tt.args...)
			if err != nil {
				t.Fatalf("%v (it must not run anything)", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("the help lacks %q:\n%s", w, out)
				}
			}
		})
	}
}

// TestEveryCommandAndSettingIsInTheHelp keeps the help in step with what the binary reads.
func TestEveryCommandAndSettingIsInTheHelp(t *testing.T) {
	t.Parallel()
	out, err := runCommand(t, "help")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range commands {
		if !strings.Contains(out, program+" "+c.name) {
			t.Errorf("the help does not list %s", c.name)
		}
	}
	for _, s := range settings {
		if !strings.Contains(out, "  "+s.name+" ") {
			t.Errorf("the help does not list %s", s.name)
		}
	}
}

func TestVersionNamesTheBuild(t *testing.T) {
	t.Parallel()
	out, err := runCommand(t, "version")
	if err != nil || !strings.HasPrefix(out, "vendor-inbox ") || !strings.Contains(out, "go1.") || strings.Count(out, "\n") != 1 {
		t.Fatalf("%q %v, want one line: vendor-inbox VERSION [REVISION] GOVERSION", out, err)
	}
}

// TestBadCommandLinesAreUsageErrors: one line saying what is wrong and where help is; main
// exits 2 for them.
func TestBadCommandLinesAreUsageErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"frobnicate"}, `unknown command "frobnicate"; run 'vendor-inbox help' for the commands`},
		{[]string{"seed", "--nope"}, `seed: flag provided but not defined: -nope (run 'vendor-inbox help seed')`},
		{[]string{"seed", "--vendors", "many"}, `seed: invalid value "many" for flag -vendors: parse error (run 'vendor-inbox help seed')`},
		{[]string{"migrate", "now"}, `migrate: unexpected arguments ["now"] (run 'vendor-inbox help migrate')`},
		{[]string{"help", "nothing"}, `unknown command "nothing"; run 'vendor-inbox help' for the commands`},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			_, err := runCommand(t, tt.args...)
			var usage usageError
			if !errors.As(err, &usage) || err.Error() != tt.want {
				t.Fatalf("%v, want the usage error %q", err, tt.want)
			}
		})
	}
}

// TestExitStatuses: help exits 0, a bad command line 2, a configuration error 1.
func TestExitStatuses(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		args   []string
		status int
	}{
		{[]string{"--help"}, 0},
		{[]string{"seed", "--help"}, 0},
		{[]string{"seed", "--nope"}, 2},
		{[]string{"frobnicate"}, 2},
	} {
		if _, err := runCommand(t, tt.args...); exitStatus(err) != tt.status {
			t.Errorf("%v: %v, exit status %d; want %d", tt.args, err, exitStatus(err), tt.status)
		}
	}
	if _, err := loadConfig(func(k string) string { return map[string]string{"MAX_BODY_BYTES": "x"}[k] }); exitStatus(err) != 1 {
		t.Errorf("a bad setting: %v, exit status %d; want 1", err, exitStatus(err))
	}
}

// TestOnlyServingTunesTheCollector: the collector's serving defaults (applyGCDefaults) are for
// the command that serves requests; a bulk command such as seed keeps Go's own.
func TestOnlyServingTunesTheCollector(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		args   []string
		serves bool
	}{
		{nil, true}, // serve is the default
		{[]string{"serve"}, true},
		{[]string{"seed", "--vendors", "2"}, false},
		{[]string{"migrate"}, false},
		{[]string{"session", "--user", "1"}, false},
		{[]string{"version"}, false},
		{[]string{"help", "serve"}, false},
		{[]string{"--help"}, false},
		{[]string{"no-such-command"}, false},
	} {
		if got := serves(tt.args); got != tt.serves {
			t.Errorf("serves(%q) = %v, want %v", tt.args, got, tt.serves)
		}
	}
}
