// Package live tells this instance's subscribers of the changes committed to conversations,
// wherever they were written: a Hub fans each change out in-process, and on PostgreSQL one
// Listen per instance feeds it from LISTEN, while one Notifier per instance announces with
// NOTIFY the changes every instance's writes record in the outbox (models.Announcing.Outbox).
// On SQLite the Store feeds the Hub directly.
//
// A change carries ids only; a subscriber loads its own view of it through the normal data
// path, with its own rights.
package live

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/partizap/vendor-inbox/models"
)

// Topic is what a subscription follows.
type Topic struct {
	kind topicKind
	id   int64
}

type topicKind uint8

const (
	inboxTopic topicKind = iota + 1
	conversationTopic
)

// Inbox is the topic of every change to the conversations sellerID sells in.
func Inbox(sellerID int64) Topic { return Topic{inboxTopic, sellerID} }

// Conversation is the topic of the messages added to one conversation (not its read receipts).
func Conversation(id int64) Topic { return Topic{conversationTopic, id} }

// Event is a change as one instance heard it. Seq numbers the changes this Hub has published,
// in the order it published them: subscribers of the same change share its Seq, so their
// views of it can be loaded once per viewer.
type Event struct {
	Seq uint64
	models.Change
}

// Why a subscription ends, other than by its own Close, and why one is refused. They are
// models errors, shown to clients with their codes.
var (
	// ErrResync: events may have been missed (the database connection that brings them was
	// lost); the subscriber must reload what it shows and subscribe again.
	ErrResync = &models.Error{Code: models.ERESYNC, Message: "live updates were interrupted and events may have been missed: reload, then subscribe again"}
	// ErrOverflow: the subscriber fell BufferSize events behind; the Hub dropped it rather
	// than wait for it.
	ErrOverflow = &models.Error{Code: models.ERESYNC, Message: "you fell too far behind the live updates and events were dropped: reload, then subscribe again"}
	// ErrUnavailable: the Hub is not receiving changes (not yet, or not since it was
	// interrupted), so a new subscription would silently miss them.
	ErrUnavailable = &models.Error{Code: models.EUNAVAILABLE, Message: "live updates are unavailable right now: try again shortly"}
)

// BufferSize is how many events a subscriber may be behind before it is dropped.
const BufferSize = 64

// Hub fans changes out to subscriptions. Publishing never blocks: a subscriber that cannot take
// an event is dropped (ErrOverflow), so one slow consumer never delays the others.
type Hub struct {
	mu     sync.Mutex
	topics map[Topic]map[*Subscription]struct{}
	seq    uint64
	down   error // why new subscriptions are refused; nil while listening

	Stats Stats
}

// Stats count what the Hub did, for metrics.
type Stats struct {
	Published  atomic.Int64 // changes published
	Delivered  atomic.Int64 // events handed to subscribers
	Overflowed atomic.Int64 // subscribers dropped for falling behind
	Resyncs    atomic.Int64 // interruptions (each ends every subscription)
	Active     atomic.Int64 // subscriptions open now
}

// NewHub returns a Hub that accepts subscriptions at once: the in-process fan-out, which the
// Store feeds directly (models.Announcing.Local).
func NewHub() *Hub {
	return &Hub{topics: map[Topic]map[*Subscription]struct{}{}}
}

// NewListenedHub returns a Hub for Listen to feed: it refuses subscriptions (ErrUnavailable)
// until Listen listens, since until then changes would be missed.
func NewListenedHub() *Hub {
	h := NewHub()
	h.down = ErrUnavailable
	return h
}

// Subscription is one subscriber's stream of events of its topic.
type Subscription struct {
	hub   *Hub
	topic Topic
	c     chan Event
	err   error // why it ended; set before c is closed
	// overflow is called, once and in a goroutine of its own, when the Hub drops the
	// subscription for falling behind.
	overflow func()
}

// Events delivers the events in the order they were published; it is closed when the
// subscription ends, and Err then says why.
func (s *Subscription) Events() <-chan Event { return s.c }

// Err is why the subscription ended: ErrResync, ErrOverflow, or nil after Close.
func (s *Subscription) Err() error {
	s.hub.mu.Lock()
	defer s.hub.mu.Unlock()
	return s.err
}

// Close ends the subscription; it may be called more than once.
func (s *Subscription) Close() {
	s.hub.mu.Lock()
	defer s.hub.mu.Unlock()
	s.hub.endLocked(s, nil)
}

// Subscribe opens a subscription to topic. onOverflow, when not nil, is called if the
// subscriber falls behind (to close its socket, say). It fails with ErrUnavailable while the Hub
// is interrupted.
func (h *Hub) Subscribe(topic Topic, onOverflow func()) (*Subscription, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.down != nil {
		return nil, h.down
	}
	s := &Subscription{hub: h, topic: topic, c: make(chan Event, BufferSize), overflow: onOverflow}
	subs := h.topics[topic]
	if subs == nil {
		subs = map[*Subscription]struct{}{}
		h.topics[topic] = subs
	}
	subs[s] = struct{}{}
	h.Stats.Active.Add(1)
	return s, nil
}

// Publish hands c to the subscribers of its seller's inbox and, for a message, of its
// conversation.
func (h *Hub) Publish(c models.Change) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.seq++
	h.Stats.Published.Add(1)
	e := Event{Seq: h.seq, Change: c}
	h.deliverLocked(Inbox(c.SellerID), e)
	if c.MessageID != 0 {
		h.deliverLocked(Conversation(c.ConversationID), e)
	}
}

func (h *Hub) deliverLocked(topic Topic, e Event) {
	for s := range h.topics[topic] {
		select {
		case s.c <- e:
			h.Stats.Delivered.Add(1)
		default:
			h.Stats.Overflowed.Add(1)
			h.endLocked(s, ErrOverflow)
			if s.overflow != nil {
				go s.overflow()
			}
		}
	}
}

// Interrupt ends every subscription with ErrResync and refuses new ones with ErrUnavailable
// until Resume: the changes stopped arriving, and some may be lost.
func (h *Hub) Interrupt() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.down != nil {
		return // interrupted already: nobody has subscribed since
	}
	h.down = ErrUnavailable
	h.Stats.Resyncs.Add(1)
	for _, subs := range h.topics {
		for s := range subs {
			h.endLocked(s, ErrResync)
		}
	}
}

// Resume accepts subscriptions again: changes arrive from now on.
func (h *Hub) Resume() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.down = nil
}

// endLocked removes s and closes its stream, unless it has ended already.
func (h *Hub) endLocked(s *Subscription, why error) {
	subs, ok := h.topics[s.topic]
	if _, open := subs[s]; !ok || !open {
		return
	}
	delete(subs, s)
	if len(subs) == 0 {
		delete(h.topics, s.topic)
	}
	s.err = why
	close(s.c)
	h.Stats.Active.Add(-1)
}

type overflowKey struct{}

// WithOverflow returns ctx telling subscriptions opened in it what to do when they fall behind:
// close the connection they arrive on, say, so that the client knows to reload.
func WithOverflow(ctx context.Context, f func()) context.Context {
	return context.WithValue(ctx, overflowKey{}, f)
}

// OverflowOf is what WithOverflow put in ctx, or nil.
func OverflowOf(ctx context.Context) func() {
	f, _ := ctx.Value(overflowKey{}).(func())
	return f
}
