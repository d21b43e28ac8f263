package transporttest_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/rtchain/chain/transporttest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// get does a GET through c with the given context timeout and returns the
// status, the body read and the first error.
func get(t *testing.T, c *http.Client, url string, timeout time.Duration) (int, string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	require.NoError(t, err)
	resp, err := c.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

// newClient returns a client with its own transport, closed at cleanup.
func newClient(t *testing.T) *http.Client {
	t.Helper()
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

func TestSequence(t *testing.T) {
	srv := transporttest.NewSequence(
		transporttest.Reply{Status: 503, Header: http.Header{"Retry-After": {"1"}}, Body: "busy"},
		transporttest.Reply{Status: 200, Body: "ok"},
	)
	t.Cleanup(srv.Close)
	c := srv.Client()

	resp, err := c.Post(srv.URL+"/a/b?x=1", "text/plain", strings.NewReader("payload"))
	require.NoError(t, err)
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Equal(t, 503, resp.StatusCode)
	assert.Equal(t, "1", resp.Header.Get("Retry-After"))
	assert.Equal(t, "busy", string(b))

	for range 2 { // the last reply repeats
		status, body, err := get(t, c, srv.URL+"/", 5*time.Second)
		require.NoError(t, err)
		assert.Equal(t, 200, status)
		assert.Equal(t, "ok", body)
	}

	assert.Equal(t, 3, srv.Requests())
	assert.Equal(t, 1, srv.Connections(), "keep-alive: one connection")
	assert.Equal(t, int64(len("payload")), srv.BodyBytes())
	seen := srv.Seen()
	require.Len(t, seen, 3)
	assert.Equal(t, http.MethodPost, seen[0].Method)
	assert.Equal(t, "/a/b", seen[0].Path)
	assert.Equal(t, "x=1", seen[0].RawQuery)
	assert.Equal(t, "payload", string(seen[0].Body))
	assert.Equal(t, "text/plain", seen[0].Header.Get("Content-Type"))
	assert.Equal(t, "HTTP/1.1", seen[0].Proto)
	assert.Equal(t, 1, seen[0].ConnID)
	assert.Equal(t, seen[0].ConnID, seen[2].ConnID)
	assert.Nil(t, seen[0].TLS)
}

func TestSequenceEmpty(t *testing.T) {
	srv := transporttest.NewSequence()
	t.Cleanup(srv.Close)
	status, body, err := get(t, srv.Client(), srv.URL, 5*time.Second)
	require.NoError(t, err)
	assert.Equal(t, 200, status)
	assert.Empty(t, body)
}

func TestSeenBodyCapped(t *testing.T) {
	srv := transporttest.NewSequence()
	t.Cleanup(srv.Close)
	const size = 1<<20 + 4096
	resp, err := srv.Client().Post(srv.URL, "application/octet-stream", strings.NewReader(strings.Repeat("z", size)))
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, int64(size), srv.BodyBytes())
	seen := srv.Seen()
	require.Len(t, seen, 1)
	assert.Len(t, seen[0].Body, 1<<20)
}

func TestConnectionIDs(t *testing.T) {
	srv := transporttest.NewSequence(transporttest.Reply{Body: "ok"})
	t.Cleanup(srv.Close)
	c1, c2 := newClient(t), newClient(t)
	for _, c := range []*http.Client{c1, c2, c1} {
		_, _, err := get(t, c, srv.URL, 5*time.Second)
		require.NoError(t, err)
	}
	seen := srv.Seen()
	require.Len(t, seen, 3)
	assert.Equal(t, 2, srv.Connections())
	assert.Equal(t, 2, srv.OpenConnections())
	assert.NotEqual(t, seen[0].ConnID, seen[1].ConnID, "two clients, two connections")
	assert.Equal(t, seen[0].ConnID, seen[2].ConnID, "the first client reused its connection")
}

func TestSlowHeader(t *testing.T) {
	srv := transporttest.NewSlowHeader(2 * time.Second)
	t.Cleanup(srv.Close)
	tr := &http.Transport{ResponseHeaderTimeout: 100 * time.Millisecond}
	t.Cleanup(tr.CloseIdleConnections)
	start := time.Now()
	_, _, err := get(t, &http.Client{Transport: tr}, srv.URL, 10*time.Second)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "timeout awaiting response headers")
	assert.Less(t, time.Since(start), 1500*time.Millisecond, "the header timeout fires well before the delay")
	assert.Equal(t, 1, srv.Requests())
}

func TestSlowHeaderAnswers(t *testing.T) {
	srv := transporttest.NewSlowHeader(50 * time.Millisecond)
	t.Cleanup(srv.Close)
	start := time.Now()
	status, body, err := get(t, srv.Client(), srv.URL, 10*time.Second)
	require.NoError(t, err)
	assert.Equal(t, 200, status)
	assert.Equal(t, "slow\n", body)
	assert.GreaterOrEqual(t, time.Since(start), 50*time.Millisecond)
}

func TestTrickle(t *testing.T) {
	srv := transporttest.NewTrickle(20*time.Millisecond, 10)
	t.Cleanup(srv.Close)
	start := time.Now()
	status, body, err := get(t, srv.Client(), srv.URL, 10*time.Second)
	require.NoError(t, err)
	assert.Equal(t, 200, status)
	assert.Equal(t, "abcdefghij", body)
	assert.GreaterOrEqual(t, time.Since(start), 10*20*time.Millisecond, "one byte per interval")
}

func TestStall(t *testing.T) {
	srv := transporttest.NewStall(5)
	t.Cleanup(srv.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
	resp, err := srv.Client().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	assert.Equal(t, int64(5+1<<20), resp.ContentLength)
	buf := make([]byte, 5)
	_, err = io.ReadFull(resp.Body, buf)
	require.NoError(t, err)
	assert.Equal(t, "abcde", string(buf))

	// The next read stalls until the server is closed.
	readDone := make(chan error, 1)
	go func() {
		_, err := resp.Body.Read(make([]byte, 1))
		readDone <- err
	}()
	select {
	case err := <-readDone:
		t.Fatalf("read returned %v during the stall", err)
	case <-time.After(100 * time.Millisecond):
	}
	srv.Close()
	select {
	case err := <-readDone:
		assert.Error(t, err, "the body is cut when the server closes")
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not end the stalled body")
	}
}

func TestResetMidBody(t *testing.T) {
	srv := transporttest.NewResetMidBody(10)
	t.Cleanup(srv.Close)
	status, body, err := get(t, srv.Client(), srv.URL, 5*time.Second)
	require.Error(t, err)
	assert.Equal(t, 200, status)
	assert.Equal(t, "abcdefghij", body)
	assert.True(t, isReset(err), "got %v, want a connection reset", err)
}

func isReset(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && strings.Contains(op.Err.Error(), "reset")
}

func TestEmptyReply(t *testing.T) {
	srv := transporttest.NewEmptyReply()
	t.Cleanup(srv.Close)
	_, _, err := get(t, srv.Client(), srv.URL, 5*time.Second)
	require.Error(t, err)
	assert.ErrorIs(t, err, io.EOF)
	assert.Equal(t, 1, srv.Requests())
}

func TestMalformedChunked(t *testing.T) {
	srv := transporttest.NewMalformedChunked()
	t.Cleanup(srv.Close)
	status, body, err := get(t, srv.Client(), srv.URL, 5*time.Second)
	require.Error(t, err)
	assert.Equal(t, 200, status)
	assert.Equal(t, "hello", body)
	assert.Contains(t, err.Error(), "chunk")
}

func TestStaleKeepAlive(t *testing.T) {
	srv := transporttest.NewStaleKeepAlive()
	t.Cleanup(srv.Close)
	c := newClient(t)

	// GET is replayable: the transport retries on a new connection itself.
	for range 2 {
		status, body, err := get(t, c, srv.URL, 5*time.Second)
		require.NoError(t, err)
		assert.Equal(t, 200, status)
		assert.Equal(t, "ok", body)
	}
	assert.Equal(t, 3, srv.Requests(), "the second GET was sent twice")
	assert.Equal(t, 2, srv.Connections())

	// A POST with Idempotency-Key and GetBody is replayable too (B3).
	req, _ := http.NewRequest(http.MethodPost, srv.URL, strings.NewReader("idem"))
	req.Header.Set("Idempotency-Key", "k1")
	resp, err := c.Do(req)
	require.NoError(t, err)
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	assert.Equal(t, 200, resp.StatusCode)
	assert.Equal(t, 5, srv.Requests())
	assert.Equal(t, 3, srv.Connections())
	seen := srv.Seen()
	assert.Equal(t, "idem", string(seen[3].Body), "the dropped attempt was sent in full")
	assert.Equal(t, "idem", string(seen[4].Body), "and replayed with GetBody")

	// A POST without Idempotency-Key is not replayable: it fails.
	resp, err = c.Post(srv.URL, "text/plain", strings.NewReader("x"))
	if err == nil {
		resp.Body.Close()
	}
	require.Error(t, err)
	assert.ErrorIs(t, err, io.EOF)
	assert.Equal(t, 6, srv.Requests())
}

func TestBlackhole(t *testing.T) {
	srv := transporttest.NewBlackhole()
	t.Cleanup(srv.Close)
	start := time.Now()
	_, _, err := get(t, srv.Client(), srv.URL, 100*time.Millisecond)
	require.Error(t, err)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Less(t, time.Since(start), 2*time.Second)
	assert.Equal(t, 1, srv.Connections())
	assert.Equal(t, 0, srv.Requests())
}

func TestBlackholeTLSHandshake(t *testing.T) {
	srv := transporttest.NewUnstartedBlackhole()
	srv.StartTLS()
	t.Cleanup(srv.Close)
	tr := srv.Client().Transport.(*http.Transport).Clone()
	tr.TLSHandshakeTimeout = 100 * time.Millisecond
	t.Cleanup(tr.CloseIdleConnections)
	_, _, err := get(t, &http.Client{Transport: tr}, srv.URL, 5*time.Second)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "TLS handshake timeout")
}

func TestDeadAddr(t *testing.T) {
	_, _, err := get(t, newClient(t), "http://"+transporttest.DeadAddr(), 5*time.Second)
	require.Error(t, err)
	var op *net.OpError
	require.ErrorAs(t, err, &op)
	assert.Equal(t, "dial", op.Op)
}

// uploadBody is an endless request body that counts bytes read and Close.
type uploadBody struct {
	mu     sync.Mutex
	n      int
	closed bool
}

func (b *uploadBody) Read(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.n += len(p)
	return len(p), nil
}

func (b *uploadBody) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.closed = true
	return nil
}

func TestNoRead(t *testing.T) {
	srv := transporttest.NewNoRead()
	t.Cleanup(srv.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	body := &uploadBody{}
	req, _ := http.NewRequestWithContext(ctx, http.MethodPut, srv.URL, body)
	start := time.Now()
	resp, err := newClient(t).Do(req)
	if err == nil {
		resp.Body.Close()
	}
	require.Error(t, err)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Less(t, time.Since(start), 3*time.Second)
	assert.Equal(t, 1, srv.Requests())
	assert.Zero(t, srv.BodyBytes(), "the server never reads the body")
}

func TestSlowReader(t *testing.T) {
	srv := transporttest.NewSlowReader(4, 10*time.Millisecond)
	t.Cleanup(srv.Close)
	start := time.Now()
	resp, err := srv.Client().Post(srv.URL, "text/plain", strings.NewReader("0123456789abcdef"))
	require.NoError(t, err)
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Equal(t, 200, resp.StatusCode)
	assert.Equal(t, "ok", string(b))
	assert.GreaterOrEqual(t, time.Since(start), 4*10*time.Millisecond)
	assert.Equal(t, int64(16), srv.BodyBytes())
	assert.Equal(t, "0123456789abcdef", string(srv.Seen()[0].Body))
}

func TestAnswerBeforeBody(t *testing.T) {
	srv := transporttest.NewAnswerBeforeBody(http.StatusServiceUnavailable)
	t.Cleanup(srv.Close)
	req, _ := http.NewRequest(http.MethodPost, srv.URL, io.LimitReader(&uploadBody{}, 64<<20))
	resp, err := newClient(t).Do(req)
	if err == nil {
		defer resp.Body.Close()
		assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
	} else {
		// The close may reach the client before the response: either is a
		// real outcome of this failure shape.
		t.Logf("client saw the close first: %v", err)
	}
	assert.Equal(t, 1, srv.Requests())
	assert.Less(t, srv.BodyBytes(), int64(64<<20))
}

func TestCloseUnblocksStalledHandlers(t *testing.T) {
	for name, newSrv := range map[string]func() *transporttest.Server{
		"SlowHeader": func() *transporttest.Server { return transporttest.NewSlowHeader(time.Hour) },
		"Trickle":    func() *transporttest.Server { return transporttest.NewTrickle(time.Hour, 10) },
		"Stall":      func() *transporttest.Server { return transporttest.NewStall(0) },
		"NoRead":     func() *transporttest.Server { return transporttest.NewNoRead() },
		"SlowReader": func() *transporttest.Server { return transporttest.NewSlowReader(1, time.Hour) },
		"Blackhole":  func() *transporttest.Server { return transporttest.NewBlackhole() },
	} {
		t.Run(name, func(t *testing.T) {
			srv := newSrv()
			c := newClient(t)
			errc := make(chan error, 1)
			go func() {
				resp, err := c.Post(srv.URL, "text/plain", strings.NewReader("body"))
				if err == nil {
					_, err = io.ReadAll(resp.Body)
					resp.Body.Close()
				}
				errc <- err
			}()
			require.Eventually(t, func() bool { return srv.Connections() == 1 }, 5*time.Second, 5*time.Millisecond)
			time.Sleep(20 * time.Millisecond) // let the handler start stalling
			closed := make(chan struct{})
			go func() { srv.Close(); close(closed) }()
			select {
			case <-closed:
			case <-time.After(5 * time.Second):
				t.Fatal("Close did not return")
			}
			select {
			case err := <-errc:
				assert.Error(t, err, "the stalled exchange fails once the server is gone")
			case <-time.After(5 * time.Second):
				t.Fatal("the client was not released by Close")
			}
			assert.Zero(t, srv.OpenConnections())
		})
	}
}

func TestCloseTwiceAndUnstarted(t *testing.T) {
	srv := transporttest.NewSequence()
	srv.Close()
	srv.Close()
	u := transporttest.NewUnstartedSequence()
	assert.Empty(t, u.URL)
	assert.Empty(t, u.Addr())
	assert.Nil(t, u.Client())
	u.Close()
}

func TestAddr(t *testing.T) {
	srv := transporttest.NewSequence()
	t.Cleanup(srv.Close)
	assert.Equal(t, "http://"+srv.Addr(), srv.URL)
	assert.True(t, strings.HasPrefix(srv.Addr(), "127.0.0.1:") || strings.HasPrefix(srv.Addr(), "[::1]:"))
}

// closeWithin closes srv and fails the test if Close takes longer than d.
func closeWithin(t *testing.T, srv *transporttest.Server, d time.Duration) {
	t.Helper()
	closed := make(chan struct{})
	go func() { srv.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(d):
		t.Fatalf("Close did not return within %v", d)
	}
	assert.Zero(t, srv.OpenConnections())
}

func TestCloseReleasesHTTP2AndFrozen(t *testing.T) {
	h2 := func(s *transporttest.Server) *transporttest.Server {
		s.EnableHTTP2 = true
		s.StartTLS()
		return s
	}
	for name, newSrv := range map[string]func() *transporttest.Server{
		"h2/SlowHeader": func() *transporttest.Server { return h2(transporttest.NewUnstartedSlowHeader(time.Hour)) },
		"h2/Stall":      func() *transporttest.Server { return h2(transporttest.NewUnstartedStall(1)) },
		"h2/NoRead":     func() *transporttest.Server { return h2(transporttest.NewUnstartedNoRead()) },
		"h2/GoAway":     func() *transporttest.Server { return h2(transporttest.NewUnstartedGoAway(5)) },
		"tls/Blackhole": func() *transporttest.Server {
			s := transporttest.NewUnstartedBlackhole()
			s.StartTLS()
			return s
		},
	} {
		t.Run(name, func(t *testing.T) {
			srv := newSrv()
			errc := make(chan error, 1)
			go func() {
				resp, err := srv.Client().Post(srv.URL, "text/plain", strings.NewReader("body"))
				if err == nil {
					_, err = io.ReadAll(resp.Body)
					resp.Body.Close()
				}
				errc <- err
			}()
			require.Eventually(t, func() bool { return srv.Connections() == 1 }, 5*time.Second, 5*time.Millisecond)
			time.Sleep(50 * time.Millisecond)
			if name == "h2/GoAway" {
				srv.Freeze() // a dead connection with a request in flight
			}
			closeWithin(t, srv, 5*time.Second)
			select {
			case <-errc:
			case <-time.After(5 * time.Second):
				t.Fatal("the client was not released by Close")
			}
		})
	}
}

func TestCloseUnreadLargeReply(t *testing.T) {
	srv := transporttest.NewSequence(transporttest.Reply{Body: strings.Repeat("x", 32<<20)})
	resp, err := newClient(t).Get(srv.URL)
	require.NoError(t, err)
	defer resp.Body.Close()
	// The handler is blocked writing a body nobody reads: Close gives it
	// its grace period, then closes the connection.
	closeWithin(t, srv, 5*time.Second)
	_, err = io.ReadAll(resp.Body)
	assert.Error(t, err, "the unread body is cut")
}

func TestCloseWaitsForRequestInFlight(t *testing.T) {
	srv := transporttest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(100 * time.Millisecond) // not a stall: an ordinary slow handler
		io.WriteString(w, "finished")
	}))
	type result struct {
		body string
		err  error
	}
	done := make(chan result, 1)
	go func() {
		resp, err := srv.Client().Get(srv.URL)
		if err != nil {
			done <- result{err: err}
			return
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		done <- result{string(b), err}
	}()
	require.Eventually(t, func() bool { return srv.Requests() == 1 }, 5*time.Second, time.Millisecond)
	closeWithin(t, srv, 5*time.Second)
	r := <-done
	require.NoError(t, r.err)
	assert.Equal(t, "finished", r.body)
}

func TestServerRefusesAfterClose(t *testing.T) {
	srv := transporttest.NewSequence()
	url := srv.URL
	srv.Close()
	_, _, err := get(t, newClient(t), url, 5*time.Second)
	require.Error(t, err)
}

func TestParallelServers(t *testing.T) {
	for i := range 8 {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			t.Parallel()
			srv := transporttest.NewSequence(transporttest.Reply{Body: fmt.Sprint(i)})
			t.Cleanup(srv.Close)
			for range 5 {
				_, body, err := get(t, srv.Client(), srv.URL, 5*time.Second)
				require.NoError(t, err)
				assert.Equal(t, fmt.Sprint(i), body)
			}
			assert.Equal(t, 5, srv.Requests(), "counters are per server")
		})
	}
}

func TestConcurrentCounters(t *testing.T) {
	srv := transporttest.NewSequence(transporttest.Reply{Body: "ok"})
	t.Cleanup(srv.Close)
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			resp, err := srv.Client().Post(srv.URL, "text/plain", strings.NewReader("12345"))
			if assert.NoError(t, err) {
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
			_ = srv.Seen()
			_ = srv.OpenConnections()
		})
	}
	wg.Wait()
	assert.Equal(t, 20, srv.Requests())
	assert.Equal(t, int64(100), srv.BodyBytes())
	assert.Len(t, srv.Seen(), 20)
	assert.LessOrEqual(t, srv.Connections(), 20)
}

func TestNilHandlerAndZeroServer(t *testing.T) {
	srv := transporttest.NewServer(nil)
	t.Cleanup(srv.Close)
	status, _, err := get(t, srv.Client(), srv.URL, 5*time.Second)
	require.NoError(t, err)
	assert.Equal(t, http.StatusNotFound, status)
	assert.PanicsWithValue(t, "transporttest: Server not made by a constructor", (&transporttest.Server{}).Start)
}

func TestStartTwicePanics(t *testing.T) {
	srv := transporttest.NewSequence()
	t.Cleanup(srv.Close)
	assert.Panics(t, srv.Start)
	assert.PanicsWithValue(t, "transporttest: NewSlowReader: chunk must be at least 1", func() { transporttest.NewSlowReader(0, time.Millisecond) })
	assert.Panics(t, func() { transporttest.NewGoAway(0) })
}

func TestSequenceBodySize(t *testing.T) {
	srv := transporttest.NewSequence(
		transporttest.Reply{Status: 503, BodySize: 1 << 30},
		transporttest.Reply{Status: 503, BodySize: -1},
		transporttest.Reply{Status: 200, BodySize: 30},
	)
	c := newClient(t)

	// 1 GiB announced; the client reads a little and closes.
	resp, err := c.Get(srv.URL)
	require.NoError(t, err)
	assert.Equal(t, int64(1<<30), resp.ContentLength)
	head := make([]byte, 28)
	_, err = io.ReadFull(resp.Body, head)
	require.NoError(t, err)
	assert.Equal(t, "abcdefghijklmnopqrstuvwxyzab", string(head))
	resp.Body.Close()

	// Endless: 4 MiB read and still going; the client stops reading.
	resp, err = c.Get(srv.URL)
	require.NoError(t, err)
	assert.Equal(t, int64(-1), resp.ContentLength)
	n, err := io.CopyN(io.Discard, resp.Body, 4<<20)
	require.NoError(t, err)
	assert.Equal(t, int64(4<<20), n)

	status, body, err := get(t, c, srv.URL, 5*time.Second)
	require.NoError(t, err)
	assert.Equal(t, 200, status)
	assert.Equal(t, "abcdefghijklmnopqrstuvwxyzabcd", body)

	// The endless writer is blocked on a client that does not read; Close
	// releases it at once (not after the grace period).
	start := time.Now()
	closeWithin(t, srv, 5*time.Second)
	assert.Less(t, time.Since(start), 900*time.Millisecond)
	resp.Body.Close()
}

func TestCloseConnections(t *testing.T) {
	srv := transporttest.NewSequence(transporttest.Reply{Body: "ok"})
	t.Cleanup(srv.Close)
	c := newClient(t)
	_, _, err := get(t, c, srv.URL, 5*time.Second)
	require.NoError(t, err)
	assert.Equal(t, 1, srv.OpenConnections())
	srv.CloseConnections()
	assert.Zero(t, srv.OpenConnections())
	_, _, err = get(t, c, srv.URL, 5*time.Second)
	require.NoError(t, err, "the server still accepts")
	assert.Equal(t, 2, srv.Connections())
}

func TestReset(t *testing.T) {
	srv := transporttest.NewReset()
	t.Cleanup(srv.Close)
	resp, err := newClient(t).Post(srv.URL, "text/plain", strings.NewReader("maybe processed"))
	if err == nil {
		resp.Body.Close()
	}
	require.Error(t, err)
	assert.True(t, isReset(err), "got %v, want a connection reset", err)
	assert.Equal(t, "maybe processed", string(srv.Seen()[0].Body))
}

func TestRawReply(t *testing.T) {
	for _, tc := range []struct {
		name, raw, wantErr string
		wantStatus         int
	}{
		{"bad status line", "HTTP/1.1 abc\r\n\r\n", "malformed HTTP status code", 0},
		{"short body", "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", "unexpected EOF", 200},
		{"good", "HTTP/1.1 204 No Content\r\n\r\n", "", 204},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := transporttest.NewRawReply(tc.raw)
			t.Cleanup(srv.Close)
			status, _, err := get(t, newClient(t), srv.URL, 5*time.Second)
			assert.Equal(t, tc.wantStatus, status)
			if tc.wantErr == "" {
				assert.NoError(t, err)
			} else {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tc.wantErr)
			}
		})
	}
}
