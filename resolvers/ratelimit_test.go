package resolvers

import (
	"testing"
	"time"
)

func TestSendLimiter(t *testing.T) {
	t.Parallel()
	l := NewSendLimiter(3)
	t0 := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	steps := []struct {
		sender int64
		at     time.Duration
		ok     bool
		wait   time.Duration
	}{
		{1, 0, true, 0},
		{1, 0, true, 0},
		{1, time.Second, true, 0},
		{1, 2 * time.Second, false, 18 * time.Second}, // a message every 20s once the burst is spent
		{2, 2 * time.Second, true, 0},                 // each sender has their own
		{1, 20 * time.Second, true, 0},
		{1, 21 * time.Second, false, 19 * time.Second},
		{1, 3 * time.Minute, true, 0}, // full again
		{1, 3 * time.Minute, true, 0},
		{1, 3 * time.Minute, true, 0},
		{1, 3 * time.Minute, false, 20 * time.Second},
	}
	for i, s := range steps {
		ok, wait := l.Allow(s.sender, t0.Add(s.at))
		if ok != s.ok || wait.Round(time.Second) != s.wait {
			t.Errorf("step %d: Allow(%d, +%v) = %v, %v; want %v, %v", i, s.sender, s.at, ok, wait, s.ok, s.wait)
		}
	}
	if len(l.buckets) != 1 {
		t.Errorf("%d buckets kept, want 1: sender 2's was full and idle", len(l.buckets))
	}
	if ok, _ := NewSendLimiter(0).Allow(1, t0); !ok {
		t.Error("a limit of 0 must allow everything")
	}
}
