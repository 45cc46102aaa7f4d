package httpserver

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"sync"
	"sync/atomic"

	"github.com/99designs/gqlgen/graphql"

	"github.com/partizap/vendor-inbox/resolvers"
)

// sharedResponses answers an event once per viewer and operation. A seller keeps the inbox
// open in many tabs, each subscribed with the same document: every one of them would execute
// the same selection over the same view of the same event and write the same JSON, one after
// another (the bench measured the 50th tab's copy of an event 115 ms after the first). The
// first subscription to reach an event executes it; the others with the same key wait for its
// response and send it as theirs. The key holds the viewer, so nobody ever receives a response
// executed for someone else.
type sharedResponses struct {
	mu      sync.Mutex
	entries map[sharedKey]*sharedResponse
	keys    [maxSharedResponses]sharedKey // the keys of entries, a ring: next is the oldest once full
	next    int
	// Executed counts the events subscriptions executed, Shared those answered with another
	// subscription's response.
	Executed, Shared atomic.Int64
}

// maxSharedResponses bounds the responses kept (an inbox row is ~3 KB). Subscriptions of one
// key read an event within moments of each other; one that comes later than this many events
// executes the event itself, as it would without sharing.
const maxSharedResponses = 1024

type sharedKey struct {
	seq       uint64 // the event (live.Event.Seq)
	viewer    int64
	operation string // operationKey
}

type sharedResponse struct {
	done chan struct{}
	resp *graphql.Response // nil when the executing subscription got none to share
}

// operationKey identifies what an operation executes: its document, operation name and
// variables (json.Marshal writes a map's keys sorted, so equal variables give equal text).
func operationKey(op *graphql.OperationContext) string {
	vars, err := json.Marshal(op.Variables)
	if err != nil {
		return ""
	}
	h := sha256.New()
	h.Write([]byte(op.RawQuery))
	h.Write([]byte{0})
	h.Write([]byte(op.OperationName))
	h.Write([]byte{0})
	h.Write(vars)
	return string(h.Sum(nil))
}

// claim returns the entry of key; first is true when the caller is to execute the event and
// finish the entry.
func (s *sharedResponses) claim(key sharedKey) (e *sharedResponse, first bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.entries == nil {
		s.entries = map[sharedKey]*sharedResponse{}
	}
	if e, ok := s.entries[key]; ok {
		return e, false
	}
	e = &sharedResponse{done: make(chan struct{})}
	delete(s.entries, s.keys[s.next]) // the oldest, or the zero key that nothing has
	s.entries[key] = e
	s.keys[s.next] = key
	s.next = (s.next + 1) % maxSharedResponses
	return e, true
}

// respond answers the event gate has next, from another subscription's response when one of
// the same viewer and operation has executed it, by executing it otherwise.
func (s *sharedResponses) respond(ctx context.Context, gate *resolvers.EventGate, viewer int64, next graphql.ResponseHandler) *graphql.Response {
	seq, ok := gate.Next(ctx)
	if !ok {
		return next(ctx) // the stream ended: gqlgen reads the end
	}
	entry, first := s.claim(sharedKey{seq: seq, viewer: viewer, operation: gate.Operation})
	if !first {
		select {
		case <-entry.done:
		case <-ctx.Done():
			return nil
		}
		if entry.resp != nil {
			s.Shared.Add(1)
			gate.Skip(ctx)
			shared := *entry.resp
			return &shared
		}
	}
	var resp *graphql.Response
	if first {
		defer func() {
			// Only a clean answer is shared: an error may be the executing subscription's own
			// (its context ended, say). gqlgen reuses the buffer behind Data for the next event.
			if resp != nil && len(resp.Errors) == 0 && len(resp.Extensions) == 0 {
				entry.resp = &graphql.Response{Data: append(json.RawMessage(nil), resp.Data...)}
			}
			close(entry.done)
		}()
	}
	s.Executed.Add(1)
	gate.Execute(ctx)
	resp = next(ctx)
	return resp
}
