package breaker

import (
	"cmp"
	"hash/maphash"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
)

const numShards = 32

// registry maps keys to circuits. It is sharded so that calls to different
// hosts do not share a lock, and the closed path only takes a shard's read
// lock.
type registry struct {
	seed   maphash.Seed
	size   atomic.Int64
	sweeps sync.Mutex   // one sweep at a time
	noRoom atomic.Int64 // after a sweep that freed nothing: no new sweep before this time
	shards [numShards]shard
}

type shard struct {
	mu sync.RWMutex // guards m
	m  map[string]*circuit
	_  [32]byte // keep shards on separate cache lines
}

func (r *registry) init() {
	r.seed = maphash.MakeSeed()
	for i := range r.shards {
		r.shards[i].m = make(map[string]*circuit)
	}
}

func (r *registry) shard(key string) *shard {
	return &r.shards[maphash.String(r.seed, key)%numShards]
}

// keys returns every key, sorted.
func (r *registry) keys() []string {
	var ks []string
	for i := range r.shards {
		s := &r.shards[i]
		s.mu.RLock()
		for k := range s.m {
			ks = append(ks, k)
		}
		s.mu.RUnlock()
	}
	slices.Sort(ks)
	return ks
}

// lookup returns the circuit of key, or nil.
func (r *registry) lookup(key string) *circuit {
	s := r.shard(key)
	s.mu.RLock()
	c := s.m[key]
	s.mu.RUnlock()
	return c
}

// get returns the circuit of key, creating it if needed for req. It returns
// nil when the registry is full and nothing can be evicted, unless req is nil
// (ForceOpen): then it makes room past the bound.
func (r *registry) get(t *Transport, key string, cfg *config, at int64, req *http.Request) *circuit {
	force := req == nil
	s := r.shard(key)
	s.mu.RLock()
	c := s.m[key]
	s.mu.RUnlock()
	if c != nil {
		return c
	}
	if r.size.Load() >= int64(cfg.maxKeys) && !force {
		if at < r.noRoom.Load() {
			return nil
		}
		r.sweep(cfg, at)
	}
	s.mu.Lock()
	c = s.m[key]
	if c == nil && (force || r.size.Load() < int64(cfg.maxKeys)) {
		c = newCircuit(t, strings.Clone(key), cfg, req)
		s.m[c.key] = c
		r.size.Add(1)
		t.last.Store(c)
	}
	s.mu.Unlock()
	return c
}

// sweep drops the least recently used closed circuits that have no call in
// flight and no pause until the registry holds at most 3/4 of cfg.maxKeys;
// open and half-open circuits stay.
func (r *registry) sweep(cfg *config, at int64) {
	for _, k := range r.drop(cfg, at) {
		for _, f := range cfg.onEvict {
			f(k)
		}
	}
}

// drop evicts circuits as sweep says, under r.sweeps, and returns their keys.
func (r *registry) drop(cfg *config, at int64) []string {
	r.sweeps.Lock()
	defer r.sweeps.Unlock()
	limit := int64(cfg.maxKeys)
	if r.size.Load() < limit {
		return nil // another sweep made room
	}
	target := limit - max(limit/4, 1)
	type candidate struct {
		c    *circuit
		last int64
	}
	var cands []candidate
	for i := range r.shards {
		s := &r.shards[i]
		s.mu.RLock()
		for _, c := range s.m {
			if State(c.st.Load()&stateMask) == Closed && uint32(c.flight.Load()) == 0 && c.pausedUntil.Load() <= at {
				cands = append(cands, candidate{c, c.lastUse.Load()})
			}
		}
		s.mu.RUnlock()
	}
	slices.SortFunc(cands, func(a, b candidate) int { return cmp.Compare(a.last, b.last) })
	var dropped []string
	for _, cd := range cands {
		if r.size.Load() <= target {
			break
		}
		if r.evict(cd.c) {
			dropped = append(dropped, cd.c.key)
		}
	}
	if len(dropped) == 0 {
		// Every breaker is open, half-open or busy: do not scan them all
		// again for each new key; look again after a bucket of the
		// shortest window.
		r.noRoom.Store(satAdd(at, slices.Min(cfg.widths[:])))
	}
	return dropped
}

// evict drops c if it is still closed with no call in flight. An admitter
// counts itself in flight before it checks c.evicted, and evict marks c
// before it checks the count, so one of the two always sees the other.
func (r *registry) evict(c *circuit) bool {
	s := r.shard(c.key)
	s.mu.Lock()
	defer s.mu.Unlock()
	c.mu.Lock()
	defer c.mu.Unlock()
	if State(c.st.Load()&stateMask) != Closed || s.m[c.key] != c {
		return false
	}
	c.evicted.Store(true)
	if uint32(c.flight.Load()) != 0 {
		c.evicted.Store(false)
		return false
	}
	delete(s.m, c.key)
	r.size.Add(-1)
	return true
}
