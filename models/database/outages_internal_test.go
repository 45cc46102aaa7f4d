package database

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"
)

// fakeClock drives Outages' clock and timers by hand.
type fakeClock struct {
	now    time.Time
	timers []*fakeTimer
}

type fakeTimer struct {
	at          time.Time
	f           func()
	done, stops bool
}

func (c *fakeClock) afterFunc(d time.Duration, f func()) func() bool {
	t := &fakeTimer{at: c.now.Add(d), f: f}
	c.timers = append(c.timers, t)
	return func() bool {
		was := !t.done
		t.done, t.stops = true, true
		return was
	}
}

// advance moves the clock on by d, firing the timers that come due, in order.
func (c *fakeClock) advance(d time.Duration) {
	end := c.now.Add(d)
	for {
		var next *fakeTimer
		for _, t := range c.timers {
			if !t.done && !t.at.After(end) && (next == nil || t.at.Before(next.at)) {
				next = t
			}
		}
		if next == nil {
			c.now = end
			return
		}
		c.now, next.done = next.at, true
		next.f()
	}
}

// TestOutagesAreLoggedOncePerInterval plays sequences of statement outcomes and checks the
// lines logged: at most one WARN line per interval, counts that add up, an INFO line when an
// outage that was logged ends.
func TestOutagesAreLoggedOncePerInterval(t *testing.T) {
	t.Parallel()
	warn := func(n int) string {
		return fmt.Sprintf(`level=WARN msg="database unavailable" failed_statements=%d err="dial tcp 127.0.0.1:5432: connect: connection refused"`, n)
	}
	info := func(n int, d string) string {
		return fmt.Sprintf(`level=INFO msg="database available again" failed_statements=%d unavailable_for=%s`, n, d)
	}
	tests := []struct {
		name   string
		script []string // "fail", "ok", "close", or a duration to let pass
		want   []string
	}{
		{"all well: nothing", []string{"ok", "ok", "10s", "ok"}, nil},
		{"an outage: the first failure at once, the rest at the interval, the remainder when it ends",
			[]string{"fail", "fail", "fail", "10s", "fail", "3s", "ok", "ok", "30s"},
			[]string{warn(1), warn(2), info(1, "13s")}},
		{"a long outage: one line per interval",
			[]string{"fail", "1s", "fail", "1s", "fail", "1s", "fail", "1s", "fail", "1s", "fail", "1s", "fail", "1s", "fail", "1s", "fail", "1s", "fail", "1s",
				"fail", "1s", "fail", "1s", "fail", "9s", "fail", "1s", "ok"},
			// Failures at 0s, 1s … 12s, 21s; lines at 0s, 10s (the timer fires before the failure
			// due then), 20s and, on success, 22s.
			[]string{warn(1), warn(9), warn(3), info(1, "22s")}},
		{"failures soon after a line: summed up at the end of the interval, even when they are over by then",
			[]string{"fail", "ok", "1s", "fail", "fail", "ok", "ok", "20s"},
			[]string{warn(1), info(0, "0s"),
				`level=WARN msg="database unavailable" failed_statements=2 err="dial tcp 127.0.0.1:5432: connect: connection refused" available_again=true`}},
		{"a second outage after a quiet interval: logged at once",
			[]string{"fail", "ok", "10s", "fail", "ok"},
			[]string{warn(1), info(0, "0s"), warn(1), info(0, "0s")}},
		{"Close logs what is pending, then nothing more",
			[]string{"fail", "fail", "fail", "close", "fail", "10s", "fail", "ok"},
			[]string{warn(1), warn(2)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var logs bytes.Buffer
			logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
				if a.Key == slog.TimeKey {
					return slog.Attr{}
				}
				return a
			}}))
			clock := &fakeClock{now: time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)}
			failures := 0
			o := newOutages(logger, 10*time.Second, func() { failures++ })
			o.now, o.afterFunc = func() time.Time { return clock.now }, clock.afterFunc
			wantFailures, closed := 0, false
			for _, step := range tt.script {
				switch step {
				case "fail":
					o.failed(errors.New("dial tcp 127.0.0.1:5432:\n connect: connection refused"))
					if !closed {
						wantFailures++
					}
				case "ok":
					o.succeeded()
				case "close":
					o.Close()
					closed = true
				default:
					d, err := time.ParseDuration(step)
					if err != nil {
						t.Fatalf("bad step %q", step)
					}
					clock.advance(d)
				}
			}
			got := strings.Split(strings.TrimSuffix(logs.String(), "\n"), "\n")
			if logs.Len() == 0 {
				got = nil
			}
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("logged:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
			if failures != wantFailures {
				t.Errorf("onFailure called %d times, want %d", failures, wantFailures)
			}
		})
	}
}
