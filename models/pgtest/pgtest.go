// Package pgtest runs a throwaway PostgreSQL server that a test owns and can stop and start,
// or pause (a server that hangs) and resume.
//
// Each Cluster is a fresh data directory made by the installed initdb and run by pg_ctl, on
// its own free TCP port on 127.0.0.1 with its unix socket in its own directory, so several
// clusters can run side by side in parallel tests. PostgreSQL refuses to run as root: when
// the test runs as root, every initdb and pg_ctl runs as the "postgres" system user (or
// "nobody" when there is none) through exec.Cmd's SysProcAttr.Credential, and the cluster's
// directory is owned by that user.
//
// The binaries are found via `pg_config --bindir`, else the newest /usr/lib/postgresql/*/bin,
// else initdb on PATH. When they cannot be found the test fails; it never skips.
package pgtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

const (
	// superuser is the role initdb creates (initdb -U) and URL connects as.
	superuser = "postgres"
	// readyTimeout bounds how long Start waits for the server to accept connections, and
	// how long Stop waits for it to go away.
	readyTimeout = 30 * time.Second
	// cmdTimeout bounds every initdb and pg_ctl run.
	cmdTimeout = 60 * time.Second
	// startAttempts is how many free ports the first start tries, in case another process
	// takes the picked port between picking and binding it.
	startAttempts = 3
)

// Cluster is a PostgreSQL server owned by one test. Its methods are safe for concurrent use.
type Cluster struct {
	bindir string
	cred   *syscall.Credential // nil: run as the current user
	dir    string              // owned by the server's user; holds data/, the socket, the log
	data   string
	log    string
	port   int

	mu      sync.Mutex
	running bool
	paused  bool // its processes are stopped with SIGSTOP (Pause)
	resumes bool // a cleanup resumes it, so that destroy never waits on a stopped server
}

// Start creates a new cluster (initdb with trust authentication and superuser "postgres";
// listening only on 127.0.0.1 at a free port; unix socket in the cluster's own directory;
// fsync off) and starts it, waiting until it accepts connections. It is stopped and removed
// when t ends. Any failure, including missing initdb or pg_ctl, fails t.
func Start(t testing.TB) *Cluster {
	t.Helper()
	bindir, err := findBindir()
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	cred, owner, err := serverUser()
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	dir, err := makeDir(owner)
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	c := &Cluster{
		bindir: bindir,
		cred:   cred,
		dir:    dir,
		data:   filepath.Join(dir, "data"),
		log:    filepath.Join(dir, "postgres.log"),
	}
	t.Cleanup(c.destroy)

	out, err := c.run("initdb",
		"-D", c.data,
		"-U", superuser,
		"--auth=trust",
		"--encoding=UTF8",
		"--locale=C",
		"--no-sync",
		"--no-instructions",
	)
	if err != nil {
		t.Fatalf("pgtest: initdb in %s: %v\n%s", c.data, err, out)
	}

	c.mu.Lock()
	defer c.mu.Unlock()
	for attempt := 1; ; attempt++ {
		if attempt > 1 {
			_ = os.Remove(c.log) // so the next failure's log is its own
		}
		if c.port, err = freePort(); err != nil {
			t.Fatalf("pgtest: picking a free port: %v", err)
		}
		err = c.start()
		if err == nil {
			break
		}
		// Retry only when the port was taken in the meantime.
		if attempt == startAttempts || !strings.Contains(c.logTail(), "could not bind") {
			t.Fatalf("pgtest: %v", err)
		}
	}
	return c
}

// URL is the cluster's connection URL as the superuser, to the "postgres" database. It
// stays the same across Stop and Start.
func (c *Cluster) URL() string {
	return fmt.Sprintf("postgres://%s@127.0.0.1:%d/postgres?sslmode=disable", superuser, c.port)
}

// Port is the TCP port the cluster listens on.
func (c *Cluster) Port() int { return c.port }

// Stop stops the server (pg_ctl stop -m fast, which disconnects every client) and waits until
// it has exited, so that its port then refuses connections. A paused cluster is resumed first.
// Stopping a stopped cluster does nothing.
func (c *Cluster) Stop(t testing.TB) {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.running {
		return
	}
	if err := c.stop("fast"); err != nil {
		t.Fatalf("pgtest: %v", err)
	}
}

// Start starts the stopped cluster again, with the same data on the same port, and waits
// until it accepts connections. Starting a running cluster does nothing.
func (c *Cluster) Start(t testing.TB) {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.running {
		return
	}
	if err := c.start(); err != nil {
		t.Fatalf("pgtest: %v", err)
	}
}

// start runs pg_ctl start and then waits until a real connection runs a query. The caller
// holds c.mu.
func (c *Cluster) start() error {
	opts := strings.Join([]string{
		"-p", strconv.Itoa(c.port),
		"-k", c.dir,
		"-c", "listen_addresses=127.0.0.1",
		"-c", "fsync=off",
		"-c", "synchronous_commit=off",
		"-c", "full_page_writes=off",
		"-c", "shared_buffers=16MB",
		"-c", "max_connections=100",
	}, " ")
	out, err := c.run("pg_ctl", "start",
		"-D", c.data,
		"-l", c.log,
		"-w", "-t", strconv.Itoa(int(readyTimeout/time.Second)),
		"-o", opts,
	)
	if err != nil {
		// pg_ctl may have launched a postmaster that is still coming up; make sure nothing
		// is left behind before reporting.
		c.running = true
		_ = c.stop("immediate")
		return fmt.Errorf("pg_ctl start on port %d: %v\n%s\nserver log %s:\n%s",
			c.port, err, out, c.log, c.logTail())
	}
	c.running = true
	if err := c.waitReady(); err != nil {
		_ = c.stop("immediate")
		return fmt.Errorf("server on port %d did not accept connections: %v\nserver log %s:\n%s",
			c.port, err, c.log, c.logTail())
	}
	return nil
}

// stop runs pg_ctl stop in mode and waits for the server to exit. The caller holds c.mu.
func (c *Cluster) stop(mode string) error {
	if c.paused {
		// A stopped postmaster would never act on pg_ctl's signal.
		if err := c.signalAll(syscall.SIGCONT); err != nil {
			return err
		}
		c.paused = false
	}
	out, err := c.run("pg_ctl", "stop",
		"-D", c.data,
		"-m", mode,
		"-w", "-t", strconv.Itoa(int(readyTimeout/time.Second)),
	)
	if err != nil {
		if _, statErr := os.Stat(filepath.Join(c.data, "postmaster.pid")); errors.Is(statErr, os.ErrNotExist) {
			c.running = false // it was not running after all
		}
		return fmt.Errorf("pg_ctl stop -m %s on port %d: %v\n%s\nserver log %s:\n%s",
			mode, c.port, err, out, c.log, c.logTail())
	}
	c.running = false
	return nil
}

// Pause stops every process of the running server (the postmaster and all its children) with
// SIGSTOP: the server then hangs rather than refuses. Its port still accepts TCP connections (the
// kernel completes them) but nothing answers: not new connections, not queries on open ones, not
// cancel requests. This is what a frozen host, a stalled disk or a network that drops packets
// look like to a client. Pausing a paused cluster does nothing; Resume, Stop and the end of the
// test resume it.
func (c *Cluster) Pause(t testing.TB) {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.running {
		t.Fatal("pgtest: Pause needs a running cluster")
	}
	if c.paused {
		return
	}
	if !c.resumes {
		// Registered after Start's destroy, so it runs before it.
		t.Cleanup(func() {
			c.mu.Lock()
			defer c.mu.Unlock()
			if c.paused {
				_ = c.signalAll(syscall.SIGCONT)
				c.paused = false
			}
		})
		c.resumes = true
	}
	c.paused = true // from here on, a failure still leaves the cleanup to resume it
	if err := c.signalAll(syscall.SIGSTOP); err != nil {
		t.Fatalf("pgtest: pause: %v", err)
	}
}

// Resume continues the processes Pause stopped; the server then answers again, and works off
// whatever queued up meanwhile. Resuming a cluster that is not paused does nothing.
func (c *Cluster) Resume(t testing.TB) {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.paused {
		return
	}
	if err := c.signalAll(syscall.SIGCONT); err != nil {
		t.Fatalf("pgtest: resume: %v", err)
	}
	c.paused = false
}

// signalAll sends sig to the postmaster and then to each of its children. For SIGSTOP the
// postmaster goes first and is waited for, so that it cannot fork a child we would miss.
func (c *Cluster) signalAll(sig syscall.Signal) error {
	pid, err := c.postmasterPID()
	if err != nil {
		return err
	}
	if sig == syscall.SIGSTOP {
		if err := syscall.Kill(pid, sig); err != nil {
			return fmt.Errorf("SIGSTOP postmaster %d: %w", pid, err)
		}
		if err := waitStopped(pid); err != nil {
			return err
		}
	}
	children, err := childrenOf(pid)
	if err != nil {
		return err
	}
	for _, child := range children {
		// A child may have exited since it was listed.
		if err := syscall.Kill(child, sig); err != nil && !errors.Is(err, syscall.ESRCH) {
			return fmt.Errorf("%v to backend %d: %w", sig, child, err)
		}
	}
	if sig != syscall.SIGSTOP {
		if err := syscall.Kill(pid, sig); err != nil {
			return fmt.Errorf("%v to postmaster %d: %w", sig, pid, err)
		}
	}
	return nil
}

// postmasterPID reads the first line of postmaster.pid.
func (c *Cluster) postmasterPID() (int, error) {
	b, err := os.ReadFile(filepath.Join(c.data, "postmaster.pid"))
	if err != nil {
		return 0, fmt.Errorf("reading the postmaster's pid: %w", err)
	}
	first, _, _ := strings.Cut(string(b), "\n")
	pid, err := strconv.Atoi(strings.TrimSpace(first))
	if err != nil || pid <= 0 {
		return 0, fmt.Errorf("postmaster.pid starts with %q, not a pid", first)
	}
	return pid, nil
}

// procStat returns the state and the parent pid of a process, from /proc/<pid>/stat.
func procStat(pid int) (state byte, ppid int, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, 0, err
	}
	// "pid (comm) state ppid ...": comm may hold spaces and parentheses, so split after the last ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, 0, fmt.Errorf("/proc/%d/stat: unexpected %q", pid, b)
	}
	fields := strings.Fields(string(b[i+1:]))
	if len(fields) < 2 || len(fields[0]) != 1 {
		return 0, 0, fmt.Errorf("/proc/%d/stat: unexpected %q", pid, b)
	}
	ppid, err = strconv.Atoi(fields[1])
	return fields[0][0], ppid, err
}

// waitStopped waits until the kernel reports pid as stopped.
func waitStopped(pid int) error {
	deadline := time.Now().Add(readyTimeout)
	for {
		state, _, err := procStat(pid)
		if err != nil {
			return err
		}
		if state == 'T' {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("postmaster %d not stopped after %s (state %c)", pid, readyTimeout, state)
		}
		time.Sleep(time.Millisecond)
	}
}

// childrenOf lists the processes whose parent is pid.
func childrenOf(pid int) ([]int, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, err
	}
	var children []int
	for _, e := range entries {
		child, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if _, ppid, err := procStat(child); err == nil && ppid == pid {
			children = append(children, child)
		}
	}
	return children, nil
}

// waitReady polls with real connections until one runs SELECT 1, for at most readyTimeout.
func (c *Cluster) waitReady() error {
	ctx, cancel := context.WithTimeout(context.Background(), readyTimeout)
	defer cancel()
	var last error
	for {
		if last = ping(ctx, c.URL()); last == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("after %s: %w", readyTimeout, last)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func ping(ctx context.Context, url string) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	var one int
	return conn.QueryRow(ctx, "SELECT 1").Scan(&one)
}

// destroy stops the server if it runs (resuming it first if paused) and removes the cluster's
// directory.
func (c *Cluster) destroy() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.running {
		_ = c.stop("immediate")
	}
	_ = os.RemoveAll(c.dir)
}

// run runs one of the PostgreSQL binaries as the server's user, bounded by cmdTimeout, and
// returns its combined output.
func (c *Cluster) run(name string, args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), cmdTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(c.bindir, name), args...)
	cmd.Dir = c.dir // the test's working directory may be unreadable for the server's user
	cmd.Env = serverEnv(c.dir)
	if c.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: c.cred}
	}
	// pg_ctl start leaves a postmaster running; it writes to the log, never to our pipe, but
	// don't let a stray inherited descriptor hang us anyway.
	cmd.WaitDelay = 5 * time.Second
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	err := cmd.Run()
	if ctx.Err() != nil {
		err = fmt.Errorf("%s timed out after %s: %w", name, cmdTimeout, err)
	}
	return out.Bytes(), err
}

// logTail returns the last lines of the server log.
func (c *Cluster) logTail() string {
	b, err := os.ReadFile(c.log)
	if err != nil {
		return fmt.Sprintf("(no log: %v)", err)
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if n := 30; len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// serverEnv is the environment for initdb and pg_ctl: ours, without settings that would
// redirect them (PG*) or change the locale, with HOME in the cluster's directory.
func serverEnv(home string) []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "PG") || strings.HasPrefix(k, "LC_") || k == "LANG" || k == "LANGUAGE" || k == "HOME" {
			continue
		}
		env = append(env, kv)
	}
	return append(env, "LC_ALL=C", "HOME="+home)
}

// findBindir returns the directory holding initdb and pg_ctl.
func findBindir() (string, error) {
	var tried []string
	ok := func(dir string) bool {
		tried = append(tried, dir)
		for _, name := range []string{"initdb", "pg_ctl", "postgres"} {
			if fi, err := os.Stat(filepath.Join(dir, name)); err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 {
				return false
			}
		}
		return true
	}
	if pgConfig, err := exec.LookPath("pg_config"); err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		out, err := exec.CommandContext(ctx, pgConfig, "--bindir").Output()
		cancel()
		if dir := strings.TrimSpace(string(out)); err == nil && dir != "" && ok(dir) {
			return dir, nil
		}
	}
	// Debian and Ubuntu: /usr/lib/postgresql/<major>/bin, newest first.
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	version := func(dir string) float64 {
		v, _ := strconv.ParseFloat(filepath.Base(filepath.Dir(dir)), 64)
		return v
	}
	sort.SliceStable(dirs, func(i, j int) bool { return version(dirs[i]) > version(dirs[j]) })
	for _, dir := range dirs {
		if ok(dir) {
			return dir, nil
		}
	}
	if initdb, err := exec.LookPath("initdb"); err == nil {
		if real, err := filepath.EvalSymlinks(initdb); err == nil && ok(filepath.Dir(real)) {
			return filepath.Dir(real), nil
		}
		if ok(filepath.Dir(initdb)) {
			return filepath.Dir(initdb), nil
		}
	}
	return "", fmt.Errorf("PostgreSQL server binaries (initdb, pg_ctl, postgres) not found; "+
		"install the PostgreSQL server (e.g. apt-get install postgresql); looked via pg_config --bindir, "+
		"/usr/lib/postgresql/*/bin and PATH in %v", tried)
}

// serverUser returns the credential to run the server with and its uid: nil and our own
// uid unless we are root, which PostgreSQL refuses to run as.
func serverUser() (*syscall.Credential, int, error) {
	if os.Geteuid() != 0 {
		return nil, os.Geteuid(), nil
	}
	var errs []error
	for _, name := range []string{"postgres", "nobody"} {
		u, err := user.Lookup(name)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
		gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
		if err := errors.Join(err1, err2); err != nil || uid == 0 {
			errs = append(errs, fmt.Errorf("user %s: uid %s gid %s: unusable", name, u.Uid, u.Gid))
			continue
		}
		return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, int(uid), nil
	}
	return nil, 0, fmt.Errorf("running as root, which PostgreSQL refuses, and no unprivileged user to run it as: %w",
		errors.Join(errs...))
}

// makeDir creates the cluster's directory, owned by uid and reachable by it. When we run as
// another user, the temporary directory's ancestors must let that user through; if
// os.TempDir() does not, /tmp is used.
func makeDir(uid int) (string, error) {
	parent := os.TempDir()
	if uid != os.Geteuid() && !traversable(parent, uid) {
		parent = "/tmp"
	}
	dir, err := os.MkdirTemp(parent, "pgtest-*")
	if err != nil {
		return "", fmt.Errorf("creating the cluster directory: %w", err)
	}
	if uid != os.Geteuid() {
		if err := os.Chown(dir, uid, -1); err != nil {
			_ = os.RemoveAll(dir)
			return "", fmt.Errorf("giving %s to uid %d: %w", dir, uid, err)
		}
	}
	return dir, nil
}

// traversable reports whether uid can search every directory from / down to dir.
func traversable(dir string, uid int) bool {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return false
	}
	for {
		fi, err := os.Stat(dir)
		if err != nil {
			return false
		}
		st, isUnix := fi.Sys().(*syscall.Stat_t)
		owner := isUnix && int(st.Uid) == uid
		if fi.Mode().Perm()&0o001 == 0 && !(owner && fi.Mode().Perm()&0o100 != 0) {
			return false
		}
		up := filepath.Dir(dir)
		if up == dir {
			return true
		}
		dir = up
	}
}

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
