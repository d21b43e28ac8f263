package retry_test

import (
	"bytes"
	"io"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rtchain/chain"
	"github.com/rtchain/chain/retry"
	"github.com/rtchain/chain/transporttest"
)

// hosts answers per host: "down.test" always 503; other hosts 503 to the
// first attempt of a request and 200 to a retry. It counts attempts per
// host.
type hosts struct {
	mu    sync.Mutex
	calls map[string]int
}

func (h *hosts) RoundTrip(r *http.Request) (*http.Response, error) {
	h.mu.Lock()
	h.calls[r.URL.Host]++
	h.mu.Unlock()
	status := 503
	if r.URL.Host != "down.test" && retry.Attempt(r.Context()) > 0 {
		status = 200
	}
	return &http.Response{StatusCode: status, Body: http.NoBody, Request: r}, nil
}

func hostGet(tb testing.TB, host string) *http.Request {
	tb.Helper()
	r, err := http.NewRequest("GET", "http://"+host+"/", nil)
	require.NoError(tb, err)
	return r
}

// Issue 15.10: a host in an outage spends its own budget, not the healthy
// host's: by default, the budget is kept per host.
func TestBudgetPerHost(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		opts    []retry.Option
		perHost bool
	}{
		{"default, per host", nil, true},
		{"shared budget", []retry.Option{retry.WithBudget(retry.NewBudget())}, false},
		{"shared keyed budget", []retry.Option{retry.WithKeyedBudget(retry.NewKeyedBudget(8), nil)}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				h := &hosts{calls: map[string]int{}}
				// Waits of 1 ns: the floor adds next to nothing while the test runs.
				rt := retry.New(h, append([]retry.Option{retry.WithBackoff(1, 1, retry.JitterNone)}, tt.opts...)...)
				for range 200 { // the outage spends the down host's budget
					resp, err := rt.RoundTrip(hostGet(t, "down.test"))
					require.NoError(t, err)
					resp.Body.Close()
				}
				ok := 0
				for range 10 {
					resp, err := rt.RoundTrip(hostGet(t, "HEALTHY.test:80"))
					require.NoError(t, err)
					resp.Body.Close()
					if resp.StatusCode == 200 {
						ok++
					}
				}
				if tt.perHost {
					assert.Equal(t, 10, ok, "every healthy request got its retry")
				} else {
					assert.Less(t, ok, 3, "the shared budget was spent by the outage")
				}
				assert.LessOrEqual(t, h.calls["down.test"], 200+20+11, "the outage stays within the budget (ratio and floor)")
			})
		})
	}
}

func TestKeyedBudgetBound(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		k := retry.NewKeyedBudget(2, retry.WithRatio(0), retry.WithFloor(1))
		a, b := k.Budget("a"), k.Budget("b")
		assert.True(t, a == k.Budget("a"), "one budget per key")
		assert.True(t, a != b)
		c := k.Budget("c")
		assert.True(t, c == k.Budget("d"), "beyond the bound, new keys share the overflow budget")
		assert.True(t, c != a && c != b)

		// A key idle for a second may be forgotten to make room; one in
		// use is kept.
		a.Deposit()
		time.Sleep(time.Second)
		a.Deposit()
		k.Budget("e") // a sweep notes what it sees
		time.Sleep(time.Second)
		a.Deposit()
		e := k.Budget("e")
		assert.True(t, e != c, "an idle key (b) was forgotten: e has its own budget")
		assert.True(t, a == k.Budget("a"), "a key in use is kept")
		assert.True(t, b != k.Budget("b"), "b comes back with a fresh budget, or the overflow")
	})
	assert.PanicsWithValue(t, "retry: NewKeyedBudget(0): need at least 1 key", func() { retry.NewKeyedBudget(0) })
}

func TestKeyedBudgetCustomKey(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		k := retry.NewKeyedBudget(8, retry.WithRatio(0), retry.WithFloor(1)) // one token per key
		h := &hosts{calls: map[string]int{}}
		byTenant := func(r *http.Request) string { return r.Header.Get("X-Tenant") }
		rt := retry.New(h, retry.WithKeyedBudget(k, byTenant))
		for i, tenant := range []string{"a", "a", "b"} {
			r := hostGet(t, "down.test")
			r.Header.Set("X-Tenant", tenant)
			resp, err := rt.RoundTrip(r)
			require.NoError(t, err)
			resp.Body.Close()
			assert.Equal(t, []int{2, 3, 5}[i], h.calls["down.test"], "request %d for tenant %s", i, tenant)
		}
	})
}

// Concurrent use of a KeyedBudget across many keys, with sweeps, is
// race-free and keeps the bound.
func TestKeyedBudgetConcurrent(t *testing.T) {
	t.Parallel()
	k := retry.NewKeyedBudget(16)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 500 {
				b := k.Budget(strconv.Itoa((g*500 + i) % 40))
				b.Deposit()
				b.Withdraw()
			}
		})
	}
	wg.Wait()
}

// Issue 15.11: WithBufferBody retries a body without GetBody by keeping a
// bounded copy of what the first attempt sent.
func TestBufferBody(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		size  int
		calls int
	}{
		{"1 MiB retried", 1 << 20, 2},
		{"4 MiB sent once", 4 << 20, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := transporttest.NewServer(transporttest.Sequence(
				transporttest.Reply{Status: 503},
				transporttest.Reply{Status: 200},
			))
			t.Cleanup(srv.Close)
			payload := bytes.Repeat([]byte("0123456789abcdef"), tt.size/16)
			req, err := http.NewRequest("PUT", srv.URL, io.NopCloser(bytes.NewReader(payload)))
			require.NoError(t, err)
			req.ContentLength = int64(len(payload))
			require.Nil(t, req.GetBody)
			client, c := clientFor(srv.Client().Transport, fast, retry.WithBufferBody(2<<20))
			resp, err := client.Do(req)
			require.NoError(t, err)
			resp.Body.Close()
			assert.Equal(t, int32(tt.calls), c.n.Load())
			seen := srv.Seen()
			require.Len(t, seen, tt.calls)
			assert.Equal(t, int64(tt.calls*len(payload)), srv.Stats().BodyBytes, "every attempt sent the whole body")
			for i, s := range seen { // the server keeps the first MiB of each
				assert.True(t, bytes.Equal(payload[:len(s.Body)], s.Body) && len(s.Body) == min(len(payload), 1<<20),
					"attempt %d: the server got the same bytes", i)
			}
		})
	}
	assert.PanicsWithValue(t, "retry: WithBufferBody(0): need a positive size", func() { retry.WithBufferBody(0) })
}

// With an unknown length (chunked), the copy is complete once the
// transport read the body to EOF.
func TestBufferBodyUnknownLength(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		s := newScript(step{status: 503}, step{status: 200})
		body := &reqBody{Reader: bytes.NewReader([]byte("stream"))}
		req, err := http.NewRequest("PUT", "http://example.test/", body)
		require.NoError(t, err)
		resp, err := retry.New(s, retry.WithBufferBody(1<<10)).RoundTrip(req)
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, 200, resp.StatusCode)
		got := s.attempts()
		require.Len(t, got, 2)
		assert.Equal(t, "stream", got[0].body)
		assert.Equal(t, "stream", got[1].body)
		assert.NotNil(t, got[1].req.GetBody, "the retry can be replayed below too")
		assert.Equal(t, int32(1), body.closes.Load(), "the caller's body closed once")
		assert.Nil(t, req.GetBody, "the caller's request untouched")
	})
}

// A first attempt that did not send the whole body (the server answered
// before reading it) leaves an incomplete copy: sent once.
func TestBufferBodyIncomplete(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		next := chain.RoundTripperFunc(func(r *http.Request) (*http.Response, error) {
			io.CopyN(io.Discard, r.Body, 3)
			r.Body.Close()
			return &http.Response{StatusCode: 503, Body: http.NoBody, Request: r}, nil
		})
		req, err := http.NewRequest("PUT", "http://example.test/", io.NopCloser(bytes.NewReader([]byte("stream"))))
		require.NoError(t, err)
		var reason retry.GiveUpReason
		resp, err := retry.New(next, retry.WithBufferBody(1<<10), retry.WithOnGiveUp(func(g retry.GiveUp) { reason = g.Reason })).RoundTrip(req)
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, retry.GiveUpNotReplayable, reason)
	})
}

// Spellings of one host share its budget: the key is normalised as the
// breaker's (lower case, default port dropped).
func TestKeyedBudgetSpellingsShare(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		k := retry.NewKeyedBudget(8, retry.WithRatio(0), retry.WithFloor(1)) // one token per host
		h := &hosts{calls: map[string]int{}}
		rt := retry.New(h, retry.WithKeyedBudget(k, nil), retry.WithMaxAttempts(2))
		for _, host := range []string{"api.test", "API.test:80", "api.test:80", "Api.Test"} {
			resp, err := rt.RoundTrip(hostGet(t, host))
			require.NoError(t, err)
			resp.Body.Close()
		}
		total := 0
		for _, n := range h.calls {
			total += n
		}
		assert.Equal(t, 5, total, "one retry for the four spellings of one host")
		assert.False(t, k.Budget("api.test").Withdraw(), "the host's one token was spent")
	})
}
