package resolvers

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/partizap/vendor-inbox/models"
	"github.com/partizap/vendor-inbox/models/live"
	"github.com/partizap/vendor-inbox/models/loaders"
)

type subscriptionResolver struct{ *Resolver }

// ErrLiveOff answers a subscription when the service runs without live updates.
var ErrLiveOff = &models.Error{Code: models.EUNAVAILABLE, Message: "live updates are turned off on this service (LIVE_UPDATES=false)"}

// InboxUpdated streams the viewer's conversations as a seller as they change.
func (r subscriptionResolver) InboxUpdated(ctx context.Context) (<-chan *models.Conversation, error) {
	viewer, err := models.RequireViewer(ctx)
	if err != nil {
		return nil, err
	}
	sub, err := r.subscribe(ctx, live.Inbox(viewer.ID))
	if err != nil {
		return nil, err
	}
	return stream(ctx, sub, func(events []live.Event) ([]*models.Conversation, error) {
		return r.views.conversations(ctx, r.Store, viewer.ID, events)
	}), nil
}

// MessageAdded streams the new messages of a conversation the viewer takes part in.
func (r subscriptionResolver) MessageAdded(ctx context.Context, conversationID string) (<-chan *models.Message, error) {
	viewer, err := models.RequireViewer(ctx)
	if err != nil {
		return nil, err
	}
	id, err := conversationIDArg("conversationId", conversationID)
	if err != nil {
		return nil, err
	}
	// Subscribed before the check, so nothing sent after it is missed.
	sub, err := r.subscribe(ctx, live.Conversation(id))
	if err != nil {
		return nil, err
	}
	visible, err := r.Store.ConversationsByID(ctx, viewer.ID, []int64{id})
	if err == nil && len(visible) == 0 {
		err = models.ErrNotParticipant
	}
	if err != nil {
		sub.Close()
		return nil, err
	}
	return stream(ctx, sub, func(events []live.Event) ([]*models.Message, error) {
		return r.views.messages(ctx, r.Store, viewer.ID, events)
	}), nil
}

func (r subscriptionResolver) subscribe(ctx context.Context, topic live.Topic) (*live.Subscription, error) {
	if r.Live == nil {
		return nil, ErrLiveOff
	}
	return r.Live.Subscribe(topic, live.OverflowOf(ctx))
}

// maxViewBatch is the most queued events of one subscription whose views are loaded together.
const maxViewBatch = 64

// stream turns a subscription's events into the values gqlgen sends, loaded by views (a nil
// value: not visible to the subscriber, skipped), in order, until the operation ends. The
// events queued when the stream takes one are loaded with it, in one batch: a subscription
// that waited for the database once per event fell behind a seller's busy inbox (at 250
// messages a second its 64 queued events overflowed in half a second with a core idle). When
// the subscription ends for a reason (ErrResync), or an event cannot be loaded, the stream
// ends with that error (StreamEnd), so the client knows it may have missed events.
func stream[T any](ctx context.Context, sub *live.Subscription, views func([]live.Event) ([]*T, error)) <-chan *T {
	out := make(chan *T)
	fail := func(err error) {
		if end, ok := ctx.Value(streamEndKey{}).(*StreamEnd); ok {
			end.set(err)
		}
	}
	gate, _ := ctx.Value(eventGateKey{}).(*EventGate)
	if gate != nil {
		gate.attached.Store(true)
	}
	go func() {
		defer close(out)
		defer sub.Close()
		if gate != nil {
			defer close(gate.ended)
		}
		batch := make([]live.Event, 0, maxViewBatch)
		for {
			var e live.Event
			open := true
			select {
			case <-ctx.Done():
				return
			case e, open = <-sub.Events():
			}
			batch = batch[:0]
			if open {
				batch = append(batch, e)
			}
		queued:
			for open && len(batch) < maxViewBatch {
				select {
				case e, open = <-sub.Events():
					if open {
						batch = append(batch, e)
					}
				default:
					break queued
				}
			}
			if len(batch) > 0 {
				values, err := views(batch)
				if err != nil {
					fail(err)
					return
				}
				for i, v := range values {
					if v == nil || gate != nil && !gate.offer(ctx, batch[i].Seq) {
						continue
					}
					select {
					case out <- v:
					case <-ctx.Done():
						return
					}
				}
			}
			if !open {
				if err := sub.Err(); err != nil {
					fail(err)
				}
				return
			}
		}
	}()
	return out
}

type streamEndKey struct{}

type eventGateKey struct{}

// EventGate shows the transport each event of a subscription before gqlgen executes it, so
// that the transport can answer it without executing it: the same operation of the same
// viewer gives the same response to the same event (a seller's inbox open in many tabs). The
// stream offers each event's Seq and waits; the transport takes it (Next) and says whether the
// event is to be executed (Execute) or dropped because its response is already known (Skip).
type EventGate struct {
	// Operation identifies what is executed: the document, operation name and variables.
	Operation string
	ready     chan uint64
	execute   chan bool
	ended     chan struct{}
	attached  atomic.Bool
}

// Attached reports whether a stream offers its events to the gate: false when the
// subscription was refused before its stream began (its error is then gqlgen's only answer).
func (g *EventGate) Attached() bool { return g.attached.Load() }

// WithEventGate returns ctx in which the subscription started in it offers its events to the
// returned gate. Every event then waits for the gate's decision: the caller must take each one.
func WithEventGate(ctx context.Context, operation string) (context.Context, *EventGate) {
	g := &EventGate{Operation: operation, ready: make(chan uint64), execute: make(chan bool), ended: make(chan struct{})}
	return context.WithValue(ctx, eventGateKey{}, g), g
}

// Next waits for the stream's next event and returns its Seq; ok is false when the stream has
// ended (gqlgen then reads its end) or ctx is done.
func (g *EventGate) Next(ctx context.Context) (seq uint64, ok bool) {
	select {
	case seq = <-g.ready:
		return seq, true
	case <-g.ended:
	case <-ctx.Done():
	}
	return 0, false
}

// Execute lets the event Next returned through to gqlgen; Skip drops it.
func (g *EventGate) Execute(ctx context.Context) { g.decide(ctx, true) }

// Skip drops the event Next returned: the transport answers it from another subscription.
func (g *EventGate) Skip(ctx context.Context) { g.decide(ctx, false) }

func (g *EventGate) decide(ctx context.Context, execute bool) {
	select {
	case g.execute <- execute:
	case <-ctx.Done():
	}
}

// offer hands the event to the transport and reports whether gqlgen is to execute it.
func (g *EventGate) offer(ctx context.Context, seq uint64) bool {
	select {
	case g.ready <- seq:
	case <-ctx.Done():
		return false
	}
	select {
	case execute := <-g.execute:
		return execute
	case <-ctx.Done():
		return false
	}
}

// StreamEnd is why the stream of a subscription ended before the client stopped it, for the
// transport to tell the client once the stream is over (in its own goroutine: gqlgen reads a
// subscription's errors there).
type StreamEnd struct {
	mu  sync.Mutex
	err error
}

// WithStreamEnd returns ctx in which a subscription's stream records why it ended.
func WithStreamEnd(ctx context.Context) (context.Context, *StreamEnd) {
	end := &StreamEnd{}
	return context.WithValue(ctx, streamEndKey{}, end), end
}

// Err is why the stream ended, or nil.
func (e *StreamEnd) Err() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.err
}

func (e *StreamEnd) set(err error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.err == nil {
		e.err = err
	}
}

// maxViews bounds the views kept: enough for every subscriber of an event to find its view,
// even one that is a whole buffer (live.BufferSize) behind on a busy instance; one further
// behind loads its own.
const maxViews = 4096

// viewLoadTimeout bounds loading one event's view.
const viewLoadTimeout = 10 * time.Second

// views loads each event's view once per viewer, however many of that viewer's subscriptions
// receive it (a seller with the inbox open in many tabs): the first subscriber to ask loads it,
// the others wait for that load and share its result. A view is the whole inbox row (every
// nested field but messages) or the message with its sender, loaded for the viewer through
// the same queries as any other read, with the viewer's rights. Shared values are never
// modified once loaded.
type views struct {
	mu    sync.Mutex
	loads map[viewKey]*viewLoad
	keys  [maxViews]viewKey // the keys of loads, a ring: next is the oldest once it is full
	next  int
}

type viewKey struct {
	seq    uint64
	viewer int64
	kind   uint8
}

type viewLoad struct {
	done  chan struct{}
	value any
	err   error
}

const (
	conversationView uint8 = iota + 1
	messageView
)

// conversations returns the views of events' conversations for viewerID, loading those no
// other subscriber of the viewer has loaded in one batch (the same statements as one).
func (v *views) conversations(ctx context.Context, store *models.Store, viewerID int64, events []live.Event) ([]*models.Conversation, error) {
	return getViews(ctx, v, viewerID, conversationView, events, func(ctx context.Context, events []live.Event) ([]*models.Conversation, error) {
		convs, err := store.ConversationsByID(ctx, viewerID, uniqueIDs(events, func(e live.Event) int64 { return e.ConversationID }))
		if err != nil {
			return nil, err
		}
		if err := loaders.New(store, viewerID).PrefetchConversations(ctx, convs, loaders.AllConversationFields); err != nil {
			return nil, err
		}
		return inEventOrder(events, convs, func(e live.Event) int64 { return e.ConversationID }, func(c *models.Conversation) int64 { return c.ID }), nil
	})
}

// messages returns the views of events' messages (with their senders) for viewerID, as
// conversations does.
func (v *views) messages(ctx context.Context, store *models.Store, viewerID int64, events []live.Event) ([]*models.Message, error) {
	return getViews(ctx, v, viewerID, messageView, events, func(ctx context.Context, events []live.Event) ([]*models.Message, error) {
		msgs, err := store.MessagesByID(ctx, viewerID, uniqueIDs(events, func(e live.Event) int64 { return e.MessageID }))
		if err != nil {
			return nil, err
		}
		if err := loaders.New(store, viewerID).PrefetchSenders(ctx, msgs); err != nil {
			return nil, err
		}
		return inEventOrder(events, msgs, func(e live.Event) int64 { return e.MessageID }, func(m *models.Message) int64 { return m.ID }), nil
	})
}

func uniqueIDs(events []live.Event, id func(live.Event) int64) []int64 {
	ids := make([]int64, 0, len(events))
	for _, e := range events {
		if n := id(e); !slices.Contains(ids, n) {
			ids = append(ids, n)
		}
	}
	return ids
}

// inEventOrder returns, for each event, the loaded value it refers to, or nil when the viewer
// may not see it.
func inEventOrder[T any](events []live.Event, loaded []*T, eventID func(live.Event) int64, valueID func(*T) int64) []*T {
	byID := make(map[int64]*T, len(loaded))
	for _, v := range loaded {
		byID[valueID(v)] = v
	}
	out := make([]*T, len(events))
	for i, e := range events {
		out[i] = byID[eventID(e)]
	}
	return out
}

// getViews returns the view of each event for viewerID: those another subscriber is loading
// or has loaded are waited for, the rest are loaded by load in one call. The load runs apart
// from the asking subscriber's context: others wait for it too.
func getViews[T any](ctx context.Context, v *views, viewerID int64, kind uint8, events []live.Event, load func(context.Context, []live.Event) ([]*T, error)) ([]*T, error) {
	loads := make([]*viewLoad, len(events))
	var mine []int // the indexes of the events this call loads
	v.mu.Lock()
	if v.loads == nil {
		v.loads = map[viewKey]*viewLoad{}
	}
	for i, e := range events {
		key := viewKey{e.Seq, viewerID, kind}
		l, loading := v.loads[key]
		if !loading {
			l = &viewLoad{done: make(chan struct{})}
			delete(v.loads, v.keys[v.next]) // the oldest, or the zero key that nothing has
			v.loads[key] = l
			v.keys[v.next] = key
			v.next = (v.next + 1) % maxViews
			mine = append(mine, i)
		}
		loads[i] = l
	}
	v.mu.Unlock()
	if len(mine) > 0 {
		batch := make([]live.Event, len(mine))
		for j, i := range mine {
			batch[j] = events[i]
		}
		loadCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), viewLoadTimeout)
		values, err := load(loadCtx, batch)
		cancel()
		for j, i := range mine {
			if err != nil {
				loads[i].err = err
			} else {
				loads[i].value = values[j]
			}
			close(loads[i].done)
		}
	}
	out := make([]*T, len(events))
	for i, l := range loads {
		select {
		case <-l.done:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		if l.err != nil {
			return nil, l.err
		}
		out[i], _ = l.value.(*T)
	}
	return out, nil
}
