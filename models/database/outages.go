package database

import (
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"gorm.io/gorm"
)

// DefaultOutageInterval is how often, at most, an outage is logged.
const DefaultOutageInterval = 10 * time.Second

// Outages logs the statements that fail because the database is unavailable (EUNAVAILABLE):
// one WARN line "database unavailable" per interval with the number of such failures since the
// previous line (failed_statements), and one INFO line "database available again", with the
// failures not yet logged, when a statement succeeds after a WARN line. An outage under load
// fails thousands of statements a second; logging each would bury everything else.
//
// The first failure after a quiet interval is logged at once; later ones wait for the end of
// the interval, so there is at most one WARN line per interval.
type Outages struct {
	hooks     *statementHooks // nil in unit tests
	logger    *slog.Logger
	interval  time.Duration
	onFailure func()
	now       func() time.Time
	afterFunc func(time.Duration, func()) (stop func() bool)

	// troubled is down || pending > 0, read without the lock: the common case, a statement
	// succeeding while all is well, must not contend for it.
	troubled atomic.Bool

	mu       sync.Mutex
	down     bool      // the latest statement failed unavailable
	warned   bool      // a WARN line is out and no INFO line since
	pending  int64     // failures not in a line yet
	since    time.Time // the first failure since statements last succeeded
	lastErr  string    // the latest failure's cause
	lastWarn time.Time
	stop     func() bool // cancels the scheduled flush; nil when none is
	closed   bool
}

// ReportOutages makes db, which OpenWith opened, report its failed-unavailable statements to
// logger, at most one WARN line per interval (DefaultOutageInterval when 0). onFailure, when
// not nil, is called after each such failure: readiness uses it to stop trusting a cached
// "ready". Close stops the reporting and logs what is pending.
func ReportOutages(db *gorm.DB, logger *slog.Logger, interval time.Duration, onFailure func()) (*Outages, error) {
	h, err := hooksOf(db)
	if err != nil {
		return nil, err
	}
	o := newOutages(logger, interval, onFailure)
	o.hooks = h
	h.outages.Store(o)
	return o, nil
}

func newOutages(logger *slog.Logger, interval time.Duration, onFailure func()) *Outages {
	if interval <= 0 {
		interval = DefaultOutageInterval
	}
	return &Outages{
		logger:    logger,
		interval:  interval,
		onFailure: onFailure,
		now:       time.Now,
		afterFunc: func(d time.Duration, f func()) func() bool { return time.AfterFunc(d, f).Stop },
	}
}

func (o *Outages) failed(err error) {
	o.mu.Lock()
	if o.closed {
		o.mu.Unlock()
		return
	}
	now := o.now()
	o.pending++
	o.lastErr = oneLine(err)
	if !o.down {
		o.down = true
		o.since = now
	}
	o.troubled.Store(true)
	if o.stop == nil {
		if wait := o.interval - now.Sub(o.lastWarn); o.lastWarn.IsZero() || wait <= 0 {
			o.warn(now)
		} else {
			o.stop = o.afterFunc(wait, o.flush)
		}
	}
	o.mu.Unlock()
	if o.onFailure != nil {
		o.onFailure()
	}
}

func (o *Outages) succeeded() {
	if !o.troubled.Load() {
		return
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if !o.down || o.closed {
		return // failures came and went within an interval: the scheduled flush logs them
	}
	o.down = false
	if o.warned {
		o.logger.Info("database available again", "failed_statements", o.pending,
			"unavailable_for", o.now().Sub(o.since).Round(time.Millisecond))
		o.pending, o.warned = 0, false
		if o.stop != nil {
			o.stop()
			o.stop = nil
		}
	}
	o.troubled.Store(o.pending > 0)
}

// flush logs the failures of the interval just ended.
func (o *Outages) flush() {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.stop = nil
	if o.pending == 0 || o.closed {
		return
	}
	if o.down {
		o.warn(o.now())
		return
	}
	// Statements failed and succeeded again between two lines: one line says both.
	o.logger.Warn("database unavailable", "failed_statements", o.pending, "err", o.lastErr, "available_again", true)
	o.pending, o.lastWarn, o.warned = 0, o.now(), false
	o.troubled.Store(false)
}

// warn logs the pending failures. The caller holds o.mu.
func (o *Outages) warn(now time.Time) {
	o.logger.Warn("database unavailable", "failed_statements", o.pending, "err", o.lastErr)
	o.pending, o.lastWarn, o.warned = 0, now, true
}

// Close stops the reporting; failures not logged yet are logged now.
func (o *Outages) Close() {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed {
		return
	}
	o.closed = true
	if o.hooks != nil {
		o.hooks.outages.CompareAndSwap(o, nil)
	}
	if o.stop != nil {
		o.stop()
		o.stop = nil
	}
	if o.pending > 0 {
		o.warn(o.now())
	}
}
