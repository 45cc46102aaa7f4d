package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// The profile tops: after the measured runs, one more run of each of profileScenarios at
// profileClients, during which the bench takes a CPU profile of the service from its metrics
// address and renders its top with `go tool pprof`.

var profileScenarios = []string{rest20, graphQL20}

const (
	profileClients = 8
	profileNodes   = 15
	// maxProfileSeconds keeps a profile well within the metrics server's 30s write timeout
	// (net/http/pprof extends it by the profile's length, but an older Go did not).
	maxProfileSeconds = 20
)

// profileHide are the frames the cumulative top leaves out (pprof's -hide): net/http's server
// and the service's middleware (closures of httpserver, NoStore), which every request passes
// whole, so that their near-100% does not fill the top; the frames they call stay.
const profileHide = `^net/http\.|^github\.com/partizap/vendor-inbox/httpserver\..*\.func[0-9]+$|\.NoStore\.func[0-9]+$`

// profileTop is the top of one CPU profile of the service.
type profileTop struct {
	Scenario string
	Clients  int
	Seconds  int     // length of the profile
	RPS      float64 // of the load during it
	Errors   int64
	Flat     string // `go tool pprof -top`, from its Duration line on
	Cum      string // the same, sorted by cumulative time (-cum)
	Err      string // why there is no top
}

// profileSeconds is the profile's length for a run of -duration d, in whole seconds (the unit
// of /debug/pprof/profile).
func profileSeconds(d time.Duration) int {
	return min(max(int(math.Round(d.Seconds())), 1), maxProfileSeconds)
}

// profile runs each of profileScenarios once more, under a CPU profile of the service. A
// profile that fails is reported as such, not as a failed run; only an interruption is an error.
func (b *bench) profile(ctx context.Context, scenarios []scenario, opts options, serverBin, dir string, logf func(string, ...any)) ([]profileTop, error) {
	var out []profileTop
	for _, name := range profileScenarios {
		var s *scenario
		for i := range scenarios {
			if scenarios[i].Name == name {
				s = &scenarios[i]
			}
		}
		if s == nil {
			continue
		}
		top := profileTop{Scenario: name, Clients: profileClients, Seconds: profileSeconds(opts.Duration)}
		logf("profiling the service during %s at %d clients for %ds", name, top.Clients, top.Seconds)
		if opts.Warmup > 0 {
			runLoad(ctx, b.client, s.Target, top.Clients, opts.Warmup)
		}
		file := filepath.Join(dir, name+".pprof")
		// The load starts first and outlasts the profile, so the profile sees nothing else.
		loaded := make(chan runResult, 1)
		go func() {
			loaded <- runLoad(ctx, b.client, s.Target, top.Clients, time.Duration(top.Seconds)*time.Second+500*time.Millisecond)
		}()
		err := fetchProfile(ctx, b.metricsURL, top.Seconds, file)
		r := <-loaded
		if ctx.Err() != nil {
			return nil, fmt.Errorf("interrupted: %w", ctx.Err())
		}
		top.RPS, top.Errors = r.RPS(), r.Errors
		if err == nil {
			top.Flat, err = pprofTop(ctx, serverBin, file, false)
		}
		if err == nil {
			top.Cum, err = pprofTop(ctx, serverBin, file, true)
		}
		if err != nil {
			top.Err = err.Error()
			logf("%s: no profile: %v", name, err)
		}
		out = append(out, top)
	}
	return out, nil
}

// fetchProfile saves the service's CPU profile of the next seconds to file.
func fetchProfile(ctx context.Context, metricsURL string, seconds int, file string) error {
	ctx, cancel := context.WithTimeout(ctx, time.Duration(seconds)*time.Second+30*time.Second)
	defer cancel()
	url := metricsURL + "/debug/pprof/profile?seconds=" + strconv.Itoa(seconds)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("GET %s: %w", url, err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: status %d: %s", url, resp.StatusCode, clip(body))
	}
	return os.WriteFile(file, body, 0o644)
}

// pprofTop renders the profile's top profileNodes functions with `go tool pprof`, by flat time
// or by cumulative time.
func pprofTop(ctx context.Context, serverBin, file string, cum bool) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	args := []string{"tool", "pprof", "-top", "-nodecount=" + strconv.Itoa(profileNodes)}
	if cum {
		args = append(args, "-cum", "-hide="+profileHide)
	}
	cmd := exec.CommandContext(ctx, "go", append(args, serverBin, file)...)
	cmd.Dir = filepath.Dir(file)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("go %s: %w: %s", strings.Join(cmd.Args[1:], " "), err, strings.TrimSpace(stderr.String()))
	}
	return trimPprofHeader(string(out)), nil
}

// trimPprofHeader drops the lines of a pprof top before "Duration:" (the binary, its build id,
// the profile's type and local time), which say nothing the report does not.
func trimPprofHeader(top string) string {
	lines := strings.Split(strings.TrimRight(top, "\n"), "\n")
	for i, line := range lines {
		if strings.HasPrefix(line, "Duration:") {
			return strings.Join(lines[i:], "\n")
		}
	}
	return strings.Join(lines, "\n")
}

// renderProfiles writes the report's "Where the service's time goes" section.
func (r *report) renderProfiles(w io.Writer) {
	if len(r.Profiles) == 0 {
		return
	}
	p := func(format string, a ...any) { fmt.Fprintf(w, format+"\n", a...) }
	var names []string
	for _, t := range r.Profiles {
		names = append(names, t.Scenario)
	}
	p("## Where the service's time goes")
	p("")
	p("After the measured runs, one more run at %d clients of each of %s. During it", profileClients, strings.Join(names, " and "))
	p("the bench takes a CPU profile of the service from its metrics address (`GET")
	p("/debug/pprof/profile?seconds=N` on `METRICS_ADDR`), and `go tool pprof -top -nodecount=%d`", profileNodes)
	p("with the server binary renders its top: first by flat time (spent in the function itself),")
	p("then by cumulative time (in it and in what it calls: `-cum`), leaving out the frames every")
	p("request passes whole, net/http's server and the service's middleware (`-hide`, below).")
	p("Profiling costs the service a little; the load's throughput during the profile is given")
	p("beside the measured run's.")
	p("")
	p("The cumulative top's `-hide`: `%s`", profileHide)
	p("")
	for _, t := range r.Profiles {
		p("### %s at %d clients", t.Scenario, t.Clients)
		p("")
		measured := ""
		if m := r.find(t.Scenario, t.Clients); m != nil {
			measured = fmt.Sprintf(" (the measured run: %.1f req/s)", m.RPS)
		}
		p("Profiled for %d s under %.1f req/s%s, %d errors.", t.Seconds, t.RPS, measured, t.Errors)
		p("")
		renderProfileTops(p, t.Err, t.Flat, t.Cum)
	}
}

// renderProfileTops writes a profile's two tops (flat, then cumulative), or why there is none.
func renderProfileTops(p func(string, ...any), failed, flat, cum string) {
	if failed != "" {
		p("No profile: %s", strings.ReplaceAll(failed, "\n", " "))
	} else {
		p("```")
		p("%s", flat)
		p("```")
		p("")
		p("By cumulative time:")
		p("")
		p("```")
		p("%s", cum)
		p("```")
	}
	p("")
}

// keepProfiles makes dir the home of the run's profiles, with a copy of the server binary they
// were taken of (pprof needs it for symbols once the run's own copy is gone), and returns dir.
func keepProfiles(dir, serverBin string) (string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	bin, err := os.ReadFile(serverBin)
	if err != nil {
		return "", err
	}
	return dir, os.WriteFile(filepath.Join(dir, "server"), bin, 0o755)
}
