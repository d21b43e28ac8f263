package timeouts_test

import (
	"errors"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rtchain/chain"
	"github.com/rtchain/chain/errclass"
	"github.com/rtchain/chain/timeouts"
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
	upload := &blockingBody{release: make(chan struct{})}
	next := chain.RoundTripperFunc(func(r *http.Request) (*http.Response, error) {
		readDone := make(chan struct{})
		go func() {
			defer close(readDone)
			_, _ = r.Body.Read(make([]byte, 1))
		}()
		time.Sleep(20 * time.Millisecond) // the Read is in progress
		_ = r.Body.Close()
		close(upload.release) // the Read now returns (1, nil)
		<-readDone
		return &http.Response{StatusCode: http.StatusInternalServerError, Body: &slowBody{delay: 300 * time.Millisecond}, Request: r}, nil
	})
	tr := timeouts.New(next, timeouts.WithWriteIdle(100*time.Millisecond), timeouts.WithBodyIdle(5*time.Second))
	req, err := http.NewRequest(http.MethodPut, "http://example.test/", upload)
	require.NoError(t, err)
	resp, err := tr.RoundTrip(req)
	require.NoError(t, err)
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err, "the response body must not fail with a write idle timeout after the upload was closed")
	assert.Equal(t, "ok", string(b))
	require.NoError(t, resp.Body.Close())
	assert.True(t, upload.closed.Load())
}

// headerTimeout is net/http's own response header timeout error.
type headerTimeout struct{}

func (headerTimeout) Error() string   { return "net/http: timeout awaiting response headers" }
func (headerTimeout) Timeout() bool   { return true }
func (headerTimeout) Temporary() bool { return true }

// With no bound of its own, the layer still reports a transport's timeout
// as *Error, and its hook hears about it.
func TestUnboundedLayerReportsTransportTimeout(t *testing.T) {
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

// closeCount counts Close calls on a request or response body.
type closeCount struct {
	io.Reader
	n atomic.Int32
}

func (c *closeCount) Close() error { c.n.Add(1); return nil }

// Total keeps the RoundTripper rules when next breaks them.
func TestTotalWithBrokenNext(t *testing.T) {
	t.Run("nil response and nil error", func(t *testing.T) {
		body := &closeCount{Reader: strings.NewReader("x")}
		next := chain.RoundTripperFunc(func(*http.Request) (*http.Response, error) { return nil, nil })
		req, err := http.NewRequest(http.MethodPut, "http://example.test/", body)
		require.NoError(t, err)
		resp, err := timeouts.Total(time.Minute)(next).RoundTrip(req)
		assert.Nil(t, resp)
		require.Error(t, err)
		assert.Equal(t, int32(1), body.n.Load(), "request body closed")
	})
	t.Run("response and error", func(t *testing.T) {
		respBody := &closeCount{Reader: strings.NewReader("x")}
		boom := errors.New("boom")
		next := chain.RoundTripperFunc(func(r *http.Request) (*http.Response, error) {
			return &http.Response{StatusCode: 200, Body: respBody, Request: r}, boom
		})
		req, err := http.NewRequest(http.MethodGet, "http://example.test/", nil)
		require.NoError(t, err)
		resp, err := timeouts.Total(time.Minute)(next).RoundTrip(req)
		assert.Nil(t, resp)
		assert.ErrorIs(t, err, boom)
		assert.Equal(t, int32(1), respBody.n.Load(), "the response body that cannot be returned is closed")
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
	next := chain.RoundTripperFunc(func(r *http.Request) (*http.Response, error) {
		dl, ok := r.Context().Deadline()
		require.True(t, ok, "the attempt bound is the context's deadline")
		time.Sleep(time.Until(dl))
		return nil, ioTimeout{}
	})
	// 800ms: our timer ticks every 50ms, so next's error nearly always
	// comes first (either way the caller must see the attempt bound).
	tr := timeouts.New(next, timeouts.WithAttempt(800*time.Millisecond))
	req, err := http.NewRequest(http.MethodGet, "http://example.test/", nil)
	require.NoError(t, err)
	_, err = tr.RoundTrip(req)
	var te *timeouts.Error
	require.ErrorAs(t, err, &te)
	assert.Equal(t, errclass.PhaseAttempt, te.Phase)
	assert.Equal(t, 800*time.Millisecond, te.Limit)
}
