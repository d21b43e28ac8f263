package standard_test

import (
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rtchain/chain/breaker"
	"github.com/rtchain/chain/limit"
	"github.com/rtchain/chain/retry"
	"github.com/rtchain/chain/standard"
	"github.com/rtchain/chain/timeouts"
	"github.com/rtchain/chain/transporttest"
)

// TestUpdateChangesEachLayer: Update changes the retry, per-attempt
// timeouts and breaker settings, and the next requests use them.
func TestUpdateChangesEachLayer(t *testing.T) {
	t.Parallel()
	script := transporttest.NewScript(transporttest.Step{Status: http.StatusServiceUnavailable})
	s := standard.New(standard.WithBase(script), fast, standard.WithRetry(retry.WithMaxAttempts(2)))
	budget, timeoutsBefore := s.Budget(), s.Timeouts()
	do := func() {
		resp, err := s.RoundTrip(mustGet(t, "http://svc.test/"))
		require.NoError(t, err)
		resp.Body.Close()
	}
	do()
	require.Equal(t, 2, script.Calls())

	require.NoError(t, s.Update(
		standard.WithRetry(retry.WithMaxAttempts(4)),
		standard.WithTimeouts(timeouts.WithResponseHeader(3*time.Second)),
		standard.WithBreaker(breaker.WithFailureRate(0.9)),
	))
	do()
	assert.Equal(t, 6, script.Calls(), "four attempts after the update")
	assert.Equal(t, 4, s.Retry().Settings().MaxAttempts)
	assert.Equal(t, retry.JitterNone, s.Retry().Settings().Jitter, "the settings given before stay")
	assert.Same(t, budget, s.Budget(), "the budget keeps its tokens")
	assert.NotSame(t, timeoutsBefore, s.Timeouts(), "a new per-attempt layer")
	cfg := s.Config()
	assert.Equal(t, "3s", setting(t, cfg, "timeouts", "timeouts.WithResponseHeader").Value)
	assert.Equal(t, "0.9", setting(t, cfg, "breaker", "breaker.WithFailureRate").Value)
	assert.Equal(t, "4", setting(t, cfg, "retry", "retry.WithMaxAttempts").Value)
}

// TestUpdateAllOrNothing: an Update that fails changes nothing, in any
// layer, and says why.
func TestUpdateAllOrNothing(t *testing.T) {
	t.Parallel()
	s := standard.New(standard.WithTotal(10 * time.Second))
	defer s.CloseIdleConnections()
	before := s.Config().String()
	retryBefore, timeoutsBefore := s.Retry(), s.Timeouts()
	for _, tc := range []struct {
		name string
		opts []standard.Option
		err  string
	}{
		{"invalid breaker option", []standard.Option{standard.WithRetry(retry.WithMaxAttempts(5)),
			standard.WithBreaker(breaker.WithOpenDuration(0))},
			"standard: Update: breaker: WithOpenDuration(0s): need a positive duration"},
		{"attempt above total", []standard.Option{standard.WithRetry(retry.WithMaxAttempts(5)),
			standard.WithTimeouts(timeouts.WithAttempt(time.Minute))},
			"standard: Update: timeouts.WithAttempt(1m0s) is above WithTotal(10s): the total always ends the request first, so the attempt bound could never fire"},
		{"base bound", []standard.Option{standard.WithTimeouts(timeouts.WithDNS(5 * time.Second))},
			"standard: Update: timeouts.WithDNS(5s): the base transport's connections keep the bound of New (1s)"},
		{"not at run time", []standard.Option{standard.WithTotal(time.Second), standard.WithLimit(),
			standard.WithoutLayer(standard.LayerBreaker)},
			"standard: Update: WithTotal, WithLimit, WithLayer(breaker) cannot change at run time (only WithRetry, WithTimeouts and WithBreaker can)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.EqualError(t, s.Update(tc.opts...), tc.err)
			assert.Equal(t, before, s.Config().String())
			assert.Same(t, retryBefore, s.Retry())
			assert.Same(t, timeoutsBefore, s.Timeouts())
		})
	}

	s = standard.New(standard.WithBase(transporttest.NewScript()), standard.WithoutLayer(standard.LayerBreaker))
	require.EqualError(t, s.Update(standard.WithBreaker(breaker.WithFailureRate(0.5))),
		"standard: Update: WithBreaker: the stack has no breaker layer of its own (it was removed)")
}

// TestUpdateUnderLoadKeepsBreakerState changes every updatable setting
// over and over while requests flow to a failing host and a healthy one
// (run with -race): the failing host's breaker stays open, the healthy
// host's requests all succeed, and the last settings are in force.
func TestUpdateUnderLoadKeepsBreakerState(t *testing.T) {
	t.Parallel()
	base := rtFunc(func(r *http.Request) (*http.Response, error) {
		status := http.StatusOK
		if r.URL.Host == "down.test" {
			status = http.StatusInternalServerError
		}
		return &http.Response{StatusCode: status, Body: http.NoBody, Request: r}, nil
	})
	s := standard.New(standard.WithBase(base), fast, standard.WithLimit(limit.WithMaxInFlight(64)),
		standard.WithBreaker(breaker.WithMinRequests(5), breaker.WithOpenDuration(time.Hour)))
	send := func(host string) (int, error) {
		resp, err := s.RoundTrip(mustGet(t, "http://"+host+"/"))
		if err != nil {
			return 0, err
		}
		resp.Body.Close()
		return resp.StatusCode, nil
	}
	for range 5 {
		send("down.test")
	}
	require.Equal(t, breaker.Open, s.Breaker().State("down.test"))
	opened := s.Breaker().Counts("down.test")

	var failed atomic.Int32
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				if code, err := send("up.test"); err != nil || code != http.StatusOK {
					failed.Add(1)
				}
				send("down.test")
			}
		})
	}
	for i := range 200 {
		require.NoError(t, s.Update(
			standard.WithRetry(retry.WithMaxAttempts(2+i%3)),
			standard.WithTimeouts(timeouts.WithResponseHeader(time.Duration(5+i%3)*time.Second)),
			standard.WithBreaker(breaker.WithFailureRate(0.1+float64(i%3)/10)),
		))
	}
	close(stop)
	wg.Wait()

	assert.Zero(t, failed.Load(), "no request to the healthy host failed")
	assert.Equal(t, breaker.Open, s.Breaker().State("down.test"), "the breaker stayed open")
	assert.Equal(t, opened, s.Breaker().Counts("down.test"), "with the counts that opened it")
	assert.Equal(t, breaker.Closed, s.Breaker().State("up.test"))
	assert.Equal(t, 3, s.Retry().Settings().MaxAttempts, "the last Update is in force")
	assert.Equal(t, "0.2", setting(t, s.Config(), "breaker", "breaker.WithFailureRate").Value)
	assert.Equal(t, "6s", setting(t, s.Config(), "timeouts", "timeouts.WithResponseHeader").Value)
}
