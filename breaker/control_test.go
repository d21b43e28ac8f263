package breaker_test

import (
	"math"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rtchain/chain/breaker"
)

func urlReq(t *testing.T, url string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	require.NoError(t, err)
	req.Header.Set("X-Status", "503")
	return req
}

// "api.example", "API.example" and "api.example:443" are one host.
func TestKeysNormalised(t *testing.T) {
	clock := newClock()
	next := &fakeNext{clock: clock, reply: statusFor}
	tr := breaker.New(next, opts(clock, breaker.WithMinRequests(3))...)
	for _, u := range []string{"https://api.example/x", "https://API.example/y", "https://api.example:443/z"} {
		resp, err := tr.RoundTrip(urlReq(t, u))
		require.NoError(t, err)
		resp.Body.Close()
	}
	assert.Equal(t, []string{"api.example"}, tr.Keys())
	assert.Equal(t, breaker.Open, tr.State("api.example"), "3 failures of one key")
	assert.Equal(t, breaker.Open, tr.State("API.Example"), "method arguments are normalised too")

	resp, err := tr.RoundTrip(urlReq(t, "http://api.example:443/"))
	require.NoError(t, err, "http on port 443 is another host")
	resp.Body.Close()
	assert.Equal(t, []string{"api.example", "api.example:443"}, tr.Keys())
}

func TestKeysOfCustomKeyNotNormalised(t *testing.T) {
	next := &fakeNext{reply: statusFor}
	tr := breaker.New(next, breaker.WithKey(func(r *http.Request) string { return r.URL.Path }))
	do(t, tr, "a", "200", 0, 1)
	assert.Equal(t, []string{"/x"}, tr.Keys())
	assert.Empty(t, breaker.New(next).Keys())
}

func TestForceOpenAndReset(t *testing.T) {
	clock := newClock()
	next := &fakeNext{clock: clock, reply: statusFor}
	var trans []string
	tr := breaker.New(next, opts(clock, breaker.WithMaxKeys(1),
		breaker.WithOnStateChange(func(key string, from, to breaker.State) {
			trans = append(trans, key+":"+from.String()+">"+to.String())
		}))...)
	do(t, tr, "busy", "200", 0, 1) // fills the registry
	tr.ForceOpen("Drained")        // a key never used, past WithMaxKeys
	assert.Equal(t, []string{"busy", "drained"}, tr.Keys())
	calls := next.calls.Load()
	clock.Advance(24 * time.Hour)
	_, err := tr.RoundTrip(newReq(t, "drained", "200", 0))
	var oe *breaker.OpenError
	require.ErrorAs(t, err, &oe)
	assert.Equal(t, time.Duration(0), oe.RetryIn, "open until Reset")
	assert.Equal(t, "breaker: circuit open for host drained until reset", err.Error())
	assert.Equal(t, calls, next.calls.Load())
	assert.Equal(t, breaker.Open, tr.State("drained"), "no half-open after any time")

	tr.Reset("drained")
	assert.Equal(t, breaker.Closed, tr.State("drained"))
	assert.Zero(t, do(t, tr, "drained", "200", 0, 3))
	assert.Equal(t, 3, tr.Window("drained").Requests)

	// ForceOpen on a tripped key: open until Reset, even after its
	// OpenDuration.
	do(t, tr, "drained", "503", 0, 20)
	require.Equal(t, breaker.Open, tr.State("drained"))
	tr.ForceOpen("drained")
	clock.Advance(time.Hour)
	assert.Equal(t, breaker.Open, tr.State("drained"))
	tr.Reset("drained")
	assert.Equal(t, breaker.Counts{}, tr.Window("drained"), "a fresh window")
	assert.Equal(t, breaker.Counts{}, tr.Counts("drained"))
	tr.Reset("unknown")
	assert.NotContains(t, tr.Keys(), "unknown")
	assert.Equal(t, []string{
		"drained:closed>open", "drained:open>closed",
		"drained:closed>open", "drained:open>closed",
	}, trans)
}

// Reset of a closed key starts a fresh window and ignores the outcomes of
// calls started before.
func TestResetClosedKeyFreshWindow(t *testing.T) {
	clock := newClock()
	next := &fakeNext{clock: clock, reply: statusFor}
	tr := breaker.New(next, opts(clock)...)
	do(t, tr, "a", "503", 0, 19)
	tr.Reset("a")
	do(t, tr, "a", "503", 0, 1)
	assert.Equal(t, breaker.Closed, tr.State("a"), "the 19 failures were forgotten")
	assert.Equal(t, 1, tr.Window("a").Requests)
}

// A huge open duration saturates: open until Reset, never half-open at once.
func TestHugeOpenDuration(t *testing.T) {
	clock := newClock()
	next := &fakeNext{clock: clock, reply: statusFor}
	tr := breaker.New(next, opts(clock, breaker.WithOpenDuration(math.MaxInt64))...)
	clock.Advance(time.Second) // so that now + the open duration overflows
	do(t, tr, "a", "503", 0, 20)
	require.Equal(t, breaker.Open, tr.State("a"))
	clock.Advance(1000 * time.Hour)
	assert.Equal(t, breaker.Open, tr.State("a"))
	_, err := tr.RoundTrip(newReq(t, "a", "200", 0))
	require.ErrorIs(t, err, breaker.ErrOpen)
	tr.Reset("a")
	assert.Equal(t, breaker.Closed, tr.State("a"))
}

func TestStateOfUnknownKey(t *testing.T) {
	tr := breaker.New(&fakeNext{reply: statusFor})
	assert.Equal(t, breaker.Closed, tr.State("nowhere"), "its calls would go through")
	assert.Equal(t, breaker.Counts{}, tr.Counts("nowhere"))
	assert.Empty(t, tr.Keys(), "State makes no breaker")
}
