package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// newClient returns the one client every request of a run goes through. Its pool keeps a
// connection per client idle between requests: a closed loop must never pay for a new
// connection, or it would measure TCP set-up instead of the service.
func newClient(clients int) *http.Client {
	return &http.Client{
		Transport: &http.Transport{
			DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
			MaxIdleConns:        0, // no limit across hosts
			MaxIdleConnsPerHost: clients + 8,
			IdleConnTimeout:     time.Minute,
			// Compressed answers are asked for by header where measured (compression.go): a
			// transport that asks on its own would measure compression in every scenario.
			DisableCompression: true,
		},
		// Above the service's 10s REQUEST_TIMEOUT: a request that slow fails there first.
		Timeout: 30 * time.Second,
	}
}

// target is the request a scenario repeats.
type target struct {
	Method  string
	URL     string
	Body    []byte
	Header  http.Header
	GraphQL bool // an answer is an error also when it carries GraphQL "errors"
	// NextBody, when set, makes each request's body instead of Body: for writes that must
	// differ per request (each message its own clientMutationId).
	NextBody func() []byte
}

// request is the next request of t.
func (t target) request(ctx context.Context) (*http.Request, error) {
	var body io.Reader
	switch {
	case t.NextBody != nil:
		body = bytes.NewReader(t.NextBody())
	case t.Body != nil:
		body = bytes.NewReader(t.Body)
	}
	req, err := http.NewRequestWithContext(ctx, t.Method, t.URL, body)
	if err != nil {
		return nil, err
	}
	req.Header = t.Header.Clone()
	return req, nil
}

// do sends the request and reads the whole answer into buf.
func (t target) do(ctx context.Context, client *http.Client, buf *bytes.Buffer) (int, error) {
	req, err := t.request(ctx)
	if err != nil {
		return 0, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	buf.Reset()
	_, err = buf.ReadFrom(resp.Body)
	return resp.StatusCode, err
}

// graphQLErrors is how the key of a GraphQL answer's errors starts. Inside a JSON string a
// quote is escaped, so these bytes only occur as a key; the schema has no field named errors,
// so only the top-level one can match. This saves parsing every answer of the run.
var graphQLErrors = []byte(`"errors":`)

// check says why an answer counts as an error, or nil: the status must be 200 and a GraphQL
// answer must carry no errors.
func (t target) check(status int, body []byte) error {
	if status != http.StatusOK {
		return fmt.Errorf("status %d: %s", status, clip(body))
	}
	if t.GraphQL && bytes.Contains(body, graphQLErrors) {
		return fmt.Errorf("GraphQL errors: %s", clip(body))
	}
	return nil
}

func clip(b []byte) string {
	const n = 300
	if len(b) > n {
		return string(b[:n]) + "…"
	}
	return string(b)
}

// runResult is what one closed-loop run measured.
type runResult struct {
	Completed  int64           // answers received, errors included
	Errors     int64           // failed requests and answers that are errors
	Elapsed    time.Duration   // from the start until the last client's last answer
	Latencies  []time.Duration // of every completed request, sorted
	FirstError string          // the first error, to say what went wrong
}

// maxRequestsPerRun bounds a run's count as -duration bounds its time; it is far above what
// two cores can serve in any allowed duration, and keeps the latencies within 40 MB.
const maxRequestsPerRun = 5_000_000

// runLoad runs a closed loop: clients goroutines each send the next request as soon as the
// previous answer is read, until d has passed. A request in flight at the deadline is waited
// for, not cancelled, so every request counted is whole (and its SQL statements too); the
// elapsed time runs until the last one. Cancelling ctx stops the run at once.
func runLoad(ctx context.Context, client *http.Client, t target, clients int, d time.Duration) runResult {
	var (
		wg       sync.WaitGroup
		started  atomic.Int64
		errs     atomic.Int64
		errOnce  sync.Once
		firstErr string
		perCli   = make([][]time.Duration, clients)
	)
	start := time.Now()
	deadline := start.Add(d)
	for i := range clients {
		wg.Go(func() {
			var buf bytes.Buffer
			lat := make([]time.Duration, 0, 1024)
			for time.Now().Before(deadline) && ctx.Err() == nil && started.Add(1) <= maxRequestsPerRun {
				t0 := time.Now()
				status, err := t.do(ctx, client, &buf)
				if ctx.Err() != nil {
					break // interrupted: not a measurement
				}
				lat = append(lat, time.Since(t0))
				if err == nil {
					err = t.check(status, buf.Bytes())
				}
				if err != nil {
					errs.Add(1)
					errOnce.Do(func() { firstErr = err.Error() })
				}
			}
			perCli[i] = lat
		})
	}
	wg.Wait()
	r := runResult{Elapsed: time.Since(start), Errors: errs.Load(), FirstError: firstErr}
	r.Latencies = slices.Concat(perCli...)
	slices.Sort(r.Latencies)
	r.Completed = int64(len(r.Latencies))
	return r
}

// RPS is completed requests per second of the run.
func (r runResult) RPS() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Completed) / r.Elapsed.Seconds()
}

// Percentile is the nearest-rank p-th percentile (0 < p ≤ 100) of the sorted latencies: the
// smallest latency at least p% of the requests did not exceed.
func (r runResult) Percentile(p float64) time.Duration {
	n := len(r.Latencies)
	if n == 0 {
		return 0
	}
	rank := int(math.Ceil(p / 100 * float64(n)))
	return r.Latencies[min(max(rank, 1), n)-1]
}

// statementsMetric is the service's counter of SQL statements.
const statementsMetric = "bff_db_queries_total"

// readCounter reads one counter without labels from a Prometheus text exposition.
func readCounter(ctx context.Context, client *http.Client, url, name string) (float64, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("GET %s: status %d", url, resp.StatusCode)
	}
	return parseCounter(resp.Body, name)
}

func parseCounter(r io.Reader, name string) (float64, error) {
	s := bufio.NewScanner(r)
	s.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for s.Scan() {
		if v, ok := strings.CutPrefix(s.Text(), name+" "); ok {
			return strconv.ParseFloat(strings.TrimSpace(v), 64)
		}
	}
	if err := s.Err(); err != nil {
		return 0, err
	}
	return 0, fmt.Errorf("no %s in the metrics", name)
}
