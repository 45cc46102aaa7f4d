package loaders

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/graph-gophers/dataloader/v7"
)

// row is what the fake queries of these tests return.
type row struct {
	Key   int64
	Value string
}

// table is a fake query over rows: it records the keys of each call and returns the rows with
// those keys, in the order order gives them (the batch functions must not rely on it), or err.
type table struct {
	mu    sync.Mutex
	rows  []*row
	err   error
	calls [][]int64
	order func([]*row) // reorders a call's rows; nil keeps the table's order
}

func (tb *table) fetch(_ context.Context, keys []int64) ([]*row, error) {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	tb.calls = append(tb.calls, slices.Clone(keys))
	if tb.err != nil {
		return nil, tb.err
	}
	var out []*row
	for _, r := range tb.rows {
		if slices.Contains(keys, r.Key) {
			out = append(out, r)
		}
	}
	if tb.order != nil {
		tb.order(out)
	}
	return out, nil
}

func (tb *table) batches() [][]int64 {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	return slices.Clone(tb.calls)
}

func keyOf(r *row) int64    { return r.Key }
func valueOf(r *row) string { return r.Value }
func reversed(rows []*row)  { slices.Reverse(rows) }

// values renders one-loader results for comparison: a row as its value, nil as "<nil>".
func values(rs []*row) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		if r == nil {
			out[i] = "<nil>"
		} else {
			out[i] = r.Value
		}
	}
	return out
}

// loadTogether calls Load for every key before waiting for any, then waits for them all. It
// also reports whether the Loads were all issued within batchWait of the first: the loader's
// window is batchWait long, so when the test itself took longer (a busy machine), how the keys
// were batched says nothing about the loader.
func loadTogether[V any](t *testing.T, l *Loader[int64, V], keys []int64) ([]V, []error, bool) {
	t.Helper()
	ctx := context.Background()
	thunks := make([]func() (V, error), len(keys))
	began := time.Now()
	for i, k := range keys {
		thunks[i] = l.Load(ctx, k)
	}
	inTime := time.Since(began) < batchWait
	vs := make([]V, len(keys))
	errs := make([]error, len(keys))
	for i, th := range thunks {
		vs[i], errs[i] = th()
	}
	return vs, errs, inTime
}

func TestOneGivesEachKeyItsRowOrNil(t *testing.T) {
	t.Parallel()
	rows := []*row{{1, "one"}, {2, "two"}, {3, "three"}, {5, "five"}}
	tests := []struct {
		name  string
		order func([]*row)
		keys  []int64
		want  []string
	}{
		{"rows in key order", nil, []int64{1, 2, 3}, []string{"one", "two", "three"}},
		{"rows in reverse order", reversed, []int64{1, 2, 3}, []string{"one", "two", "three"}},
		{"keys in another order than the rows", nil, []int64{5, 1, 3, 2}, []string{"five", "one", "three", "two"}},
		{"a missing key is nil", reversed, []int64{3, 4, 1}, []string{"three", "<nil>", "one"}},
		{"every key missing", nil, []int64{7, 8}, []string{"<nil>", "<nil>"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tb := &table{rows: rows, order: tt.order}
			results := one(tb.fetch, keyOf)(context.Background(), tt.keys)
			if len(results) != len(tt.keys) {
				t.Fatalf("%d results for %d keys", len(results), len(tt.keys))
			}
			got := make([]*row, len(results))
			for i, r := range results {
				if r.Error != nil {
					t.Fatalf("key %d: error %v", tt.keys[i], r.Error)
				}
				got[i] = r.Data
			}
			if !slices.Equal(values(got), tt.want) {
				t.Fatalf("values = %v, want %v", values(got), tt.want)
			}
			if b := tb.batches(); len(b) != 1 || !slices.Equal(b[0], tt.keys) {
				t.Fatalf("queries = %v, want one with %v", b, tt.keys)
			}
		})
	}
}

func TestManyGivesEachKeyItsRowsInQueryOrder(t *testing.T) {
	t.Parallel()
	// Rows of several keys interleaved: each key keeps its own rows' order.
	rows := []*row{{1, "1a"}, {2, "2a"}, {1, "1b"}, {3, "3a"}, {2, "2b"}, {1, "1c"}}
	tests := []struct {
		name  string
		order func([]*row)
		keys  []int64
		want  [][]string
	}{
		{"interleaved rows", nil, []int64{1, 2, 3}, [][]string{{"1a", "1b", "1c"}, {"2a", "2b"}, {"3a"}}},
		{"the query's order is kept, whatever it is", reversed, []int64{1, 2}, [][]string{{"1c", "1b", "1a"}, {"2b", "2a"}}},
		{"keys in another order", nil, []int64{3, 1}, [][]string{{"3a"}, {"1a", "1b", "1c"}}},
		{"a key without rows gets an empty list", nil, []int64{4, 3}, [][]string{{}, {"3a"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tb := &table{rows: rows, order: tt.order}
			results := many(tb.fetch, keyOf, valueOf)(context.Background(), tt.keys)
			if len(results) != len(tt.keys) {
				t.Fatalf("%d results for %d keys", len(results), len(tt.keys))
			}
			for i, r := range results {
				if r.Error != nil {
					t.Fatalf("key %d: error %v", tt.keys[i], r.Error)
				}
				// An empty list, never nil: it renders as [] rather than null.
				if r.Data == nil {
					t.Fatalf("key %d: nil list, want %q", tt.keys[i], tt.want[i])
				}
				if !slices.Equal(r.Data, tt.want[i]) {
					t.Fatalf("key %d: %q, want %q", tt.keys[i], r.Data, tt.want[i])
				}
			}
			if b := tb.batches(); len(b) != 1 {
				t.Fatalf("queries = %v, want one", b)
			}
		})
	}
}

func TestBatchFunctionsGiveTheQueryErrorToEveryKey(t *testing.T) {
	t.Parallel()
	boom := errors.New("boom")
	keys := []int64{1, 2, 3}
	tests := []struct {
		name string
		run  func(tb *table) []error
	}{
		{"one", func(tb *table) []error {
			var errs []error
			for _, r := range one(tb.fetch, keyOf)(context.Background(), keys) {
				errs = append(errs, r.Error)
			}
			return errs
		}},
		{"many", func(tb *table) []error {
			var errs []error
			for _, r := range many(tb.fetch, keyOf, valueOf)(context.Background(), keys) {
				errs = append(errs, r.Error)
			}
			return errs
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			errs := tt.run(&table{rows: []*row{{1, "one"}}, err: boom})
			if len(errs) != len(keys) {
				t.Fatalf("%d results for %d keys", len(errs), len(keys))
			}
			for i, err := range errs {
				if !errors.Is(err, boom) {
					t.Fatalf("key %d: error %v, want %v", keys[i], err, boom)
				}
			}
		})
	}
}

func TestWithViewerBindsTheViewer(t *testing.T) {
	t.Parallel()
	var gotViewer int64
	var gotKeys []int64
	fetch := withViewer(func(_ context.Context, viewerID int64, keys []int64) ([]*row, error) {
		gotViewer, gotKeys = viewerID, keys
		return nil, nil
	}, 42)
	if _, err := fetch(context.Background(), []int64{7, 8}); err != nil {
		t.Fatal(err)
	}
	if gotViewer != 42 || !slices.Equal(gotKeys, []int64{7, 8}) {
		t.Fatalf("query called with viewer %d and keys %v, want 42 and [7 8]", gotViewer, gotKeys)
	}
}

// TestLoadBatchesKeysRequestedTogether loads keys before waiting for any: one call of the batch
// function, whatever their number, each caller getting its own key's value.
func TestLoadBatchesKeysRequestedTogether(t *testing.T) {
	t.Parallel()
	rows := []*row{{1, "one"}, {2, "two"}, {3, "three"}, {4, "four"}, {5, "five"}}
	tests := []struct {
		name  string
		keys  []int64
		want  []string
		batch []int64 // the keys of the one batch call
	}{
		{"one key", []int64{3}, []string{"three"}, []int64{3}},
		{"five keys", []int64{5, 3, 1, 4, 2}, []string{"five", "three", "one", "four", "two"}, []int64{5, 3, 1, 4, 2}},
		{"a missing key among them", []int64{2, 9, 1}, []string{"two", "<nil>", "one"}, []int64{2, 9, 1}},
		{"a key twice is asked once", []int64{2, 1, 2}, []string{"two", "one", "two"}, []int64{2, 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			for attempt := 1; ; attempt++ {
				tb := &table{rows: rows, order: reversed}
				l := newLoader(one(tb.fetch, keyOf))
				got, errs, inTime := loadTogether(t, l, tt.keys)
				for i, err := range errs {
					if err != nil {
						t.Fatalf("key %d: %v", tt.keys[i], err)
					}
				}
				if !slices.Equal(values(got), tt.want) {
					t.Fatalf("values = %v, want %v", values(got), tt.want)
				}
				b := tb.batches()
				if !inTime && len(b) > 1 && attempt < 20 {
					t.Logf("attempt %d: the Loads outlasted the batch window (%v); again", attempt, batchWait)
					continue
				}
				if len(b) != 1 || !slices.Equal(b[0], tt.batch) {
					t.Fatalf("batch calls = %v, want one with %v", b, tt.batch)
				}
				return
			}
		})
	}
}

// TestLoadGivesTheBatchErrorToEveryCaller fails the batch: each caller gets the error, and the
// loader does not retry it within the request.
func TestLoadGivesTheBatchErrorToEveryCaller(t *testing.T) {
	t.Parallel()
	boom := errors.New("database on fire")
	tests := []struct {
		name string
		keys []int64
	}{
		{"one caller", []int64{1}},
		{"three callers", []int64{1, 2, 3}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tb := &table{rows: []*row{{1, "one"}, {2, "two"}, {3, "three"}}, err: boom}
			l := newLoader(one(tb.fetch, keyOf))
			got, errs, _ := loadTogether(t, l, tt.keys)
			for i := range tt.keys {
				if !errors.Is(errs[i], boom) || got[i] != nil {
					t.Fatalf("key %d: %v, %v; want nil and %v", tt.keys[i], got[i], errs[i], boom)
				}
			}
			// Prefetch reports it too.
			if _, err := l.Prefetch(context.Background(), []int64{7}); !errors.Is(err, boom) {
				t.Fatalf("Prefetch: error %v, want %v", err, boom)
			}
		})
	}
}

// TestGetCachesWithinTheLoader asks a key twice: the second time costs no batch.
func TestGetCachesWithinTheLoader(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		key  int64
		want string
	}{
		{"a found key", 1, "one"},
		{"a missing key is remembered as missing", 9, "<nil>"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tb := &table{rows: []*row{{1, "one"}}}
			l := newLoader(one(tb.fetch, keyOf))
			ctx := context.Background()
			for range 3 {
				v, err := l.Get(ctx, tt.key)
				if err != nil || values([]*row{v})[0] != tt.want {
					t.Fatalf("Get(%d) = %v, %v; want %s", tt.key, v, err, tt.want)
				}
			}
			if b := tb.batches(); len(b) != 1 {
				t.Fatalf("batch calls = %v, want one", b)
			}
		})
	}
}

func TestPrimeAvoidsTheBatch(t *testing.T) {
	t.Parallel()
	tb := &table{rows: []*row{{1, "from the database"}, {2, "two"}}}
	l := newLoader(one(tb.fetch, keyOf))
	ctx := context.Background()
	l.Prime(ctx, 1, &row{1, "primed"})
	v, err := l.Get(ctx, 1)
	if err != nil || v == nil || v.Value != "primed" {
		t.Fatalf("Get(1) = %v, %v; want the primed row", v, err)
	}
	if b := tb.batches(); len(b) != 0 {
		t.Fatalf("batch calls = %v after priming, want none", b)
	}
	// Keys not primed still go to the batch function.
	if v, err := l.Get(ctx, 2); err != nil || v == nil || v.Value != "two" {
		t.Fatalf("Get(2) = %v, %v; want two", v, err)
	}
	if b := tb.batches(); len(b) != 1 || !slices.Equal(b[0], []int64{2}) {
		t.Fatalf("batch calls = %v, want one with [2]", b)
	}
}

func TestPrefetch(t *testing.T) {
	t.Parallel()
	rows := []*row{{1, "one"}, {2, "two"}, {3, "three"}, {4, "four"}, {5, "five"}}
	tests := []struct {
		name    string
		before  []int64 // keys loaded with Get first
		keys    []int64
		want    []string
		batches [][]int64 // of Prefetch alone
	}{
		{"one batch for every key", nil, []int64{3, 1, 2}, []string{"three", "one", "two"}, [][]int64{{3, 1, 2}}},
		{"one key", nil, []int64{4}, []string{"four"}, [][]int64{{4}}},
		{"five keys", nil, []int64{5, 4, 3, 2, 1}, []string{"five", "four", "three", "two", "one"}, [][]int64{{5, 4, 3, 2, 1}}},
		{"duplicates asked once, answered each time", nil, []int64{2, 1, 2, 2}, []string{"two", "one", "two", "two"}, [][]int64{{2, 1}}},
		{"a missing key is nil", nil, []int64{1, 9}, []string{"one", "<nil>"}, [][]int64{{1, 9}}},
		{"cached keys are not asked again", []int64{2, 9}, []int64{1, 2, 3, 9}, []string{"one", "two", "three", "<nil>"}, [][]int64{{1, 3}}},
		{"fully cached keys cost nothing", []int64{1, 2}, []int64{2, 1}, []string{"two", "one"}, nil},
		{"no keys cost nothing", nil, nil, []string{}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tb := &table{rows: rows, order: reversed}
			l := newLoader(one(tb.fetch, keyOf))
			ctx := context.Background()
			for _, k := range tt.before {
				if _, err := l.Get(ctx, k); err != nil {
					t.Fatal(err)
				}
			}
			already := len(tb.batches())
			got, err := l.Prefetch(ctx, tt.keys)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(values(got), tt.want) {
				t.Fatalf("Prefetch values = %v, want %v", values(got), tt.want)
			}
			if b := tb.batches()[already:]; !slices.EqualFunc(b, tt.batches, slices.Equal[[]int64]) {
				t.Fatalf("Prefetch batch calls = %v, want %v", b, tt.batches)
			}
			// Primed: reading the keys afterwards costs no batch and gives the same values.
			after := len(tb.batches())
			for i, k := range tt.keys {
				v, err := l.Get(ctx, k)
				if err != nil || values([]*row{v})[0] != tt.want[i] {
					t.Fatalf("Get(%d) after Prefetch = %v, %v; want %s", k, v, err, tt.want[i])
				}
			}
			if b := tb.batches()[after:]; len(b) != 0 {
				t.Fatalf("Get after Prefetch called the batch function: %v", b)
			}
		})
	}
}

func TestPrefetchOfMany(t *testing.T) {
	t.Parallel()
	tb := &table{rows: []*row{{1, "1a"}, {2, "2a"}, {1, "1b"}}}
	l := newLoader(many(tb.fetch, keyOf, valueOf))
	ctx := context.Background()
	got, err := l.Prefetch(ctx, []int64{2, 3, 1})
	if err != nil {
		t.Fatal(err)
	}
	want := [][]string{{"2a"}, {}, {"1a", "1b"}}
	if !slices.EqualFunc(got, want, slices.Equal[[]string]) || got[1] == nil {
		t.Fatalf("Prefetch = %q, want %q", got, want)
	}
	if v, err := l.Get(ctx, 3); err != nil || v == nil || len(v) != 0 {
		t.Fatalf("Get(3) = %#v, %v; want an empty list", v, err)
	}
	if b := tb.batches(); len(b) != 1 {
		t.Fatalf("batch calls = %v, want one", b)
	}
}

// TestConcurrentPrefetchesLoadEachKeyOnce: a prefetch of keys another prefetch is loading
// waits for them instead of loading them again (sibling root fields prefetch at once), and
// loads only the others.
func TestConcurrentPrefetchesLoadEachKeyOnce(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var calls [][]int64
	started, release := make(chan struct{}), make(chan struct{})
	l := newLoader(func(_ context.Context, keys []int64) []*dataloader.Result[string] {
		mu.Lock()
		calls = append(calls, slices.Clone(keys))
		first := len(calls) == 1
		mu.Unlock()
		if first {
			close(started)
			<-release
		}
		out := make([]*dataloader.Result[string], len(keys))
		for i, k := range keys {
			out[i] = &dataloader.Result[string]{Data: fmt.Sprint("v", k)}
		}
		return out
	})
	ctx := context.Background()
	type result struct {
		values []string
		err    error
	}
	a, b := make(chan result, 1), make(chan result, 1)
	go func() { v, err := l.Prefetch(ctx, []int64{1, 2}); a <- result{v, err} }()
	<-started // 1 and 2 are claimed by the first prefetch, which is still loading them
	go func() { v, err := l.Prefetch(ctx, []int64{2, 3, 1}); b <- result{v, err} }()
	select {
	case r := <-b:
		t.Fatalf("the second prefetch returned %v before the keys it shares were loaded", r)
	case <-time.After(50 * time.Millisecond):
	}
	close(release)
	ra, rb := <-a, <-b
	if ra.err != nil || rb.err != nil || !slices.Equal(ra.values, []string{"v1", "v2"}) || !slices.Equal(rb.values, []string{"v2", "v3", "v1"}) {
		t.Fatalf("prefetches gave %v and %v", ra, rb)
	}
	if want := [][]int64{{1, 2}, {3}}; !slices.EqualFunc(calls, want, slices.Equal) {
		t.Errorf("batches %v, want %v", calls, want)
	}
}

// TestEveryLoaderAppliesThePendingPrimes: every loader of a request shares its queue of
// deferred primes, so that whichever is used first applies them all (a loader without it
// would miss what a page brought and read it again).
func TestEveryLoaderAppliesThePendingPrimes(t *testing.T) {
	l := New(nil, 1)
	v := reflect.ValueOf(l).Elem()
	loaders := 0
	for i := range v.NumField() {
		field := v.Field(i)
		if field.Kind() != reflect.Pointer || field.IsNil() {
			continue
		}
		pending := field.Elem().FieldByName("pending")
		if !pending.IsValid() {
			continue
		}
		loaders++
		if pending.Pointer() != reflect.ValueOf(l.pending).Pointer() {
			t.Errorf("Loaders.%s does not share the request's pending primes", v.Type().Field(i).Name)
		}
	}
	if loaders != 10 {
		t.Errorf("found %d loaders, want 10", loaders)
	}
}
