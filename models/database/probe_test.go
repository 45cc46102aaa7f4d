package database_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/partizap/vendor-inbox/models/database"
	"github.com/partizap/vendor-inbox/models/dbtest"
)

// TestProbeSharesAndCachesAnswers counts the queries a probe sends: concurrent checks share
// one, an answer is reused until it is maxAge old, Invalidate drops a "ready" but not a
// failure.
func TestProbeSharesAndCachesAnswers(t *testing.T) {
	t.Parallel()
	dsn, _ := dbtest.New(t)
	// Nothing listens on port 1: connecting fails at once.
	const down = "postgres://postgres@127.0.0.1:1/none?sslmode=disable"
	type step struct {
		do          string // "storm": 50 concurrent checks; "check"; "invalidate"; a duration to wait
		wantErr     bool
		wantQueries int64
	}
	tests := []struct {
		name   string
		url    string
		maxAge time.Duration
		steps  []step
	}{
		{"a storm of checks is one query", dsn, time.Hour, []step{{"storm", false, 1}, {"check", false, 1}, {"storm", false, 1}}},
		{"Invalidate drops a ready", dsn, time.Hour, []step{{"check", false, 1}, {"invalidate", false, 1}, {"check", false, 2}, {"check", false, 2}}},
		{"an answer expires after maxAge", dsn, 50 * time.Millisecond, []step{{"check", false, 1}, {"200ms", false, 1}, {"check", false, 2}}},
		{"a failure is cached too, and Invalidate keeps it", down, time.Hour,
			[]step{{"storm", true, 1}, {"check", true, 1}, {"invalidate", true, 1}, {"check", true, 1}}},
		{"maxAge 0: every check asks", dsn, 0, []step{{"check", false, 1}, {"check", false, 2}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p, err := database.OpenProbe(tt.url, 5*time.Second, tt.maxAge)
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			for i, s := range tt.steps {
				var errs []error
				switch s.do {
				case "check":
					errs = append(errs, p.Check(context.Background()))
				case "storm":
					var mu sync.Mutex
					var wg sync.WaitGroup
					for range 50 {
						wg.Go(func() {
							err := p.Check(context.Background())
							mu.Lock()
							errs = append(errs, err)
							mu.Unlock()
						})
					}
					wg.Wait()
				case "invalidate":
					p.Invalidate()
				default:
					d, _ := time.ParseDuration(s.do)
					time.Sleep(d)
				}
				for _, err := range errs {
					if got := err != nil; got != s.wantErr || (got && !database.Unavailable(err)) {
						t.Fatalf("step %d (%s): Check = %v, want an error: %v (the database unavailable)", i, s.do, err, s.wantErr)
					}
				}
				if got := database.ProbeQueries(p); got != s.wantQueries {
					t.Fatalf("step %d (%s): %d queries sent, want %d", i, s.do, got, s.wantQueries)
				}
			}
		})
	}
}
