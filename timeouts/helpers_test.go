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
	"github.com/rtchain/chain/timeouts"
	"github.com/rtchain/chain/transporttest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// generous is the upper bound every real-time assertion uses: bounds in the
// tests are 100-300ms, so a timeout that takes this long did not work.
const generous = 2 * time.Second

type proto struct {
	name string
	h2   bool
}

var protos = []proto{{"http1", false}, {"h2", true}}

// start starts srv over HTTP/1.1 (cleartext) or h2 (TLS) and closes it at the
// end of the test.
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
	b.Proxy = nil
	if srv != nil {
		if c := srv.Certificate(); c != nil {
			pool := x509.NewCertPool()
			pool.AddCert(c)
			b.TLSClientConfig = &tls.Config{RootCAs: pool}
		}
	}
	t.Cleanup(b.CloseIdleConnections)
	return b
}

// client returns a client for srv: the middleware over NewTransport, both
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
	assert.Contains(t, te.Error(), "timeouts: ")
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

// within fails the test when f takes longer than generous and returns how
// long it took.
func within(t *testing.T, f func()) time.Duration {
	t.Helper()
	begin := time.Now()
	f()
	took := time.Since(begin)
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
