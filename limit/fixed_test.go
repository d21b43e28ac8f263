package limit_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rtchain/chain/errclass"
	"github.com/rtchain/chain/limit"
)

// The fixed limit holds exactly under many goroutines: never more than n
// requests open at the next layer (from RoundTrip to body end), n reached,
// and every request either admitted or rejected without reaching it.
func TestFixedLimitExact(t *testing.T) {
	const n, workers, each = 5, 64, 200
	next := &fake{reply: func(req *http.Request) (*http.Response, error) {
		runtime.Gosched() // let others pile up while this one is open
		return okReply(req)
	}}
	rt := limit.New(next, limit.WithMaxInFlight(n))
	var ok, rejected atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for range each {
				resp, err := get(t, rt, "http://a.test/")
				if err != nil {
					if !isLimited(err) {
						t.Errorf("unexpected error: %v", err)
						return
					}
					rejected.Add(1)
					continue
				}
				ok.Add(1)
				runtime.Gosched()
				drain(resp)
			}
		})
	}
	wg.Wait()
	assert.Equal(t, int64(workers*each), ok.Load()+rejected.Load())
	assert.Equal(t, ok.Load(), next.calls.Load(), "rejected requests must not reach the next layer")
	assert.LessOrEqual(t, next.maxOpen.Load(), int64(n), "more requests open than the limit")
	assert.Equal(t, int64(n), next.maxOpen.Load(), "the limit was never reached: the test proves nothing")
	assert.Positive(t, rejected.Load())
	assert.Equal(t, limit.Stats{Limit: n}, rt.Stats("a.test"))
}

// Each key has its own limit; keys are normalised hosts.
func TestLimitPerHost(t *testing.T) {
	rt := limit.New(&fake{}, limit.WithMaxInFlight(1))
	a := mustHold(t, rt, "https://A.test:443/x")
	b := mustHold(t, rt, "https://b.test/x")
	_, err := get(t, rt, "https://a.test/y")
	require.True(t, isLimited(err), "a.test is full: %v", err)
	assert.Equal(t, []string{"a.test", "b.test"}, rt.Keys())
	assert.Equal(t, 1, rt.Stats("a.test").InFlight)
	drain(a)
	drain(b)
	resp := mustHold(t, rt, "https://a.test/y")
	drain(resp)
}

// A rejection is an *Error of class Limited, neutral, with a clear text; the
// request body is closed and every reject hook runs once, in order.
func TestRejection(t *testing.T) {
	var calls []string
	var rt *limit.Transport
	rt = limit.New(&fake{}, limit.WithMaxInFlight(2),
		limit.WithOnReject(func(key string) { calls = append(calls, "first "+key) }),
		limit.WithOnReject(nil),
		limit.WithOnReject(func(key string) { // outside every lock: Stats does not deadlock
			calls = append(calls, fmt.Sprintf("second %s %d", key, rt.Stats(key).InFlight))
		}),
	)
	held := []*http.Response{mustHold(t, rt, "http://api.test/"), mustHold(t, rt, "http://api.test/")}
	body := &closeCounter{Reader: strings.NewReader("payload")}
	req, err := http.NewRequest(http.MethodPost, "http://api.test/", body)
	require.NoError(t, err)
	resp, err := rt.RoundTrip(req)
	require.Nil(t, resp)
	var le *limit.Error
	require.ErrorAs(t, err, &le)
	assert.Equal(t, limit.Error{Key: "api.test", Limit: 2}, *le)
	assert.Equal(t, "limit: api.test: limit of 2 in flight reached; not sent", err.Error())
	assert.Equal(t, errclass.Limited, errclass.Classify(err))
	assert.True(t, errclass.Neutral(err))
	assert.Equal(t, int32(1), body.closes.Load(), "request body closes")
	assert.Equal(t, []string{"first api.test", "second api.test 2"}, calls)
	for _, r := range held {
		drain(r)
	}
}

// Through http.Client, the rejection keeps its class through *url.Error.
func TestRejectionThroughClient(t *testing.T) {
	rt := limit.New(&fake{}, limit.WithMaxInFlight(1))
	client := &http.Client{Transport: rt}
	resp, err := client.Get("http://api.test/")
	require.NoError(t, err)
	_, err = client.Get("http://api.test/")
	assert.Equal(t, errclass.Limited, errclass.Classify(err))
	assert.True(t, isLimited(err))
	drain(resp)
}

// Rejected requests never reach a real server: with the limit held by
// requests the server keeps waiting, it counts only those.
func TestRejectedNeverReachServer(t *testing.T) {
	const n = 3
	var hits atomic.Int64
	release := make(chan struct{})
	arrived := make(chan struct{}, n)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		arrived <- struct{}{}
		<-release
		io.WriteString(w, "ok")
	}))
	defer srv.Close()
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	rt := limit.New(tr, limit.WithMaxInFlight(n))

	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			resp, err := get(t, rt, srv.URL)
			if err != nil {
				t.Error(err)
				return
			}
			drain(resp)
		})
	}
	for range n {
		<-arrived
	}
	for range 20 {
		_, err := get(t, rt, srv.URL)
		require.True(t, isLimited(err), "want a rejection, got %v", err)
	}
	close(release)
	wg.Wait()
	assert.Equal(t, int64(n), hits.Load())
	resp, err := get(t, rt, srv.URL)
	require.NoError(t, err)
	drain(resp)
	assert.Equal(t, int64(n+1), hits.Load())
}

// Errors of the next layer come back with a nil response, matching their
// class's sentinel and reaching their cause.
func TestNextErrorsWrapped(t *testing.T) {
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}
	rt := limit.New(&fake{reply: func(*http.Request) (*http.Response, error) { return nil, refused }}, limit.WithMaxInFlight(1))
	resp, err := get(t, rt, "http://a.test/")
	assert.Nil(t, resp)
	assert.ErrorIs(t, err, errclass.ErrNetwork)
	assert.Equal(t, errclass.Refused, errclass.Classify(err))
	assert.ErrorIs(t, err, syscall.ECONNREFUSED)
	assert.Zero(t, rt.Stats("a.test").InFlight)

	nilNil := limit.New(&fake{reply: func(*http.Request) (*http.Response, error) { return nil, nil }})
	resp, err = get(t, nilNil, "http://a.test/")
	assert.Nil(t, resp)
	assert.ErrorContains(t, err, "limit: RoundTripper implementation (*limit_test.fake) returned a nil *Response with a nil error")
	assert.Zero(t, nilNil.Stats("a.test").InFlight)
}

// The request context's error while waiting is returned as it is (through
// errclass.Wrap); it is not a rejection.
func TestCanceledBeforeWait(t *testing.T) {
	rejections := 0
	rt := limit.New(&fake{}, limit.WithMaxInFlight(1), limit.WithMaxWait(1<<40),
		limit.WithOnReject(func(string) { rejections++ }))
	held := mustHold(t, rt, "http://a.test/")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := rt.RoundTrip(newReq(t, ctx, "http://a.test/"))
	assert.True(t, errors.Is(err, context.Canceled), "got %v", err)
	assert.False(t, isLimited(err))
	assert.Zero(t, rejections)
	assert.Zero(t, rt.Stats("a.test").Waiting)
	drain(held)
}
