package retry_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rtchain/chain"
	"github.com/rtchain/chain/retry"
	"github.com/rtchain/chain/transporttest"
)

// stubbornBody is a response body whose Read blocks until release is
// closed, whatever Close does: io.ReadCloser does not promise that Close
// interrupts a Read.
type stubbornBody struct {
	release chan struct{}
	closed  atomic.Int32
}

func (b *stubbornBody) Read([]byte) (int, error) { <-b.release; return 0, io.EOF }
func (b *stubbornBody) Close() error             { b.closed.Add(1); return nil }

// Issue 15.1: cancelling during a wait returns at once even when the
// discarded body's Close does not stop the drain's Read.
func TestCancelDuringWaitWithStubbornBody(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		body := &stubbornBody{release: make(chan struct{})}
		time.AfterFunc(5*time.Second, func() { close(body.release) }) // lets the drain end, late
		next := chain.RoundTripperFunc(func(r *http.Request) (*http.Response, error) {
			return &http.Response{StatusCode: 503, Body: body, Request: r}, nil
		})
		ctx, cancel := context.WithCancel(t.Context())
		time.AfterFunc(time.Second, cancel)
		start := time.Now()
		resp, err := retry.New(next, retry.WithBackoff(10*time.Second, 10*time.Second, retry.JitterNone)).
			RoundTrip(get(t).WithContext(ctx))
		assert.Nil(t, resp)
		assert.ErrorIs(t, err, context.Canceled)
		assert.Equal(t, time.Second, time.Since(start), "returned as soon as the context was cancelled")
		assert.Equal(t, int32(1), body.closed.Load(), "the discarded body was closed")
		time.Sleep(5 * time.Second) // the drain's Read returns, and its goroutine ends
		synctest.Wait()
	})
}

// Issue 15.3: a slow GetBody eats the time left; the 503 comes back, not a
// deadline error.
func TestSlowGetBodyReturnsLastResponse(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		defer cancel()
		s := newScript(step{status: 503, body: "busy"}, step{status: 200})
		req, err := http.NewRequestWithContext(ctx, "PUT", "http://example.test/", strings.NewReader("x"))
		require.NoError(t, err)
		fresh := &reqBody{Reader: strings.NewReader("x")}
		req.GetBody = func() (io.ReadCloser, error) {
			time.Sleep(950 * time.Millisecond) // reopening a file on a slow disk
			return fresh, nil
		}
		var reasons []retry.GiveUpReason
		rt := retry.New(s, noJitter, retry.WithOnGiveUp(func(g retry.GiveUp) { reasons = append(reasons, g.Reason) }))
		resp, err := rt.RoundTrip(req)
		require.NoError(t, err, "the last response goes back, not a deadline error")
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		assert.Equal(t, 503, resp.StatusCode)
		assert.Equal(t, "busy", string(b), "its body intact")
		assert.Equal(t, 1, s.calls())
		assert.Equal(t, []retry.GiveUpReason{retry.GiveUpDeadline}, reasons)
		assert.Equal(t, int32(1), fresh.closes.Load(), "the body GetBody made was closed")
	})
}

// Issue 15.4: an invalid header name is refused when the option is made.
func TestAttemptHeaderValidated(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"", "X Retry", "X-Retry:", "Ünïcode", "a\nb", "(x)"} {
		assert.PanicsWithValue(t, "retry: WithAttemptHeader("+strconv.Quote(name)+"): need a valid header name",
			func() { retry.WithAttemptHeader(name) }, "%q", name)
	}
	for _, name := range []string{"X-Retry-Attempt", "grpc-previous-rpc-attempts", "x_retry!#$%&'*+.^`|~"} {
		assert.NotPanics(t, func() { retry.WithAttemptHeader(name) }, "%q", name)
	}
}

// Issue 15.5: with Retry-After: 0 the discarded 503's body is still
// drained, so its connection is reused: one connection for five requests.
func TestZeroWaitDrainsBody(t *testing.T) {
	t.Parallel()
	var n atomic.Int32
	srv := transporttest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1)%2 == 1 {
			w.Header().Set("Retry-After", "0")
			w.WriteHeader(503)
			io.WriteString(w, strings.Repeat("busy ", 200))
			return
		}
		io.WriteString(w, "ok")
	}))
	t.Cleanup(srv.Close)
	client, c := clientFor(srv.Client().Transport)
	for i := range 5 {
		resp, err := client.Get(srv.URL)
		require.NoError(t, err)
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.Equal(t, "ok", string(b), "request %d", i)
	}
	assert.Equal(t, int32(10), c.n.Load())
	assert.Equal(t, 1, srv.Stats().Connections, "every discarded body was drained, its connection reused")
}

// Issue 15.7: a body that GetBody returns together with an error is closed.
func TestGetBodyErrorClosesBody(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		s := newScript(step{status: 503}, step{status: 200})
		half := &reqBody{Reader: strings.NewReader("x")}
		req, err := http.NewRequest("PUT", "http://example.test/", strings.NewReader("x"))
		require.NoError(t, err)
		req.GetBody = func() (io.ReadCloser, error) { return half, errors.New("half open") }
		resp, err := retry.New(s).RoundTrip(req)
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, 503, resp.StatusCode)
		assert.Equal(t, int32(1), half.closes.Load(), "the body returned with the error was closed")
	})
}

// Issue 15.8: callers told Retry-After: 1 together come back spread over
// [1 s, 1.1 s], none before 1 s; the hook's Wait includes the extra.
func TestRetryAfterSpread(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		const callers = 50
		var (
			mu      sync.Mutex
			arrived []time.Duration
			waits   []time.Duration
		)
		start := time.Now()
		next := chain.RoundTripperFunc(func(r *http.Request) (*http.Response, error) {
			if retry.Attempt(r.Context()) == 0 {
				return &http.Response{StatusCode: 429, Header: http.Header{"Retry-After": {"1"}}, Body: http.NoBody, Request: r}, nil
			}
			mu.Lock()
			arrived = append(arrived, time.Since(start))
			mu.Unlock()
			return &http.Response{StatusCode: 200, Body: http.NoBody, Request: r}, nil
		})
		rt := retry.New(next, retry.WithBudget(nil), retry.WithOnRetry(func(e retry.Event) {
			mu.Lock()
			waits = append(waits, e.Wait)
			mu.Unlock()
		}))
		var wg sync.WaitGroup
		for range callers {
			wg.Go(func() {
				resp, err := rt.RoundTrip(get(t))
				if assert.NoError(t, err) {
					resp.Body.Close()
				}
			})
		}
		wg.Wait()
		require.Len(t, arrived, callers)
		slices.Sort(arrived)
		assert.GreaterOrEqual(t, arrived[0], time.Second, "none before the server asked")
		assert.LessOrEqual(t, arrived[callers-1], 1100*time.Millisecond, "extra at most max(100 ms, 10 %)")
		assert.Greater(t, arrived[callers-1]-arrived[0], 50*time.Millisecond, "spread, not one wave: %v", arrived)
		assert.Greater(t, len(slices.Compact(slices.Clone(arrived))), callers/2, "mostly distinct arrival times")
		slices.Sort(waits)
		assert.Equal(t, arrived, waits, "Event.Wait is the wait really made, extra included")
	})
}

// The random extra is 10 % of a long Retry-After, and never pushes a wait
// that fits the cap beyond the deadline check.
func TestRetryAfterSpreadShare(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		s := newScript(step{status: 503, header: http.Header{"Retry-After": {"20"}}}, step{status: 200})
		var waits []time.Duration
		rt := retry.New(s, retry.WithRandom(func() float64 { return 0.5 }),
			retry.WithOnRetry(func(e retry.Event) { waits = append(waits, e.Wait) }))
		resp, err := rt.RoundTrip(get(t))
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, []time.Duration{21 * time.Second}, waits, "20 s + half of 2 s")
	})
}
