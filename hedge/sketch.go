package hedge

import (
	"math"
	"math/bits"
	"sync"
	"sync/atomic"
	"time"
)

// Sketch geometry: a latency v (in nanoseconds) falls in octave e =
// floor(log2 v), split in subBuckets equal parts, so a bucket is at most
// 1/subBuckets of its lower edge wide (12.5 %). Octaves below minOctave
// (65 µs) and from maxOctave (34 s) on are clamped into the first and last.
const (
	subBits    = 3
	subBuckets = 1 << subBits
	minOctave  = 16
	maxOctave  = 35
	numBuckets = (maxOctave - minOctave) * subBuckets
)

// Sample window: a sketch counts its latest samples in cur and the ones
// before in prev. cur turns into prev when it holds generation samples or is
// maxAge old, so the quantile covers the last generation to 2·generation
// first attempts, of the last maxAge to 2·maxAge; a sketch with no sample for
// longer starts over. A window of a thousand samples or more keeps a stall of
// a few hundred milliseconds (every answer late at once) from moving a P90.
// minSamples is the least the quantile needs; recompute is how often (in
// samples) it is recomputed once it has them.
const (
	generation = 1024
	maxAge     = time.Minute
	minSamples = 50
	recompute  = 8
)

// maxHosts bounds the number of hosts a Transport keeps a sketch for.
const maxHosts = 1024

// sketch is the recent latency distribution of one host: a log-bucketed
// histogram in two generations. It is safe for concurrent use.
type sketch struct {
	key string

	q     float64      // the quantile answered
	delay atomic.Int64 // the last quantile computed, in ns; 0 while samples are too few
	born  atomic.Int64 // when cur started, in Unix ns; written under mu

	mu         sync.Mutex // guards the fields below
	cur, prev  [numBuckets]uint16
	nCur       int
	nPrev      int
	sinceFresh int // samples since delay was computed
}

// bucket returns the bucket of a latency of v ns.
func bucket(v int64) int {
	if v < 1<<minOctave {
		return 0
	}
	e := bits.Len64(uint64(v)) - 1
	if e >= maxOctave {
		return numBuckets - 1
	}
	sub := int(v>>(e-subBits)) & (subBuckets - 1)
	return (e-minOctave)*subBuckets + sub
}

// edges returns the lower edge and the width of bucket b, in ns.
func edges(b int) (lower, width int64) {
	e := b/subBuckets + minOctave
	width = 1 << (e - subBits)
	return int64(subBuckets+b%subBuckets) * width, width
}

// current returns the quantile of the window at now, or 0 when it has too
// few samples or they are all older than 2·maxAge.
func (s *sketch) current(now time.Time) time.Duration {
	if now.UnixNano()-s.born.Load() >= int64(2*maxAge) {
		return 0
	}
	return time.Duration(s.delay.Load())
}

// record adds a latency sample d taken at now.
func (s *sketch) record(d time.Duration, now time.Time) {
	b := bucket(int64(d))
	t := now.UnixNano()
	s.mu.Lock()
	age := time.Duration(t - s.born.Load())
	rotated := true
	switch {
	case age >= 2*maxAge: // all stale: start over
		s.prev, s.nPrev = [numBuckets]uint16{}, 0
		s.cur, s.nCur = [numBuckets]uint16{}, 0
		s.born.Store(t)
	case s.nCur == generation || age >= maxAge:
		s.prev, s.nPrev = s.cur, s.nCur
		s.cur, s.nCur = [numBuckets]uint16{}, 0
		s.born.Store(t)
	default:
		rotated = false
	}
	s.cur[b]++
	s.nCur++
	s.sinceFresh++
	if rotated || s.sinceFresh >= recompute || s.delay.Load() == 0 {
		s.sinceFresh = 0
		s.delay.Store(int64(s.quantileLocked()))
	}
	s.mu.Unlock()
}

// quantileLocked returns the quantile s.q of the samples, interpolated
// linearly inside its bucket, or 0 when there are fewer than minSamples.
func (s *sketch) quantileLocked() time.Duration {
	n := s.nCur + s.nPrev
	if n < minSamples {
		return 0
	}
	rank := int(math.Ceil(s.q * float64(n))) // the rank-th smallest sample, from 1
	seen := 0
	for b := range numBuckets {
		c := int(s.cur[b]) + int(s.prev[b])
		if seen+c >= rank {
			lower, width := edges(b)
			return time.Duration(lower + width*int64(rank-seen)/int64(c))
		}
		seen += c
	}
	return 0 // not reached: rank ≤ n
}

// hosts holds one sketch per host, at most maxHosts of them. It is safe for
// concurrent use.
type hosts struct {
	q    float64
	last atomic.Pointer[sketch] // the sketch found last: a lookup-free path for clients of one host

	mu sync.RWMutex // guards m
	m  map[string]*sketch
}

// get returns the sketch of key, making it if needed. When maxHosts sketches
// exist already, an arbitrary one is dropped first; its host starts over.
func (h *hosts) get(key string) *sketch {
	if s := h.last.Load(); s != nil && s.key == key {
		return s
	}
	h.mu.RLock()
	s := h.m[key]
	h.mu.RUnlock()
	if s == nil {
		h.mu.Lock()
		if s = h.m[key]; s == nil {
			if h.m == nil {
				h.m = make(map[string]*sketch)
			}
			if len(h.m) >= maxHosts {
				for k := range h.m {
					delete(h.m, k)
					break
				}
			}
			s = &sketch{key: key, q: h.q}
			h.m[key] = s
		}
		h.mu.Unlock()
	}
	h.last.Store(s)
	return s
}
