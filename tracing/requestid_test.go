package tracing_test

import (
	"context"
	"net/http"
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rtchain/chain/internal/record"
	"github.com/rtchain/chain/tracing"
)

func TestDefaultRequestIDIsRandomHex(t *testing.T) {
	hex32 := regexp.MustCompile(`^[0-9a-f]{32}$`)
	seen := make(map[string]bool)
	rt := tracing.NewRequestID(rtFunc(func(req *http.Request) (*http.Response, error) {
		id := req.Header.Get("X-Request-ID")
		assert.Regexp(t, hex32, id)
		assert.Equal(t, id, tracing.RequestIDFrom(req.Context()))
		assert.False(t, seen[id], "id %s made twice", id)
		seen[id] = true
		return &http.Response{StatusCode: http.StatusOK, Body: http.NoBody, Request: req}, nil
	}))
	for range 1000 {
		req, err := http.NewRequest(http.MethodGet, "http://example.invalid/", nil)
		require.NoError(t, err)
		resp, err := rt.RoundTrip(req)
		require.NoError(t, err)
		require.NoError(t, resp.Body.Close())
		assert.Empty(t, req.Header.Get("X-Request-ID"), "caller's header must stay unchanged")
	}
	assert.Len(t, seen, 1000)
}

// The id's context must pass on the caller's cancellation and values.
func TestRequestIDContextKeepsParent(t *testing.T) {
	type key struct{}
	parent, cancel := context.WithCancel(context.WithValue(context.Background(), key{}, "v"))
	got := make(chan context.Context, 1)
	rt := tracing.NewRequestID(rtFunc(func(req *http.Request) (*http.Response, error) {
		got <- req.Context()
		return &http.Response{StatusCode: http.StatusOK, Body: http.NoBody, Request: req}, nil
	}))
	req, err := http.NewRequestWithContext(parent, http.MethodGet, "http://example.invalid/", nil)
	require.NoError(t, err)
	resp, err := rt.RoundTrip(req)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	ctx := <-got
	assert.Equal(t, "v", ctx.Value(key{}))
	assert.NotEmpty(t, tracing.RequestIDFrom(ctx))

	derived, stop := context.WithTimeout(ctx, time.Minute) // a layer below deriving its own
	defer stop()
	cancel()
	select {
	case <-derived.Done():
		assert.ErrorIs(t, derived.Err(), context.Canceled)
	case <-time.After(2 * time.Second):
		t.Fatal("cancelling the caller's context did not reach a context derived below RequestID")
	}
}

// TestRequestIDAllocs: a request id costs at most three allocations (the
// copy of the request with its context and id; the header map's two), and
// one when the caller set the id (no header to change).
func TestRequestIDAllocs(t *testing.T) {
	resp := &http.Response{StatusCode: http.StatusOK, Body: http.NoBody}
	rt := tracing.NewRequestID(rtFunc(func(req *http.Request) (*http.Response, error) {
		return resp, nil
	}))
	req, err := http.NewRequest(http.MethodGet, "http://example.invalid/items?q=1", nil)
	require.NoError(t, err)
	req.Header.Set("Accept", "application/json")
	allocs := testing.AllocsPerRun(200, func() {
		if _, err := rt.RoundTrip(req); err != nil {
			t.Fatal(err)
		}
	})
	assert.LessOrEqual(t, allocs, 3.0)
	t.Logf("request id: %v allocations", allocs)

	req.Header.Set("X-Request-ID", "abc")
	allocs = testing.AllocsPerRun(200, func() {
		if _, err := rt.RoundTrip(req); err != nil {
			t.Fatal(err)
		}
	})
	assert.LessOrEqual(t, allocs, 1.0)
	t.Logf("request id set by the caller: %v allocations", allocs)
}

// TestRequestIDRecord: with a summary to write, the layers below find the
// record of the request on the context, and know a summary will be
// written; without one, there is no record to fill in (nothing would read
// it) and they know no summary will be written.
func TestRequestIDRecord(t *testing.T) {
	var rec *record.Record
	var id string
	next := rtFunc(func(req *http.Request) (*http.Response, error) {
		rec, id = record.From(req.Context()), tracing.RequestIDFrom(req.Context())
		rec.Attempt()
		return &http.Response{StatusCode: http.StatusOK, Body: http.NoBody, Request: req}, nil
	})
	get := func(rt http.RoundTripper) {
		req, err := http.NewRequest(http.MethodGet, "http://example.invalid/", nil)
		require.NoError(t, err)
		resp, err := rt.RoundTrip(req)
		require.NoError(t, err)
		require.NoError(t, resp.Body.Close())
	}

	r := newRig(t)
	get(tracing.NewRequestID(next, r.opts()...))
	require.NotNil(t, rec, "with a logger the layers below find the record")
	assert.NotEmpty(t, id)
	sums := r.summaries(t)
	require.Len(t, sums, 1)
	assert.EqualValues(t, 1, sums[0]["attempts"])

	get(tracing.NewRequestID(next))
	assert.Nil(t, rec, "without a summary no record is made")
	assert.NotEmpty(t, id)
}

// TestRequestIDHeaderCopy: the header the layers below get holds the
// caller's values and the id, and appending to it leaves the caller's
// header alone.
func TestRequestIDHeaderCopy(t *testing.T) {
	rt := tracing.NewRequestID(rtFunc(func(req *http.Request) (*http.Response, error) {
		assert.Equal(t, []string{"a", "b"}, req.Header.Values("Accept"))
		req.Header["Accept"] = append(req.Header["Accept"], "c")
		return &http.Response{StatusCode: http.StatusOK, Body: http.NoBody, Request: req}, nil
	}))
	req, err := http.NewRequest(http.MethodGet, "http://example.invalid/", nil)
	require.NoError(t, err)
	accept := make([]string, 2, 8) // room to append in place
	accept[0], accept[1] = "a", "b"
	req.Header["Accept"] = accept
	_, err = rt.RoundTrip(req)
	require.NoError(t, err)
	assert.Equal(t, []string{"a", "b"}, req.Header["Accept"])
	assert.Equal(t, "b", accept[:3][1])
	assert.Empty(t, accept[:3][2], "an append below wrote into the caller's array")
}

// A caller's id set under its own spelling of the header name (as in
// Header["X-Request-ID"]) is the id: it is kept, and no second id is added
// under the canonical name. Found by FuzzRequestID (seed own-spelling).
func TestRequestIDCallerSpelling(t *testing.T) {
	var sent http.Header
	var ctxID string
	rt := tracing.NewRequestID(rtFunc(func(r *http.Request) (*http.Response, error) {
		sent, ctxID = r.Header, tracing.RequestIDFrom(r.Context())
		return &http.Response{StatusCode: http.StatusOK, Body: http.NoBody, Request: r}, nil
	}))
	req, err := http.NewRequest(http.MethodGet, "http://example.invalid/", nil)
	require.NoError(t, err)
	req.Header["X-Request-ID"] = []string{"mine"}
	resp, err := rt.RoundTrip(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.Header{"X-Request-ID": {"mine"}}, sent)
	assert.Equal(t, "mine", ctxID)
}

// A caller's header that net/http would refuse to send (a control
// character in a value), or whose first value is empty, is replaced by a
// new id, every spelling and value of it. Found by FuzzRequestID (seed
// control-character).
func TestRequestIDInvalidCallerValue(t *testing.T) {
	hex32 := regexp.MustCompile(`^[0-9a-f]{32}$`)
	for _, h := range []http.Header{
		{"X-Request-Id": {"bad\r\nX-Injected: 1"}},
		{"X-Request-Id": {"ok", "\x17"}},
		{"X-Request-Id": {"", "second"}},
		{"x-request-id": {"\x7f"}},
	} {
		var sent http.Header
		rt := tracing.NewRequestID(rtFunc(func(r *http.Request) (*http.Response, error) {
			sent = r.Header
			return &http.Response{StatusCode: http.StatusOK, Body: http.NoBody, Request: r}, nil
		}))
		req, err := http.NewRequest(http.MethodGet, "http://example.invalid/", nil)
		require.NoError(t, err)
		req.Header = h.Clone()
		resp, err := rt.RoundTrip(req)
		require.NoError(t, err)
		resp.Body.Close()
		require.Len(t, sent, 1, "%q", h)
		require.Len(t, sent["X-Request-Id"], 1, "%q", h)
		assert.Regexp(t, hex32, sent.Get("X-Request-Id"), "%q", h)
		assert.Equal(t, h, req.Header, "the caller's header must stay unchanged")
	}
}
