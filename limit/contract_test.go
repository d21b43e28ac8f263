package limit_test

import (
	"bytes"
	"context"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rtchain/chain"
	"github.com/rtchain/chain/errclass"
	"github.com/rtchain/chain/limit"
	"github.com/rtchain/chain/retry"
)

var _ chain.Middleware = limit.Middleware()

type idleCounter struct {
	fake
	closes int
}

func (c *idleCounter) CloseIdleConnections() { c.closes++ }

// The layer exposes the next one and forwards CloseIdleConnections, through
// http.Client too.
func TestUnwrapAndCloseIdle(t *testing.T) {
	base := &idleCounter{}
	rt := chain.Build(base, limit.Middleware(limit.WithMaxInFlight(3)))
	assert.Same(t, base, chain.Base(rt))
	(&http.Client{Transport: rt}).CloseIdleConnections()
	assert.Equal(t, 1, base.closes)
	assert.Equal(t, http.DefaultTransport, limit.New(nil).Unwrap())
}

// Each Transport a Middleware makes has its own limits.
func TestMiddlewareTransportsIndependent(t *testing.T) {
	mw := limit.Middleware(limit.WithMaxInFlight(1))
	a, b := mw(&fake{}), mw(&fake{})
	held := mustHold(t, a, "http://x.test/")
	resp := mustHold(t, b, "http://x.test/")
	drain(held)
	drain(resp)
}

// The caller's request is never modified, admitted or rejected.
func TestRequestUnchanged(t *testing.T) {
	rt := limit.New(&fake{}, limit.WithMaxInFlight(1))
	for _, want := range []string{"admitted", "rejected"} {
		req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, "http://a.test/p?q=1", bytes.NewReader([]byte("body")))
		require.NoError(t, err)
		req.Header.Set("X-Test", "1")
		method, url, header, body, ctx := req.Method, req.URL.String(), req.Header.Clone(), req.Body, req.Context()
		resp, err := rt.RoundTrip(req)
		if want == "admitted" {
			require.NoError(t, err)
			defer drain(resp)
		} else {
			require.True(t, isLimited(err))
		}
		assert.Equal(t, method, req.Method)
		assert.Equal(t, url, req.URL.String())
		assert.Equal(t, header, req.Header)
		assert.True(t, body == req.Body, "the request body was replaced")
		assert.Equal(t, ctx, req.Context())
	}
}

// Under the retry layer a rejection is returned once and never retried: one
// rejection, nothing more sent.
func TestRejectionNotRetried(t *testing.T) {
	next := &fake{}
	rejections := 0
	lt := limit.New(next, limit.WithMaxInFlight(1), limit.WithOnReject(func(string) { rejections++ }))
	held := mustHold(t, lt, "http://a.test/")
	rt := retry.New(lt, retry.WithMaxAttempts(5))
	_, err := get(t, rt, "http://a.test/")
	assert.Equal(t, errclass.Limited, errclass.Classify(err))
	assert.True(t, errclass.Neutral(err), "a rejection says nothing about the server")
	assert.Equal(t, 1, rejections)
	assert.Equal(t, int64(1), next.calls.Load())
	drain(held)
}
