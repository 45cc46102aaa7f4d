package pgtest_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/partizap/vendor-inbox/models/pgtest"
)

func selectOne(t *testing.T, url string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatalf("connecting to %s: %v", url, err)
	}
	defer conn.Close(context.Background())
	var one int
	if err := conn.QueryRow(ctx, "SELECT 1").Scan(&one); err != nil || one != 1 {
		t.Fatalf("SELECT 1 on %s: %d, %v", url, one, err)
	}
}

func TestStopStart(t *testing.T) {
	t.Parallel()
	began := time.Now()
	c := pgtest.Start(t)
	t.Logf("started %s in %s", c.URL(), time.Since(began).Round(time.Millisecond))
	url := c.URL()
	want := fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", c.Port())
	if url != want {
		t.Fatalf("URL() = %q, want %q", url, want)
	}
	selectOne(t, url)

	// A connection open across Stop is cut off by the fast shutdown.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	held, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close(context.Background())

	began = time.Now()
	c.Stop(t)
	t.Logf("stopped in %s", time.Since(began).Round(time.Millisecond))

	_, err = pgx.Connect(ctx, url)
	if err == nil {
		t.Fatal("connecting after Stop succeeded")
	}
	if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("connecting after Stop: %v; want connection refused", err)
	}
	if _, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", c.Port()), time.Second); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("dialing the port after Stop: %v; want connection refused", err)
	}
	if err := held.Ping(ctx); err == nil {
		t.Fatal("a connection held across Stop still works")
	}
	c.Stop(t) // stopping a stopped cluster does nothing

	began = time.Now()
	c.Start(t)
	t.Logf("restarted in %s", time.Since(began).Round(time.Millisecond))
	if c.URL() != url {
		t.Fatalf("URL changed across restart: %q, then %q", url, c.URL())
	}
	selectOne(t, url)
	c.Start(t) // starting a running cluster does nothing
	selectOne(t, url)

	// When the server cannot come back (here: its port is taken), Start fails the test with
	// pg_ctl's complaint and the server log's tail.
	c.Stop(t)
	l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", c.Port()))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	r := &fatalRecorder{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		c.Start(r)
	}()
	<-done
	if r.msg == "" {
		t.Fatal("Start succeeded on a taken port")
	}
	for _, want := range []string{"pg_ctl start", "server log", "could not bind"} {
		if !strings.Contains(r.msg, want) {
			t.Errorf("failure message lacks %q:\n%s", want, r.msg)
		}
	}
	if testing.Verbose() {
		t.Logf("failure message, as expected:\n%s", r.msg)
	}

	// Once the port is free again the cluster starts.
	l.Close()
	c.Start(t)
	selectOne(t, url)
}

// fatalRecorder is a testing.TB whose Fatal records the message and ends the goroutine.
type fatalRecorder struct {
	testing.TB
	msg string
}

func (r *fatalRecorder) Fatalf(format string, args ...any) {
	r.msg = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

func (r *fatalRecorder) Fatal(args ...any) {
	r.msg = fmt.Sprint(args...)
	runtime.Goexit()
}

// TestParallel runs two clusters at once, each on its own port with its own data.
func TestParallel(t *testing.T) {
	t.Parallel()
	for i := range 2 {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			t.Parallel()
			c := pgtest.Start(t)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			conn, err := pgx.Connect(ctx, c.URL())
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close(context.Background())
			// Data written before a restart is there after it, and only in this cluster.
			if _, err := conn.Exec(ctx, fmt.Sprintf("CREATE TABLE mine_%d (n int); INSERT INTO mine_%d VALUES (%d)", i, i, i)); err != nil {
				t.Fatal(err)
			}
			var n int
			if err := conn.QueryRow(ctx, "SELECT count(*) FROM pg_tables WHERE tablename LIKE 'mine_%'").Scan(&n); err != nil || n != 1 {
				t.Fatalf("tables named mine_*: %d, %v; want 1", n, err)
			}
			c.Stop(t)
			c.Start(t)
			conn2, err := pgx.Connect(ctx, c.URL())
			if err != nil {
				t.Fatal(err)
			}
			defer conn2.Close(context.Background())
			if err := conn2.QueryRow(ctx, fmt.Sprintf("SELECT n FROM mine_%d", i)).Scan(&n); err != nil || n != i {
				t.Fatalf("after restart: %d, %v; want %d", n, err, i)
			}
		})
	}
}

// TestPauseResume pauses a cluster: it hangs (connections are accepted by the kernel, then
// nothing answers) instead of refusing, on open connections and new ones alike, until Resume.
// Stop resumes a paused cluster, and so does the end of the test.
func TestPauseResume(t *testing.T) {
	t.Parallel()
	c := pgtest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	held, err := pgx.Connect(ctx, c.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close(context.Background())

	c.Pause(t)
	c.Pause(t) // pausing a paused cluster does nothing
	const wait = 300 * time.Millisecond
	hangs := func(what string, f func(context.Context) error) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), wait)
		defer cancel()
		began := time.Now()
		err := f(ctx)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("%s on a paused cluster: %v; want it to hang until the deadline", what, err)
		}
		if elapsed := time.Since(began); elapsed < wait {
			t.Fatalf("%s on a paused cluster gave up after %v, before its deadline of %v", what, elapsed, wait)
		}
	}
	// The open connection's backend is stopped too, not only the postmaster.
	hangs("a query on an open connection", func(ctx context.Context) error {
		_, err := held.Exec(ctx, "SELECT 1")
		return err
	})
	hangs("a new connection", func(ctx context.Context) error {
		conn, err := pgx.Connect(ctx, c.URL())
		if err == nil {
			conn.Close(context.Background())
		}
		return err
	})
	// The port still accepts TCP connections: the kernel completes them, nobody answers.
	tcp, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", c.Port()), time.Second)
	if err != nil {
		t.Fatalf("dialing a paused cluster: %v; want the kernel to accept", err)
	}
	tcp.Close()

	c.Resume(t)
	c.Resume(t) // resuming a running cluster does nothing
	selectOne(t, c.URL())

	// Stop resumes a paused cluster, then stops it; it starts again as usual.
	c.Pause(t)
	c.Stop(t)
	if _, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", c.Port()), time.Second); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("dialing after Stop of a paused cluster: %v; want connection refused", err)
	}
	c.Start(t)
	selectOne(t, c.URL())

	// A cluster left paused is resumed and removed when its test ends.
	var port int
	began := time.Now()
	t.Run("left paused", func(t *testing.T) {
		left := pgtest.Start(t)
		port = left.Port()
		left.Pause(t)
	})
	if elapsed := time.Since(began); elapsed > 20*time.Second {
		t.Errorf("a test that left its cluster paused took %v to end", elapsed)
	}
	if _, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), time.Second); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("dialing a cluster left paused, after its test: %v; want connection refused", err)
	}
}
