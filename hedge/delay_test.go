package hedge_test

import (
	"context"
	"net/http"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rtchain/chain/hedge"
)

// host is a fake host whose i-th request (from 0) takes latency(i), its
// first attempt and its hedges alike (or hedgeLatency for the hedges, when
// set). While probing, a first attempt takes a
// minute and a hedge 1 ms.
type host struct {
	latency      func(i int) time.Duration
	hedgeLatency time.Duration // when set, every hedge's latency
	i            atomic.Int64
	probing      atomic.Bool
}

func (h *host) step(c *call) step {
	switch {
	case h.probing.Load() && c.hedge:
		return step{delay: ms}
	case h.probing.Load():
		return step{delay: time.Minute}
	case c.hedge && h.hedgeLatency > 0:
		return step{delay: h.hedgeLatency}
	case c.hedge:
		return step{delay: h.latency(int(h.i.Load() - 1))}
	}
	return step{delay: h.latency(int(h.i.Add(1) - 1))}
}

// adaptive returns a Transport over a fake with hosts by URL host, and a
// function that reports after which delay the Transport hedges a request to
// url now, as the hook saw it.
func adaptive(t *testing.T, hosts map[string]*host, opts ...hedge.Option) (http.RoundTripper, func(url string) time.Duration) {
	next := newFake(func(c *call) step { return hosts[c.host].step(c) })
	var delay atomic.Int64
	opts = append(opts, hedge.WithOnHedge(func(e hedge.Event) { delay.Store(int64(e.Delay)) }))
	rt := hedge.New(next, opts...)
	probe := func(url string) time.Duration {
		req, _ := http.NewRequestWithContext(t.Context(), "GET", url, nil)
		h := hosts[req.URL.Host]
		h.probing.Store(true)
		defer h.probing.Store(false)
		delay.Store(-1)
		resp, err := rt.RoundTrip(req)
		require.NoError(t, err)
		readAll(t, resp)
		return time.Duration(delay.Load())
	}
	return rt, probe
}

// load sends n requests to url through rt, one after the other.
func load(t *testing.T, rt http.RoundTripper, url string, n int) {
	for range n {
		req, _ := http.NewRequestWithContext(context.Background(), "GET", url, nil)
		resp, err := rt.RoundTrip(req)
		require.NoError(t, err)
		readAll(t, resp)
	}
}

func constant(d time.Duration) func(int) time.Duration { return func(int) time.Duration { return d } }

func TestAdaptiveDelay(t *testing.T) {
	t.Run("the ceiling until the host has 50 samples", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			a := &host{latency: constant(20 * ms)}
			rt, probe := adaptive(t, map[string]*host{"a.example": a}, hedge.WithDelayBounds(ms, 300*ms))
			assert.Equal(t, 300*ms, probe("http://a.example/"))
			load(t, rt, "http://a.example/", 48) // 49 samples with the probe's
			assert.Equal(t, 300*ms, probe("http://a.example/"), "49 samples are not enough")
			got := probe("http://a.example/")
			assert.True(t, got > 18*ms && got < 21*ms, "with 50, the P95 of 20ms latencies: got %v", got)
		})
	})
	t.Run("default quantile P95", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			// 1 to 100 ms, evenly: the P95 is 95 ms.
			a := &host{latency: func(i int) time.Duration { return time.Duration(1+i%100) * ms }}
			rt, probe := adaptive(t, map[string]*host{"a.example": a}, hedge.WithDelayBounds(ms, 10*time.Second))
			load(t, rt, "http://a.example/", 200)
			got := probe("http://a.example/")
			assert.True(t, got > 88*ms && got < 101*ms, "got %v, want about 95ms", got)
		})
	})
	t.Run("quantile", func(t *testing.T) {
		for _, tc := range []struct {
			q        float64
			min, max time.Duration
		}{
			{0.5, 9 * ms, 11 * ms},
			{0.9, 37 * ms, 42 * ms},
		} {
			synctest.Test(t, func(t *testing.T) {
				a := &host{latency: func(i int) time.Duration { return []time.Duration{10 * ms, 40 * ms}[i%2] }}
				rt, probe := adaptive(t, map[string]*host{"a.example": a}, hedge.WithQuantile(tc.q), hedge.WithDelayBounds(ms, time.Second))
				load(t, rt, "http://a.example/", 200)
				got := probe("http://a.example/")
				assert.True(t, got >= tc.min && got <= tc.max, "q=%v: got %v, want in [%v, %v]", tc.q, got, tc.min, tc.max)
			})
		}
	})
	t.Run("clamped to the floor", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			a := &host{latency: constant(ms)}
			rt, probe := adaptive(t, map[string]*host{"a.example": a}, hedge.WithDelayBounds(5*ms, time.Second))
			load(t, rt, "http://a.example/", 60)
			assert.Equal(t, 5*ms, probe("http://a.example/"))
		})
	})
	t.Run("clamped to the ceiling", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			a := &host{latency: constant(time.Second)}
			rt, probe := adaptive(t, map[string]*host{"a.example": a}, hedge.WithDelayBounds(5*ms, 2*time.Second))
			load(t, rt, "http://a.example/", 60)
			got := probe("http://a.example/")
			assert.True(t, got > 900*ms && got < 1100*ms, "P95 of 1s latencies: got %v", got)
			rt, probe = adaptive(t, map[string]*host{"a.example": a}, hedge.WithDelayBounds(5*ms, 500*ms))
			load(t, rt, "http://a.example/", 60)
			assert.Equal(t, 500*ms, probe("http://a.example/"))
		})
	})
	t.Run("per host, by normalised host", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			a := &host{latency: constant(20 * ms)}
			b := &host{latency: constant(20 * ms)}
			hosts := map[string]*host{"a.example": a, "A.example:80": a, "b.example": b}
			rt, probe := adaptive(t, hosts, hedge.WithDelayBounds(ms, 300*ms))
			load(t, rt, "http://a.example/", 60)
			assert.Equal(t, 300*ms, probe("http://b.example/"), "b has no samples of its own")
			got := probe("http://A.example:80/")
			assert.True(t, got > 18*ms && got < 21*ms, "A.example:80 is a.example: got %v", got)
		})
	})
	t.Run("recent samples only", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			a := &host{latency: func(i int) time.Duration {
				if i < 2100 {
					return 20 * ms
				}
				return 50 * ms
			}}
			rt, probe := adaptive(t, map[string]*host{"a.example": a}, hedge.WithQuantile(0.5), hedge.WithDelayBounds(ms, time.Second))
			load(t, rt, "http://a.example/", 2100)
			got := probe("http://a.example/")
			require.True(t, got > 18*ms && got < 21*ms, "got %v", got)
			load(t, rt, "http://a.example/", 500)
			got = probe("http://a.example/")
			require.True(t, got > 18*ms && got < 21*ms, "most of the window is still 20ms: got %v", got)
			load(t, rt, "http://a.example/", 2048)
			got = probe("http://a.example/")
			assert.True(t, got > 47*ms && got < 53*ms, "after 2,048 samples, the 20ms ones have aged out: got %v", got)
		})
	})
	t.Run("samples from more than two minutes ago are forgotten", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			a := &host{latency: constant(20 * ms)}
			rt, probe := adaptive(t, map[string]*host{"a.example": a}, hedge.WithDelayBounds(ms, 300*ms))
			load(t, rt, "http://a.example/", 60)
			time.Sleep(100 * time.Second)
			got := probe("http://a.example/")
			require.True(t, got > 18*ms && got < 21*ms, "100s later: got %v", got)
			time.Sleep(2 * time.Minute)
			assert.Equal(t, 300*ms, probe("http://a.example/"), "nothing recent: the ceiling")
			load(t, rt, "http://a.example/", 48)
			assert.Equal(t, 300*ms, probe("http://a.example/"), "the old samples are gone")
		})
	})
	t.Run("a first attempt that lost counts with the time it waited", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			// 50 answers in 10ms, then 100 first attempts that never answer
			// while their hedges take 100ms: the tail is hedged, and still
			// seen.
			a := &host{latency: func(i int) time.Duration {
				if i < 50 {
					return 10 * ms
				}
				return time.Hour
			}}
			rt, probe := adaptive(t, map[string]*host{"a.example": a}, hedge.WithQuantile(0.5), hedge.WithDelayBounds(ms, time.Second))
			load(t, rt, "http://a.example/", 50)
			got := probe("http://a.example/")
			require.True(t, got > 9*ms && got < 11*ms, "got %v", got)
			a.hedgeLatency = 100 * ms
			load(t, rt, "http://a.example/", 100)
			got = probe("http://a.example/")
			assert.Greater(t, got, 100*ms, "the hedged first attempts count as slow")
		})
	})
	t.Run("fixed delay ignores the host", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			a := &host{latency: constant(20 * ms)}
			rt, probe := adaptive(t, map[string]*host{"a.example": a}, hedge.WithQuantile(0.5), hedge.WithDelay(70*ms))
			load(t, rt, "http://a.example/", 60)
			assert.Equal(t, 70*ms, probe("http://a.example/"), "WithDelay given last wins")
		})
	})
}
