package breaker

import (
	"math/bits"
	"sync/atomic"
	"time"
)

// The sliding window of a closed breaker is numBuckets buckets of
// window/numBuckets each. Each bucket counts outcomes with atomic counters (no
// lock on the hot path) and keeps a fixed-bucket latency histogram: 4 bins per
// power of two from 128 µs to 2^27 µs (about 134 s), plus one bin below and
// one above. A bucket's epoch names the generation and the time slot it holds,
// so a bucket left from an older slot or an older generation is ignored when
// the window is summed and cleared when it is reused.
const (
	numBuckets = 10
	minExp     = 7  // 2^7 µs = 128 µs: the lower edge of the first octave
	maxExp     = 26 // the last octave starts at 2^26 µs, about 67 s
	subBins    = 4
	numBins    = 1 + (maxExp-minExp+1)*subBins + 1

	idxBits = 40 // bits of the time-slot index in an epoch; the rest is the generation
	idxMask = 1<<idxBits - 1

	noEpoch = ^uint64(0) // the epoch of a bucket never used (generation 2^24-1 at slot 2^40-1)
)

// binOf returns the histogram bin of latency d.
func binOf(d time.Duration) int {
	if d < 0 {
		d = 0
	}
	us := uint64(d / time.Microsecond)
	if us < 1<<minExp {
		return 0
	}
	e := bits.Len64(us) - 1
	if e > maxExp {
		return numBins - 1
	}
	sub := int(us>>(e-2)) & (subBins - 1)
	return 1 + (e-minExp)*subBins + sub
}

// binLow returns the lower edge of bin k.
func binLow(k int) time.Duration {
	switch {
	case k <= 0:
		return 0
	case k >= numBins-1:
		return time.Duration(uint64(1)<<(maxExp+1)) * time.Microsecond
	}
	e := minExp + (k-1)/subBins
	sub := (k - 1) % subBins
	return time.Duration(uint64(subBins+sub)<<(e-2)) * time.Microsecond
}

// binHigh returns the upper edge of bin k (the lower edge for the last bin,
// which has none).
func binHigh(k int) time.Duration {
	if k >= numBins-1 {
		return binLow(numBins - 1)
	}
	return binLow(k + 1)
}

// bucket holds the outcomes of one time slot of the window. Every field is
// atomic: callers add to it without a lock; clearing it takes the circuit's
// mu. Its epoch (which slot it holds) lives apart, in circuit.epochs, so that
// reading it does not contend with the counters.
type bucket struct {
	failures     atomic.Uint32
	slow         atomic.Uint32
	concurrent   atomic.Uint32
	concFailures atomic.Uint32
	hist         [numBins]atomic.Uint32 // the sum of the bins is the number of outcomes
}

// clear zeroes slot i. c.mu is held.
func (c *circuit) clear(i uint64) {
	if !c.used[i] {
		return
	}
	b := &c.buckets[i]
	b.failures.Store(0)
	b.slow.Store(0)
	b.concurrent.Store(0)
	b.concFailures.Store(0)
	for i := range b.hist {
		b.hist[i].Store(0)
	}
}

// obs is one counted outcome.
type obs struct {
	latency    time.Duration
	failed     bool
	slow       bool
	overlapped bool
}

// tally is a sum of outcomes: a window, or the probes of a half-open circuit.
type tally struct {
	requests     uint64
	failures     uint64
	slow         uint64
	concurrent   uint64
	concFailures uint64
	hist         [numBins]uint64
}

func (t *tally) add(o obs) {
	t.requests++
	t.hist[binOf(o.latency)]++
	if o.failed {
		t.failures++
	}
	if o.slow {
		t.slow++
	}
	if o.overlapped {
		t.concurrent++
		if o.failed {
			t.concFailures++
		}
	}
}

// p99 estimates the 99th percentile latency from the histogram, linearly
// inside the bin that holds it.
func (t *tally) p99() time.Duration {
	if t.requests == 0 {
		return 0
	}
	rank := (t.requests*99 + 99) / 100 // ceil(0.99 × requests)
	var cum uint64
	for k, n := range t.hist {
		if n == 0 {
			continue
		}
		if cum+n >= rank {
			lo, hi := binLow(k), binHigh(k)
			return lo + time.Duration(float64(hi-lo)*float64(rank-cum)/float64(n))
		}
		cum += n
	}
	return binLow(numBins - 1)
}

func (t *tally) counts() Counts {
	return Counts{
		Requests:           int(t.requests),
		Failures:           int(t.failures),
		SlowCalls:          int(t.slow),
		Concurrent:         int(t.concurrent),
		ConcurrentFailures: int(t.concFailures),
		P99:                t.p99(),
	}
}

// tripped reports whether t breaks one of the trip conditions of cfg.
func (t *tally) tripped(cfg *config) bool {
	if t.requests < uint64(cfg.minRequests) {
		return false
	}
	n := float64(t.requests)
	switch {
	case cfg.failureRate > 0 && float64(t.failures)/n >= cfg.failureRate:
		return true
	case cfg.slowCall > 0 && float64(t.slow)/n >= cfg.slowRate:
		return true
	case cfg.concFailRate > 0 && t.concurrent >= uint64(cfg.minRequests) &&
		float64(t.concFailures)/float64(t.concurrent) >= cfg.concFailRate:
		return true
	case cfg.p99 > 0 && t.p99() >= cfg.p99:
		return true
	}
	return false
}

// epochOf names the time slot idx of the generation in st.
func epochOf(st uint64, idx uint64) uint64 {
	return (st>>stateBits)<<idxBits | idx&idxMask
}

// record adds o to the window of the closed generation st at time at. It
// reports whether it counted o (not when the generation ended meanwhile).
func (c *circuit) record(t *Transport, cfg *config, st uint64, at int64, o obs) bool {
	w := c.width.Load()
	if cfg.width != w {
		// The window changed; cfg may be older than the current settings,
		// which are the ones to move to.
		c.rebucket(st, at, t.cfg.Load().width)
		w = c.width.Load()
	}
	idx := uint64(at / w)
	slot := idx % numBuckets
	if want := epochOf(st, idx); c.epochs[slot].Load() != want {
		if !c.rotate(slot, st, want) {
			return false
		}
	}
	b := &c.buckets[slot]
	b.hist[binOf(o.latency)].Add(1)
	if o.failed {
		b.failures.Add(1)
	}
	if o.slow {
		b.slow.Add(1)
	}
	if o.overlapped {
		b.concurrent.Add(1)
		if o.failed {
			b.concFailures.Add(1)
		}
	}
	return true
}

// rotate clears bucket slot for the epoch want, unless the generation st has
// ended.
func (c *circuit) rotate(slot, st, want uint64) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.st.Load() != st {
		return false
	}
	if c.epochs[slot].Load() != want {
		c.clear(slot)
		c.used[slot] = true
		c.epochs[slot].Store(want)
		c.lastUse.Store(want & idxMask)
	}
	return true
}

// collect sums the buckets of generation st that are inside the window
// ending at time at.
func (c *circuit) collect(st uint64, at int64) (t tally) {
	idx := uint64(at / c.width.Load())
	for k := uint64(0); k < numBuckets && k <= idx; k++ {
		i := idx - k
		if c.epochs[i%numBuckets].Load() != epochOf(st, i) {
			continue
		}
		b := &c.buckets[i%numBuckets]
		for j := range b.hist {
			n := uint64(b.hist[j].Load())
			t.hist[j] += n
			t.requests += n
		}
		t.failures += uint64(b.failures.Load())
		t.slow += uint64(b.slow.Load())
		t.concurrent += uint64(b.concurrent.Load())
		t.concFailures += uint64(b.concFailures.Load())
	}
	return t
}

// rebucket moves the window of generation st to buckets of width w: the
// counts it holds are folded into the bucket of time at, so that nothing is
// lost when Update changes the window's length.
func (c *circuit) rebucket(st uint64, at int64, w int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.st.Load() != st || c.width.Load() == w {
		return
	}
	sum := c.collect(st, at)
	for i := range uint64(numBuckets) {
		c.clear(i)
	}
	c.width.Store(w)
	idx := uint64(at / w)
	slot := idx % numBuckets
	b := &c.buckets[slot]
	c.used[slot] = true
	for j, n := range sum.hist {
		b.hist[j].Store(uint32(n))
	}
	b.failures.Store(uint32(sum.failures))
	b.slow.Store(uint32(sum.slow))
	b.concurrent.Store(uint32(sum.concurrent))
	b.concFailures.Store(uint32(sum.concFailures))
	c.epochs[slot].Store(epochOf(st, idx))
	c.lastUse.Store(idx & idxMask)
}
