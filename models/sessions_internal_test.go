package models

import (
	"fmt"
	"testing"
	"time"
)

func TestSessionCacheKeepsASessionForTTLAtMostAndNeverPastItsExpiry(t *testing.T) {
	t0 := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
	const ttl = 5 * time.Second
	tests := []struct {
		name      string
		expiresAt time.Time     // the session's
		after     time.Duration // since it was put
		want      bool
	}{
		{"just put", t0.Add(time.Hour), 0, true},
		{"within ttl", t0.Add(time.Hour), ttl - time.Nanosecond, true},
		{"at ttl", t0.Add(time.Hour), ttl, false},
		{"past ttl", t0.Add(time.Hour), time.Minute, false},
		{"before the session expires", t0.Add(2 * time.Second), 2*time.Second - time.Nanosecond, true},
		{"when the session expires, within ttl", t0.Add(2 * time.Second), 2 * time.Second, false},
		{"after the session expired, within ttl", t0.Add(2 * time.Second), 3 * time.Second, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newSessionCache(ttl, 10)
			hash := hashSessionID("a session")
			c.put(hash, &User{ID: 7, DisplayName: "Vendor"}, t0, tt.expiresAt)
			u, ok := c.get(hash, t0.Add(tt.after))
			if ok != tt.want {
				t.Fatalf("get %s after put = %v, want %v", tt.after, ok, tt.want)
			}
			if ok && (u.ID != 7 || u.DisplayName != "Vendor") {
				t.Fatalf("get = %+v, want user 7 «Vendor»", u)
			}
			if !ok && len(c.entries) != 0 {
				t.Fatalf("a lapsed entry stays: %d entries", len(c.entries))
			}
			if _, ok := c.get(hashSessionID("another session"), t0); ok {
				t.Fatal("a session never put is found")
			}
		})
	}
}

func TestSessionCacheGivesCopies(t *testing.T) {
	t0 := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
	c := newSessionCache(time.Minute, 10)
	hash := hashSessionID("a session")
	put := &User{ID: 7, DisplayName: "Vendor"}
	c.put(hash, put, t0, t0.Add(time.Hour))
	put.DisplayName = "changed by whoever put it"
	first, _ := c.get(hash, t0)
	first.DisplayName = "changed by a request"
	second, _ := c.get(hash, t0)
	if second.DisplayName != "Vendor" || first == second {
		t.Fatalf("second get = %p «%s» (first %p), want a fresh copy of «Vendor»", second, second.DisplayName, first)
	}
}

func TestSessionCacheStaysWithinItsBound(t *testing.T) {
	t0 := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
	const max = 4
	c := newSessionCache(time.Minute, max)
	for i := range 3 * max {
		c.put(hashSessionID(fmt.Sprint("session ", i)), &User{ID: int64(i)}, t0, t0.Add(time.Hour))
		if n := len(c.entries); n > max || n != min(i+1, max) {
			t.Fatalf("after %d puts: %d entries, want %d", i+1, n, min(i+1, max))
		}
	}
	// The newest is always kept: it is what was just looked up.
	if u, ok := c.get(hashSessionID(fmt.Sprint("session ", 3*max-1)), t0); !ok || u.ID != 3*max-1 {
		t.Fatalf("the last put = %v, %v; want user %d", u, ok, 3*max-1)
	}
	// Lapsed entries go first: after the ttl, a put into a full cache leaves only itself.
	later := t0.Add(2 * time.Minute)
	c.put(hashSessionID("late"), &User{ID: 99}, later, later.Add(time.Hour))
	if n := len(c.entries); n != 1 {
		t.Fatalf("a put into a full cache of lapsed entries left %d entries, want 1", n)
	}
	// Putting a session again replaces it without evicting another.
	c = newSessionCache(time.Minute, 2)
	c.put(hashSessionID("a"), &User{ID: 1}, t0, t0.Add(time.Hour))
	c.put(hashSessionID("b"), &User{ID: 2}, t0, t0.Add(time.Hour))
	c.put(hashSessionID("a"), &User{ID: 1}, t0.Add(time.Second), t0.Add(time.Hour))
	if _, ok := c.get(hashSessionID("b"), t0.Add(time.Second)); !ok || len(c.entries) != 2 {
		t.Fatalf("after putting a again: b found %v, %d entries; want true, 2", ok, len(c.entries))
	}
}

// TestSessionCacheSweepsAtMostOnceATTL: a full cache drops its lapsed entries in one pass over
// all of them, and makes that pass at most once a ttl; in between, a new session evicts one.
func TestSessionCacheSweepsAtMostOnceATTL(t *testing.T) {
	t0 := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
	const max = 4
	c := newSessionCache(time.Minute, max)
	for i := range max { // sessions that expire in a second
		c.put(hashSessionID(fmt.Sprint("short ", i)), &User{ID: int64(i)}, t0, t0.Add(time.Second))
	}
	c.put(hashSessionID("full at t0"), &User{ID: 10}, t0, t0.Add(time.Hour)) // sweeps: nothing lapsed
	for _, tt := range []struct {
		at   time.Duration
		want int // entries after one more put
	}{
		{2 * time.Second, max}, // lapsed entries, but the last pass was a second ago: one evicted
		{61 * time.Second, 2},  // a ttl since the last pass: all lapsed go, the one of 2s stays
	} {
		now := t0.Add(tt.at)
		c.put(hashSessionID(fmt.Sprint("new at ", tt.at)), &User{ID: 20}, now, now.Add(time.Hour))
		if n := len(c.entries); n != tt.want {
			t.Fatalf("a put at t0+%s into a full cache left %d entries, want %d", tt.at, n, tt.want)
		}
	}
}
