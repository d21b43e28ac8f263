package timeouts_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/rtchain/chain/errclass"
	"github.com/rtchain/chain/internal/testflag"
	"github.com/rtchain/chain/timeouts"
	"github.com/rtchain/chain/transporttest"
)

// TestMain lets the parallel tests overlap (see testflag.RaiseParallel):
// those of loopback_test.go mostly wait on real sockets, and the bubbles'
// work then fills their waits. The tests that look at the whole process
// (allocations, the sync.Pool of a transport) do not call t.Parallel: they
// run alone, before the parallel ones.
func TestMain(m *testing.M) {
	testflag.RaiseParallel(16)
	goleak.VerifyTestMain(m)
}

// Most tests run inside testing/synctest bubbles, their servers on a
// transporttest.MemListener: every bound then fires on the bubble's fake
// clock, exactly, in no real time, whatever the load of the machine. The
// tests of loopback_test.go are the few whose behaviour depends on the
// kernel; their real-time assertions use generous bounds.

// generous is the upper bound every real-time assertion uses: bounds in the
// loopback tests are 100-300ms, so a timeout that takes this long did not
// work.
const generous = 2 * time.Second

const ms = time.Millisecond

type proto struct {
	name string
	h2   bool
}

var protos = []proto{{"http1", false}, {"h2", true}}

// inMemory starts srv on a MemListener, over HTTP/1.1 (cleartext) or h2
// (TLS), and closes it at the end of the test. Call it inside a bubble.
func inMemory(t *testing.T, srv *transporttest.Server, h2 bool) *transporttest.Server {
	t.Helper()
	srv.Listener = transporttest.NewMemListener()
	if h2 {
		srv.EnableHTTP2 = true
		srv.StartTLS()
	} else {
		srv.Start()
	}
	t.Cleanup(srv.Close)
	return srv
}

// inMemoryTLS starts srv on a MemListener over TLS with HTTP/1.1 only.
func inMemoryTLS(t *testing.T, srv *transporttest.Server) *transporttest.Server {
	t.Helper()
	srv.Listener = transporttest.NewMemListener()
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv
}

// memBase returns NewTransport(opts...) connecting to srv's MemListener,
// trusting srv's certificate, with no proxy.
func memBase(t *testing.T, srv *transporttest.Server, opts ...timeouts.Option) *http.Transport {
	t.Helper()
	ml := srv.Listener.(*transporttest.MemListener)
	b := timeouts.NewTransportDialing(ml.DialContext, opts...)
	trust(b, srv)
	t.Cleanup(b.CloseIdleConnections)
	return b
}

// memClient returns a client for srv: New(opts...) over memBase(opts...).
func memClient(t *testing.T, srv *transporttest.Server, opts ...timeouts.Option) *http.Client {
	t.Helper()
	return &http.Client{Transport: timeouts.New(memBase(t, srv, opts...), opts...)}
}

func trust(b *http.Transport, srv *transporttest.Server) {
	b.Proxy = nil
	if srv != nil {
		if c := srv.Certificate(); c != nil {
			pool := x509.NewCertPool()
			pool.AddCert(c)
			b.TLSClientConfig = &tls.Config{RootCAs: pool}
		}
	}
}

// start starts srv on loopback over HTTP/1.1 (cleartext) or h2 (TLS) and
// closes it at the end of the test.
func start(t *testing.T, srv *transporttest.Server, h2 bool) *transporttest.Server {
	t.Helper()
	if h2 {
		srv.EnableHTTP2 = true
		srv.StartTLS()
	} else {
		srv.Start()
	}
	t.Cleanup(srv.Close)
	return srv
}

// base returns a NewTransport that trusts srv, with no proxy.
func base(t *testing.T, srv *transporttest.Server, opts ...timeouts.Option) *http.Transport {
	t.Helper()
	b := timeouts.NewTransport(opts...)
	trust(b, srv)
	t.Cleanup(b.CloseIdleConnections)
	return b
}

// client returns a loopback client for srv: New over NewTransport, both
// with opts.
func client(t *testing.T, srv *transporttest.Server, opts ...timeouts.Option) *http.Client {
	t.Helper()
	return &http.Client{Transport: timeouts.New(base(t, srv, opts...), opts...)}
}

// requireTimeout checks everything a timeout of phase must be.
func requireTimeout(t *testing.T, err error, phase errclass.Phase) *timeouts.Error {
	t.Helper()
	require.Error(t, err)
	var te *timeouts.Error
	require.ErrorAs(t, err, &te, "got %v", err)
	assert.Equal(t, phase, te.Phase, "phase of %v", err)
	var ne net.Error
	if assert.ErrorAs(t, err, &ne) {
		assert.True(t, ne.Timeout(), "Timeout() of %v", err)
	}
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.ErrorIs(t, err, errclass.ErrTimeout)
	assert.NotErrorIs(t, err, context.Canceled)
	assert.Equal(t, errclass.Timeout, errclass.Classify(err))
	assert.Equal(t, phase, errclass.PhaseOf(err))
	assert.Contains(t, te.Error(), "timeouts: "+string(phase)+": ")
	return te
}

// requireCanceled checks that err is the caller's cancellation, not ours.
func requireCanceled(t *testing.T, err error) {
	t.Helper()
	require.Error(t, err)
	assert.ErrorIs(t, err, context.Canceled)
	var te *timeouts.Error
	assert.False(t, errors.As(err, &te), "a caller cancel reported as %v", err)
	assert.NotErrorIs(t, err, errclass.ErrTimeout)
	assert.Equal(t, errclass.Canceled, errclass.Classify(err))
}

// requireCallerDeadline checks that err is the caller's own deadline.
func requireCallerDeadline(t *testing.T, err error) {
	t.Helper()
	require.Error(t, err)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	var te *timeouts.Error
	assert.False(t, errors.As(err, &te), "the caller's deadline reported as ours: %v", err)
}

// elapsed runs f and returns how long it took (on the bubble's clock inside
// a bubble).
func elapsed(f func()) time.Duration {
	begin := time.Now()
	f()
	return time.Since(begin)
}

// within fails the test when f takes longer than generous (real time) and
// returns how long it took.
func within(t *testing.T, f func()) time.Duration {
	t.Helper()
	took := elapsed(f)
	assert.Less(t, took, generous, "took %v", took)
	return took
}

// upload is a request body of n bytes that records Close.
type upload struct {
	r      io.Reader
	closed atomic.Int32
}

func newUpload(n int64) *upload {
	return &upload{r: io.LimitReader(zeros{}, n)}
}

func (u *upload) Read(p []byte) (int, error) { return u.r.Read(p) }
func (u *upload) Close() error               { u.closed.Add(1); return nil }

type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// get makes a GET with ctx (Background when nil).
func get(t *testing.T, ctx context.Context, c *http.Client, url string) (*http.Response, error) {
	t.Helper()
	if ctx == nil {
		ctx = context.Background()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	require.NoError(t, err)
	return c.Do(req)
}

type rtFunc func(*http.Request) (*http.Response, error)

func (f rtFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
