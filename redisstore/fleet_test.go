package redisstore_test

import (
	"errors"
	"github.com/rtchain/chain/redisstore/internal/redistest"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rtchain/chain/breaker"
	"github.com/rtchain/chain/redisstore"
	"github.com/rtchain/chain/retry"
	"github.com/rtchain/chain/standard"
)

// staleness is the generous bound the tests allow for a change to reach
// another process (the design's bound is 250 ms with the defaults; the
// tests run on a shared, loaded machine). Each test logs what it measured.
const staleness = 3 * time.Second

// host is a loopback HTTP server answering with a status the test sets,
// counting the requests that reach it.
type host struct {
	url    string
	status atomic.Int32
	hits   atomic.Int64
}

func newHost(t *testing.T, status int) *host {
	h := &host{}
	h.status.Store(int32(status))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		h.hits.Add(1)
		w.WriteHeader(int(h.status.Load()))
	}))
	t.Cleanup(srv.Close)
	h.url = srv.URL
	return h
}

// key is the host's breaker key.
func (h *host) key() string {
	u, _ := url.Parse(h.url)
	return u.Host
}

// member is one process of a fleet: a standard stack whose breaker shares
// its state through its own store.
type member struct {
	store *redisstore.Store
	stack *standard.Stack
}

// fleetOpts are breaker settings that make the tests short: 5 outcomes
// judge the failure rate (over 50 % trips), 2 probes.
func fleetOpts(s breaker.Store, extra ...breaker.Option) []breaker.Option {
	return append([]breaker.Option{
		breaker.WithStore(s),
		breaker.WithMinRequests(5),
		breaker.WithFailureRate(0.5),
		breaker.WithP99(0),
		breaker.WithConcurrentFailureRate(0),
		breaker.WithOpenDuration(time.Minute),
		breaker.WithHalfOpenProbes(2),
	}, extra...)
}

func newMember(t *testing.T, c redis.UniversalClient, sopts []redisstore.Option, bopts ...breaker.Option) *member {
	t.Helper()
	// A loaded test machine can take long to answer: a generous timeout,
	// unless the test sets its own.
	s := redisstore.New(c, append([]redisstore.Option{redisstore.WithTimeout(2 * time.Second)}, sopts...)...)
	t.Cleanup(func() { s.Close() })
	st := standard.New(
		standard.WithBreaker(fleetOpts(s, bopts...)...),
		standard.WithRetry(retry.WithMaxAttempts(1)),
	)
	t.Cleanup(st.CloseIdleConnections)
	return &member{store: s, stack: st}
}

func (m *member) breaker() *breaker.Transport { return m.stack.Breaker() }

// get sends one GET to h and reads the response.
func (m *member) get(t *testing.T, h *host) error {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, h.url, nil)
	require.NoError(t, err)
	resp, err := m.stack.RoundTrip(req)
	if err != nil {
		return err
	}
	io.Copy(io.Discard, resp.Body)
	return resp.Body.Close()
}

// trip sends requests to the failing host h until m's breaker rejects one.
func (m *member) trip(t *testing.T, h *host) {
	t.Helper()
	for range 100 {
		if isOpen(m.get(t, h)) {
			return
		}
	}
	t.Fatalf("the breaker of %s did not open after 100 failing calls", h.key())
}

func isOpen(err error) bool {
	var oe *breaker.OpenError
	return errors.As(err, &oe)
}

// waitFor polls cond until it holds, failing the test after limit. It
// returns how long it took.
func waitFor(t *testing.T, limit time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > limit {
			t.Fatalf("%s: not within %v", what, limit)
		}
		time.Sleep(2 * time.Millisecond)
	}
	return time.Since(start)
}

func TestTripReachesTheFleet(t *testing.T) {
	// Two stacks, one Redis: the first trips on a failing host; the
	// second, which never called it, rejects within the staleness bound
	// without sending.
	r := redistest.Start(t)
	h := newHost(t, http.StatusInternalServerError)
	a := newMember(t, r.Client(t), nil)
	b := newMember(t, r.Client(t), nil)

	a.trip(t, h)
	hits := h.hits.Load()
	took := waitFor(t, staleness, "second stack sees the key open", func() bool {
		return b.breaker().State(h.key()) == breaker.Open
	})
	t.Logf("second stack saw the trip after %v", took)

	err := b.get(t, h)
	require.True(t, isOpen(err), "second stack: got %v, want an *OpenError", err)
	var oe *breaker.OpenError
	require.ErrorAs(t, err, &oe)
	assert.Greater(t, oe.RetryIn, 50*time.Second, "the fleet's open-until, not a fresh one")
	assert.Equal(t, hits, h.hits.Load(), "the second stack sent nothing")
	assert.False(t, a.store.Degraded())
}

func TestRecoveryByEitherProcess(t *testing.T) {
	// Half-open probes from either process close the key for both.
	for _, prober := range []string{"first", "second"} {
		t.Run("probes from "+prober, func(t *testing.T) {
			r := redistest.Start(t)
			h := newHost(t, http.StatusInternalServerError)
			open := breaker.WithOpenDuration(time.Second)
			a := newMember(t, r.Client(t), nil, open)
			b := newMember(t, r.Client(t), nil, open)
			a.trip(t, h)
			waitFor(t, staleness, "second stack sees the key open", func() bool {
				return b.breaker().State(h.key()) == breaker.Open
			})

			p, other := a, b
			if prober == "second" {
				p, other = b, a
			}
			h.status.Store(http.StatusOK)
			waitFor(t, 2*staleness, "prober turns half-open", func() bool {
				return p.breaker().State(h.key()) == breaker.HalfOpen
			})
			hits := h.hits.Load()
			for range 2 {
				require.NoError(t, p.get(t, h))
			}
			assert.Equal(t, breaker.Closed, p.breaker().State(h.key()))
			took := waitFor(t, staleness, "the other stack closes", func() bool {
				return other.breaker().State(h.key()) == breaker.Closed
			})
			t.Logf("the other stack closed %v after the probes", took)
			assert.Equal(t, hits+2, h.hits.Load(), "only the prober's two probes were sent")
		})
	}
}

func TestProbesOfTheFleet(t *testing.T) {
	// Recovery needs the fleet's probes, not each process's: with 4 probes
	// to close, two from each process close the key.
	r := redistest.Start(t)
	h := newHost(t, http.StatusInternalServerError)
	opts := []breaker.Option{breaker.WithOpenDuration(time.Second), breaker.WithHalfOpenProbes(4)}
	a := newMember(t, r.Client(t), nil, opts...)
	b := newMember(t, r.Client(t), nil, opts...)
	a.trip(t, h)
	waitFor(t, staleness, "second stack sees the key open", func() bool {
		return b.breaker().State(h.key()) == breaker.Open
	})
	h.status.Store(http.StatusOK)
	for _, m := range []*member{a, b} {
		waitFor(t, 2*staleness, "half-open", func() bool { return m.breaker().State(h.key()) == breaker.HalfOpen })
	}
	for range 2 {
		require.NoError(t, a.get(t, h))
	}
	assert.Equal(t, breaker.HalfOpen, a.breaker().State(h.key()), "two probes of four do not close")
	waitFor(t, staleness, "the first stack's probes reach the second", func() bool {
		return b.breaker().Window(h.key()).Requests == 2
	})
	for range 2 {
		require.NoError(t, b.get(t, h))
	}
	assert.Equal(t, breaker.Closed, b.breaker().State(h.key()), "two probes here and two there close")
	waitFor(t, staleness, "the first stack closes", func() bool {
		return a.breaker().State(h.key()) == breaker.Closed
	})
}

func TestStaleGenerationLoses(t *testing.T) {
	// A process cut off from Redis while the fleet moved on must not undo
	// the newer transition when it comes back with its older state.
	r := redistest.Start(t)
	h := newHost(t, http.StatusInternalServerError)
	a := newMember(t, r.Client(t), nil)
	cb, link := switchableClient(r, t)
	b := newMember(t, cb, nil)
	a.trip(t, h)
	waitFor(t, staleness, "second stack sees the key open", func() bool {
		return b.breaker().State(h.key()) == breaker.Open
	})

	link.set(true)
	waitFor(t, staleness, "second store degraded", b.store.Degraded)
	a.breaker().Reset(h.key()) // a newer generation, closed
	time.Sleep(300 * time.Millisecond)
	require.Equal(t, breaker.Open, b.breaker().State(h.key()), "cut off: still the old state")

	link.set(false)
	waitFor(t, staleness, "second store recovers", func() bool { return !b.store.Degraded() })
	waitFor(t, staleness, "second stack adopts the newer generation", func() bool {
		return b.breaker().State(h.key()) == breaker.Closed
	})
	time.Sleep(300 * time.Millisecond)
	assert.Equal(t, breaker.Closed, a.breaker().State(h.key()), "the stale open state did not come back")
}

func TestWindowsAddUp(t *testing.T) {
	// Window counts are shared: 5 outcomes judge the failure rate, and
	// three failures in one process and two in another trip the key,
	// though neither holds 5 outcomes of its own.
	r := redistest.Start(t)
	h := newHost(t, http.StatusInternalServerError)
	a := newMember(t, r.Client(t), nil)
	b := newMember(t, r.Client(t), nil)
	for range 3 {
		require.False(t, isOpen(a.get(t, h)))
	}
	require.False(t, isOpen(b.get(t, h)))
	waitFor(t, staleness, "the first stack's failures reach the second", func() bool {
		return b.breaker().Window(h.key()).Failures == 4
	})
	assert.Equal(t, breaker.Closed, a.breaker().State(h.key()), "3 outcomes are too few to judge")
	assert.Equal(t, breaker.Closed, b.breaker().State(h.key()), "4 outcomes are too few to judge")
	require.False(t, isOpen(b.get(t, h)))
	assert.Equal(t, breaker.Open, b.breaker().State(h.key()), "3 + 2 failures of 5: the fleet's window trips")
	waitFor(t, staleness, "the first stack opens", func() bool {
		return a.breaker().State(h.key()) == breaker.Open
	})
	c := b.breaker().Counts(h.key())
	assert.Equal(t, 5, c.Requests, "the counts that tripped it are the fleet's")
	assert.Equal(t, 5, c.Failures)
}

func TestShortLivedProcess(t *testing.T) {
	// A short-lived process syncs once before its first request, so it
	// rejects a key the fleet holds open from the start; its Close pushes
	// its last outcomes, so they count for the fleet.
	r := redistest.Start(t)
	h := newHost(t, http.StatusInternalServerError)
	a := newMember(t, r.Client(t), nil, breaker.WithMinRequests(10))
	require.False(t, isOpen(a.get(t, h)))

	job := newMember(t, r.Client(t), []redisstore.Option{redisstore.WithInterval(time.Hour)}, breaker.WithMinRequests(10))
	for range 3 {
		require.False(t, isOpen(job.get(t, h)))
	}
	require.NoError(t, job.store.Close())
	// The job's client is still in use when its store closes, as in a
	// program that closes the store before it drops the client: a breaker
	// that nothing references any more may be collected before Close, and
	// its last outcomes with it (the store holds breakers weakly).
	runtime.KeepAlive(job.stack)
	var seen breaker.Counts
	defer func() {
		if t.Failed() {
			t.Logf("the fleet's window as the other member saw it last: %+v", seen)
		}
	}()
	waitFor(t, staleness, "the job's outcomes reach the fleet", func() bool {
		seen = a.breaker().Window(h.key())
		return seen.Failures == 4
	})

	a.trip(t, h)
	require.NoError(t, a.store.Sync(t.Context())) // pushed now, not at the next round
	next := newMember(t, r.Client(t), []redisstore.Option{redisstore.WithInterval(time.Hour)})
	require.NoError(t, next.store.Sync(t.Context()))
	hits := h.hits.Load()
	require.True(t, isOpen(next.get(t, h)), "rejected from the first request")
	assert.Equal(t, hits, h.hits.Load())
}
