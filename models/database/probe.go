package database

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/glebarez/sqlite"
	"github.com/jackc/pgx/v5/stdlib"
)

// Probe tells whether the database answers, for readiness. It asks over a connection of its
// own, outside the request pool: a pool busy with requests (all connections taken, requests
// queueing for one) says nothing about the database, and a readiness check waiting in that
// queue would report a healthy database as down. The connection is replaced when it breaks.
//
// Concurrent checks share one query, and an answer is reused for maxAge, so a storm of probes
// costs at most one query per maxAge. Invalidate drops a cached "ready" early.
type Probe struct {
	db      *sql.DB
	query   string
	timeout time.Duration
	maxAge  time.Duration
	queries atomic.Int64 // sent to the database, for tests

	mu     sync.Mutex
	last   *probeAnswer
	flight *probeFlight // the check under way, if any
	gen    uint64       // counts Invalidate calls
}

type probeAnswer struct {
	err error
	at  time.Time
}

type probeFlight struct {
	done chan struct{}
	err  error
}

// OpenProbe prepares a probe of the database a URL names (as Open takes it); it connects on
// the first check. Each check gives up after timeout, connecting included.
func OpenProbe(databaseURL string, timeout, maxAge time.Duration) (*Probe, error) {
	p := &Probe{timeout: timeout, maxAge: maxAge}
	switch {
	case isPostgresURL(databaseURL):
		config, err := pgConfig(databaseURL, DBOptions{ConnectTimeout: timeout})
		if err != nil {
			return nil, err
		}
		p.db, p.query = stdlib.OpenDB(*config), "SELECT 1"
	case strings.HasPrefix(databaseURL, "sqlite:"):
		_, dsn, err := sqliteDSN(databaseURL)
		if err != nil {
			return nil, err
		}
		db, err := sql.Open(sqlite.DriverName, dsn)
		if err != nil {
			return nil, fmt.Errorf("open %s: %s", RedactURL(databaseURL), oneLine(err))
		}
		// Reads the schema, so the file must be there and readable, not just the library loaded.
		p.db, p.query = db, "SELECT count(*) FROM sqlite_master"
	default:
		return nil, fmt.Errorf("DATABASE_URL must start with postgres:// or sqlite:, got %q", RedactURL(databaseURL))
	}
	p.db.SetMaxOpenConns(1)
	p.db.SetMaxIdleConns(1)
	return p, nil
}

// Check returns nil when the database answered the latest query, which is at most maxAge
// old, and otherwise an EUNAVAILABLE error. It returns early with ctx's error when ctx ends
// first; the query itself runs under the probe's own timeout, so that one impatient caller
// cannot fail the others waiting for the same answer.
func (p *Probe) Check(ctx context.Context) error {
	p.mu.Lock()
	if p.last != nil && time.Since(p.last.at) < p.maxAge {
		err := p.last.err
		p.mu.Unlock()
		return err
	}
	f := p.flight
	if f == nil {
		f = &probeFlight{done: make(chan struct{})}
		p.flight = f
		go p.ask(f, p.gen)
	}
	p.mu.Unlock()
	select {
	case <-f.done:
		return f.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (p *Probe) ask(f *probeFlight, gen uint64) {
	ctx, cancel := context.WithTimeout(context.Background(), p.timeout)
	defer cancel()
	p.queries.Add(1)
	var n int
	err := p.db.QueryRowContext(ctx, p.query).Scan(&n)
	if err != nil {
		err = fmt.Errorf("the database is unavailable: %w", err)
	}
	p.mu.Lock()
	f.err = err
	p.flight = nil
	// A "ready" that began before an Invalidate may predate the failure that caused it.
	if err != nil || gen == p.gen {
		p.last = &probeAnswer{err: err, at: time.Now()}
	}
	p.mu.Unlock()
	close(f.done)
}

// Invalidate forgets a cached "ready", so that the next check asks the database: something
// else (a failed statement of the pool) has just seen it fail. A cached failure stays.
func (p *Probe) Invalidate() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.gen++
	if p.last != nil && p.last.err == nil {
		p.last = nil
	}
}

// Close closes the probe's connection.
func (p *Probe) Close() error { return p.db.Close() }
