package token

import "sync"

// cache keeps recently looked-up entries by salted ID. Every write to a
// token removes it; a lookup that raced with a write does not re-insert
// the entry it read before the write (the generation check).
type cache struct {
	mu  sync.RWMutex
	m   map[string]*Entry
	max int
	gen uint64
}

func newCache(max int) *cache {
	if max < 0 {
		max = 0
	}
	return &cache{m: make(map[string]*Entry, min(max, 1024)), max: max}
}

func (c *cache) get(salted string) *Entry {
	if c.max == 0 {
		return nil
	}
	c.mu.RLock()
	te := c.m[salted]
	c.mu.RUnlock()
	return te
}

// generation returns a value to pass to put; take it before reading storage.
func (c *cache) generation() uint64 {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.gen
}

// put stores te unless some entry was removed since gen was taken. When
// full it evicts an arbitrary entry (map order is random).
func (c *cache) put(salted string, te *Entry, gen uint64) {
	if c.max == 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen != gen {
		return
	}
	if _, ok := c.m[salted]; !ok && len(c.m) >= c.max {
		for k := range c.m {
			delete(c.m, k)
			break
		}
	}
	c.m[salted] = te
}

func (c *cache) remove(salted string) {
	if c.max == 0 {
		return
	}
	c.mu.Lock()
	c.gen++
	delete(c.m, salted)
	c.mu.Unlock()
}

func (c *cache) len() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.m)
}
