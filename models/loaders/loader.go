package loaders

import (
	"context"
	"errors"
	"sync"

	"github.com/graph-gophers/dataloader/v7"
)

// Loader is a dataloader that can also be filled ahead of time with a single batch.
type Loader[K comparable, V any] struct {
	loader *dataloader.Loader[K, V]
	batch  dataloader.BatchFunc[K, V]
	cache  *dataloader.InMemoryCache[K, V]
	// claim orders Prefetch's look-up-and-claim of missing keys, so that concurrent prefetches
	// (sibling root fields run at once) load each key once: the later waits for the earlier.
	claim sync.Mutex
	// pending, when set, holds the request's deferred primes, applied before any use.
	pending *pendingPrimes
}

func newLoader[K comparable, V any](batch dataloader.BatchFunc[K, V]) *Loader[K, V] {
	cache := dataloader.NewCache[K, V]()
	return &Loader[K, V]{
		loader: dataloader.NewBatchedLoader(batch,
			dataloader.WithCache[K, V](cache),
			dataloader.WithWait[K, V](batchWait)),
		batch: batch,
		cache: cache,
	}
}

// Load asks for one key, batched with the other keys asked for within batchWait.
func (l *Loader[K, V]) Load(ctx context.Context, key K) dataloader.Thunk[V] {
	l.pending.apply()
	return l.loader.Load(ctx, key)
}

// Get loads one key and waits for it.
func (l *Loader[K, V]) Get(ctx context.Context, key K) (V, error) {
	return l.Load(ctx, key)()
}

// Prime caches value for key, unless key is cached already: later loads of it cost nothing.
func (l *Loader[K, V]) Prime(ctx context.Context, key K, value V) {
	l.pending.apply()
	l.loader.Prime(ctx, key, value)
}

// pendingPrimes holds the primes a page's rows bring for a request's loaders until one of the
// loaders is next used (Load, Get, Prime, or Prefetch with keys), and applies them all then,
// in order: a request that reads no loader again (a REST page) never pays for them, and one
// that does finds everything primed as before.
type pendingPrimes struct {
	mu     sync.Mutex
	primes []func()
}

// add defers prime; with no pendingPrimes, it primes at once.
func (p *pendingPrimes) add(prime func()) {
	if p == nil {
		prime()
		return
	}
	p.mu.Lock()
	p.primes = append(p.primes, prime)
	p.mu.Unlock()
}

// apply runs the deferred primes. A concurrent use waits for them to finish, so that it finds
// them applied.
func (p *pendingPrimes) apply() {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, prime := range p.primes {
		prime()
	}
	p.primes = nil
}

// Prefetch loads every key not already loaded or being loaded in one batch, now, and caches the
// results; it returns the values of all keys in order. An empty or fully cached key set costs no
// query. A key another Prefetch is loading is waited for, not loaded again.
func (l *Loader[K, V]) Prefetch(ctx context.Context, keys []K) ([]V, error) {
	if len(keys) == 0 {
		return []V{}, nil
	}
	l.pending.apply()
	type slot struct {
		v   V
		err error
	}
	var missing []K
	var slots []*slot
	loaded := make(chan struct{})
	l.claim.Lock()
	seen := make(map[K]bool, len(keys))
	for _, k := range keys {
		if seen[k] {
			continue
		}
		seen[k] = true
		if _, ok := l.cache.Get(ctx, k); !ok {
			// Claimed: the cache answers for k once this batch is in.
			s := &slot{}
			missing, slots = append(missing, k), append(slots, s)
			l.cache.Set(ctx, k, func() (V, error) { <-loaded; return s.v, s.err })
		}
	}
	l.claim.Unlock()
	if len(missing) > 0 {
		func() {
			// Whatever happens to the batch (a panic included), the keys claimed are answered.
			defer close(loaded)
			for _, s := range slots {
				s.err = errBatchFailed
			}
			for i, r := range l.batch(ctx, missing) {
				slots[i].v, slots[i].err = r.Data, r.Error
			}
		}()
	}
	values := make([]V, len(keys))
	for i, k := range keys {
		thunk, ok := l.cache.Get(ctx, k)
		if !ok {
			thunk = l.loader.Load(ctx, k) // cleared meanwhile (nothing clears today)
		}
		v, err := thunk()
		if err != nil {
			return nil, err
		}
		values[i] = v
	}
	return values, nil
}

var errBatchFailed = errors.New("loaders: the batch loading this key failed")

// one builds a batch function from a query returning the found rows in any order: each key gets
// the row with that key, or V's zero value (nil) when there is none.
func one[K comparable, V any](fetch func(context.Context, []K) ([]V, error), keyOf func(V) K) dataloader.BatchFunc[K, V] {
	return func(ctx context.Context, keys []K) []*dataloader.Result[V] {
		rows, err := fetch(ctx, keys)
		if err != nil {
			return failAll[V](len(keys), err)
		}
		byKey := make(map[K]V, len(rows))
		for _, r := range rows {
			byKey[keyOf(r)] = r
		}
		out := make([]*dataloader.Result[V], len(keys))
		for i, k := range keys {
			out[i] = &dataloader.Result[V]{Data: byKey[k]}
		}
		return out
	}
}

// many builds a batch function from a query returning rows of several keys: each key gets its
// rows' values in the query's order, or an empty list.
func many[K comparable, R, V any](fetch func(context.Context, []K) ([]R, error), keyOf func(R) K, valueOf func(R) V) dataloader.BatchFunc[K, []V] {
	return func(ctx context.Context, keys []K) []*dataloader.Result[[]V] {
		rows, err := fetch(ctx, keys)
		if err != nil {
			return failAll[[]V](len(keys), err)
		}
		byKey := make(map[K][]V, len(keys))
		for _, r := range rows {
			k := keyOf(r)
			byKey[k] = append(byKey[k], valueOf(r))
		}
		out := make([]*dataloader.Result[[]V], len(keys))
		for i, k := range keys {
			vs := byKey[k]
			if vs == nil {
				vs = []V{}
			}
			out[i] = &dataloader.Result[[]V]{Data: vs}
		}
		return out
	}
}

// counts builds a batch function from a query of counts that leaves out keys counting 0.
func counts[R any](fetch func(context.Context, []int64) ([]R, error), count func(R) (int64, int)) dataloader.BatchFunc[int64, int] {
	return func(ctx context.Context, keys []int64) []*dataloader.Result[int] {
		rows, err := fetch(ctx, keys)
		if err != nil {
			return failAll[int](len(keys), err)
		}
		byKey := make(map[int64]int, len(rows))
		for _, r := range rows {
			k, n := count(r)
			byKey[k] = n
		}
		out := make([]*dataloader.Result[int], len(keys))
		for i, k := range keys {
			out[i] = &dataloader.Result[int]{Data: byKey[k]}
		}
		return out
	}
}

func failAll[V any](n int, err error) []*dataloader.Result[V] {
	out := make([]*dataloader.Result[V], n)
	for i := range out {
		out[i] = &dataloader.Result[V]{Error: err}
	}
	return out
}

// withViewer binds the viewer argument of a query of private data.
func withViewer[K, R any](fetch func(context.Context, int64, []K) (R, error), viewerID int64) func(context.Context, []K) (R, error) {
	return func(ctx context.Context, keys []K) (R, error) { return fetch(ctx, viewerID, keys) }
}
