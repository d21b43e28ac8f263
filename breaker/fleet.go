package breaker

import (
	"strconv"
	"strings"
	"time"
)

// A circuit's side of a fleet: what it pushes to a Store, what it adopts
// from it, and the other processes' counts that join its windows and
// probes. All of it runs on the Store's goroutine, off the request path;
// requests see only c.fleet, through collect and judge.

// quietRounds is how many rounds a closed key with no calls is still
// exchanged, so that the outcomes of its last calls reach the fleet.
const quietRounds = 3

// keySync is what a circuit's Replica remembers between rounds. Only the
// Store's goroutine uses it.
type keySync struct {
	starts uint32 // calls started, as seen at the last round
	idle   int    // rounds in a row without a call
	st     uint64 // the state word last exchanged
	paused int64  // the pause last exchanged
	fleet  State  // the fleet's state at the last merge
	epoch  string // the store's record the pushed counts went into
	gen    uint64 // the generation of pushed and round
	pushed map[string]pushed
	round  map[string]pushed // what the last Collect pushed
}

// pushed is what this process added to one of the fleet's buckets.
type pushed struct {
	sums     []int64
	max, min int64
	end      int64 // on the Transport's timeline: the bucket is out of every window then
}

// fleetView is what the other processes of a fleet counted in the state
// word st, as last merged. It is never changed once stored.
type fleetView struct {
	st     uint64
	win    [numDims][]fleetBucket
	probes []int64 // sums, as tally.sums
}

type fleetBucket struct {
	width, idx int64
	sums       []int64
	max, min   int64
}

// circuits returns every circuit.
func (r *registry) circuits() []*circuit {
	var cs []*circuit
	for i := range r.shards {
		s := &r.shards[i]
		s.mu.RLock()
		for _, c := range s.m {
			cs = append(cs, c)
		}
		s.mu.RUnlock()
	}
	return cs
}

// wanted reports whether c should be exchanged in this round: it had
// calls in the last rounds, changed here since the last exchange, or is
// not closed here or in the fleet. An open circuit whose time is up turns
// half-open first.
func (c *circuit) wanted(t *Transport, at int64) bool {
	ks := c.sync
	if ks == nil {
		ks = &keySync{st: ^uint64(0)}
		c.sync = ks
	}
	f := c.flight.Load()
	if starts := uint32(f >> 32); starts != ks.starts || uint32(f) > 0 {
		ks.starts, ks.idle = starts, 0
	} else if ks.idle < quietRounds {
		ks.idle++
	}
	st := c.st.Load()
	if State(st&stateMask) != Closed {
		c.state(t, at)
		st = c.st.Load()
	}
	return ks.idle < quietRounds || st != ks.st || c.pausedUntil.Load() != ks.paused ||
		State(st&stateMask) != Closed || ks.fleet != Closed
}

// entry returns c's state and the counts it added since the last round.
func (c *circuit) entry(t *Transport, at int64) Entry {
	ks := c.sync
	if ks == nil {
		ks = &keySync{}
		c.sync = ks
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	st := c.st.Load()
	e := Entry{Key: c.key, Generation: st >> stateBits, State: State(st & stateMask)}
	if e.Generation != ks.gen || ks.pushed == nil {
		ks.gen, ks.pushed = e.Generation, map[string]pushed{}
	}
	ks.round = map[string]pushed{}
	if until := c.openUntil.Load(); e.State == Open && until != openForever {
		e.OpenUntil = t.wall(until)
	}
	paused := c.pausedUntil.Load()
	if paused > 0 {
		e.PausedUntil = t.wall(paused)
	}
	switch e.State {
	case Closed:
		for d := range dimension(numDims) {
			c.windowBuckets(t, &e, d, st, at)
		}
	case HalfOpen:
		cfg := t.cfg.Load()
		end := satAdd(at, cfg.probeDeadlineOf()+int64(cfg.openDuration))
		c.push(t, &e, "p", &c.probes, end)
	}
	for id, p := range ks.pushed {
		if p.end < at {
			delete(ks.pushed, id)
		}
	}
	ks.st, ks.paused = st, paused
	return e
}

// windowBuckets adds to e the buckets of window d of the closed generation
// st that are inside the window at time at. c.mu is held.
func (c *circuit) windowBuckets(t *Transport, e *Entry, d dimension, st uint64, at int64) {
	w := &c.win[d]
	width := w.width.Load()
	cur := uint64(at / width)
	gen := epochOf(st, 0)
	for i := range uint64(numBuckets) {
		ep := w.epochs[i].Load()
		if ep == noEpoch || ep&^idxMask != gen {
			continue
		}
		idx := cur - (cur-ep)&idxMask // the epoch keeps the slot's low bits only
		if cur-idx >= numBuckets {
			continue
		}
		var s tally
		c.addBucket(&s, d, i)
		end := int64(idx+1+numBuckets) * width
		c.push(t, e, bucketID(d, width, int64(idx)), &s, end)
	}
}

// push adds to e the increments of bucket id since the last round, if
// any, and remembers them as pushed. c.mu is held.
func (c *circuit) push(t *Transport, e *Entry, id string, s *tally, end int64) {
	ks := c.sync
	now := pushed{sums: s.sums(), max: int64(s.maxLat), min: int64(s.minOver), end: end}
	was := ks.pushed[id]
	delta := Bucket{ID: id, End: t.wall(end)}
	changed := false
	for i, v := range now.sums {
		if i < len(was.sums) {
			v -= was.sums[i]
		}
		if v < 0 {
			v = 0
		}
		delta.Sums = append(delta.Sums, v)
		changed = changed || v > 0
	}
	if now.max > was.max {
		delta.Max, changed = now.max, true
	}
	if now.min > 0 && (was.min == 0 || now.min < was.min) {
		delta.Min, changed = now.min, true
	}
	if !changed {
		return
	}
	e.Buckets = append(e.Buckets, delta)
	ks.pushed[id] = now
	ks.round[id] = pushed{sums: delta.Sums, max: delta.Max, min: delta.Min, end: end}
}

// merge adopts the fleet's entry e for c (see Replica.Merge).
func (c *circuit) merge(t *Transport, e *Entry) {
	ks := c.sync
	at := t.now()
	if e.Epoch != ks.epoch {
		// A new record: it holds only what this round pushed.
		ks.epoch = e.Epoch
		if ks.gen == e.Generation {
			ks.pushed = ks.round
		}
	}
	if !e.PausedUntil.IsZero() {
		p := t.fleetAt(e.PausedUntil)
		for old := c.pausedUntil.Load(); p > old && !c.pausedUntil.CompareAndSwap(old, p); old = c.pausedUntil.Load() {
		}
	}
	st := c.st.Load()
	switch gen, s := st>>stateBits, State(st&stateMask); {
	case e.Generation > gen || e.Generation == gen && e.State != s:
		c.adopt(t, st, e, at)
	case e.Generation == gen && s == Open:
		c.mu.Lock()
		if c.st.Load() == st && !c.forced {
			c.openUntil.Store(t.fleetAt(e.OpenUntil))
		}
		c.mu.Unlock()
	}
	ks.fleet = e.State
	st = c.st.Load()
	ks.st, ks.paused = st, c.pausedUntil.Load()
	if st>>stateBits != e.Generation || State(st&stateMask) == Open {
		c.fleet.Store(nil)
		return
	}
	c.fleet.Store(c.others(e, st))
	if State(st&stateMask) == Closed {
		c.judgeFleet(t, st, at)
	} else {
		c.judgeProbes(t, st, at)
	}
}

// adopt moves c from st to the fleet's generation and state in e, unless c
// moved on meanwhile, and runs the hooks.
func (c *circuit) adopt(t *Transport, st uint64, e *Entry, at int64) {
	c.mu.Lock()
	if c.st.Load() != st {
		c.mu.Unlock()
		return
	}
	cfg := t.cfg.Load()
	c.forced = e.State == Open && e.OpenUntil.IsZero()
	c.move(cfg, st, e.Generation<<stateBits|uint64(e.State), at, c.live(cfg, st, at))
	if e.State == Open {
		c.openUntil.Store(t.fleetAt(e.OpenUntil))
	}
	c.mu.Unlock()
	c.flush()
}

// others returns what the other processes counted: the fleet's totals in e
// less what this process pushed.
func (c *circuit) others(e *Entry, st uint64) *fleetView {
	ks := c.sync
	v := &fleetView{st: st}
	for _, b := range e.Buckets {
		sums := b.Sums
		if ks.gen == e.Generation {
			if p, ok := ks.pushed[b.ID]; ok {
				sums = subtract(sums, p.sums)
			}
		}
		if b.ID == "p" {
			v.probes = sums
			continue
		}
		d, width, idx, ok := parseBucketID(b.ID)
		if ok {
			v.win[d] = append(v.win[d], fleetBucket{width: width, idx: idx, sums: sums, max: b.Max, min: b.Min})
		}
	}
	return v
}

// judgeFleet trips the closed generation st when the fleet's windows break
// a threshold.
func (c *circuit) judgeFleet(t *Transport, st uint64, at int64) {
	cfg := t.cfg.Load()
	for d := range dimension(numDims) {
		var s tally
		c.collect(&s, d, st, at)
		if _, tripped := s.verdict(cfg, d); tripped {
			c.transition(t, st, Open, at)
			return
		}
	}
}

// judgeProbes closes or reopens the half-open generation st when the
// fleet's probes decide it.
func (c *circuit) judgeProbes(t *Transport, st uint64, at int64) {
	cfg := t.cfg.Load()
	c.mu.Lock()
	if c.st.Load() == st {
		if to := c.judge(cfg); to != HalfOpen {
			c.set(cfg, st, to, at, c.allProbes(st).counts(cfg.probeBound()))
			c.mu.Unlock()
			c.flush()
			return
		}
	}
	c.mu.Unlock()
}

// addFleet adds to s what the other processes counted in the slots of
// window d (of bucket width width) that the window ending in slot idx
// holds, in the closed generation st.
func (c *circuit) addFleet(s *tally, d dimension, st, idx uint64, width int64) {
	v := c.fleet.Load()
	if v == nil || v.st != st {
		return
	}
	for i := range v.win[d] {
		b := &v.win[d][i]
		if b.width != width || b.idx < 0 || uint64(b.idx) > idx || idx-uint64(b.idx) >= numBuckets {
			continue
		}
		s.addSums(b.sums)
		s.maxLat = max(s.maxLat, time.Duration(b.max))
		if m := time.Duration(b.min); m > 0 && (s.minOver == 0 || m < s.minOver) {
			s.minOver = m
		}
	}
}

// fleetProbes returns the probe outcomes the other processes counted in
// the half-open state word st, as tally.sums, or nil.
func (c *circuit) fleetProbes(st uint64) []int64 {
	if v := c.fleet.Load(); v != nil && v.st == st {
		return v.probes
	}
	return nil
}

// allProbes returns the probes counted in the half-open state word st: by
// this process and, with a Store, by the others. c.mu is held.
func (c *circuit) allProbes(st uint64) *tally {
	others := c.fleetProbes(st)
	if others == nil {
		return &c.probes
	}
	sum := c.probes
	sum.addSums(others)
	return &sum
}

// fleetRequests returns the outcomes counted in sums.
func fleetRequests(sums []int64) int {
	if len(sums) == 0 {
		return 0
	}
	return int(sums[0])
}

// sums encodes t as counts that add up: requests, failures, latRequests,
// slow, over, concurrent, concFailures, then the histogram's bins, without
// trailing zeros.
func (t *tally) sums() []int64 {
	s := []int64{int64(t.requests), int64(t.failures), int64(t.latRequests), int64(t.slow),
		int64(t.over), int64(t.concurrent), int64(t.concFailures)}
	for _, n := range t.hist {
		s = append(s, int64(n))
	}
	for len(s) > 0 && s[len(s)-1] == 0 {
		s = s[:len(s)-1]
	}
	return s
}

// addSums adds counts encoded by sums to t; negative counts are ignored.
func (t *tally) addSums(s []int64) {
	fields := [...]*uint64{&t.requests, &t.failures, &t.latRequests, &t.slow, &t.over, &t.concurrent, &t.concFailures}
	for i, v := range s {
		if v <= 0 {
			continue
		}
		switch k := i - len(fields); {
		case k < 0:
			*fields[i] += uint64(v)
		case k < numBins:
			t.hist[k] += uint64(v)
		}
	}
}

// subtract returns a − b, each count at least 0.
func subtract(a, b []int64) []int64 {
	out := make([]int64, len(a))
	for i, v := range a {
		if i < len(b) {
			v -= b[i]
		}
		out[i] = max(v, 0)
	}
	return out
}

var dimNames = [numDims]byte{'f', 'l', 'c'}

// bucketID names slot idx of window d with buckets of width nanoseconds.
func bucketID(d dimension, width, idx int64) string {
	b := make([]byte, 0, 32)
	b = append(b, dimNames[d])
	b = strconv.AppendInt(b, width, 10)
	b = append(b, '.')
	b = strconv.AppendInt(b, idx, 10)
	return string(b)
}

// parseBucketID reads a name of bucketID.
func parseBucketID(id string) (d dimension, width, idx int64, ok bool) {
	if id == "" {
		return 0, 0, 0, false
	}
	d = dimension(strings.IndexByte(string(dimNames[:]), id[0]))
	w, i, found := strings.Cut(id[1:], ".")
	if d >= numDims || !found {
		return 0, 0, 0, false
	}
	width, err1 := strconv.ParseInt(w, 10, 64)
	idx, err2 := strconv.ParseInt(i, 10, 64)
	return d, width, idx, err1 == nil && err2 == nil && width > 0 && idx >= 0
}
