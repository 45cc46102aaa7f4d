package models

import (
	"sync"
	"time"
)

// sessionCache remembers the sessions this instance resolved in the last ttl, so that a
// client's run of requests looks its session up once instead of once a request: on a page of
// 20 the lookup was a statement of two and a fifth of PostgreSQL's work (BENCHMARKS.md).
//
// What it costs is a delay: a session ended in the database (signed out, expired early) keeps
// working on an instance that resolved it for up to ttl, as a WebSocket's keeps working until
// its next check (WS_SESSION_CHECK_INTERVAL). A session's own expiry is exact: an entry never
// outlives the session's expires_at. Only sessions that exist are remembered, so unknown ids
// cost a statement each, as without the cache, and cannot fill it.
type sessionCache struct {
	ttl time.Duration
	max int // entries at most

	mu      sync.Mutex
	entries map[string]cachedSession // by the session id's hash
	swept   time.Time                // when put last dropped the lapsed entries
}

type cachedSession struct {
	user  User
	until time.Time // the earlier of resolution + ttl and the session's expires_at
}

// maxCachedSessions bounds the cache: about 300 bytes an entry, so a few MiB at most.
const maxCachedSessions = 10000

func newSessionCache(ttl time.Duration, max int) *sessionCache {
	return &sessionCache{ttl: ttl, max: max, entries: map[string]cachedSession{}}
}

// get returns a copy of the user of the session with hash, if it was resolved less than ttl
// before now and has not expired since.
func (c *sessionCache) get(hash []byte, now time.Time) (*User, bool) {
	c.mu.Lock()
	e, ok := c.entries[string(hash)]
	if ok && !now.Before(e.until) {
		delete(c.entries, string(hash))
		ok = false
	}
	c.mu.Unlock()
	if !ok {
		return nil, false
	}
	u := e.user // callers own what they get
	return &u, true
}

// put remembers u as the user of the session with hash, resolved at now and expiring at
// expiresAt. A full cache drops what has lapsed (a pass over every entry, at most once a ttl,
// since nothing outlives one: a full cache of live sessions would otherwise pay it on every
// new session), then whatever it must.
func (c *sessionCache) put(hash []byte, u *User, now, expiresAt time.Time) {
	until := now.Add(c.ttl)
	if expiresAt.Before(until) {
		until = expiresAt
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.entries[string(hash)]; !ok && len(c.entries) >= c.max {
		if now.Sub(c.swept) >= c.ttl {
			for k, e := range c.entries {
				if !now.Before(e.until) {
					delete(c.entries, k)
				}
			}
			c.swept = now
		}
		for k := range c.entries { // map order: an arbitrary victim
			if len(c.entries) < c.max {
				break
			}
			delete(c.entries, k)
		}
	}
	c.entries[string(hash)] = cachedSession{user: *u, until: until}
}
