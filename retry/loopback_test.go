package retry_test

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rtchain/chain/errclass"
	"github.com/rtchain/chain/retry"
	"github.com/rtchain/chain/transporttest"
)

// counter counts the attempts that reach the layer below retry.
type counter struct {
	next http.RoundTripper
	n    atomic.Int32
}

func (c *counter) RoundTrip(r *http.Request) (*http.Response, error) {
	c.n.Add(1)
	return c.next.RoundTrip(r)
}

func (c *counter) CloseIdleConnections() {
	if ci, ok := c.next.(interface{ CloseIdleConnections() }); ok {
		ci.CloseIdleConnections()
	}
}

// fast is a short exact backoff for loopback tests.
var fast = retry.WithBackoff(20*time.Millisecond, 20*time.Millisecond, retry.JitterNone)

// clientFor returns a client whose transport is retry over a counter over
// base.
func clientFor(base http.RoundTripper, opts ...retry.Option) (*http.Client, *counter) {
	c := &counter{next: base}
	return &http.Client{Transport: retry.New(c, opts...)}, c
}

func TestLoopbackBodyReplayed(t *testing.T) {
	t.Parallel()
	srv := transporttest.NewServer(transporttest.Sequence(
		transporttest.Reply{Status: 503, Body: "busy"},
		transporttest.Reply{Status: 503, Body: "busy"},
		transporttest.Reply{Status: 200, Body: "ok"},
	))
	t.Cleanup(srv.Close)
	payload := bytes.Repeat([]byte("0123456789abcdef"), 8<<10) // 128 KiB
	req, err := http.NewRequest("POST", srv.URL+"/upload", bytes.NewReader(payload))
	require.NoError(t, err)
	req.Header.Set("Idempotency-Key", "abc")
	client, _ := clientFor(srv.Client().Transport, retry.WithBackoff(50*time.Millisecond, 50*time.Millisecond, retry.JitterNone))
	resp, err := client.Do(req)
	require.NoError(t, err)
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Equal(t, "ok", string(b))
	seen := srv.Seen()
	require.Len(t, seen, 3)
	for i, s := range seen {
		assert.True(t, bytes.Equal(payload, s.Body), "attempt %d: server got the same bytes (%d of %d)", i, len(s.Body), len(payload))
	}
	assert.Equal(t, 1, srv.Stats().Connections, "discarded 503 bodies were drained, so the connection was reused")
}

func TestLoopbackAnswerBeforeBody(t *testing.T) {
	t.Parallel()
	// B2: the server answers 503 before reading a large body and closes the
	// connection; the transport may still be writing the first attempt's
	// body when the retry starts. Each attempt has its own body.
	var srv *transporttest.Server
	var n atomic.Int32
	srv = transporttest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) < 3 {
			w.Header().Set("Connection", "close")
			w.WriteHeader(503)
			return
		}
		got, _ := io.Copy(io.Discard, r.Body)
		w.Write([]byte(strconv.FormatInt(got, 10)))
	}))
	t.Cleanup(srv.Close)
	payload := bytes.Repeat([]byte("x"), 8<<20)
	req, err := http.NewRequest("PUT", srv.URL, bytes.NewReader(payload))
	require.NoError(t, err)
	client, c := clientFor(srv.Client().Transport, fast)
	resp, err := client.Do(req)
	require.NoError(t, err)
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Equal(t, 200, resp.StatusCode)
	assert.Equal(t, strconv.Itoa(len(payload)), string(b), "the last attempt sent the whole body")
	assert.Equal(t, int32(3), c.n.Load())
}

func TestLoopbackHugeErrorBodyDoesNotStall(t *testing.T) {
	t.Parallel()
	// B4: a 1 GiB error body, then an endless one, then success. The
	// retry drains at most 64 KiB of each and closes it.
	var srv *transporttest.Server
	var n atomic.Int32
	chunk := bytes.Repeat([]byte("e"), 32<<10)
	srv = transporttest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch n.Add(1) {
		case 1:
			w.Header().Set("Content-Length", strconv.Itoa(1<<30))
		case 2: // chunked, never ends
		default:
			w.Write([]byte("ok"))
			return
		}
		w.WriteHeader(503)
		for i := 0; i < 1<<15; i++ { // at most 1 GiB
			if _, err := w.Write(chunk); err != nil {
				return
			}
			select {
			case <-r.Context().Done(): // also done when the server closes
				return
			default:
			}
		}
	}))
	srv.Start()
	t.Cleanup(srv.Close)
	client, c := clientFor(srv.Client().Transport, fast)
	start := time.Now()
	resp, err := client.Get(srv.URL)
	require.NoError(t, err)
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Equal(t, "ok", string(b))
	assert.Equal(t, int32(3), c.n.Load())
	assert.Less(t, time.Since(start), 10*time.Second, "the error bodies did not stall the retry")
	assert.Equal(t, 3, srv.Stats().Connections, "undrainable bodies' connections were closed, not reused")
	require.Eventually(t, func() bool { return srv.Stats().OpenConnections <= 1 }, 5*time.Second, 10*time.Millisecond,
		"the discarded connections were closed (open: %d)", srv.Stats().OpenConnections)
}

func TestLoopbackSlowReadAfterReturn(t *testing.T) {
	t.Parallel()
	// C8: the attempt's context stays alive while the caller reads a large
	// body slowly after RoundTrip returned.
	big := bytes.Repeat([]byte("b"), 1<<20)
	srv := transporttest.NewServer(transporttest.Sequence(
		transporttest.Reply{Status: 503},
		transporttest.Reply{Status: 200, Body: string(big)},
	))
	t.Cleanup(srv.Close)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "GET", srv.URL, nil)
	require.NoError(t, err)
	client, _ := clientFor(srv.Client().Transport, fast)
	resp, err := client.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	buf := make([]byte, 64<<10)
	var got int
	for {
		time.Sleep(5 * time.Millisecond)
		n, err := resp.Body.Read(buf)
		got += n
		if err == io.EOF {
			break
		}
		require.NoError(t, err)
	}
	assert.Equal(t, len(big), got)
}

func TestLoopbackRefusedPOSTRetried(t *testing.T) {
	t.Parallel()
	// C2: a refused connection proves the request was never sent, so a
	// replayable POST is retried.
	base := &http.Transport{}
	t.Cleanup(base.CloseIdleConnections)
	client, c := clientFor(base, fast)
	resp, err := client.Post("http://"+transporttest.DeadAddr()+"/", "text/plain", bytes.NewReader([]byte("body")))
	require.Error(t, err)
	assert.Nil(t, resp)
	assert.Equal(t, int32(3), c.n.Load())
	assert.Equal(t, errclass.Refused, errclass.Classify(err), "class preserved through retry.Error and url.Error")
	assert.ErrorIs(t, err, syscall.ECONNREFUSED)
	var op *net.OpError
	assert.ErrorAs(t, err, &op)
	var re *retry.Error
	require.ErrorAs(t, err, &re)
	assert.Equal(t, 3, re.Attempts)
	assert.Contains(t, err.Error(), "gave up after 3 attempts")
}

func TestLoopbackEmptyReply(t *testing.T) {
	t.Parallel()
	// C2: the server read the request and closed the connection: it may
	// have processed it. GET is retried, POST is not.
	for _, tt := range []struct {
		method string
		want   int
	}{{"GET", 3}, {"POST", 1}} {
		t.Run(tt.method, func(t *testing.T) {
			srv := transporttest.NewServer(transporttest.Reply{Fault: transporttest.EmptyReply})
			t.Cleanup(srv.Close)
			req, err := http.NewRequest(tt.method, srv.URL, bytes.NewReader([]byte("body")))
			require.NoError(t, err)
			client, c := clientFor(srv.Client().Transport, fast)
			_, err = client.Do(req)
			require.Error(t, err)
			assert.Equal(t, errclass.Reset, errclass.Classify(err))
			assert.Equal(t, int32(tt.want), c.n.Load())
			assert.Equal(t, tt.want, srv.Stats().Requests)
		})
	}
}

func TestLoopbackTypedFailuresNotRetried(t *testing.T) {
	t.Parallel()
	// C3: certificate, scheme and header errors fail after one attempt.
	tlsSrv := transporttest.NewUnstartedServer(transporttest.Reply{Status: 200})
	tlsSrv.StartTLS()
	t.Cleanup(tlsSrv.Close)
	tests := []struct {
		name string
		req  func() (*http.Request, error)
	}{
		{"unknown authority", func() (*http.Request, error) { return http.NewRequest("GET", tlsSrv.URL, nil) }},
		{"bad scheme", func() (*http.Request, error) { return http.NewRequest("GET", "gopher://127.0.0.1/", nil) }},
		{"invalid header", func() (*http.Request, error) {
			r, err := http.NewRequest("GET", tlsSrv.URL, nil)
			if err == nil {
				r.Header["X-Bad"] = []string{"a\nb"}
			}
			return r, err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			base := &http.Transport{}
			t.Cleanup(base.CloseIdleConnections)
			req, err := tt.req()
			require.NoError(t, err)
			client, c := clientFor(base, fast)
			_, err = client.Do(req)
			require.Error(t, err)
			assert.Equal(t, int32(1), c.n.Load(), "one attempt: %v", err)
		})
	}
	assert.Equal(t, 0, tlsSrv.Stats().Requests)
}

func TestLoopbackRetryAfterOverCap(t *testing.T) {
	t.Parallel()
	srv := transporttest.NewServer(transporttest.Reply{Status: 429, Header: http.Header{"Retry-After": {"3600"}}, Body: "slow down"})
	t.Cleanup(srv.Close)
	client, _ := clientFor(srv.Client().Transport)
	start := time.Now()
	resp, err := client.Get(srv.URL)
	require.NoError(t, err)
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Equal(t, 429, resp.StatusCode)
	assert.Equal(t, "slow down", string(b))
	assert.Equal(t, 1, srv.Stats().Requests)
	assert.Less(t, time.Since(start), 10*time.Second, "returns at once, not after an hour or the 30 s cap")
}

// attemptTimeout bounds each attempt, as the timeouts package's attempt
// bound does, and reports a timeout of phase attempt.
type attemptTimeout struct {
	next http.RoundTripper
	d    time.Duration
}

func (a attemptTimeout) RoundTrip(r *http.Request) (*http.Response, error) {
	ctx, cancel := context.WithTimeout(r.Context(), a.d)
	resp, err := a.next.RoundTrip(r.Clone(ctx))
	if err != nil {
		cancel()
		if ctx.Err() != nil && r.Context().Err() == nil {
			return nil, phaseTimeout{errclass.PhaseAttempt}
		}
		return nil, err
	}
	cancel() // the tests below never get a response
	return resp, nil
}

func TestLoopbackAttemptTimeoutVersusCaller(t *testing.T) {
	t.Parallel()
	// C7: an attempt timeout is retried (once more, by DefaultPolicy); the
	// caller's deadline or cancellation is terminal.
	t.Run("attempt timeout", func(t *testing.T) {
		srv := transporttest.NewServer(transporttest.Reply{Fault: transporttest.Blackhole})
		t.Cleanup(srv.Close)
		const callerDeadline = 10 * time.Second
		ctx, cancel := context.WithTimeout(t.Context(), callerDeadline)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL, nil)
		client, c := clientFor(attemptTimeout{next: srv.Client().Transport, d: 100 * time.Millisecond}, fast, retry.WithMaxAttempts(5))
		start := time.Now()
		_, err := client.Do(req)
		require.Error(t, err)
		assert.Equal(t, errclass.Timeout, errclass.Classify(err))
		assert.Equal(t, int32(2), c.n.Load())
		assert.Less(t, time.Since(start), callerDeadline, "ended by the attempts, not by the caller's deadline")
	})
	t.Run("caller cancel", func(t *testing.T) {
		srv := transporttest.NewServer(transporttest.Reply{Fault: transporttest.Blackhole})
		t.Cleanup(srv.Close)
		ctx, cancel := context.WithCancel(t.Context())
		time.AfterFunc(100*time.Millisecond, cancel)
		req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL, nil)
		client, c := clientFor(srv.Client().Transport, fast, retry.WithMaxAttempts(5))
		_, err := client.Do(req)
		require.Error(t, err)
		assert.ErrorIs(t, err, context.Canceled)
		assert.Equal(t, errclass.Canceled, errclass.Classify(err))
		assert.Equal(t, int32(1), c.n.Load())
		assert.Equal(t, 1, srv.Stats().Connections)
	})
}

func TestLoopbackOtherHostsKeepConnections(t *testing.T) {
	t.Parallel()
	// C9: a failing host does not tear down healthy keep-alive connections.
	good := transporttest.NewServer(transporttest.Reply{Status: 200, Body: "ok"})
	t.Cleanup(good.Close)
	bad := transporttest.NewServer(transporttest.Reply{Fault: transporttest.EmptyReply})
	t.Cleanup(bad.Close)
	base := &http.Transport{}
	t.Cleanup(base.CloseIdleConnections)
	client, _ := clientFor(base, fast)
	for i := 0; i < 3; i++ {
		resp, err := client.Get(good.URL)
		require.NoError(t, err)
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		_, err = client.Get(bad.URL)
		require.Error(t, err)
	}
	seen := good.Seen()
	require.Len(t, seen, 3)
	for _, s := range seen {
		assert.Equal(t, seen[0].ConnID, s.ConnID)
	}
	assert.Equal(t, 1, good.Stats().Connections)
	assert.Equal(t, 9, bad.Stats().Requests)
}

func TestLoopbackStaleKeepAliveNotCountedTwice(t *testing.T) {
	t.Parallel()
	// B3: attempts keep a working GetBody, so net/http's own retry of a
	// stale keep-alive connection works below retry, unseen by it.
	srv := transporttest.NewServer(transporttest.Reply{Body: "ok", Fault: transporttest.StaleKeepAlive})
	t.Cleanup(srv.Close)
	client, c := clientFor(srv.Client().Transport)
	for i := 0; i < 2; i++ {
		req, err := http.NewRequest("POST", srv.URL, bytes.NewReader([]byte("payload")))
		require.NoError(t, err)
		req.Header.Set("Idempotency-Key", "k"+strconv.Itoa(i))
		resp, err := client.Do(req)
		require.NoError(t, err, "request %d", i)
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		assert.Equal(t, 200, resp.StatusCode)
	}
	assert.Equal(t, int32(2), c.n.Load(), "one attempt per request")
	assert.Equal(t, 3, srv.Stats().Requests, "net/http resent the second request itself")
	for _, s := range srv.Seen() {
		assert.Equal(t, "payload", string(s.Body))
	}
}
