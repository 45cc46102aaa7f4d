package live

import (
	"testing"
	"time"

	"github.com/partizap/vendor-inbox/models"
)

func receive(t *testing.T, s *Subscription) (Event, bool) {
	t.Helper()
	select {
	case e, ok := <-s.Events():
		return e, ok
	case <-time.After(time.Second):
		t.Fatal("no event")
		return Event{}, false
	}
}

func TestHubRoutesChangesToTheirTopicsInOrder(t *testing.T) {
	t.Parallel()
	h := NewHub()
	inbox, _ := h.Subscribe(Inbox(1), nil)
	thread, _ := h.Subscribe(Conversation(10), nil)
	otherInbox, _ := h.Subscribe(Inbox(2), nil)
	changes := []models.Change{
		{ConversationID: 10, SellerID: 1, MessageID: 100},
		{ConversationID: 10, SellerID: 1},                 // a read receipt: the inbox only
		{ConversationID: 11, SellerID: 1, MessageID: 101}, // another conversation of the same seller
		{ConversationID: 10, SellerID: 1, MessageID: 102},
	}
	for _, c := range changes {
		h.Publish(c)
	}
	for _, tc := range []struct {
		name string
		sub  *Subscription
		want []Event
	}{
		{"the seller's inbox", inbox, []Event{{1, changes[0]}, {2, changes[1]}, {3, changes[2]}, {4, changes[3]}}},
		{"the conversation", thread, []Event{{1, changes[0]}, {4, changes[3]}}},
	} {
		for i, want := range tc.want {
			if got, _ := receive(t, tc.sub); got != want {
				t.Errorf("%s, event %d: %+v, want %+v", tc.name, i, got, want)
			}
		}
	}
	select {
	case e := <-otherInbox.Events():
		t.Errorf("another seller got %+v", e)
	default:
	}
	if got := h.Stats.Delivered.Load(); got != 6 {
		t.Errorf("delivered %d, want 6", got)
	}
}

func TestHubDropsASubscriberThatFallsBehindWithoutWaiting(t *testing.T) {
	t.Parallel()
	h := NewHub()
	overflowed := make(chan struct{})
	slow, _ := h.Subscribe(Inbox(1), func() { close(overflowed) })
	fast, _ := h.Subscribe(Inbox(1), nil)
	for i := range BufferSize + 1 {
		h.Publish(models.Change{ConversationID: 1, SellerID: 1, MessageID: int64(i + 1)})
		if e, _ := receive(t, fast); e.MessageID != int64(i+1) {
			t.Fatalf("the fast subscriber got %+v, want message %d", e, i+1)
		}
	}
	select {
	case <-overflowed:
	case <-time.After(time.Second):
		t.Fatal("the slow subscriber's overflow was not called")
	}
	n := 0
	for range slow.Events() {
		n++
	}
	if n != BufferSize || slow.Err() != ErrOverflow {
		t.Errorf("the slow subscriber kept %d events and ended with %v; want %d and ErrOverflow", n, slow.Err(), BufferSize)
	}
	if h.Stats.Overflowed.Load() != 1 || h.Stats.Active.Load() != 1 {
		t.Errorf("overflowed %d, active %d; want 1 and 1", h.Stats.Overflowed.Load(), h.Stats.Active.Load())
	}
}

func TestHubInterruptionEndsSubscriptionsUntilResumed(t *testing.T) {
	t.Parallel()
	h := NewListenedHub()
	if _, err := h.Subscribe(Inbox(1), nil); err != ErrUnavailable {
		t.Fatalf("before listening: %v, want ErrUnavailable", err)
	}
	h.Resume()
	s, err := h.Subscribe(Inbox(1), nil)
	if err != nil {
		t.Fatal(err)
	}
	h.Interrupt()
	h.Interrupt() // reported again by a failed reconnection: counted once
	if _, open := receive(t, s); open || s.Err() != ErrResync {
		t.Errorf("after the interruption: open %v, err %v; want closed with ErrResync", open, s.Err())
	}
	if _, err := h.Subscribe(Inbox(1), nil); err != ErrUnavailable {
		t.Errorf("while interrupted: %v, want ErrUnavailable", err)
	}
	h.Resume()
	again, err := h.Subscribe(Inbox(1), nil)
	if err != nil {
		t.Fatal(err)
	}
	again.Close()
	again.Close()
	if _, open := receive(t, again); open || again.Err() != nil {
		t.Errorf("after Close: open %v, err %v; want closed with no error", open, again.Err())
	}
	if h.Stats.Resyncs.Load() != 1 || h.Stats.Active.Load() != 0 {
		t.Errorf("resyncs %d, active %d; want 1 and 0", h.Stats.Resyncs.Load(), h.Stats.Active.Load())
	}
}
