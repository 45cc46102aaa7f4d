package resolvers

import (
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// SendLimiter limits how many messages each sender may send per minute, per instance: a token
// bucket per sender that holds a minute's allowance, so a burst up to the limit passes and then
// one message per 60s/limit. Buckets idle long enough to be full again are dropped.
type SendLimiter struct {
	perMinute int
	mu        sync.Mutex
	buckets   map[int64]*rate.Limiter
	swept     time.Time
}

// NewSendLimiter returns a limiter of perMinute messages a minute per sender; 0 means none.
func NewSendLimiter(perMinute int) *SendLimiter {
	return &SendLimiter{perMinute: perMinute, buckets: map[int64]*rate.Limiter{}}
}

// Allow takes one message from senderID's allowance at now. When none is left it returns false
// and how long until one is.
func (l *SendLimiter) Allow(senderID int64, now time.Time) (bool, time.Duration) {
	if l == nil || l.perMinute <= 0 {
		return true, 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.swept) > time.Minute {
		// A bucket untouched for a minute is full: forgetting it changes nothing.
		for id, b := range l.buckets {
			if b.TokensAt(now) >= float64(l.perMinute) {
				delete(l.buckets, id)
			}
		}
		l.swept = now
	}
	b := l.buckets[senderID]
	if b == nil {
		b = rate.NewLimiter(rate.Every(time.Minute/time.Duration(l.perMinute)), l.perMinute)
		l.buckets[senderID] = b
	}
	r := b.ReserveN(now, 1)
	if wait := r.DelayFrom(now); wait > 0 {
		r.CancelAt(now)
		return false, wait
	}
	return true, 0
}
