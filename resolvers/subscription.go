package resolvers

import (
	"context"
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
	return stream(ctx, sub, func(e live.Event) (*models.Conversation, error) {
		return r.views.conversation(ctx, r.Store, e.Seq, viewer.ID, e.ConversationID)
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
	return stream(ctx, sub, func(e live.Event) (*models.Message, error) {
		return r.views.message(ctx, r.Store, e.Seq, viewer.ID, e.MessageID)
	}), nil
}

func (r subscriptionResolver) subscribe(ctx context.Context, topic live.Topic) (*live.Subscription, error) {
	if r.Live == nil {
		return nil, ErrLiveOff
	}
	return r.Live.Subscribe(topic, live.OverflowOf(ctx))
}

// stream turns a subscription's events into the values gqlgen sends, each loaded by view (nil:
// not visible to the subscriber, skipped), one at a time and in order, until the operation
// ends. When the subscription ends for a reason (ErrResync), or an event cannot be loaded, the
// stream ends with that error (StreamEnd), so the client knows it may have missed events.
func stream[T any](ctx context.Context, sub *live.Subscription, view func(live.Event) (*T, error)) <-chan *T {
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
		for {
			var e live.Event
			var open bool
			select {
			case <-ctx.Done():
				return
			case e, open = <-sub.Events():
			}
			if !open {
				if err := sub.Err(); err != nil {
					fail(err)
				}
				return
			}
			v, err := view(e)
			if err != nil {
				fail(err)
				return
			}
			if v == nil {
				continue
			}
			if gate != nil && !gate.offer(ctx, e.Seq) {
				continue
			}
			select {
			case out <- v:
			case <-ctx.Done():
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

func (v *views) conversation(ctx context.Context, store *models.Store, seq uint64, viewerID, id int64) (*models.Conversation, error) {
	c, err := v.get(ctx, viewKey{seq, viewerID, conversationView}, func(ctx context.Context) (any, error) {
		l := loaders.New(store, viewerID)
		convs, err := store.ConversationsByID(ctx, viewerID, []int64{id})
		if err != nil || len(convs) == 0 {
			return (*models.Conversation)(nil), err
		}
		return convs[0], l.PrefetchConversations(ctx, convs, loaders.AllConversationFields)
	})
	conv, _ := c.(*models.Conversation)
	return conv, err
}

func (v *views) message(ctx context.Context, store *models.Store, seq uint64, viewerID, id int64) (*models.Message, error) {
	m, err := v.get(ctx, viewKey{seq, viewerID, messageView}, func(ctx context.Context) (any, error) {
		l := loaders.New(store, viewerID)
		msgs, err := store.MessagesByID(ctx, viewerID, []int64{id})
		if err != nil || len(msgs) == 0 {
			return (*models.Message)(nil), err
		}
		return msgs[0], l.PrefetchSenders(ctx, msgs)
	})
	msg, _ := m.(*models.Message)
	return msg, err
}

// get returns the view of key, loading it unless another subscriber is loading or has loaded
// it. The load runs apart from the asking subscriber's context: others wait for it too.
func (v *views) get(ctx context.Context, key viewKey, load func(context.Context) (any, error)) (any, error) {
	v.mu.Lock()
	if v.loads == nil {
		v.loads = map[viewKey]*viewLoad{}
	}
	l, loading := v.loads[key]
	if !loading {
		l = &viewLoad{done: make(chan struct{})}
		delete(v.loads, v.keys[v.next]) // the oldest, or the zero key that nothing has
		v.loads[key] = l
		v.keys[v.next] = key
		v.next = (v.next + 1) % maxViews
	}
	v.mu.Unlock()
	if !loading {
		loadCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), viewLoadTimeout)
		l.value, l.err = load(loadCtx)
		cancel()
		close(l.done)
	}
	select {
	case <-l.done:
		return l.value, l.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}
