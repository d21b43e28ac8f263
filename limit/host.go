package limit

import (
	"context"
	"slices"
	"sync"
	"time"
)

// reclaimEvery is the shortest time between two looks, by a key at its
// limit, for slots whose request context has ended while the caller still
// holds the response body.
const reclaimEvery = 10 * time.Millisecond

// host is the limit state of one key.
type host struct {
	key string

	mu       sync.Mutex // guards every field below
	limit    int        // current limit
	inFlight int        // slots held
	waiters  []*waiter  // requests waiting for a slot, oldest first
	held     slotList   // handed-out bodies whose request context can end
	reclaim  int64      // no look for abandoned slots before this time
	used     bool       // admitted a request since the registry's last sweep
	dead     bool       // dropped from the registry: look the key up again
	est      *estimator // adaptive state; nil for a fixed limit
}

// waiter is a request waiting for a slot.
type waiter struct {
	ready   chan struct{} // closed when granted
	granted bool          // guarded by host.mu
	sample  bool          // guarded by host.mu; set when granted
}

func newHost(key string, c *config, now int64) *host {
	h := &host{key: key, limit: c.fixed}
	if c.fixed == 0 {
		h.est = newEstimator(&c.adaptive, now)
		h.limit = c.adaptive.Initial
	}
	return h
}

// take counts one more slot held, and reports whether the request that
// holds it is to be timed for the adaptive limit. Called with h.mu held.
func (h *host) take() (sample bool) {
	h.inFlight++
	h.used = true
	if h.est == nil {
		return false
	}
	h.est.peak = max(h.est.peak, h.inFlight)
	return h.est.admit()
}

// grant hands free slots to waiters, oldest first. Called with h.mu held.
func (h *host) grant() {
	for len(h.waiters) > 0 && h.inFlight < h.limit {
		w := h.waiters[0]
		h.waiters[0] = nil
		h.waiters = h.waiters[1:]
		w.granted = true
		w.sample = h.take()
		close(w.ready)
	}
}

// release frees the slot of s (nil for a slot that was never linked).
func (h *host) release(s *slot) {
	h.mu.Lock()
	h.held.remove(s)
	h.inFlight--
	h.grant()
	h.mu.Unlock()
}

// reclaimAbandoned frees the slots of handed-out bodies whose request
// context has ended (the caller never closed them), and hands them to
// waiters. Unless force is set it looks at most once per reclaimEvery.
// Called with h.mu held.
func (h *host) reclaimAbandoned(now int64, force bool) {
	if h.held.head == nil || !force && now < h.reclaim {
		return
	}
	h.reclaim = now + int64(reclaimEvery)
	for s := h.held.head; s != nil; {
		next := s.next
		select {
		case <-s.done:
			// If the caller ended the body meanwhile, its release is on
			// the way and counts the slot; either way s leaves the list.
			h.held.remove(s)
			if s.ended.CompareAndSwap(false, true) {
				h.inFlight--
			}
		default:
		}
		s = next
	}
	h.grant()
}

// admit is the outcome of [host.acquire].
type admit int

const (
	admitted admit = iota
	full           // at the limit, and no wait is allowed
	queued         // at the limit; the caller waits on the waiter returned
	gone           // the host was dropped from the registry
)

// acquire takes a slot if one is free and nobody waits for one. Otherwise
// it looks for abandoned slots (now is read only then) and, if wait allows,
// queues a waiter. It also returns the limit it saw, and for an admitted
// request whether to time it.
func (h *host) acquire(now func() int64, wait bool) (v admit, w *waiter, lim int, sample bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.dead {
		return gone, nil, 0, false
	}
	if h.held.head != nil && (len(h.waiters) > 0 || h.inFlight >= h.limit) {
		h.reclaimAbandoned(now(), false)
	}
	if len(h.waiters) == 0 && h.inFlight < h.limit {
		return admitted, nil, h.limit, h.take()
	}
	if !wait {
		return full, nil, h.limit, false
	}
	w = &waiter{ready: make(chan struct{})}
	h.waiters = append(h.waiters, w)
	return queued, w, h.limit, false
}

// wait waits up to d for w to be granted a slot, or for ctx to end. It
// reports whether w holds a slot; when it does not, err is ctx's cause if ctx
// ended, nil if the wait ran out, and lim is the key's limit then. While it
// waits it also watches the context of the oldest handed-out body, and
// reclaims that body's slot if the context ends first.
func (h *host) wait(ctx context.Context, w *waiter, d time.Duration, now func() int64) (ok bool, lim int, err error) {
	t := time.NewTimer(d)
	defer t.Stop()
	for waiting := true; waiting; {
		h.mu.Lock()
		var abandoned <-chan struct{}
		if h.held.head != nil {
			abandoned = h.held.head.done
		}
		h.mu.Unlock()
		select {
		case <-w.ready:
			return true, 0, nil
		case <-abandoned:
			h.mu.Lock()
			h.reclaimAbandoned(now(), true)
			h.mu.Unlock()
		case <-t.C:
			waiting = false
		case <-ctx.Done():
			err = context.Cause(ctx)
			waiting = false
		}
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if err == nil && !w.granted {
		h.reclaimAbandoned(now(), true) // a last look, which may grant w
	}
	switch {
	case w.granted && err == nil:
		return true, 0, nil
	case w.granted:
		// Granted as ctx ended: pass the slot on.
		h.inFlight--
		h.grant()
	default:
		h.waiters = slices.DeleteFunc(h.waiters, func(o *waiter) bool { return o == w })
	}
	return false, h.limit, err
}

// sampled reports whether the request that waited on w is to be timed.
func (w *waiter) sampled(h *host) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return w.sample
}

// observe records a time-to-headers sample for the adaptive limit and
// reports the limit before and after it when the sample changed it. Called
// with h.mu held.
func (h *host) observe(a *Adaptive, now, rtt int64) (from, to int, changed bool) {
	if !h.est.observe(a, now, rtt, h.inFlight) {
		return 0, 0, false
	}
	from, to = h.limit, int(h.est.limit)
	if from == to {
		return 0, 0, false
	}
	h.limit = to
	h.grant()
	return from, to, true
}

// stats returns the key's current figures.
func (h *host) stats() Stats {
	h.mu.Lock()
	defer h.mu.Unlock()
	s := Stats{Limit: h.limit, InFlight: h.inFlight, Waiting: len(h.waiters)}
	if h.est != nil {
		s.NoLoad = time.Duration(h.est.noLoad)
		s.Latency = time.Duration(h.est.latency)
	}
	return s
}
