package transporttest_test

import (
	"context"
	"crypto/tls"
	"io"
	"net/http"
	"net/http/httptrace"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rtchain/chain/transporttest"
)

func TestHTTP2(t *testing.T) {
	t.Parallel()
	srv := serve(transporttest.Sequence(transporttest.Reply{Status: 503}, transporttest.Reply{Body: "ok"}), "h2")
	t.Cleanup(srv.Close)
	c := srv.Client()
	for _, want := range []int{503, 200, 200} {
		resp, err := c.Get(srv.URL)
		require.NoError(t, err)
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		assert.Equal(t, want, resp.StatusCode)
		assert.Equal(t, 2, resp.ProtoMajor)
	}
	seen := srv.Seen()
	require.Len(t, seen, 3)
	assert.Equal(t, "HTTP/2.0", seen[0].Proto)
	require.NotNil(t, seen[0].TLS)
	assert.Equal(t, "h2", seen[0].TLS.NegotiatedProtocol)
	assert.Equal(t, 1, srv.Stats().Connections, "one multiplexed connection")
	assert.Equal(t, seen[0].ConnID, seen[2].ConnID)
	assert.NotNil(t, srv.Certificate())
}

// TestHTTP2Fixtures runs stalling fixtures over HTTP/2, as the timeouts
// package does (T-7, T-12; the slow header is in TestSlowHeader).
func TestHTTP2Fixtures(t *testing.T) {
	t.Parallel()
	t.Run("Stall", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			srv := serve(transporttest.Reply{BodySize: 3, Fault: transporttest.Stall}, "mem/h2")
			t.Cleanup(srv.Close)
			_, body, err := get(t, srv.Client(), srv.URL, 300*time.Millisecond)
			require.Error(t, err)
			assert.ErrorIs(t, err, context.DeadlineExceeded)
			assert.Equal(t, "abc", body)
		})
	})
	t.Run("ResetMidBody", func(t *testing.T) {
		srv := transporttest.NewUnstartedServer(transporttest.Reply{BodySize: 4, Fault: transporttest.ResetMidBody})
		srv.EnableHTTP2 = true
		srv.StartTLS()
		t.Cleanup(srv.Close)
		status, _, err := get(t, srv.Client(), srv.URL, 5*time.Second)
		require.Error(t, err, "the stream is reset")
		assert.Equal(t, 200, status)
	})
}

// TestFreezeDeadHTTP2 is the D4/T-15 fixture: a connection that stops
// answering frames is detected by the client's ping health check, and the
// next request dials a new connection. It runs in a bubble, on a
// MemListener, so that a slow machine cannot miss a ping of the healthy
// connection, and the detection time is exact.
func TestFreezeDeadHTTP2(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		srv := serve(transporttest.Reply{Body: "ok"}, "mem/h2")
		t.Cleanup(srv.Close)
		tr := srv.Client().Transport.(*http.Transport).Clone()
		tr.HTTP2 = &http.HTTP2Config{SendPingTimeout: 100 * time.Millisecond, PingTimeout: 100 * time.Millisecond}
		t.Cleanup(tr.CloseIdleConnections)
		c := &http.Client{Transport: tr}

		_, body, err := get(t, c, srv.URL, 5*time.Second)
		require.NoError(t, err)
		assert.Equal(t, "ok", body)

		srv.Freeze()
		start := time.Now()
		_, _, err = get(t, c, srv.URL, 10*time.Second)
		require.Error(t, err, "the frozen connection never answers")
		assert.NotErrorIs(t, err, context.DeadlineExceeded, "the health check, not the context, ended the request")
		assert.LessOrEqual(t, time.Since(start), 200*time.Millisecond, "at most 100 ms without a frame, then 100 ms without an answer to the ping")

		_, body, err = get(t, c, srv.URL, 5*time.Second)
		require.NoError(t, err)
		assert.Equal(t, "ok", body)
		assert.Equal(t, 2, srv.Stats().Connections, "a new connection after the dead one")
	})
}

func TestFreezeHTTP1(t *testing.T) {
	t.Parallel()
	srv := transporttest.NewServer(transporttest.Reply{Body: "ok"})
	t.Cleanup(srv.Close)
	c := newClient(t)
	_, _, err := get(t, c, srv.URL, 5*time.Second)
	require.NoError(t, err)
	srv.Freeze()
	_, _, err = get(t, c, srv.URL, 200*time.Millisecond)
	require.Error(t, err)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
}

func TestGoAway(t *testing.T) {
	t.Parallel()
	srv := goAway(2, "h2")
	t.Cleanup(srv.Close)
	c := srv.Client()
	var reused []bool
	for range 5 {
		var info httptrace.GotConnInfo
		ctx := httptrace.WithClientTrace(context.Background(), &httptrace.ClientTrace{
			GotConn: func(i httptrace.GotConnInfo) { info = i },
		})
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
		resp, err := c.Do(req)
		require.NoError(t, err)
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		assert.Equal(t, "ok", string(b))
		assert.Equal(t, 2, resp.ProtoMajor)
		reused = append(reused, info.Reused)
		// Let the GOAWAY reach the client before the next request, so the
		// count of connections is exact.
		if len(reused)%2 == 0 {
			require.Eventually(t, func() bool { return srv.Stats().OpenConnections == 0 }, 5*time.Second, 5*time.Millisecond)
		}
	}
	assert.Equal(t, []bool{false, true, false, true, false}, reused)
	assert.Equal(t, 3, srv.Stats().Connections)
	seen := srv.Seen()
	require.Len(t, seen, 5)
	assert.Equal(t, seen[0].ConnID, seen[1].ConnID)
	assert.NotEqual(t, seen[1].ConnID, seen[2].ConnID)
}

// TestGoAwayConcurrent runs in a bubble, on a MemListener: net/http retries
// streams a GOAWAY left unprocessed, and from its second retry of a request
// it backs off for a second, which the bubble's clock skips.
func TestGoAwayConcurrent(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		srv := goAway(3, "mem/h2")
		t.Cleanup(srv.Close)
		c := srv.Client()
		var wg sync.WaitGroup
		for range 20 {
			wg.Go(func() {
				_, body, err := get(t, c, srv.URL, 10*time.Second)
				if assert.NoError(t, err, "the transport retries streams refused by GOAWAY") {
					assert.Equal(t, "ok", body)
				}
			})
		}
		wg.Wait()
		assert.GreaterOrEqual(t, srv.Stats().Connections, 7, "at most 3 requests per connection")
		assert.Equal(t, 20, srv.Stats().Requests)
	})
}

func TestGoAwayHTTP1(t *testing.T) {
	t.Parallel()
	srv := goAway(1, "")
	t.Cleanup(srv.Close)
	c := newClient(t)
	for range 3 {
		resp, err := c.Get(srv.URL)
		require.NoError(t, err)
		resp.Body.Close()
		assert.True(t, resp.Close, "Connection: close on the last response")
	}
	assert.Equal(t, 3, srv.Stats().Connections)
}

func TestGoAwayCloseWhileBusy(t *testing.T) {
	t.Parallel()
	srv := transporttest.NewUnstartedServer(transporttest.Reply{Body: "ok"})
	srv.GoAwayAfter = 1
	srv.EnableHTTP2 = true
	srv.TLS = &tls.Config{MinVersion: tls.VersionTLS12}
	srv.StartTLS()
	c := srv.Client()
	_, _, err := get(t, c, srv.URL, 5*time.Second)
	require.NoError(t, err)
	srv.Close()
	assert.Zero(t, srv.Stats().OpenConnections)
}

// goAway starts, in mode m, a server answering "ok" that shuts each
// connection down after n requests.
func goAway(n int, m mode) *transporttest.Server {
	srv := transporttest.NewUnstartedServer(transporttest.Reply{Body: "ok"})
	srv.GoAwayAfter = n
	return startIn(srv, m)
}
