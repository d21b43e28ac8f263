package breaker_test

import (
	"net/http"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rtchain/chain/breaker"
)

// memStore is a breaker.Store in memory with the rules a real store keeps
// (the highest generation wins, buckets of the stored generation add up,
// the latest pause stays). It has no goroutine: round runs one exchange.
type memStore struct {
	mu       sync.Mutex
	replicas []*breaker.Replica
	recs     map[string]*memRecord
	epoch    int
}

type memRecord struct {
	e       breaker.Entry
	buckets map[string]breaker.Bucket
}

func newMemStore() *memStore { return &memStore{recs: map[string]*memRecord{}} }

func (s *memStore) ShareBreaker(r *breaker.Replica) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.replicas = append(s.replicas, r)
}

// round exchanges every replica's entries once, then the keys the fleet
// holds open. It returns the number of live replicas.
func (s *memStore) round() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	var live []*breaker.Replica
	for _, r := range s.replicas {
		entries, ok := r.Collect()
		if !ok {
			continue
		}
		live = append(live, r)
		r.Merge(s.apply(entries))
	}
	s.replicas = live
	open := map[string]uint64{}
	for k, rec := range s.recs {
		if rec.e.State != breaker.Closed {
			open[k] = rec.e.Generation
		}
	}
	for _, r := range live {
		r.Merge(s.apply(r.Behind(open)))
	}
	return len(live)
}

func (s *memStore) apply(entries []breaker.Entry) []breaker.Entry {
	var out []breaker.Entry
	for _, e := range entries {
		rec := s.recs[e.Key]
		if rec == nil {
			s.epoch++
			rec = &memRecord{e: e, buckets: map[string]breaker.Bucket{}}
			rec.e.Epoch = string(rune('a' + s.epoch))
			rec.e.Buckets = nil
			s.recs[e.Key] = rec
		} else if e.Generation > rec.e.Generation {
			epoch, paused := rec.e.Epoch, rec.e.PausedUntil
			rec.e, rec.e.Epoch, rec.e.PausedUntil, rec.e.Buckets = e, epoch, paused, nil
			rec.buckets = map[string]breaker.Bucket{}
		}
		if e.PausedUntil.After(rec.e.PausedUntil) {
			rec.e.PausedUntil = e.PausedUntil
		}
		if e.Generation == rec.e.Generation {
			for _, b := range e.Buckets {
				old := rec.buckets[b.ID]
				sums := slices.Clone(old.Sums)
				for i, v := range b.Sums {
					if i >= len(sums) {
						sums = append(sums, 0)
					}
					sums[i] += v
				}
				old.ID, old.End, old.Sums, old.Max = b.ID, b.End, sums, max(old.Max, b.Max)
				if b.Min > 0 && (old.Min == 0 || b.Min < old.Min) {
					old.Min = b.Min
				}
				rec.buckets[b.ID] = old
			}
		}
		got := rec.e
		got.Key = e.Key
		for _, b := range rec.buckets {
			got.Buckets = append(got.Buckets, b)
		}
		out = append(out, got)
	}
	return out
}

// flush forgets every record, as FLUSHALL would.
func (s *memStore) flush() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.recs = map[string]*memRecord{}
}

// fleetPair is two breakers sharing one memStore and one fake clock.
func fleetPair(t *testing.T, extra ...breaker.Option) (*memStore, *fakeClock, [2]*breaker.Transport, [2]*fakeNext) {
	t.Helper()
	s := newMemStore()
	clock := newClock()
	var ts [2]*breaker.Transport
	var nexts [2]*fakeNext
	for i := range ts {
		nexts[i] = &fakeNext{clock: clock, reply: statusFor}
		o := append(opts(clock, quiet()...), breaker.WithStore(s), breaker.WithMinRequests(5), breaker.WithFailureRate(0.5),
			breaker.WithOpenDuration(10*time.Second), breaker.WithHalfOpenProbes(2))
		ts[i] = breaker.New(nexts[i], append(o, extra...)...)
	}
	return s, clock, ts, nexts
}

func TestStoreTripReachesTheFleet(t *testing.T) {
	s, _, ts, nexts := fleetPair(t)
	assert.Zero(t, do(t, ts[0], "a.test", "500", 0, 5))
	require.Equal(t, breaker.Open, ts[0].State("a.test"))
	s.round()
	assert.Equal(t, breaker.Open, ts[1].State("a.test"), "the second breaker adopts the trip")
	assert.Equal(t, 3, do(t, ts[1], "a.test", "", 0, 3), "and rejects")
	assert.Zero(t, nexts[1].calls.Load(), "without sending")
}

func TestStoreWindowsAddUp(t *testing.T) {
	s, _, ts, _ := fleetPair(t)
	do(t, ts[0], "a.test", "500", 0, 3)
	do(t, ts[1], "a.test", "500", 0, 1)
	s.round()
	s.round()
	assert.Equal(t, 4, ts[1].Window("a.test").Failures, "3 there and 1 here")
	assert.Equal(t, breaker.Closed, ts[1].State("a.test"))
	do(t, ts[1], "a.test", "500", 0, 1)
	assert.Equal(t, breaker.Open, ts[1].State("a.test"), "the fleet's fifth outcome judges the window")
	assert.Equal(t, 5, ts[1].Counts("a.test").Requests)
}

func TestStoreProbesOfTheFleet(t *testing.T) {
	var changes [2][]breaker.State
	var mu sync.Mutex
	s, clock, ts, nexts := fleetPair(t)
	for i, tr := range ts {
		require.NoError(t, tr.Update(breaker.WithOnStateChange(func(_ string, _, to breaker.State) {
			mu.Lock()
			changes[i] = append(changes[i], to)
			mu.Unlock()
		})))
	}
	do(t, ts[0], "a.test", "500", 0, 5)
	s.round()
	clock.Advance(10 * time.Second)
	s.round() // both turn half-open on the fleet's open-until
	require.Equal(t, breaker.HalfOpen, ts[1].State("a.test"))
	do(t, ts[0], "a.test", "200", 0, 1)
	assert.Equal(t, breaker.HalfOpen, ts[0].State("a.test"), "one probe of two")
	s.round()
	assert.Equal(t, 1, ts[1].Window("a.test").Requests, "the other's probe counts here")
	calls := nexts[1].calls.Load()
	do(t, ts[1], "a.test", "200", 0, 1)
	assert.Equal(t, calls+1, nexts[1].calls.Load())
	assert.Equal(t, breaker.Closed, ts[1].State("a.test"), "one probe there and one here close")
	s.round()
	s.round() // the first breaker syncs before the second in a round
	assert.Equal(t, breaker.Closed, ts[0].State("a.test"))
	mu.Lock()
	defer mu.Unlock()
	want := []breaker.State{breaker.Open, breaker.HalfOpen, breaker.Closed}
	assert.Equal(t, want, changes[0], "hooks run for local and adopted transitions")
	assert.Equal(t, want, changes[1])
}

func TestStoreStaleGenerationLoses(t *testing.T) {
	// The first breaker opens and later resets (a newer generation); the
	// second, which saw the open state, syncs only afterwards: its older
	// generation changes nothing in the store, and it adopts the reset.
	s, _, ts, _ := fleetPair(t)
	do(t, ts[0], "a.test", "500", 0, 5)
	do(t, ts[1], "a.test", "500", 0, 5) // opened on its own too: same generation
	s.round()
	ts[0].Reset("a.test")
	s.round()
	assert.Equal(t, breaker.Closed, ts[1].State("a.test"))
	assert.Equal(t, breaker.Closed, ts[0].State("a.test"), "the older open state did not come back")
	assert.Zero(t, do(t, ts[1], "a.test", "", 0, 3))
}

func TestStoreForceOpen(t *testing.T) {
	s, clock, ts, _ := fleetPair(t)
	ts[0].ForceOpen("drain.test")
	s.round()
	clock.Advance(time.Hour)
	s.round()
	assert.Equal(t, breaker.Open, ts[1].State("drain.test"), "forced open everywhere, until Reset")
	ts[0].Reset("drain.test")
	s.round()
	assert.Equal(t, breaker.Closed, ts[1].State("drain.test"))
}

func TestStorePause(t *testing.T) {
	// A server's Retry-After pauses the key in every process.
	s := newMemStore()
	clock := newClock()
	paced := chainFunc(func(*http.Request) (*http.Response, error) {
		return &http.Response{StatusCode: http.StatusTooManyRequests, Header: http.Header{"Retry-After": {"30"}}, Body: http.NoBody}, nil
	})
	a := breaker.New(paced, breaker.WithClock(clock.Now), breaker.WithStore(s), breaker.WithRetryAfter(time.Minute))
	next := &fakeNext{}
	b := breaker.New(next, breaker.WithClock(clock.Now), breaker.WithStore(s), breaker.WithRetryAfter(time.Minute))
	do(t, b, "paced.test", "", 0, 1)
	do(t, a, "paced.test", "", 0, 1)
	s.round()
	s.round()
	clock.Advance(10 * time.Second)
	resp, err := b.RoundTrip(newReq(t, "paced.test", "", 0))
	require.Nil(t, resp)
	var oe *breaker.OpenError
	require.ErrorAs(t, err, &oe)
	assert.True(t, oe.Pause)
	assert.InDelta(t, 20*time.Second, oe.RetryIn, float64(time.Millisecond))
	assert.Equal(t, int64(1), next.calls.Load(), "paused here by the other's 429")
}

// chainFunc is a RoundTripper made of a function.
type chainFunc func(*http.Request) (*http.Response, error)

func (f chainFunc) RoundTrip(req *http.Request) (*http.Response, error) { return f(req) }

func TestStoreRecoversFromAFlush(t *testing.T) {
	s, _, ts, _ := fleetPair(t)
	do(t, ts[0], "a.test", "500", 0, 5)
	s.round()
	s.flush()
	s.round()
	assert.Equal(t, breaker.Open, ts[1].State("a.test"), "the open state is pushed again")
	do(t, ts[0], "b.test", "500", 0, 2)
	s.round()
	s.flush()
	s.round()
	do(t, ts[1], "b.test", "500", 0, 2)
	s.round()
	s.round()
	assert.Equal(t, 4, ts[1].Window("b.test").Failures, "counts are pushed again after a flush, once")
}

func TestStoreIgnoresBadEntries(t *testing.T) {
	var r *breaker.Replica
	tr := breaker.New(&fakeNext{}, breaker.WithStore(captureStore(func(got *breaker.Replica) { r = got })))
	do(t, tr, "a.test", "", 0, 1)
	entries, ok := r.Collect()
	require.True(t, ok)
	require.Len(t, entries, 1)
	r.Merge([]breaker.Entry{
		{Key: "a.test", Generation: 1 << 50, State: breaker.Open},
		{Key: "a.test", Generation: 3, State: breaker.State(9)},
		{Key: "a.test", Generation: 0, State: breaker.Closed, Epoch: "x",
			Buckets: []breaker.Bucket{{ID: "nonsense", Sums: []int64{1, 1}}, {ID: "f-1.x"}, {ID: ""}, {ID: "f1.-5"}}},
		{Key: "unknown.test", Generation: 9, State: breaker.Open},
	})
	assert.Equal(t, breaker.Closed, tr.State("a.test"))
	assert.Equal(t, 1, tr.Window("a.test").Requests)
	assert.Equal(t, []string{"a.test"}, tr.Keys())
}

// captureStore hands the Replica it is given to a function.
type captureStore func(*breaker.Replica)

func (c captureStore) ShareBreaker(r *breaker.Replica) { c(r) }

func TestStoreReplicaOfACollectedTransport(t *testing.T) {
	s := newMemStore()
	func() {
		tr := breaker.New(&fakeNext{}, breaker.WithStore(s))
		do(t, tr, "a.test", "", 0, 1)
	}()
	for range 20 {
		runtime.GC()
		if s.round() == 0 {
			return
		}
	}
	t.Fatal("the store still holds the replica of a Transport nobody uses")
}

func TestStoreClosedPathAllocates(t *testing.T) {
	s := newMemStore()
	tr := breaker.New(newInstant(), breaker.WithStore(s))
	req, err := http.NewRequest(http.MethodGet, "http://a.test/", nil)
	require.NoError(t, err)
	s.round()
	allocs := testing.AllocsPerRun(1000, func() {
		if _, err := tr.RoundTrip(req); err != nil {
			t.Fatal(err)
		}
	})
	assert.Zero(t, allocs, "the closed path allocates nothing with a store")
	s.round()
	assert.Equal(t, 1001, tr.Window("a.test").Requests)
}
