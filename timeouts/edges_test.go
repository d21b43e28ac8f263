package timeouts_test

import (
	"errors"
	"io"
	"net/http"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rtchain/chain"
	"github.com/rtchain/chain/errclass"
	"github.com/rtchain/chain/timeouts"
	"github.com/rtchain/chain/transporttest"
)

// blockingBody's Read waits for release, then returns one byte.
type blockingBody struct {
	release chan struct{}
	closed  atomic.Bool
}

func (b *blockingBody) Read(p []byte) (int, error) {
	<-b.release
	p[0] = 'x'
	return 1, nil
}

func (b *blockingBody) Close() error { b.closed.Store(true); return nil }

// slowBody delivers "ok" after delay.
type slowBody struct {
	delay time.Duration
	done  bool
}

func (b *slowBody) Read(p []byte) (int, error) {
	if b.done {
		return 0, io.EOF
	}
	time.Sleep(b.delay)
	b.done = true
	return copy(p, "ok"), nil
}

func (b *slowBody) Close() error { return nil }

// HTTP/2 closes the request body from another goroutine when an error
// response arrives, possibly while one of its Reads is running. The return
// of that Read must not start the write idle clock again, or the response
// body would later fail with write_idle.
func TestWriteIdleNotRestartedAfterClose(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		upload := &blockingBody{release: make(chan struct{})}
		next := chain.RoundTripperFunc(func(r *http.Request) (*http.Response, error) {
			readDone := make(chan struct{})
			go func() {
				defer close(readDone)
				_, _ = r.Body.Read(make([]byte, 1))
			}()
			time.Sleep(20 * ms) // the Read is in progress
			_ = r.Body.Close()
			close(upload.release) // the Read now returns (1, nil)
			<-readDone
			return &http.Response{StatusCode: http.StatusInternalServerError, Body: &slowBody{delay: 300 * ms}, Request: r}, nil
		})
		tr := timeouts.New(next, timeouts.WithWriteIdle(100*ms), timeouts.WithBodyIdle(5*time.Second))
		req, err := http.NewRequest(http.MethodPut, "http://example.test/", upload)
		require.NoError(t, err)
		resp, err := tr.RoundTrip(req)
		require.NoError(t, err)
		b, err := io.ReadAll(resp.Body)
		require.NoError(t, err, "the response body must not fail with a write idle timeout after the upload was closed")
		assert.Equal(t, "ok", string(b))
		require.NoError(t, resp.Body.Close())
		assert.True(t, upload.closed.Load())
	})
}

// headerTimeout is net/http's own response header timeout error.
type headerTimeout struct{}

func (headerTimeout) Error() string   { return "net/http: timeout awaiting response headers" }
func (headerTimeout) Timeout() bool   { return true }
func (headerTimeout) Temporary() bool { return true }

// With no bound of its own, the layer still reports a transport's timeout
// as *Error (errclass knows net/http's texts), and its hook hears about it.
func TestUnboundedLayerReportsTransportTimeout(t *testing.T) {
	t.Parallel()
	var heard []errclass.Phase
	next := chain.RoundTripperFunc(func(*http.Request) (*http.Response, error) { return nil, headerTimeout{} })
	tr := timeouts.New(next,
		timeouts.WithResponseHeader(0), timeouts.WithBodyIdle(0), timeouts.WithWriteIdle(0),
		timeouts.WithOnTimeout(func(_ *http.Request, e *timeouts.Error) { heard = append(heard, e.Phase) }))
	req, err := http.NewRequest(http.MethodGet, "http://example.test/", nil)
	require.NoError(t, err)
	resp, err := tr.RoundTrip(req)
	assert.Nil(t, resp)
	var te *timeouts.Error
	require.ErrorAs(t, err, &te)
	assert.Equal(t, errclass.PhaseResponseHeader, te.Phase)
	assert.ErrorAs(t, err, new(headerTimeout), "the transport's error stays reachable")
	assert.Equal(t, []errclass.Phase{errclass.PhaseResponseHeader}, heard)
}

// Over a plain *http.Transport (not NewTransport's) that bounds the header
// and the handshake itself, the middleware turns net/http's timeouts into
// *Error with the transport's bounds as Limit.
func TestTranslatesNetHTTPTimeouts(t *testing.T) {
	t.Parallel()
	for _, p := range protos {
		t.Run(p.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				srv := inMemory(t, transporttest.NewUnstartedServer(transporttest.Reply{Delay: time.Minute}), p.h2)
				b := srv.Client().Transport.(*http.Transport)
				b.ResponseHeaderTimeout = 150 * ms
				defer b.CloseIdleConnections()
				c := &http.Client{Transport: timeouts.New(b, timeouts.WithResponseHeader(0))}
				_, err := get(t, nil, c, srv.URL)
				te := requireTimeout(t, err, errclass.PhaseResponseHeader)
				assert.Equal(t, 150*ms, te.Limit)
				assert.NotNil(t, te.Unwrap(), "net/http's error is kept as the cause")
			})
		})
	}
	synctest.Test(t, func(t *testing.T) {
		srv := transporttest.NewUnstartedServer(transporttest.Reply{Fault: transporttest.Blackhole})
		srv.Listener = transporttest.NewMemListener()
		srv.StartTLS()
		defer srv.Close()
		b := srv.Client().Transport.(*http.Transport)
		b.TLSHandshakeTimeout = 150 * ms
		defer b.CloseIdleConnections()
		_, err := get(t, nil, &http.Client{Transport: timeouts.New(b)}, srv.URL)
		te := requireTimeout(t, err, errclass.PhaseTLSHandshake)
		assert.Equal(t, 150*ms, te.Limit)
	})
}

// ioTimeout is a timeout of the kind a connection deadline gives.
type ioTimeout struct{}

func (ioTimeout) Error() string   { return "read tcp 127.0.0.1:1: i/o timeout" }
func (ioTimeout) Timeout() bool   { return true }
func (ioTimeout) Temporary() bool { return true }

// A next that enforces the context's deadline itself (a connection deadline)
// may fail before our timer's tick: the attempt bound is still what the
// caller sees.
func TestAttemptBoundEnforcedBelow(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		next := chain.RoundTripperFunc(func(r *http.Request) (*http.Response, error) {
			dl, ok := r.Context().Deadline()
			require.True(t, ok, "the attempt bound is the context's deadline")
			time.Sleep(time.Until(dl))
			return nil, ioTimeout{}
		})
		tr := timeouts.New(next, timeouts.WithAttempt(800*ms))
		req, err := http.NewRequest(http.MethodGet, "http://example.test/", nil)
		require.NoError(t, err)
		_, err = tr.RoundTrip(req)
		var te *timeouts.Error
		require.ErrorAs(t, err, &te)
		assert.Equal(t, errclass.PhaseAttempt, te.Phase)
		assert.Equal(t, 800*ms, te.Limit)
	})
}

// failingSource is a request body source that fails after n bytes, as a
// truncated upload or a proxy's departed client does.
type failingSource struct {
	n   int
	err error
}

func (f *failingSource) Read(p []byte) (int, error) {
	if f.n == 0 {
		return 0, f.err
	}
	k := min(len(p), f.n)
	clear(p[:k])
	f.n -= k
	return k, nil
}

func (f *failingSource) Close() error { return nil }

// requireRequestBody checks that err blames the caller's own body: class
// request_body, phase request_body, neutral, no sentinel of the server's.
func requireRequestBody(t *testing.T, err, cause error) {
	t.Helper()
	require.Error(t, err)
	assert.Equal(t, errclass.RequestBody, errclass.Classify(err), "%v", err)
	assert.Equal(t, errclass.PhaseRequestBody, errclass.PhaseOf(err))
	assert.True(t, errclass.Neutral(err))
	assert.NotErrorIs(t, err, errclass.ErrNetwork)
	assert.NotErrorIs(t, err, errclass.ErrTimeout)
	assert.ErrorIs(t, err, cause)
	assert.Contains(t, err.Error(), "timeouts: request_body: ")
}

// Item 7: a failure of the caller's own body is marked, whatever error the
// transport makes of it (here a transport that reports a reset, as net/http
// can over TLS and h2), and even when the source's error looks like a reset
// or a timeout.
func TestRequestBodyFailureIsTheCallers(t *testing.T) {
	t.Parallel()
	for _, cause := range []error{io.ErrUnexpectedEOF, ioTimeout{}, errors.New("source broke")} {
		t.Run(cause.Error(), func(t *testing.T) {
			next := chain.RoundTripperFunc(func(r *http.Request) (*http.Response, error) {
				_, err := io.Copy(io.Discard, r.Body)
				r.Body.Close()
				if err == nil {
					t.Error("the source did not fail")
				}
				return nil, errors.New("connection reset by peer")
			})
			req, err := http.NewRequest(http.MethodPut, "http://example.test/", &failingSource{n: 1000, err: cause})
			require.NoError(t, err)
			_, err = timeouts.New(next).RoundTrip(req)
			requireRequestBody(t, err, cause)
		})
	}
	// The source fails after the response header arrived (HTTP/2 sends the
	// body and reads the response at once): the response body's error is
	// marked too.
	next := chain.RoundTripperFunc(func(r *http.Request) (*http.Response, error) {
		pr, pw := io.Pipe()
		go func() {
			_, err := io.Copy(io.Discard, r.Body)
			pw.CloseWithError(errors.New("stream reset"))
			_ = err
		}()
		return &http.Response{StatusCode: 200, Body: pr, Request: r}, nil
	})
	req, err := http.NewRequest(http.MethodPut, "http://example.test/", &failingSource{n: 10, err: io.ErrUnexpectedEOF})
	require.NoError(t, err)
	resp, err := timeouts.New(next).RoundTrip(req)
	require.NoError(t, err)
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	requireRequestBody(t, err, io.ErrUnexpectedEOF)
}
