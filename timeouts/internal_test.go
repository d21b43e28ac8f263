package timeouts

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net/http"
	"net/http/httptrace"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rtchain/chain/errclass"
	"github.com/rtchain/chain/transporttest"
)

const ms = time.Millisecond

func TestP95(t *testing.T) {
	a := adaptive{factor: 2, floor: 10 * ms, ceiling: 500 * ms}
	var p p95
	// Before minSamples observations the static bound applies.
	for i := range minSamples - 1 {
		p.add(time.Duration(i+1) * ms)
		assert.Equal(t, time.Second, p.bound(time.Second, a), "after %d samples", i+1)
	}
	// 20 samples: 1ms..20ms; nearest-rank P95 of 20 is the 19th: 19ms.
	p = p95{}
	for i := range 20 {
		p.add(time.Duration(i+1) * ms)
	}
	assert.Equal(t, 38*ms, p.bound(time.Second, a))

	// The order of arrival does not matter.
	p = p95{}
	for _, d := range []int{20, 3, 17, 1, 19, 5, 2, 18, 4, 16, 6, 15, 7, 14, 8, 13, 9, 12, 10, 11} {
		p.add(time.Duration(d) * ms)
	}
	assert.Equal(t, 38*ms, p.bound(time.Second, a))

	// Only the last 32 count: 32 waits of 100ms push the old ones out.
	for range window {
		p.add(100 * ms)
	}
	assert.Equal(t, 200*ms, p.bound(time.Second, a))

	// One outlier in 32 is below the 95th percentile (rank 31 of 32 is the
	// second largest): still 100ms; two outliers reach it.
	p.add(time.Second)
	assert.Equal(t, 200*ms, p.bound(time.Second, a))
	p.add(time.Second)
	assert.Equal(t, 500*ms, p.bound(time.Second, a), "clamped to the ceiling")

	// Clamped to the floor.
	p = p95{}
	for range 10 {
		p.add(0)
	}
	assert.Equal(t, 10*ms, p.bound(time.Second, a))
}

func TestEWMA(t *testing.T) {
	a := adaptive{factor: 3, floor: 10 * ms, ceiling: 2 * time.Second}
	var e ewma
	for i := range minSamples - 1 {
		e.add(100 * ms)
		assert.Equal(t, 30*time.Second, e.bound(30*time.Second, a), "after %d samples", i+1)
	}
	e.add(100 * ms)
	assert.Equal(t, 300*ms, e.bound(30*time.Second, a))
	// A new gap weighs a quarter: 100 + (500-100)/4 = 200ms, times 3.
	e.add(500 * ms)
	assert.Equal(t, 600*ms, e.bound(30*time.Second, a))
	// A long run of long gaps converges to the ceiling.
	for range 50 {
		e.add(time.Second)
	}
	assert.Equal(t, 2*time.Second, e.bound(30*time.Second, a))
	// And a long run of tiny gaps to the floor.
	for range 50 {
		e.add(0)
	}
	assert.Equal(t, 10*ms, e.bound(30*time.Second, a))
}

// The probe finds net/http/httptrace's context key; if it did not, the
// header clock would start at RoundTrip for every request.
func TestTraceKeyProbe(t *testing.T) {
	require.NotNil(t, traceKey)
	ct := &httptrace.ClientTrace{}
	ctx := httptrace.WithClientTrace(context.Background(), ct)
	assert.Same(t, ct, ctx.Value(traceKey))
}

// A trace set by the caller keeps working under the middleware: its hooks
// are called as well as ours.
func TestTraceComposes(t *testing.T) {
	srv := transporttest.NewSequence(transporttest.Reply{Body: "ok"})
	defer srv.Close()
	var got, wrote atomic.Bool
	ctx := httptrace.WithClientTrace(context.Background(), &httptrace.ClientTrace{
		GotConn:      func(httptrace.GotConnInfo) { got.Store(true) },
		WroteRequest: func(httptrace.WroteRequestInfo) { wrote.Store(true) },
	})
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
	b := NewTransport()
	defer b.CloseIdleConnections()
	resp, err := New(b).RoundTrip(req)
	require.NoError(t, err)
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	assert.True(t, got.Load())
	assert.True(t, wrote.Load())
}

// The texts of net/http's timeout errors that translate matches: if a Go
// release changes them, this fails.
func TestStdlibTimeoutTexts(t *testing.T) {
	for _, h2 := range []bool{false, true} {
		srv := transporttest.NewUnstartedSlowHeader(5 * time.Second)
		srv.EnableHTTP2 = h2
		if h2 {
			srv.StartTLS()
		} else {
			srv.Start()
		}
		tr := &http.Transport{ResponseHeaderTimeout: 100 * ms, ForceAttemptHTTP2: true}
		if h2 {
			pool := x509.NewCertPool()
			pool.AddCert(srv.Certificate())
			tr.TLSClientConfig = &tls.Config{RootCAs: pool}
		}
		req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
		_, err := tr.RoundTrip(req)
		require.Error(t, err)
		want := h1HeaderTimeoutText
		if h2 {
			want = h2HeaderTimeoutText
		}
		assert.Equal(t, want, err.Error())
		e := translate(err, limits{header: 100 * ms})
		require.NotNil(t, e)
		assert.Equal(t, errclass.PhaseResponseHeader, e.Phase)
		tr.CloseIdleConnections()
		srv.Close()
	}

	srv := transporttest.NewUnstartedBlackhole()
	srv.StartTLS()
	defer srv.Close()
	tr := &http.Transport{TLSHandshakeTimeout: 100 * ms}
	defer tr.CloseIdleConnections()
	req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
	_, err := tr.RoundTrip(req)
	require.Error(t, err)
	assert.Equal(t, tlsTimeoutText, err.Error())
	e := translate(err, limits{tls: 100 * ms})
	require.NotNil(t, e)
	assert.Equal(t, errclass.PhaseTLSHandshake, e.Phase)
	assert.Equal(t, 100*ms, e.Limit)
}

// The timer slot is reused: a second round trip through a Transport takes
// the first one's timer.
func TestTimerSlotReused(t *testing.T) {
	next := http.RoundTripper(roundTripFunc(func(r *http.Request) (*http.Response, error) {
		return &http.Response{StatusCode: 200, Body: http.NoBody, Request: r}, nil
	}))
	tr := New(next)
	found := 0
	// sync.Pool may drop a Put (it does so at random under -race): try a few.
	for range 20 {
		req, _ := http.NewRequest(http.MethodGet, "http://example.test/", nil)
		_, err := tr.RoundTrip(req)
		require.NoError(t, err)
		if sl, _ := tr.slots.Get().(*timerSlot); sl != nil {
			found++
			assert.Nil(t, sl.s.Load(), "a pooled slot points at no exchange")
			tr.slots.Put(sl)
		}
	}
	assert.Positive(t, found, "the slot goes back to the pool")
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
