package timeouts_test

import (
	"context"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rtchain/chain/errclass"
	"github.com/rtchain/chain/timeouts"
	"github.com/rtchain/chain/transporttest"
)

// T-2: the handshake bound frees the connection slot even though the caller
// gave up first: with one connection per host, a later request dials anew.
func TestHandshakeBoundFreesSlot(t *testing.T) {
	srv := transporttest.NewUnstartedBlackhole()
	srv.StartTLS()
	t.Cleanup(srv.Close)
	b := base(t, srv, timeouts.WithTLSHandshake(300*time.Millisecond))
	b.MaxConnsPerHost = 1
	c := &http.Client{Transport: timeouts.New(b)}
	for range 2 {
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		_, err := get(t, ctx, c, srv.URL)
		cancel()
		require.Error(t, err)
		assert.ErrorIs(t, err, context.DeadlineExceeded)
		time.Sleep(400 * time.Millisecond) // the background handshake ends by 300ms
	}
	assert.Eventually(t, func() bool { return srv.Connections() == 2 }, generous, 10*time.Millisecond,
		"the second request dialed: %d connections", srv.Connections())
}

// T-15, D4: NewTransport's HTTP/2 health check closes a dead connection and
// the next request dials a new one. (The defaults, 30s and 15s, are
// shortened here: the mechanism is what is tested; the defaults are checked
// in TestNewTransportSettings.)
func TestHTTP2PingClosesDeadConnection(t *testing.T) {
	srv := start(t, transporttest.NewUnstartedSequence(transporttest.Reply{Body: "ok"}), true)
	b := base(t, srv)
	b.HTTP2.SendPingTimeout = 100 * time.Millisecond
	b.HTTP2.PingTimeout = 200 * time.Millisecond
	c := &http.Client{Transport: timeouts.New(b)}
	resp, err := get(t, nil, c, srv.URL)
	require.NoError(t, err)
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	assert.Equal(t, "HTTP/2.0", resp.Proto)
	srv.Freeze()
	time.Sleep(600 * time.Millisecond) // ping after 100ms, no answer by 300ms: closed
	var got *http.Response
	within(t, func() { got, err = get(t, nil, c, srv.URL) })
	require.NoError(t, err)
	io.Copy(io.Discard, got.Body)
	got.Body.Close()
	assert.Equal(t, 2, srv.Connections(), "a new connection")
}

// Adaptive body idle bound: a stream that delivered every 10ms is cut once it
// stalls, well before the static bound.
func TestAdaptiveBodyIdleLoopback(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "1000")
		for range 30 {
			w.Write([]byte("x"))
			w.(http.Flusher).Flush()
			select {
			case <-time.After(10 * time.Millisecond):
			case <-r.Context().Done():
				return
			}
		}
		select { // then nothing
		case <-r.Context().Done():
		case <-time.After(10 * time.Second):
		}
	})
	srv := start(t, transporttest.NewUnstartedServer(h), false)
	c := client(t, srv, timeouts.WithBodyIdle(5*time.Second),
		timeouts.WithAdaptiveBodyIdle(4, 200*time.Millisecond, time.Second))
	resp, err := get(t, nil, c, srv.URL)
	require.NoError(t, err)
	defer resp.Body.Close()
	var n int64
	within(t, func() { n, err = io.Copy(io.Discard, resp.Body) })
	assert.Equal(t, int64(30), n)
	te := requireTimeout(t, err, errclass.PhaseBodyIdle)
	assert.GreaterOrEqual(t, te.Limit, 200*time.Millisecond)
	assert.LessOrEqual(t, te.Limit, time.Second)
}

// T-16: the bounds are per request, never on the connection: a pooled
// connection that stays idle for ten body idle bounds is reused.
func TestIdlePooledConnectionSurvives(t *testing.T) {
	for _, p := range protos {
		t.Run(p.name, func(t *testing.T) {
			t.Parallel()
			srv := start(t, transporttest.NewUnstartedSequence(transporttest.Reply{Body: "ok"}), p.h2)
			c := client(t, srv, timeouts.WithBodyIdle(50*time.Millisecond))
			for i := range 2 {
				if i > 0 {
					time.Sleep(500 * time.Millisecond)
				}
				resp, err := get(t, nil, c, srv.URL)
				require.NoError(t, err)
				_, err = io.Copy(io.Discard, resp.Body)
				require.NoError(t, err)
				resp.Body.Close()
			}
			assert.Equal(t, 1, srv.Connections())
		})
	}
}
