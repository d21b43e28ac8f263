package limit_test

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rtchain/chain/limit"
)

// load counts what a drive sent.
type load struct {
	ok, rejected, failed atomic.Int64
}

// drive runs workers goroutines that send GETs through rt in a loop for d
// (on the bubble's clock): each reads and closes its response; a rejected
// one pauses 20 ms and tries again, a failed one goes on.
func drive(t *testing.T, rt http.RoundTripper, workers int, d time.Duration, l *load) {
	t.Helper()
	end := time.Now().Add(d)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for time.Now().Before(end) {
				resp, err := rt.RoundTrip(newReq(t, context.Background(), "http://a.test/"))
				switch {
				case err == nil:
					l.ok.Add(1)
					drain(resp)
				case isLimited(err):
					l.rejected.Add(1)
					time.Sleep(20 * time.Millisecond)
				default:
					l.failed.Add(1)
				}
			}
		})
	}
	wg.Wait()
}

// changes records the limit changes a hook reports.
type changes struct {
	mu  sync.Mutex
	log []string
}

func (c *changes) hook(key string, from, to int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.log = append(c.log, fmt.Sprintf("%s %d->%d", key, from, to))
}

func (c *changes) all() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.log...)
}

// On a fast server with more demand than the limit, the limit grows by
// √limit per interval until the key uses no more than half of it.
func TestAdaptiveRisesOnFastServer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		next := &fake{}
		next.setDelay(10 * time.Millisecond)
		var seen changes
		rt := limit.New(next, limit.WithAdaptive(limit.Adaptive{Initial: 10}), limit.WithOnLimitChange(seen.hook))
		var l load
		drive(t, rt, 40, 2*time.Second, &l)

		s := rt.Stats("a.test")
		// It grows while the 40 workers fill more than half the limit:
		// up to 80, plus at most one last step of √80.
		assert.GreaterOrEqual(t, s.Limit, 80)
		assert.Less(t, s.Limit, 80+9)
		assert.Equal(t, 10*time.Millisecond, s.NoLoad)
		assert.Equal(t, 10*time.Millisecond, s.Latency)
		log := seen.all()
		require.NotEmpty(t, log)
		assert.Equal(t, "a.test 10->13", log[0])
		assert.True(t, strings.HasSuffix(log[len(log)-1], fmt.Sprintf("->%d", s.Limit)), "last change %s, limit %d", log[len(log)-1], s.Limit)
		assert.Zero(t, l.failed.Load())
		assert.Equal(t, l.ok.Load(), next.calls.Load(), "rejected requests reached the server")
	})
}

// warmed returns a fake at 10 ms and an adaptive Transport over it (Initial
// 10, Max 60, Relearn relearn or the default), driven by 100 workers for d:
// long enough to reach Max.
func warmed(t *testing.T, relearn, d time.Duration) (*fake, *limit.Transport, *load) {
	next := &fake{}
	next.setDelay(10 * time.Millisecond)
	rt := limit.New(next, limit.WithAdaptive(limit.Adaptive{Initial: 10, Max: 60, Relearn: relearn}))
	l := &load{}
	drive(t, rt, 100, d, l)
	require.Equal(t, 60, rt.Stats("a.test").Limit, "the limit did not reach Max on a fast server")
	return next, rt, l
}

// When the server's latency doubles, the limit falls: with the latency at
// twice the no-load latency the gradient is 0.75, and the limit heads for
// 16, where 0.75×16 + √16 = 16. The no-load latency does not move, since
// every interval is busy.
func TestAdaptiveFallsWhenLatencyDoubles(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		next, rt, l := warmed(t, 0, 2*time.Second)
		require.Equal(t, int64(60), next.maxOpen.Load())

		next.setDelay(20 * time.Millisecond)
		drive(t, rt, 100, 2*time.Second, l)
		after := rt.Stats("a.test")
		assert.Less(t, after.Limit, 30, "the limit did not fall")
		assert.GreaterOrEqual(t, after.Limit, 16, "the limit fell below its equilibrium")
		assert.Equal(t, 10*time.Millisecond, after.NoLoad)
		assert.Equal(t, 20*time.Millisecond, after.Latency)
		assert.Zero(t, l.failed.Load())
		assert.Equal(t, l.ok.Load(), next.calls.Load(), "rejected requests reached the server")
		assert.Positive(t, l.rejected.Load())
	})
}

// After Relearn with no light interval, the lowest latency seen since
// becomes the no-load latency: a server that stays slower is accepted, and
// the limit grows back.
func TestAdaptiveRelearns(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		next, rt, l := warmed(t, time.Second, 2*time.Second)
		next.setDelay(20 * time.Millisecond)
		drive(t, rt, 100, time.Second, l)
		low := rt.Stats("a.test")
		assert.Less(t, low.Limit, 40)
		drive(t, rt, 100, 3*time.Second, l)
		s := rt.Stats("a.test")
		assert.Equal(t, 20*time.Millisecond, s.NoLoad)
		assert.Equal(t, 60, s.Limit, "the limit did not grow back")
	})
}

// A key that uses at most half its limit does not grow it: the callers,
// not the server, are what limits it.
func TestAdaptiveAppLimited(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		next := &fake{}
		next.setDelay(10 * time.Millisecond)
		var seen changes
		rt := limit.New(next, limit.WithOnLimitChange(seen.hook))
		var l load
		drive(t, rt, 10, 2*time.Second, &l)
		s := rt.Stats("a.test")
		assert.Equal(t, 20, s.Limit)
		assert.Equal(t, 10*time.Millisecond, s.NoLoad)
		assert.Empty(t, seen.all())
		assert.Zero(t, l.rejected.Load())
	})
}

// An attempt that ends in a timeout counts with the time it took; a
// timeout of the caller's own context does not count.
func TestAdaptiveCountsTimeouts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		next, rt, l := warmed(t, 0, time.Second)

		// The caller's own deadline: no sample, no change.
		next.setDelay(time.Second)
		var wg sync.WaitGroup
		for range 60 {
			wg.Go(func() {
				ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
				defer cancel()
				_, err := rt.RoundTrip(newReq(t, ctx, "http://a.test/"))
				assert.ErrorIs(t, err, context.DeadlineExceeded)
			})
		}
		wg.Wait()
		require.Equal(t, 60, rt.Stats("a.test").Limit)

		// A layer below timing out after 40 ms: samples of 40 ms.
		next.setDelay(40 * time.Millisecond)
		next.reply = func(*http.Request) (*http.Response, error) { return nil, timeoutError{} }
		drive(t, rt, 100, time.Second, l)
		s := rt.Stats("a.test")
		assert.Positive(t, l.failed.Load())
		assert.Equal(t, 40*time.Millisecond, s.Latency)
		assert.Less(t, s.Limit, 20)
	})
}

type timeoutError struct{}

func (timeoutError) Error() string   { return "i/o timeout" }
func (timeoutError) Timeout() bool   { return true }
func (timeoutError) Temporary() bool { return true }

// Every limit-change hook runs, in order, with the same values.
func TestLimitChangeHooksAddUp(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		next := &fake{}
		next.setDelay(10 * time.Millisecond)
		var mu sync.Mutex
		var order []string
		var rt *limit.Transport
		hook := func(name string) func(string, int, int) {
			return func(key string, from, to int) {
				now := rt.Stats(key).Limit // outside every lock, the new limit in place
				mu.Lock()
				defer mu.Unlock()
				order = append(order, fmt.Sprintf("%s %s %d->%d (%d)", name, key, from, to, now))
			}
		}
		rt = limit.New(next, limit.WithAdaptive(limit.Adaptive{Initial: 10, Max: 16}),
			limit.WithOnLimitChange(hook("first")), limit.WithOnLimitChange(nil), limit.WithOnLimitChange(hook("second")))
		var l load
		drive(t, rt, 20, time.Second, &l)
		assert.Equal(t, []string{
			"first a.test 10->13 (13)", "second a.test 10->13 (13)",
			"first a.test 13->16 (16)", "second a.test 13->16 (16)",
		}, order)
	})
}

func TestAdaptiveDefaultsAndSettings(t *testing.T) {
	assert.Equal(t, limit.Settings{
		Adaptive: limit.Adaptive{Min: 1, Max: 1000, Initial: 20, Tolerance: 1.5,
			Interval: 100 * time.Millisecond, Relearn: time.Minute},
		MaxKeys: 1024,
	}, limit.New(nil).Settings())
	assert.Equal(t, limit.Settings{
		Adaptive: limit.Adaptive{Min: 1, Max: 7, Initial: 7, Tolerance: 1.5,
			Interval: 100 * time.Millisecond, Relearn: time.Minute},
		MaxInFlight: 8, MaxWait: time.Second, MaxKeys: 5,
	}, limit.New(nil, limit.WithAdaptive(limit.Adaptive{Max: 7}), limit.WithMaxInFlight(8),
		limit.WithMaxWait(time.Second), limit.WithMaxKeys(5)).Settings())
	assert.Equal(t, 0, limit.New(nil, limit.WithMaxInFlight(8), limit.WithAdaptive(limit.Adaptive{})).Settings().MaxInFlight,
		"the last of WithMaxInFlight and WithAdaptive wins")
	for _, tc := range []struct {
		in   limit.Adaptive
		want limit.Adaptive
	}{
		{limit.Adaptive{Max: 10}, limit.Adaptive{Min: 1, Max: 10, Initial: 10}},
		{limit.Adaptive{Min: 50}, limit.Adaptive{Min: 50, Max: 1000, Initial: 50}},
		{limit.Adaptive{Min: 2000}, limit.Adaptive{Min: 2000, Max: 2000, Initial: 2000}},
	} {
		got := limit.New(nil, limit.WithAdaptive(tc.in)).Settings().Adaptive
		assert.Equal(t, tc.want, limit.Adaptive{Min: got.Min, Max: got.Max, Initial: got.Initial}, "%+v", tc.in)
	}
	assert.Equal(t, limit.Stats{Limit: 20}, limit.New(nil).Stats("unknown.test"))
}

func TestAdaptivePanics(t *testing.T) {
	for _, a := range []limit.Adaptive{
		{Min: -1}, {Max: -1}, {Initial: -1},
		{Min: 5, Max: 4},
		{Min: 5, Initial: 4}, {Max: 5, Initial: 6},
		{Tolerance: 0.9}, {Tolerance: math.NaN()}, {Tolerance: math.Inf(1)},
		{Interval: -1}, {Relearn: -1},
	} {
		assert.Panics(t, func() { limit.WithAdaptive(a) }, "%+v", a)
	}
	assert.PanicsWithValue(t, "limit: WithAdaptive({Min:5 Max:4 Initial:0 Tolerance:0 Interval:0s Relearn:0s}): Min above Max",
		func() { limit.WithAdaptive(limit.Adaptive{Min: 5, Max: 4}) })
}
