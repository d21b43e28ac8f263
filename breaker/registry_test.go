package breaker_test

import (
	"fmt"
	"net/http"
	"net/url"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rtchain/chain/breaker"
)

// hostReq is a cheap request to host.
func hostReq(host, status string) *http.Request {
	h := http.Header{}
	if status != "" {
		h.Set("X-Status", status)
	}
	return &http.Request{Method: http.MethodGet, URL: &url.URL{Scheme: "http", Host: host, Path: "/"}, Header: h, Host: host}
}

func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

func TestRegistryBoundedAndOpenNeverEvicted(t *testing.T) {
	clock := newClock()
	next := &fakeNext{clock: clock, reply: statusFor}
	var evicted atomic.Int64
	var evictedOpen atomic.Bool
	tr := breaker.New(next, opts(clock, breaker.WithOpenDuration(time.Hour), breaker.WithOnEvict(func(key string) {
		evicted.Add(1)
		if key == "down.test" {
			evictedOpen.Store(true)
		}
	}))...)
	for range 20 {
		tr.RoundTrip(hostReq("down.test", "503"))
	}
	require.Equal(t, breaker.Open, tr.State("down.test"))

	// Four times the default bound: enough rounds of eviction to show the
	// bound holds, few enough calls for the race detector. A breaker costs
	// about 6 KiB, so without eviction the heap would grow by some 24 MiB.
	before := heapInUse()
	const hosts = 4 * 1024
	for i := range hosts {
		resp, err := tr.RoundTrip(hostReq(fmt.Sprintf("h%d.test", i), ""))
		require.NoError(t, err)
		resp.Body.Close()
		if i%100 == 0 {
			clock.Advance(time.Second)
		}
	}
	after := heapInUse()
	live := hosts + 1 - evicted.Load()
	t.Logf("live breakers %d, evicted %d, heap %d KiB -> %d KiB", live, evicted.Load(), before>>10, after>>10)
	assert.LessOrEqual(t, live, int64(1024), "default WithMaxKeys bound")
	assert.Greater(t, live, int64(1024*3/4-1), "eviction drops only a quarter at a time")
	assert.Less(t, int64(after)-int64(before), int64(16<<20), "heap stays bounded")
	assert.False(t, evictedOpen.Load(), "an open breaker is never evicted")
	assert.Equal(t, breaker.Open, tr.State("down.test"))
	assert.Equal(t, 20, tr.Counts("down.test").Failures, "its counts are still there")
	assert.Equal(t, breaker.Closed, tr.State(fmt.Sprintf("h%d.test", hosts-1)))
}

func TestRegistryFullOfOpenBreakersPassesThrough(t *testing.T) {
	clock := newClock()
	next := &fakeNext{clock: clock, reply: statusFor}
	tr := breaker.New(next, opts(clock, breaker.WithMaxKeys(2), breaker.WithMinRequests(1))...)
	tr.RoundTrip(hostReq("a", "503"))
	tr.RoundTrip(hostReq("b", "503"))
	require.Equal(t, breaker.Open, tr.State("a"))
	require.Equal(t, breaker.Open, tr.State("b"))
	calls := next.calls.Load()
	for range 10 {
		resp, err := tr.RoundTrip(hostReq("c", "503"))
		require.NoError(t, err, "no room for a breaker: the call goes through")
		resp.Body.Close()
	}
	assert.Equal(t, calls+10, next.calls.Load())
	assert.Equal(t, breaker.Open, tr.State("a"))
	assert.Equal(t, breaker.Open, tr.State("b"))
	assert.Equal(t, breaker.Closed, tr.State("c"), "c has no breaker")
}

func TestEvictionKeepsBusyBreakers(t *testing.T) {
	clock := newClock()
	hold := make(chan struct{})
	inNext := make(chan struct{})
	next := &fakeNext{clock: clock}
	next.reply = func(req *http.Request) reply {
		if req.URL.Host == "busy" {
			inNext <- struct{}{}
			<-hold
		}
		return reply{status: 503}
	}
	tr := breaker.New(next, opts(clock, breaker.WithMaxKeys(8), breaker.WithMinRequests(1))...)
	done := make(chan struct{})
	go func() {
		defer close(done)
		tr.RoundTrip(hostReq("busy", ""))
	}()
	<-inNext
	for i := range 100 {
		tr.RoundTrip(hostReq(fmt.Sprintf("h%d", i), "200"))
	}
	close(hold)
	<-done
	// The busy call's outcome landed in a breaker that is still registered.
	assert.Equal(t, breaker.Open, tr.State("busy"))
}

func TestLateOutcomeFromOldGenerationIgnored(t *testing.T) {
	clock := newClock()
	release := make(chan struct{})
	inNext := make(chan struct{}, 10)
	next := &fakeNext{clock: clock}
	next.reply = func(req *http.Request) reply {
		if req.Header.Get("X-Hold") != "" {
			inNext <- struct{}{}
			<-release
		}
		return statusFor(req)
	}
	tr := breaker.New(next, opts(clock, breaker.WithHalfOpenProbes(2))...)

	// A slow call starts while the circuit is closed.
	var wg sync.WaitGroup
	wg.Go(func() {
		req := hostReq("a", "503")
		req.Header.Set("X-Hold", "1")
		tr.RoundTrip(req)
	})
	<-inNext
	do(t, tr, "a", "503", 0, 20)
	require.Equal(t, breaker.Open, tr.State("a"))
	trip := tr.Counts("a")
	// The circuit recovers and closes: a new generation.
	clock.Advance(30 * time.Second)
	do(t, tr, "a", "200", 0, 2)
	require.Equal(t, breaker.Closed, tr.State("a"))
	closing := tr.Counts("a")
	require.NotEqual(t, trip, closing)

	close(release)
	wg.Wait()
	assert.Equal(t, 0, tr.Window("a").Requests, "the late 503 from the first closed generation is ignored")
	assert.Equal(t, closing, tr.Counts("a"))
	assert.Equal(t, breaker.Closed, tr.State("a"))
}

func TestLateProbeOutcomeIgnored(t *testing.T) {
	clock := newClock()
	release := make(chan struct{})
	inNext := make(chan struct{}, 10)
	next := &fakeNext{clock: clock}
	next.reply = func(req *http.Request) reply {
		if req.Header.Get("X-Hold") != "" {
			inNext <- struct{}{}
			<-release
		}
		return statusFor(req)
	}
	tr := tripped(t, clock, next, breaker.WithHalfOpenProbes(2))
	clock.Advance(30 * time.Second)
	var wg sync.WaitGroup
	wg.Go(func() {
		req := hostReq("a", "200")
		req.Header.Set("X-Hold", "1")
		tr.RoundTrip(req)
	})
	<-inNext
	do(t, tr, "a", "503", 0, 1) // the other probe fails: reopen
	require.Equal(t, breaker.Open, tr.State("a"))
	reopen := tr.Counts("a")
	close(release)
	wg.Wait()
	assert.Equal(t, breaker.Open, tr.State("a"), "a late successful probe does not close the new generation")
	assert.Equal(t, reopen, tr.Counts("a"))
	// And its slot does not leak into the next half-open period.
	clock.Advance(30 * time.Second)
	assert.Equal(t, 0, do(t, tr, "a", "200", 0, 2))
	assert.Equal(t, breaker.Closed, tr.State("a"))
}
