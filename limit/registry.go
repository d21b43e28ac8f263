package limit

import (
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// registry maps keys to hosts, up to a bound. Lookups take no lock.
type registry struct {
	m      sync.Map // string → *host
	size   atomic.Int64
	last   atomic.Pointer[host] // the newest host used: a lookup-free path for clients of one host
	sweeps sync.Mutex           // one sweep at a time; guards noRoom
	noRoom int64                // after a sweep that freed nothing: no new sweep before this time
}

// noRoomWait is how long a full registry with nothing to drop is left alone
// before the next sweep.
const noRoomWait = 10 * time.Millisecond

// get returns the host of key, making it if needed. It returns nil when the
// registry is full and no key can be dropped.
func (r *registry) get(t *Transport, key string) *host {
	if h := r.last.Load(); h != nil && h.key == key {
		return h
	}
	if v, ok := r.m.Load(key); ok {
		h := v.(*host)
		r.last.Store(h)
		return h
	}
	if r.size.Load() >= int64(t.cfg.maxKeys) && !r.sweep(t) {
		return nil
	}
	h := newHost(strings.Clone(key), &t.cfg, t.tick())
	if v, loaded := r.m.LoadOrStore(h.key, h); loaded {
		h = v.(*host)
	} else {
		r.size.Add(1)
	}
	r.last.Store(h)
	return h
}

// lookup returns the host of key, or nil.
func (r *registry) lookup(key string) *host {
	if v, ok := r.m.Load(key); ok {
		return v.(*host)
	}
	return nil
}

// sweep drops idle hosts (nothing in flight, nobody waiting) until the
// registry holds at most 3/4 of its bound: first those that admitted nothing
// since the last sweep, then any idle one. It reports whether there is room
// for a new key. After a sweep that found no room, none is tried for
// noRoomWait: requests for new keys go through without a limit meanwhile.
func (r *registry) sweep(t *Transport) bool {
	r.sweeps.Lock()
	defer r.sweeps.Unlock()
	limit := int64(t.cfg.maxKeys)
	if r.size.Load() < limit {
		return true // another sweep made room
	}
	now := t.tick()
	if now < r.noRoom {
		return false
	}
	target := limit - max(limit/4, 1)
	var recent []*host // idle, but used since the last sweep
	r.m.Range(func(_, v any) bool {
		h := v.(*host)
		if !r.drop(h, r.size.Load() > target) && h.idle() {
			recent = append(recent, h)
		}
		return true // clear every used mark, for the next sweep
	})
	for _, h := range recent {
		if r.size.Load() <= target {
			break
		}
		r.dropIdle(h)
	}
	if r.size.Load() >= limit {
		r.noRoom = now + int64(noRoomWait)
		return false
	}
	return true
}

// drop clears h's used mark and, if dropUnused is set, removes h if it is
// idle and was not used since the last sweep. It reports whether h was
// dropped.
func (r *registry) drop(h *host, dropUnused bool) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	used := h.used
	h.used = false
	if !dropUnused || used || h.dead || h.inFlight > 0 || len(h.waiters) > 0 {
		return false
	}
	return r.remove(h)
}

// remove removes h from the registry. Called with h.mu held.
func (r *registry) remove(h *host) bool {
	h.dead = true
	r.m.CompareAndDelete(h.key, h)
	r.last.CompareAndSwap(h, nil)
	r.size.Add(-1)
	return true
}

// dropIdle removes h if it is idle. It reports whether h was dropped.
func (r *registry) dropIdle(h *host) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.dead || h.inFlight > 0 || len(h.waiters) > 0 {
		return false
	}
	return r.remove(h)
}

// idle reports whether h has nothing in flight and nobody waiting.
func (h *host) idle() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return !h.dead && h.inFlight == 0 && len(h.waiters) == 0
}
