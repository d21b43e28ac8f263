package timeouts_test

import (
	"context"
	"net/http"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rtchain/chain/timeouts"
)

// bubbleBound is the bound of the bubble tests: short, since the last step
// of each waits for it in real time.
const bubbleBound = 100 * time.Millisecond

// bubbleClients returns a Transport and a Total over a next that answers at
// once, except for /hang, which waits for its context.
func bubbleClients() []http.RoundTripper {
	next := rtFunc(func(r *http.Request) (*http.Response, error) {
		if r.URL.Path == "/hang" {
			<-r.Context().Done()
			return nil, r.Context().Err()
		}
		return &http.Response{StatusCode: 200, Body: http.NoBody, Request: r}, nil
	})
	return []http.RoundTripper{
		timeouts.New(next, timeouts.WithResponseHeader(bubbleBound)),
		timeouts.Total(bubbleBound)(next),
	}
}

// getEach sends n GETs of path through each of rts, with a deadline of
// generous, and returns the last error of each.
func getEach(t *testing.T, n int, path string, rts []http.RoundTripper) []error {
	t.Helper()
	errs := make([]error, len(rts))
	for range n {
		for i, rt := range rts {
			req, err := http.NewRequest(http.MethodGet, "http://example.test"+path, nil)
			require.NoError(t, err)
			ctx, cancel := context.WithTimeout(req.Context(), generous)
			resp, err := rt.RoundTrip(req.WithContext(ctx))
			if err == nil {
				resp.Body.Close()
			}
			cancel()
			errs[i] = err
		}
	}
	return errs
}

// requireBoundsFire checks that a hanging request through each of rts ends
// with the layer's own timeout, well before the caller's deadline.
func requireBoundsFire(t *testing.T, rts []http.RoundTripper) {
	t.Helper()
	start := time.Now()
	for _, err := range getEach(t, 1, "/hang", rts) {
		var te *timeouts.Error
		require.ErrorAs(t, err, &te, "the bound fires outside the bubble")
	}
	require.Less(t, time.Since(start), generous)
}

// One Transport (say, a package-level client) used inside a testing/synctest
// bubble and then outside it: a timer made in the bubble belongs to it and
// runs on its clock, so it must not be reused outside. Before the fix, the
// bubble's timers went back to the pool still set: outside, a round trip took
// one, saw it set and relied on it, and its bounds never fired (the runtime
// stops the program when such a timer is reset from outside).
func TestTransportInsideThenOutsideBubble(t *testing.T) {
	rts := bubbleClients()
	synctest.Test(t, func(t *testing.T) {
		for _, err := range getEach(t, 10, "/", rts) {
			require.NoError(t, err)
		}
	})
	for _, err := range getEach(t, 10, "/", rts) {
		require.NoError(t, err)
	}
	requireBoundsFire(t, rts)
}

// The other order: a Transport used outside (its pool holds slots with real
// timers), then inside a bubble, then outside again. Inside, a round trip
// must not take a real timer from the pool (set there, it runs on the
// bubble's clock reading, decades away, and its firing would touch the
// bubble from outside), and outside again the bounds fire.
func TestTransportOutsideInsideOutsideBubble(t *testing.T) {
	rts := bubbleClients()
	for _, err := range getEach(t, 10, "/", rts) {
		require.NoError(t, err)
	}
	time.Sleep(2 * bubbleBound) // the pooled timers fire for nobody
	synctest.Test(t, func(t *testing.T) {
		for _, err := range getEach(t, 10, "/", rts) {
			require.NoError(t, err)
		}
	})
	requireBoundsFire(t, rts)
}
