// Package loaders batches every nested lookup of a request into one query per kind (the
// dataloader pattern). Loaders live for one request and one viewer, so nothing cached in them
// can reach another request or another user.
//
// Batching by timer alone makes the number of statements depend on goroutine scheduling, so the
// lists that fan out (a page of conversations) prefetch their nested data explicitly: one batch
// per kind for the whole page, set on the models' fields, which REST and GraphQL read, and
// primed into the loaders for any later lookup of the same keys in the request.
package loaders

import (
	"context"
	"net/http"
	"time"

	"github.com/graph-gophers/dataloader/v7"

	"github.com/partizap/vendor-inbox/models"
)

// Loaders holds the request's loaders, one per lookup.
type Loaders struct {
	store    *models.Store
	viewerID int64
	pending  *pendingPrimes // what the pages read brought for the loaders below

	UserByID                     *Loader[int64, *models.User]
	ProductByID                  *Loader[int64, *models.Product]
	ImagesByProductID            *Loader[int64, []*models.ProductImage]
	ConversationByID             *Loader[int64, *models.Conversation]
	ParticipantsByConversationID *Loader[int64, []*models.User]
	LastMessageByConversationID  *Loader[int64, *models.Message]
	UnreadCountByConversationID  *Loader[int64, int]
	MessageByID                  *Loader[int64, *models.Message]
	// ThreadPages holds pages of conversations' messages; nil for a conversation the viewer
	// does not take part in. Keys asking for the same page of several conversations are read
	// in one statement.
	ThreadPages          *Loader[ThreadKey, *models.Page[*models.Message]]
	MessageCountByThread *Loader[int64, int]
}

// ThreadKey is a conversation and the page of its messages asked for.
type ThreadKey struct {
	ConversationID int64
	Page           ThreadPage
}

// ThreadPage is models.PageArgs (without Filter) as a comparable value, a loader key.
type ThreadPage struct {
	First, Last       int
	HasFirst, HasLast bool
	After, Before     models.InboxKey // zero: not given
	FarSide           bool
}

// ThreadPageOf returns args as a ThreadPage.
func ThreadPageOf(args models.PageArgs) ThreadPage {
	p := ThreadPage{FarSide: args.FarSide}
	if args.First != nil {
		p.First, p.HasFirst = *args.First, true
	}
	if args.Last != nil {
		p.Last, p.HasLast = *args.Last, true
	}
	if args.After != nil {
		p.After = *args.After
	}
	if args.Before != nil {
		p.Before = *args.Before
	}
	return p
}

// Args returns p as models.PageArgs.
func (p ThreadPage) Args() models.PageArgs {
	args := models.PageArgs{FarSide: p.FarSide}
	if p.HasFirst {
		args.First = &p.First
	}
	if p.HasLast {
		args.Last = &p.Last
	}
	if p.After != (models.InboxKey{}) {
		args.After = &p.After
	}
	if p.Before != (models.InboxKey{}) {
		args.Before = &p.Before
	}
	return args
}

// batchWait is how long a loader collects keys before it queries. Lists prefetch instead of
// relying on it, so it only delays lookups made one at a time (node, nodes).
const batchWait = time.Millisecond

// New returns loaders reading store on behalf of viewerID (0 for an anonymous request).
func New(store *models.Store, viewerID int64) *Loaders {
	l := &Loaders{store: store, viewerID: viewerID}
	l.UserByID = newLoader(one(store.UsersByID, func(u *models.User) int64 { return u.ID }))
	l.ProductByID = newLoader(one(withViewer(store.ProductsByID, viewerID), func(p *models.Product) int64 { return p.ID }))
	l.ImagesByProductID = newLoader(many(store.ImagesByProductID,
		func(i *models.ProductImage) int64 { return i.ProductID },
		func(i *models.ProductImage) *models.ProductImage { return i }))
	l.ConversationByID = newLoader(one(withViewer(store.ConversationsByID, viewerID),
		func(c *models.Conversation) int64 { return c.ID }))
	l.ParticipantsByConversationID = newLoader(many(
		func(ctx context.Context, ids []int64) ([]models.ConversationUser, error) {
			rows, err := store.ParticipantsByConversationID(ctx, viewerID, ids)
			for _, r := range rows {
				// Participants come with their profiles: later lookups of them cost nothing.
				l.UserByID.Prime(ctx, r.User.ID, r.User)
			}
			return rows, err
		},
		func(r models.ConversationUser) int64 { return r.ConversationID },
		func(r models.ConversationUser) *models.User { return r.User }))
	l.LastMessageByConversationID = newLoader(one(withViewer(store.LastMessagesByConversationID, viewerID),
		func(m *models.Message) int64 { return m.ConversationID }))
	l.UnreadCountByConversationID = newLoader(counts(withViewer(store.UnreadCounts, viewerID),
		func(c models.UnreadCount) (int64, int) { return c.ConversationID, c.Count }))
	l.MessageByID = newLoader(one(withViewer(store.MessagesByID, viewerID),
		func(m *models.Message) int64 { return m.ID }))
	l.ThreadPages = newLoader(func(ctx context.Context, keys []ThreadKey) []*dataloader.Result[*models.Page[*models.Message]] {
		byPage := map[ThreadPage][]int64{}
		for _, k := range keys {
			byPage[k.Page] = append(byPage[k.Page], k.ConversationID)
		}
		found := map[ThreadKey]*models.Page[*models.Message]{}
		for page, ids := range byPage {
			pages, err := store.ConversationMessages(ctx, viewerID, ids, page.Args())
			if err != nil {
				return failAll[*models.Page[*models.Message]](len(keys), err)
			}
			for id, p := range pages {
				found[ThreadKey{id, page}] = &p
			}
		}
		out := make([]*dataloader.Result[*models.Page[*models.Message]], len(keys))
		for i, k := range keys {
			out[i] = &dataloader.Result[*models.Page[*models.Message]]{Data: found[k]}
		}
		return out
	})
	l.MessageCountByThread = newLoader(counts(withViewer(store.CountMessages, viewerID),
		func(c models.MessageCount) (int64, int) { return c.ConversationID, c.Count }))
	// One queue of deferred primes for all of them (TestEveryLoaderAppliesThePendingPrimes).
	l.pending = &pendingPrimes{}
	l.UserByID.pending, l.ProductByID.pending, l.ImagesByProductID.pending = l.pending, l.pending, l.pending
	l.ConversationByID.pending, l.ParticipantsByConversationID.pending = l.pending, l.pending
	l.LastMessageByConversationID.pending, l.UnreadCountByConversationID.pending = l.pending, l.pending
	l.MessageByID.pending, l.ThreadPages.pending, l.MessageCountByThread.pending = l.pending, l.pending, l.pending
	return l
}

type ctxKey struct{}

// Middleware gives each request fresh loaders for its viewer. It must run after the middleware
// that resolves the session.
func Middleware(store *models.Store) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			ctx := context.WithValue(r.Context(), ctxKey{}, New(store, models.ViewerID(r.Context())))
			next.ServeHTTP(w, r.WithContext(ctx))
		})
	}
}

// For returns the loaders of the request ctx belongs to. It panics when Middleware did not run:
// that is a wiring mistake, not a request error.
func For(ctx context.Context) *Loaders {
	l, ok := ctx.Value(ctxKey{}).(*Loaders)
	if !ok {
		panic("loaders: no loaders in context; wrap the handler with loaders.Middleware")
	}
	return l
}

// NewContext returns ctx carrying l, for callers outside an HTTP request.
func NewContext(ctx context.Context, l *Loaders) context.Context {
	return context.WithValue(ctx, ctxKey{}, l)
}
