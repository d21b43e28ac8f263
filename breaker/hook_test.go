package breaker_test

import (
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rtchain/chain/breaker"
)

func TestHookReadsStateAndCountsWithoutDeadlock(t *testing.T) {
	clock := newClock()
	next := &fakeNext{clock: clock, reply: statusFor}
	var tr *breaker.Transport
	type seen struct {
		from, to, state breaker.State
		counts          breaker.Counts
		window          breaker.Counts
	}
	var got []seen
	tr = breaker.New(next, opts(clock, breaker.WithOnStateChange(func(key string, from, to breaker.State) {
		got = append(got, seen{from, to, tr.State(key), tr.Counts(key), tr.Window(key)})
		tr.Update(breaker.WithMinRequests(20)) // Update from the hook is fine too
	}))...)
	done := make(chan struct{})
	go func() {
		defer close(done)
		do(t, tr, "a", "200", 0, 5)
		do(t, tr, "a", "503", 0, 15)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("deadlock: the hook calling State and Counts did not return")
	}
	require.Len(t, got, 1)
	assert.Equal(t, breaker.Closed, got[0].from)
	assert.Equal(t, breaker.Open, got[0].to)
	assert.Equal(t, breaker.Open, got[0].state)
	c := got[0].counts
	assert.Equal(t, 20, c.Requests, "the counts that caused the trip")
	assert.Equal(t, 15, c.Failures)
	assert.Less(t, c.P99, time.Millisecond, "instant answers, up to the histogram's resolution")
	assert.Equal(t, breaker.Counts{}, got[0].window, "nothing is counted while open")
}

func TestHookOrderAndOncePerTransition(t *testing.T) {
	clock := newClock()
	next := &fakeNext{clock: clock, reply: statusFor}
	var mu sync.Mutex
	var got []string
	tr := breaker.New(next, opts(clock, breaker.WithOnStateChange(func(key string, from, to breaker.State) {
		mu.Lock()
		got = append(got, fmt.Sprintf("%s:%s>%s", key, from, to))
		mu.Unlock()
	}))...)
	do(t, tr, "a", "503", 0, 20) // closed > open
	clock.Advance(30 * time.Second)
	do(t, tr, "a", "503", 0, 1) // open > half-open > open
	clock.Advance(30 * time.Second)
	// Concurrent probes: the circuit turns half-open once and closes once.
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() { do(t, tr, "a", "200", 0, 1) })
	}
	wg.Wait()
	assert.Equal(t, breaker.Closed, tr.State("a"))
	assert.Equal(t, []string{
		"a:closed>open",
		"a:open>half-open", "a:half-open>open",
		"a:open>half-open", "a:half-open>closed",
	}, got)
}

func TestHookOrderUnderConcurrency(t *testing.T) {
	// Many goroutines drive one breaker through many cycles; the hook must see
	// a consistent chain: each transition starts where the previous ended.
	clock := newClock()
	next := &fakeNext{clock: clock, reply: statusFor}
	var mu sync.Mutex
	var got []breaker.State
	tr := breaker.New(next, opts(clock,
		breaker.WithMinRequests(5), breaker.WithHalfOpenProbes(2), breaker.WithOpenDuration(time.Second),
		breaker.WithOnStateChange(func(_ string, from, to breaker.State) {
			mu.Lock()
			defer mu.Unlock()
			if len(got) > 0 && got[len(got)-1] != from {
				t.Errorf("transition from %s after a transition to %s", from, got[len(got)-1])
			}
			got = append(got, to)
		}))...)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 300 {
				status := "200"
				if (i+g)%5 < 3 {
					status = "503"
				}
				if i%50 == 0 {
					clock.Advance(time.Second)
				}
				do(t, tr, "a", status, 0, 1)
			}
		})
	}
	wg.Wait()
	assert.NotEmpty(t, got)
}

func TestHookPanicDoesNotStopLaterHooks(t *testing.T) {
	clock := newClock()
	next := &fakeNext{clock: clock, reply: statusFor}
	var calls int
	tr := breaker.New(next, opts(clock, breaker.WithOnStateChange(func(string, breaker.State, breaker.State) {
		calls++
		if calls == 1 {
			panic("hook")
		}
	}))...)
	require.Panics(t, func() { do(t, tr, "a", "503", 0, 20) })
	clock.Advance(30 * time.Second)
	assert.Equal(t, breaker.HalfOpen, tr.State("a"))
	assert.Equal(t, 2, calls)
}

var _ http.RoundTripper = (*breaker.Transport)(nil)

// Hooks add up: each WithOnStateChange and WithOnReject runs, in the order
// given, including one added by Update.
func TestHooksAddUp(t *testing.T) {
	clock := newClock()
	next := &fakeNext{clock: clock, reply: statusFor}
	var got []string
	hook := func(name string) breaker.Option {
		return breaker.WithOnStateChange(func(key string, from, to breaker.State) {
			got = append(got, fmt.Sprintf("%s %s:%s>%s", name, key, from, to))
		})
	}
	reject := func(name string) breaker.Option {
		return breaker.WithOnReject(func(key string) { got = append(got, name+" reject "+key) })
	}
	tr := breaker.New(next, opts(clock, hook("metrics"), reject("metrics"), hook("user"), nil,
		breaker.WithOnStateChange(nil))...)
	require.NoError(t, tr.Update(reject("user")))
	do(t, tr, "a", "503", 0, 20)
	do(t, tr, "a", "200", 0, 1)
	assert.Equal(t, []string{
		"metrics a:closed>open", "user a:closed>open",
		"metrics reject a", "user reject a",
	}, got)
}
