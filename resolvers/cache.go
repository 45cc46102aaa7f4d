package resolvers

import (
	"container/list"
	"context"
	"sync"

	"github.com/99designs/gqlgen/graphql"
)

// SizedCache is a least-recently-used cache bounded by the bytes its entries hold, not by
// their number: one client can send many large documents, so a count bound does not bound
// memory. It implements graphql.Cache for the parsed-document and persisted-query caches.
type SizedCache[T any] struct {
	maxBytes int64
	size     func(key string, value T) int64

	mu    sync.Mutex
	bytes int64
	order *list.List // front: most recently used
	items map[string]*list.Element
}

type sizedEntry[T any] struct {
	key   string
	value T
	bytes int64
}

var _ graphql.Cache[string] = (*SizedCache[string])(nil)

// NewSizedCache returns a cache holding at most maxBytes, as size estimates them.
func NewSizedCache[T any](maxBytes int64, size func(key string, value T) int64) *SizedCache[T] {
	return &SizedCache[T]{maxBytes: maxBytes, size: size, order: list.New(), items: map[string]*list.Element{}}
}

// Get returns the value for key and marks it recently used.
func (c *SizedCache[T]) Get(_ context.Context, key string) (T, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.items[key]; ok {
		c.order.MoveToFront(el)
		return el.Value.(*sizedEntry[T]).value, true
	}
	var zero T
	return zero, false
}

// Add stores value under key, evicting the least recently used entries until it fits. A value
// larger than the whole cache is not stored.
func (c *SizedCache[T]) Add(_ context.Context, key string, value T) {
	n := c.size(key, value)
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.items[key]; ok {
		c.removeElement(el)
	}
	if n > c.maxBytes {
		return
	}
	for c.bytes+n > c.maxBytes {
		c.removeElement(c.order.Back())
	}
	c.items[key] = c.order.PushFront(&sizedEntry[T]{key: key, value: value, bytes: n})
	c.bytes += n
}

// Remove drops key, if present.
func (c *SizedCache[T]) Remove(key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.items[key]; ok {
		c.removeElement(el)
	}
}

// Bytes is what the entries hold, as size estimates it.
func (c *SizedCache[T]) Bytes() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.bytes
}

// Len is the number of entries.
func (c *SizedCache[T]) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.items)
}

func (c *SizedCache[T]) removeElement(el *list.Element) {
	e := c.order.Remove(el).(*sizedEntry[T])
	delete(c.items, e.key)
	c.bytes -= e.bytes
}
