package transporttest_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rtchain/chain/transporttest"
)

func TestStall(t *testing.T) {
	t.Parallel()
	srv := transporttest.NewServer(transporttest.Reply{BodySize: 5, Fault: transporttest.Stall})
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
	t.Parallel()
	srv := transporttest.NewServer(transporttest.Reply{BodySize: 10, Fault: transporttest.ResetMidBody})
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
	t.Parallel()
	srv := transporttest.NewServer(transporttest.Reply{Fault: transporttest.EmptyReply})
	t.Cleanup(srv.Close)
	_, _, err := get(t, srv.Client(), srv.URL, 5*time.Second)
	require.Error(t, err)
	assert.ErrorIs(t, err, io.EOF)
	assert.Equal(t, 1, srv.Stats().Requests)
}

func TestMalformedChunked(t *testing.T) {
	t.Parallel()
	srv := transporttest.NewServer(transporttest.Reply{Fault: transporttest.MalformedChunked})
	t.Cleanup(srv.Close)
	status, body, err := get(t, srv.Client(), srv.URL, 5*time.Second)
	require.Error(t, err)
	assert.Equal(t, 200, status)
	assert.Equal(t, "hello", body)
	assert.Contains(t, err.Error(), "chunk")
}

func TestStaleKeepAlive(t *testing.T) {
	t.Parallel()
	srv := transporttest.NewServer(transporttest.Reply{Body: "ok", Fault: transporttest.StaleKeepAlive})
	t.Cleanup(srv.Close)
	c := newClient(t)

	// GET is replayable: the transport retries on a new connection itself.
	for range 2 {
		status, body, err := get(t, c, srv.URL, 5*time.Second)
		require.NoError(t, err)
		assert.Equal(t, 200, status)
		assert.Equal(t, "ok", body)
	}
	assert.Equal(t, 3, srv.Stats().Requests, "the second GET was sent twice")
	assert.Equal(t, 2, srv.Stats().Connections)

	// A POST with Idempotency-Key and GetBody is replayable too (B3).
	req, _ := http.NewRequest(http.MethodPost, srv.URL, strings.NewReader("idem"))
	req.Header.Set("Idempotency-Key", "k1")
	resp, err := c.Do(req)
	require.NoError(t, err)
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	assert.Equal(t, 200, resp.StatusCode)
	assert.Equal(t, 5, srv.Stats().Requests)
	assert.Equal(t, 3, srv.Stats().Connections)
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
	assert.Equal(t, 6, srv.Stats().Requests)
}

func TestBlackhole(t *testing.T) {
	t.Parallel()
	srv := transporttest.NewServer(transporttest.Reply{Fault: transporttest.Blackhole})
	t.Cleanup(srv.Close)
	start := time.Now()
	_, _, err := getStalled(t, srv.Client(), srv.URL, func() bool { return srv.Stats().Connections == 1 })
	require.Error(t, err)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Less(t, time.Since(start), 5*time.Second, "the deadline ended the request")
	assert.Equal(t, 1, srv.Stats().Connections)
	assert.Equal(t, 0, srv.Stats().Requests)
}

func TestBlackholeTLSHandshake(t *testing.T) {
	t.Parallel()
	srv := transporttest.NewUnstartedServer(transporttest.Reply{Fault: transporttest.Blackhole})
	srv.StartTLS()
	t.Cleanup(srv.Close)
	tr := srv.Client().Transport.(*http.Transport).Clone()
	tr.TLSHandshakeTimeout = 100 * time.Millisecond
	t.Cleanup(tr.CloseIdleConnections)
	_, _, err := get(t, &http.Client{Transport: tr}, srv.URL, 5*time.Second)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "TLS handshake timeout")
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
	t.Parallel()
	srv := transporttest.NewServer(transporttest.Reply{Fault: transporttest.NoRead})
	t.Cleanup(srv.Close)
	ctx, cancel := transporttest.DeadlineWhen(func() bool { return srv.Stats().Requests == 1 })
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
	assert.Less(t, time.Since(start), 5*time.Second, "the deadline ended the upload")
	assert.Equal(t, 1, srv.Stats().Requests)
	assert.Zero(t, srv.Stats().BodyBytes, "the server never reads the body")
}

func TestAnswerBeforeBody(t *testing.T) {
	t.Parallel()
	srv := transporttest.NewServer(transporttest.Reply{Status: http.StatusServiceUnavailable, Fault: transporttest.AnswerBeforeBody})
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
	assert.Equal(t, 1, srv.Stats().Requests)
	assert.Less(t, srv.Stats().BodyBytes, int64(64<<20))
}

func TestReset(t *testing.T) {
	t.Parallel()
	srv := transporttest.NewServer(transporttest.Reply{Fault: transporttest.Reset})
	t.Cleanup(srv.Close)
	resp, err := newClient(t).Post(srv.URL, "text/plain", strings.NewReader("maybe processed"))
	if err == nil {
		resp.Body.Close()
	}
	require.Error(t, err)
	assert.True(t, isReset(err), "got %v, want a connection reset", err)
	assert.Equal(t, "maybe processed", string(srv.Seen()[0].Body))
}

// TestBlackholeInSequence: a Blackhole that is not the server's whole
// handler takes the connection once the request header has arrived.
func TestBlackholeInSequence(t *testing.T) {
	t.Parallel()
	srv := transporttest.NewServer(transporttest.Sequence(transporttest.Reply{Body: "ok"}, reply(transporttest.Blackhole)))
	t.Cleanup(srv.Close)
	c := newClient(t)
	_, body, err := get(t, c, srv.URL, 5*time.Second)
	require.NoError(t, err)
	assert.Equal(t, "ok", body)
	_, _, err = getStalled(t, c, srv.URL, func() bool { return srv.Stats().Requests == 2 })
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Equal(t, transporttest.Stats{Requests: 2, Connections: 1, OpenConnections: 1}, srv.Stats(),
		"the request was seen, on the kept-alive connection, which the server holds open")
}

// TestDelayThenFault: the Delay comes before the fault, as before a
// response.
func TestDelayThenFault(t *testing.T) {
	t.Parallel()
	srv := transporttest.NewServer(transporttest.Reply{Delay: 50 * time.Millisecond, Fault: transporttest.EmptyReply})
	t.Cleanup(srv.Close)
	start := time.Now()
	_, _, err := get(t, newClient(t), srv.URL, 5*time.Second)
	assert.ErrorIs(t, err, io.EOF)
	assert.GreaterOrEqual(t, time.Since(start), 50*time.Millisecond)
}
