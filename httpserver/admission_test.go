package httpserver

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// gathered is the value of the gauge or counter name in reg (-1 when absent).
func gathered(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		m := f.GetMetric()[0]
		if g := m.GetGauge(); g != nil {
			return g.GetValue()
		}
		return m.GetCounter().GetValue()
	}
	return -1
}

// TestAdmitRunsAtMostTheBound: past MaxConcurrentRequests, a request waits until one running
// ends, then runs; one whose deadline passes while it waits is answered 504 TIMEOUT without
// running.
func TestAdmitRunsAtMostTheBound(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	s := newServer(Options{Metrics: reg, MaxConcurrentRequests: 1}, io.Discard)
	started, release := make(chan string, 3), make(chan struct{})
	h := s.Admit(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		started <- r.URL.Path
		<-release
		_, _ = io.WriteString(w, "done "+r.URL.Path)
	}))
	answers := make(map[string]*httptest.ResponseRecorder)
	var mu sync.Mutex
	var wg sync.WaitGroup
	send := func(path string, r *http.Request) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rec := serve(h, r)
			mu.Lock()
			answers[path] = rec
			mu.Unlock()
		}()
	}
	waitFor := func(name string, want float64) {
		t.Helper()
		for deadline := time.Now().Add(5 * time.Second); gathered(t, reg, name) != want; {
			if time.Now().After(deadline) {
				t.Fatalf("%s = %v, want %v", name, gathered(t, reg, name), want)
			}
			time.Sleep(time.Millisecond)
		}
	}

	send("/first", httptest.NewRequest("GET", "/first", nil))
	if got := <-started; got != "/first" {
		t.Fatalf("started %s", got)
	}
	send("/second", httptest.NewRequest("GET", "/second", nil))
	waitFor("bff_http_requests_waiting", 1)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	send("/late", httptest.NewRequest("GET", "/late", nil).WithContext(ctx))
	waitFor("bff_http_requests_waited_total", 2)
	<-ctx.Done()
	waitFor("bff_http_requests_waiting", 1) // /late gave up; /second still waits
	if got := gathered(t, reg, "bff_http_requests_running"); got != 1 {
		t.Errorf("running %v, want 1", got)
	}
	select {
	case p := <-started:
		t.Fatalf("%s started while /first ran", p)
	default:
	}

	release <- struct{}{} // /first ends
	if got := <-started; got != "/second" {
		t.Fatalf("started %s, want /second", got)
	}
	close(release)
	wg.Wait()
	for path, want := range map[string]struct {
		status int
		body   string
	}{
		"/first":  {200, "done /first"},
		"/second": {200, "done /second"},
		"/late":   {504, `{"error":{"code":"timeout","message":"the request took longer than the service allows and was stopped; try again"}}` + "\n"},
	} {
		if got := answers[path]; got.Code != want.status || got.Body.String() != want.body {
			t.Errorf("%s: %d %q, want %d %q", path, got.Code, got.Body, want.status, want.body)
		}
	}
	for name, want := range map[string]float64{"bff_http_requests_running": 0, "bff_http_requests_waiting": 0, "bff_http_requests_waited_total": 2} {
		if got := gathered(t, reg, name); got != want {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
}

// TestAdmitWithoutABound: MaxConcurrentRequests 0 leaves requests alone and registers nothing.
func TestAdmitWithoutABound(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	s := newServer(Options{Metrics: reg}, io.Discard)
	inner := http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})
	if h := s.Admit(inner); h == nil || gathered(t, reg, "bff_http_requests_running") != -1 {
		t.Fatalf("an unbounded server admits through a wrapper or registered its metrics")
	}
}
