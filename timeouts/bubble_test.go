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

// One Transport (say, a package-level client) used inside a testing/synctest
// bubble and then outside it: a timer made in the bubble belongs to it and
// runs on its clock, so it must not be reused outside. Before the fix, the
// bubble's timers went back to the pool still set: outside, a round trip took
// one, saw it set and relied on it, and its bounds never fired (the runtime
// stops the program when such a timer is reset from outside).
func TestTransportInsideThenOutsideBubble(t *testing.T) {
	next := rtFunc(func(r *http.Request) (*http.Response, error) {
		if r.URL.Path == "/hang" {
			<-r.Context().Done()
			return nil, r.Context().Err()
		}
		return &http.Response{StatusCode: 200, Body: http.NoBody, Request: r}, nil
	})
	const bound = 100 * time.Millisecond
	tr := timeouts.New(next, timeouts.WithResponseHeader(bound))
	total := timeouts.Total(bound)(next)
	get := func(t *testing.T, rt http.RoundTripper) {
		t.Helper()
		req, err := http.NewRequest(http.MethodGet, "http://example.test/", nil)
		require.NoError(t, err)
		resp, err := rt.RoundTrip(req)
		require.NoError(t, err)
		require.Equal(t, 200, resp.StatusCode)
	}
	synctest.Test(t, func(t *testing.T) {
		for range 10 {
			get(t, tr)
			get(t, total)
		}
	})
	for range 10 {
		get(t, tr)
		get(t, total)
	}
	for _, rt := range []http.RoundTripper{tr, total} {
		req, err := http.NewRequest(http.MethodGet, "http://example.test/hang", nil)
		require.NoError(t, err)
		ctx, cancel := context.WithTimeout(req.Context(), generous)
		start := time.Now()
		_, err = rt.RoundTrip(req.WithContext(ctx))
		cancel()
		var te *timeouts.Error
		require.ErrorAs(t, err, &te, "the bound fires outside the bubble")
		require.Less(t, time.Since(start), generous)
	}
}

// The other order: a Transport used outside (its pool holds slots with real
// timers), then inside a bubble, then outside again. Inside, a round trip
// must not take a real timer from the pool (set there, it runs on the
// bubble's clock reading, decades away, and its firing would touch the
// bubble from outside), and outside again the bounds fire.
func TestTransportOutsideInsideOutsideBubble(t *testing.T) {
	next := rtFunc(func(r *http.Request) (*http.Response, error) {
		if r.URL.Path == "/hang" {
			<-r.Context().Done()
			return nil, r.Context().Err()
		}
		return &http.Response{StatusCode: 200, Body: http.NoBody, Request: r}, nil
	})
	const bound = 100 * time.Millisecond
	tr := timeouts.New(next, timeouts.WithResponseHeader(bound))
	total := timeouts.Total(bound)(next)
	get := func(t *testing.T, rt http.RoundTripper, path string) error {
		t.Helper()
		req, err := http.NewRequest(http.MethodGet, "http://example.test"+path, nil)
		require.NoError(t, err)
		ctx, cancel := context.WithTimeout(req.Context(), generous)
		defer cancel()
		resp, err := rt.RoundTrip(req.WithContext(ctx))
		if err == nil {
			resp.Body.Close()
		}
		return err
	}
	for range 10 {
		require.NoError(t, get(t, tr, "/"))
		require.NoError(t, get(t, total, "/"))
	}
	time.Sleep(2 * bound) // the pooled timers fire for nobody
	synctest.Test(t, func(t *testing.T) {
		for range 10 {
			require.NoError(t, get(t, tr, "/"))
			require.NoError(t, get(t, total, "/"))
		}
	})
	for _, rt := range []http.RoundTripper{tr, total} {
		start := time.Now()
		err := get(t, rt, "/hang")
		var te *timeouts.Error
		require.ErrorAs(t, err, &te, "the bound fires outside the bubble")
		require.Less(t, time.Since(start), generous)
	}
}
