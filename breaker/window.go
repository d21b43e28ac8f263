package breaker

import (
	"sync/atomic"
	"time"
)

// dimension names one of the three trip dimensions. Each has its own sliding
// window, so that the failure rate can look back a minute while the
// concurrent failure rate looks at the last ten seconds.
type dimension uint8

const (
	dimFailure     dimension = iota // failures among outcomes
	dimLatency                      // P99 and slow calls, and the latency histogram
	dimConcurrency                  // failures among overlapping outcomes
	numDims
)

// A window is numBuckets buckets of width window/numBuckets each. Each
// bucket counts outcomes with atomic counters (no lock on the hot path). A
// bucket's epoch names the generation and the time slot it holds, so a
// bucket left from an older slot or an older generation is ignored when the
// window is summed and cleared when it is reused.
//
// The counts are plain sums per (generation, time slot): two processes'
// buckets of one slot add up, which is what a store shared by a fleet needs
// to merge windows in the background.
const (
	numBuckets = 10

	idxBits = 40 // bits of the time-slot index in an epoch; the rest is the generation
	idxMask = 1<<idxBits - 1

	noEpoch = ^uint64(0) // the epoch of a bucket never used (generation 2^24-1 at slot 2^40-1)
)

// window is the sliding window of one dimension of a circuit.
type window struct {
	width   atomic.Int64  // bucket width in nanoseconds
	hint    atomic.Uint64 // the time-slot index last used: spares a division per call
	epochs  [numBuckets]atomic.Uint64
	buckets [numBuckets]bucket
	used    [numBuckets]bool // the bucket may hold counts; guarded by circuit.mu
}

// bucket holds the outcomes of one time slot of a window. A dimension uses
// only its own counters; the others stay zero.
type bucket struct {
	requests     atomic.Uint32 // outcomes (failure window; the latency window sums its histogram)
	failures     atomic.Uint32 // failed outcomes (failure window)
	slow         atomic.Uint32 // slower than WithSlowCall's d (latency window)
	over         atomic.Uint32 // slower than WithP99's d (latency window)
	concurrent   atomic.Uint32 // overlapping outcomes (concurrency window)
	concFailures atomic.Uint32 // overlapping failed outcomes (concurrency window)
	maxLat       atomic.Int64  // the slowest outcome (latency window)
	minOver      atomic.Int64  // the fastest outcome slower than WithP99's d; 0: none (latency window)
}

// obs is one counted outcome.
type obs struct {
	latency    time.Duration
	failed     bool
	overlapped bool
	late       bool // decided after the time it is placed at (at its body's end)
}

// tally is a sum of outcomes: the windows of a closed circuit, or the probes
// of a half-open one (which fill every field from the same outcomes).
type tally struct {
	requests     uint64 // failure window
	failures     uint64
	latRequests  uint64 // latency window
	slow         uint64
	over         uint64
	maxLat       time.Duration
	minOver      time.Duration
	hist         [numBins]uint64
	concurrent   uint64 // concurrency window
	concFailures uint64
}

// add counts a probe's outcome; slow and over say how it compares with the
// recovery thresholds.
func (t *tally) add(o obs, slow, over bool) {
	t.requests++
	t.latRequests++
	t.hist[binOf(o.latency)]++
	t.maxLat = max(t.maxLat, o.latency)
	if o.failed {
		t.failures++
	}
	if slow {
		t.slow++
	}
	if over {
		t.over++
		if t.minOver == 0 || o.latency < t.minOver {
			t.minOver = o.latency
		}
	}
	if o.overlapped {
		t.concurrent++
		if o.failed {
			t.concFailures++
		}
	}
}

// counts reports t; bound is the P99 bound its over count was taken against.
func (t *tally) counts(bound time.Duration) Counts {
	return Counts{
		Requests:           int(t.requests),
		Failures:           int(t.failures),
		LatencyRequests:    int(t.latRequests),
		SlowCalls:          int(t.slow),
		OverP99:            int(t.over),
		P99:                t.p99(bound),
		Concurrent:         int(t.concurrent),
		ConcurrentFailures: int(t.concFailures),
	}
}

// epochOf names the time slot idx of the generation in st.
func epochOf(st uint64, idx uint64) uint64 {
	return (st>>stateBits)<<idxBits | idx&idxMask
}

// slot returns the bucket of window d for time at in the closed generation
// st, cleared first when it held an older slot. It returns nil when the
// generation ended meanwhile.
func (c *circuit) slot(t *Transport, cfg *config, d dimension, st uint64, at int64) (*bucket, uint64) {
	w := &c.win[d]
	width := w.width.Load()
	if cfg.widths[d] != width {
		// The window changed; cfg may be older than the current settings,
		// which are the ones to move to.
		c.rebucket(d, st, at, t.cfg.Load().widths[d])
		width = w.width.Load()
	}
	idx := w.hint.Load()
	if lo := int64(idx) * width; at < lo || at-lo >= width {
		idx = uint64(at / width)
		w.hint.Store(idx)
	}
	i := idx % numBuckets
	if want := epochOf(st, idx); w.epochs[i].Load() != want && !c.rotate(d, i, st, want, at) {
		return nil, 0
	}
	return &w.buckets[i], i
}

// record adds o, placed at time at, to the windows of the closed
// generation st. It returns, per dimension (bit 1<<d), where o was bad: a
// failure, a slow call, a call slower than the P99 bound. It returns
// notRecorded when the generation ended meanwhile.
func (c *circuit) record(t *Transport, cfg *config, st uint64, at int64, o obs) (bad uint32) {
	b, _ := c.slot(t, cfg, dimFailure, st, at)
	if b == nil {
		return notRecorded
	}
	b.requests.Add(1)
	if o.failed {
		b.failures.Add(1)
		bad |= 1 << dimFailure
	}

	b, i := c.slot(t, cfg, dimLatency, st, at)
	if b == nil {
		return notRecorded
	}
	// The histogram's bins add up to the outcomes: one counter fewer to
	// write on every call.
	c.hist[i][binOf(o.latency)].Add(1)
	if lat := int64(o.latency); lat > b.maxLat.Load() {
		atomicMax(&b.maxLat, lat)
	}
	if cfg.slowCall > 0 && o.latency > cfg.slowCall {
		b.slow.Add(1)
		bad |= 1 << dimLatency
	}
	if cfg.p99 > 0 && o.latency > cfg.p99 {
		b.over.Add(1)
		atomicMinPositive(&b.minOver, int64(o.latency))
		bad |= 1 << dimLatency
	}

	if !o.overlapped {
		return bad
	}
	if b, _ = c.slot(t, cfg, dimConcurrency, st, at); b == nil {
		return notRecorded
	}
	b.concurrent.Add(1)
	if o.failed {
		b.concFailures.Add(1)
		bad |= 1 << dimConcurrency
	}
	return bad
}

const notRecorded = 1 << 31

func atomicMax(a *atomic.Int64, v int64) {
	for old := a.Load(); v > old && !a.CompareAndSwap(old, v); old = a.Load() {
	}
}

func atomicMinPositive(a *atomic.Int64, v int64) {
	for old := a.Load(); (old == 0 || v < old) && !a.CompareAndSwap(old, v); old = a.Load() {
	}
}

// rotate clears bucket i of window d for the epoch want, unless the
// generation st has ended or the bucket already holds a later slot of st (the
// outcome, placed at the time of its headers, is then older than the window).
func (c *circuit) rotate(d dimension, i, st, want uint64, at int64) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.st.Load() != st {
		return false
	}
	w := &c.win[d]
	if cur := w.epochs[i].Load(); cur != want {
		if cur != noEpoch && cur>>idxBits == want>>idxBits && cur > want {
			return false
		}
		c.clear(d, i)
		w.used[i] = true
		w.epochs[i].Store(want)
		c.lastUse.Store(at)
	}
	return true
}

// clear zeroes bucket i of window d. c.mu is held.
func (c *circuit) clear(d dimension, i uint64) {
	w := &c.win[d]
	if !w.used[i] {
		return
	}
	b := &w.buckets[i]
	for _, n := range []*atomic.Uint32{&b.requests, &b.failures, &b.slow, &b.over, &b.concurrent, &b.concFailures} {
		n.Store(0)
	}
	b.maxLat.Store(0)
	b.minOver.Store(0)
	if d == dimLatency {
		for k := range c.hist[i] {
			c.hist[i][k].Store(0)
		}
	}
}

// collect adds to s the buckets of window d of generation st that are inside
// the window ending at time at.
func (c *circuit) collect(s *tally, d dimension, st uint64, at int64) {
	w := &c.win[d]
	width := w.width.Load()
	idx := uint64(at / width)
	for k := uint64(0); k < numBuckets && k <= idx; k++ {
		i := (idx - k) % numBuckets
		if w.epochs[i].Load() == epochOf(st, idx-k) {
			c.addBucket(s, d, i)
		}
	}
	c.addFleet(s, d, st, idx, width)
}

// addBucket adds bucket i of window d to s.
func (c *circuit) addBucket(s *tally, d dimension, i uint64) {
	b := &c.win[d].buckets[i]
	switch d {
	case dimFailure:
		s.requests += uint64(b.requests.Load())
		s.failures += uint64(b.failures.Load())
	case dimLatency:
		s.slow += uint64(b.slow.Load())
		s.over += uint64(b.over.Load())
		s.maxLat = max(s.maxLat, time.Duration(b.maxLat.Load()))
		if m := time.Duration(b.minOver.Load()); m > 0 && (s.minOver == 0 || m < s.minOver) {
			s.minOver = m
		}
		for k := range c.hist[i] {
			n := uint64(c.hist[i][k].Load())
			s.hist[k] += n
			s.latRequests += n
		}
	case dimConcurrency:
		s.concurrent += uint64(b.concurrent.Load())
		s.concFailures += uint64(b.concFailures.Load())
	}
}

// snapshot returns every window of the closed generation st at time at.
func (c *circuit) snapshot(st uint64, at int64) (s tally) {
	for d := range dimension(numDims) {
		c.collect(&s, d, st, at)
	}
	return s
}

// rebucket moves window d of generation st to buckets of width w: the counts
// it holds are folded into the bucket of time at, so that nothing is lost
// when Update changes the window's length.
func (c *circuit) rebucket(d dimension, st uint64, at int64, width int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	win := &c.win[d]
	if c.st.Load() != st || win.width.Load() == width {
		return
	}
	var s tally
	c.collect(&s, d, st, at)
	for i := range uint64(numBuckets) {
		c.clear(d, i)
	}
	win.width.Store(width)
	idx := uint64(at / width)
	i := idx % numBuckets
	b := &win.buckets[i]
	win.used[i] = true
	switch d {
	case dimFailure:
		b.requests.Store(uint32(s.requests))
		b.failures.Store(uint32(s.failures))
	case dimLatency:
		b.slow.Store(uint32(s.slow))
		b.over.Store(uint32(s.over))
		b.maxLat.Store(int64(s.maxLat))
		b.minOver.Store(int64(s.minOver))
		for k, n := range s.hist {
			c.hist[i][k].Store(uint32(n))
		}
	case dimConcurrency:
		b.concurrent.Store(uint32(s.concurrent))
		b.concFailures.Store(uint32(s.concFailures))
	}
	win.epochs[i].Store(epochOf(st, idx))
	c.lastUse.Store(at)
}
