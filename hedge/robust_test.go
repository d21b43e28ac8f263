package hedge_test

import (
	"context"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rtchain/chain"
	"github.com/rtchain/chain/hedge"
	"github.com/rtchain/chain/internal/attempt"
)

// Whoever sees the first attempt's Done closed sees Err non-nil, as the
// context package requires (it panics with "missing cancel error" when a
// context derived at that moment finds nil, and net/http's h2 client returns
// ctx.Err() after Done). Before the fix the own context closed Done before it
// recorded why, and a hedge that won opened that window.
func TestFirstAttemptErrSetBeforeDone(t *testing.T) {
	var bad, panics atomic.Int64
	next := chain.RoundTripperFunc(func(req *http.Request) (*http.Response, error) {
		ctx := req.Context()
		if attempt.Hedge(ctx) {
			return &http.Response{StatusCode: 200, Body: http.NoBody, Request: req}, nil
		}
		d := ctx.Done() // arms the race
		var wg sync.WaitGroup
		for i := range 32 {
			wg.Go(func() {
				<-d
				if i%2 == 0 {
					if ctx.Err() == nil {
						bad.Add(1)
					}
					return
				}
				defer func() {
					if recover() != nil {
						panics.Add(1)
					}
				}()
				c, cancel := context.WithCancel(ctx)
				cancel()
				_ = c
			})
		}
		<-d
		err := ctx.Err()
		wg.Wait()
		if err == nil {
			bad.Add(1)
			err = context.Canceled
		}
		return nil, err
	})
	tr := hedge.New(next, hedge.WithDelay(time.Millisecond))
	for range 300 {
		req, err := http.NewRequest(http.MethodGet, "http://example.test/", nil)
		require.NoError(t, err)
		resp, err := tr.RoundTrip(req)
		require.NoError(t, err)
		resp.Body.Close()
		if bad.Load()+panics.Load() > 0 {
			break
		}
	}
	assert.Zero(t, bad.Load(), "Err() == nil after Done closed")
	assert.Zero(t, panics.Load(), "deriving a context from the first attempt's panicked")
}

// A panic in the first attempt's RoundTrip ends the race: no hedge is sent
// after it, a hedge that had already answered has its body closed, and no
// goroutine is left (goleak checks at the end of the package).
func TestPanicInFirstAttemptEndsTheRace(t *testing.T) {
	var hedgeBody atomic.Pointer[closeCounter]
	var hedges atomic.Int32
	won := make(chan struct{})
	next := chain.RoundTripperFunc(func(req *http.Request) (*http.Response, error) {
		ctx := req.Context()
		if attempt.Hedge(ctx) {
			hedges.Add(1)
			b := &closeCounter{}
			hedgeBody.Store(b)
			defer close(won)
			return &http.Response{StatusCode: 200, Body: b, Request: req}, nil
		}
		<-ctx.Done() // arms; ends when the hedge wins
		<-won
		panic("next broke")
	})
	tr := hedge.New(next, hedge.WithDelay(time.Millisecond), hedge.WithMaxHedges(3))
	req, err := http.NewRequest(http.MethodGet, "http://example.test/", nil)
	require.NoError(t, err)
	require.PanicsWithValue(t, "next broke", func() { _, _ = tr.RoundTrip(req) })
	time.Sleep(20 * time.Millisecond) // a hedge timer would have fired by now
	assert.Equal(t, int32(1), hedges.Load(), "no hedge after the panic")
	b := hedgeBody.Load()
	require.NotNil(t, b)
	assert.Equal(t, int32(1), b.closed.Load(), "the winning hedge's body is closed")
}

type closeCounter struct{ closed atomic.Int32 }

func (b *closeCounter) Read([]byte) (int, error) { return 0, nil }
func (b *closeCounter) Close() error             { b.closed.Add(1); return nil }

// A winner without a body (http.NoBody: HEAD, 204, 304) releases the first
// attempt's context at once: callers rarely close such a body.
func TestNoBodyWinnerReleasesContext(t *testing.T) {
	ended := make(chan struct{})
	next := chain.RoundTripperFunc(func(req *http.Request) (*http.Response, error) {
		ctx := req.Context()
		_ = ctx.Done() // arms the race, so the context is one the race ends
		context.AfterFunc(ctx, func() { close(ended) })
		return &http.Response{StatusCode: 204, Body: http.NoBody, Request: req}, nil
	})
	tr := hedge.New(next, hedge.WithDelay(time.Hour))
	req, err := http.NewRequest(http.MethodHead, "http://example.test/", nil)
	require.NoError(t, err)
	resp, err := tr.RoundTrip(req)
	require.NoError(t, err)
	assert.Equal(t, http.NoBody, resp.Body, "the body is handed over as it came")
	select {
	case <-ended:
	case <-time.After(2 * time.Second):
		t.Fatal("the first attempt's context is still live although the response has no body")
	}
}
