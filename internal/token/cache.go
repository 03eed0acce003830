package token

import "sync"

const cacheShards = 16

// cache keeps recently looked-up entries by the HMAC of their ID, in shards
// so that concurrent lookups do not contend on one lock. Every write to a
// token removes it; a lookup that raced with a write does not re-insert the
// entry it read before the write (the generation check).
type cache struct {
	shards [cacheShards]cacheShard
}

type cacheShard struct {
	mu  sync.RWMutex
	m   map[digest]*Entry
	max int
	gen uint64
	_   [40]byte // keep shards on separate cache lines
}

func newCache(max int) *cache {
	c := &cache{}
	per := 0
	if max > 0 {
		per = max/cacheShards + 1
	}
	for i := range c.shards {
		c.shards[i].max = per
		c.shards[i].m = make(map[digest]*Entry, min(per, 64))
	}
	return c
}

func (c *cache) shard(key digest) *cacheShard { return &c.shards[key[0]%cacheShards] }

func (c *cache) get(key digest) *Entry {
	sh := c.shard(key)
	if sh.max == 0 {
		return nil
	}
	sh.mu.RLock()
	te := sh.m[key]
	sh.mu.RUnlock()
	return te
}

// generation returns a value to pass to put; take it before reading storage.
func (c *cache) generation(key digest) uint64 {
	sh := c.shard(key)
	sh.mu.RLock()
	defer sh.mu.RUnlock()
	return sh.gen
}

// put stores te unless an entry of its shard was removed since gen was
// taken. A full shard evicts an arbitrary entry (map order is random).
func (c *cache) put(key digest, te *Entry, gen uint64) {
	sh := c.shard(key)
	if sh.max == 0 {
		return
	}
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if sh.gen != gen {
		return
	}
	if _, ok := sh.m[key]; !ok && len(sh.m) >= sh.max {
		for k := range sh.m {
			delete(sh.m, k)
			break
		}
	}
	sh.m[key] = te
}

// remove drops a token, named by its salted ID, and bumps the generation.
func (c *cache) remove(salted string) {
	key := digestOf(salted)
	sh := c.shard(key)
	if sh.max == 0 {
		return
	}
	sh.mu.Lock()
	sh.gen++
	delete(sh.m, key)
	sh.mu.Unlock()
}

func (c *cache) len() int {
	n := 0
	for i := range c.shards {
		sh := &c.shards[i]
		sh.mu.RLock()
		n += len(sh.m)
		sh.mu.RUnlock()
	}
	return n
}
