package httpserver

import (
	"net/http"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/partizap/vendor-inbox/models"
)

// admission bounds the data requests (GraphQL over HTTP, REST pages) that run at once. A page is
// CPU work once its statements have answered, so past a few requests per core more of them at
// once add no throughput: they only share the cores, and each holds its page's memory while
// it waits for them, so memory would grow with the number of clients rather than with the
// cores. Requests over the bound wait their turn, in arrival order, before anything of theirs
// runs (the session lookup included), for as long as their deadline allows.
type admission struct {
	slots   chan struct{}
	waiting atomic.Int64
	waited  atomic.Int64 // requests that had to wait, since the start
}

func newAdmission(limit int) *admission {
	if limit <= 0 {
		return nil
	}
	return &admission{slots: make(chan struct{}, limit)}
}

// Admit runs next once fewer than Options.MaxConcurrentRequests admitted requests are running.
// A request whose deadline passes while it waits gets 504 TIMEOUT; nothing of it ran.
// WebSockets must not pass here: a socket would hold its place for its whole life.
func (s *Server) Admit(next http.Handler) http.Handler {
	a := s.admission
	if a == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case a.slots <- struct{}{}:
		default:
			a.waiting.Add(1)
			a.waited.Add(1)
			select {
			case a.slots <- struct{}{}:
				a.waiting.Add(-1)
			case <-r.Context().Done():
				a.waiting.Add(-1)
				s.WriteError(w, r, models.ErrTimeout)
				return
			}
		}
		defer func() { <-a.slots }()
		next.ServeHTTP(w, r)
	})
}

// registerAdmissionMetrics shows how busy the bound keeps the requests.
func (s *Server) registerAdmissionMetrics() {
	a := s.admission
	if a == nil || s.opts.Metrics == nil {
		return
	}
	for _, c := range []prometheus.Collector{
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "bff_http_requests_running", Help: "Data requests (GraphQL over HTTP, REST) running now, at most MAX_CONCURRENT_REQUESTS."},
			func() float64 { return float64(len(a.slots)) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "bff_http_requests_waiting", Help: "Data requests waiting for one of MAX_CONCURRENT_REQUESTS to finish."},
			func() float64 { return float64(a.waiting.Load()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "bff_http_requests_waited_total", Help: "Data requests that had to wait before they ran."},
			func() float64 { return float64(a.waited.Load()) }),
	} {
		_ = s.opts.Metrics.Register(c) // a server built twice over one registry (tests) keeps the first
	}
}
