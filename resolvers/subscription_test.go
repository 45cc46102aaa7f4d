package resolvers

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/partizap/vendor-inbox/models"
	"github.com/partizap/vendor-inbox/models/live"
)

type conversationID int64

// TestStreamLoadsQueuedEventsInOneBatch: the events waiting when the stream takes one are
// loaded together, in order; values the viewer may not see are skipped, and the stream ends
// with the subscription.
func TestStreamLoadsQueuedEventsInOneBatch(t *testing.T) {
	hub := live.NewHub()
	sub, err := hub.Subscribe(live.Inbox(1), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, conv := range []int64{10, 11, 12, 10, 13} {
		hub.Publish(models.Change{ConversationID: conv, SellerID: 1, MessageID: conv * 100})
	}
	var batches [][]int64
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out := stream(ctx, sub, func(events []live.Event) ([]*conversationID, error) {
		var ids []int64
		values := make([]*conversationID, len(events))
		for i, e := range events {
			ids = append(ids, e.ConversationID)
			if e.ConversationID != 12 { // not visible to the viewer
				id := conversationID(e.ConversationID)
				values[i] = &id
			}
		}
		batches = append(batches, ids)
		return values, nil
	})
	var got []int64
	for range 4 {
		select {
		case v := <-out:
			got = append(got, int64(*v))
		case <-time.After(5 * time.Second):
			t.Fatalf("got %v, then nothing", got)
		}
	}
	if want := []int64{10, 11, 10, 13}; !slices.Equal(got, want) {
		t.Errorf("values %v, want %v", got, want)
	}
	if len(batches) != 1 || !slices.Equal(batches[0], []int64{10, 11, 12, 10, 13}) {
		t.Errorf("batches %v, want the five events in one", batches)
	}
	sub.Close()
	select {
	case _, open := <-out:
		if open {
			t.Error("a value after the subscription closed")
		}
	case <-time.After(5 * time.Second):
		t.Error("the stream did not end with its subscription")
	}
}

// TestGetViewsLoadsOnlyWhatNoOneHasLoaded: a viewer's views are loaded once per event, however
// many subscriptions ask, and each is the viewer's own.
func TestGetViewsLoadsOnlyWhatNoOneHasLoaded(t *testing.T) {
	var v views
	events := func(seqs ...uint64) []live.Event {
		var es []live.Event
		for _, s := range seqs {
			es = append(es, live.Event{Seq: s, Change: models.Change{ConversationID: int64(s) * 10}})
		}
		return es
	}
	var loaded []uint64
	load := func(viewer int64) func(context.Context, []live.Event) ([]*int64, error) {
		return func(_ context.Context, es []live.Event) ([]*int64, error) {
			out := make([]*int64, len(es))
			for i, e := range es {
				loaded = append(loaded, e.Seq)
				n := e.ConversationID + viewer
				out[i] = &n
			}
			return out, nil
		}
	}
	ctx := context.Background()
	tests := []struct {
		name       string
		viewer     int64
		seqs       []uint64
		want       []int64
		wantLoaded []uint64
	}{
		{"first asker loads all", 1, []uint64{1, 2}, []int64{11, 21}, []uint64{1, 2}},
		{"the next loads only the new one", 1, []uint64{1, 2, 3}, []int64{11, 21, 31}, []uint64{3}},
		{"another viewer loads its own", 2, []uint64{1, 2}, []int64{12, 22}, []uint64{1, 2}},
	}
	for _, tt := range tests {
		loaded = nil
		got, err := getViews(ctx, &v, tt.viewer, conversationView, events(tt.seqs...), load(tt.viewer))
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		var values []int64
		for _, g := range got {
			values = append(values, *g)
		}
		if !slices.Equal(values, tt.want) || !slices.Equal(loaded, tt.wantLoaded) {
			t.Errorf("%s: values %v, loaded %v; want %v, %v", tt.name, values, loaded, tt.want, tt.wantLoaded)
		}
	}
	// A failed load fails every asker of its events, and is not retried by them.
	boom := errors.New("boom")
	if _, err := getViews(ctx, &v, 1, messageView, events(9), func(context.Context, []live.Event) ([]*int64, error) { return nil, boom }); !errors.Is(err, boom) {
		t.Errorf("failed load: %v, want boom", err)
	}
	loaded = nil
	if _, err := getViews(ctx, &v, 1, messageView, events(9), load(1)); !errors.Is(err, boom) || loaded != nil {
		t.Errorf("after a failed load: %v, loaded %v; want boom, nothing loaded", err, loaded)
	}
}
