package transporttest_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rtchain/chain/transporttest"
)

func TestCloseUnblocksStalledHandlers(t *testing.T) {
	t.Parallel()
	type R = transporttest.Reply
	for name, h := range map[string]http.Handler{
		"SlowHeader": R{Delay: time.Hour},
		"Trickle":    R{BodySize: 10, Trickle: time.Hour},
		"Stall":      reply(transporttest.Stall),
		"NoRead":     reply(transporttest.NoRead),
		"SlowReader": R{ReadChunk: 1, ReadEvery: time.Hour},
		"Blackhole":  reply(transporttest.Blackhole),
	} {
		t.Run(name, func(t *testing.T) {
			srv := transporttest.NewServer(h)
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
			// The handler has the request (a closed server answers 503 to a
			// request that comes later): the black hole has the connection.
			require.Eventually(t, func() bool {
				s := srv.Stats()
				return s.Requests == 1 || name == "Blackhole" && s.Connections == 1
			}, 5*time.Second, 5*time.Millisecond)
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
			assert.Zero(t, srv.Stats().OpenConnections)
		})
	}
}

func TestCloseTwiceAndUnstarted(t *testing.T) {
	t.Parallel()
	srv := transporttest.NewServer(transporttest.Reply{})
	srv.Close()
	srv.Close()
	u := transporttest.NewUnstartedServer(transporttest.Reply{})
	assert.Empty(t, u.URL)
	assert.Nil(t, u.Listener)
	assert.Nil(t, u.Client())
	assert.Nil(t, u.Certificate())
	u.Close()
}

func TestListensOnLoopback(t *testing.T) {
	t.Parallel()
	srv := transporttest.NewServer(transporttest.Reply{})
	t.Cleanup(srv.Close)
	addr := srv.Listener.Addr().String()
	assert.Equal(t, "http://"+addr, srv.URL)
	assert.True(t, strings.HasPrefix(addr, "127.0.0.1:") || strings.HasPrefix(addr, "[::1]:"))
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
	assert.Zero(t, srv.Stats().OpenConnections)
}

func TestCloseReleasesHTTP2AndFrozen(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		h      http.Handler
		mode   mode
		goAway int
	}{
		{name: "h2/SlowHeader", h: transporttest.Reply{Delay: time.Hour}, mode: "h2"},
		{name: "h2/Stall", h: transporttest.Reply{BodySize: 1, Fault: transporttest.Stall}, mode: "h2"},
		{name: "h2/NoRead", h: reply(transporttest.NoRead), mode: "h2"},
		{name: "h2/GoAway", h: transporttest.Reply{}, mode: "h2", goAway: 5},
		{name: "tls/Blackhole", h: reply(transporttest.Blackhole), mode: "tls"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := transporttest.NewUnstartedServer(tc.h)
			srv.GoAwayAfter = tc.goAway
			startIn(srv, tc.mode)
			errc := make(chan error, 1)
			go func() {
				resp, err := srv.Client().Post(srv.URL, "text/plain", strings.NewReader("body"))
				if err == nil {
					_, err = io.ReadAll(resp.Body)
					resp.Body.Close()
				}
				errc <- err
			}()
			require.Eventually(t, func() bool { return srv.Stats().Connections == 1 }, 5*time.Second, 5*time.Millisecond)
			time.Sleep(50 * time.Millisecond)
			if tc.goAway > 0 {
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

// TestCloseUnreadLargeReply runs in a bubble, on a MemListener (whose
// connections buffer 256 KiB), so that the grace period is exact.
func TestCloseUnreadLargeReply(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		srv := serve(transporttest.Reply{Body: strings.Repeat("x", 4<<20)}, "mem")
		resp, err := clientOf(t, srv).Get(srv.URL)
		require.NoError(t, err)
		defer resp.Body.Close()
		// The handler is blocked writing a body nobody reads: Close gives it
		// its grace period, then closes the connection.
		start := time.Now()
		closeWithin(t, srv, 5*time.Second)
		assert.Equal(t, time.Second, time.Since(start), "the grace period")
		_, err = io.ReadAll(resp.Body)
		assert.Error(t, err, "the unread body is cut")
	})
}

func TestCloseWaitsForRequestInFlight(t *testing.T) {
	t.Parallel()
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
	require.Eventually(t, func() bool { return srv.Stats().Requests == 1 }, 5*time.Second, time.Millisecond)
	closeWithin(t, srv, 5*time.Second)
	r := <-done
	require.NoError(t, r.err)
	assert.Equal(t, "finished", r.body)
}

func TestServerRefusesAfterClose(t *testing.T) {
	t.Parallel()
	srv := transporttest.NewServer(transporttest.Reply{})
	url := srv.URL
	srv.Close()
	_, _, err := get(t, newClient(t), url, 5*time.Second)
	require.Error(t, err)
}

func TestParallelServers(t *testing.T) {
	t.Parallel()
	for i := range 8 {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			t.Parallel()
			srv := transporttest.NewServer(transporttest.Reply{Body: fmt.Sprint(i)})
			t.Cleanup(srv.Close)
			for range 5 {
				_, body, err := get(t, srv.Client(), srv.URL, 5*time.Second)
				require.NoError(t, err)
				assert.Equal(t, fmt.Sprint(i), body)
			}
			assert.Equal(t, 5, srv.Stats().Requests, "counters are per server")
		})
	}
}

func TestConcurrentCounters(t *testing.T) {
	t.Parallel()
	srv := transporttest.NewServer(transporttest.Reply{Body: "ok"})
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
			_ = srv.Stats().OpenConnections
		})
	}
	wg.Wait()
	assert.Equal(t, 20, srv.Stats().Requests)
	assert.Equal(t, int64(100), srv.Stats().BodyBytes)
	assert.Len(t, srv.Seen(), 20)
	assert.LessOrEqual(t, srv.Stats().Connections, 20)
}

func TestNilHandlerAndZeroServer(t *testing.T) {
	t.Parallel()
	srv := transporttest.NewServer(nil)
	t.Cleanup(srv.Close)
	status, _, err := get(t, srv.Client(), srv.URL, 5*time.Second)
	require.NoError(t, err)
	assert.Equal(t, http.StatusNotFound, status)
	assert.PanicsWithValue(t, "transporttest: Server not made by a constructor", (&transporttest.Server{}).Start)
}

func TestInvalidValuesPanic(t *testing.T) {
	t.Parallel()
	started := transporttest.NewServer(transporttest.Reply{})
	t.Cleanup(started.Close)
	for _, tc := range []struct {
		name, want string
		f          func()
	}{
		{"StartTwice", "transporttest: server already started", started.Start},
		{"GoAwayAfter", "transporttest: Server.GoAwayAfter(-1): need at least 0", func() {
			srv := transporttest.NewUnstartedServer(nil)
			srv.GoAwayAfter = -1
			defer srv.Close()
			srv.Start()
		}},
		{"Status", "transporttest: Reply{Status: 42}: need 0 or a code from 100 to 999", func() {
			transporttest.NewUnstartedServer(transporttest.Reply{Status: 42})
		}},
		{"ReadChunk", "transporttest: Reply{ReadChunk: -1}: need at least 0", func() {
			transporttest.NewUnstartedServer(&transporttest.Reply{ReadChunk: -1})
		}},
		{"Fault", "transporttest: Reply{Fault: 99}: not a Fault", func() {
			transporttest.Sequence(transporttest.Reply{}, transporttest.Reply{Fault: 99})
		}},
		{"UpdateTLS", "transporttest: UpdateTLS on a server not started with StartTLS", func() {
			started.UpdateTLS(func(*tls.Config) {})
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.PanicsWithValue(t, tc.want, tc.f)
		})
	}
}

// TestRequestContextDoneOnClose: the context of every request is done as
// soon as Close starts, so a handler of the user's that waits on it is
// released at once, not after Close's grace period; a BaseContext of the
// user's is kept, and ended too.
func TestRequestContextDoneOnClose(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		type key struct{}
		waiting := make(chan struct{})
		var got any
		var ended error
		srv := transporttest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			got = r.Context().Value(key{})
			close(waiting)
			<-r.Context().Done()
			ended = r.Context().Err()
		}))
		srv.Config.BaseContext = func(net.Listener) context.Context {
			return context.WithValue(context.Background(), key{}, "base")
		}
		startIn(srv, "mem")
		errc := make(chan error, 1)
		go func() {
			_, _, err := get(t, srv.Client(), srv.URL, 10*time.Second)
			errc <- err
		}()
		<-waiting
		start := time.Now()
		closeWithin(t, srv, 5*time.Second)
		assert.Less(t, time.Since(start), time.Second, "the handler was released when Close started, not after the grace period")
		assert.Equal(t, "base", got, "the user's BaseContext is kept")
		assert.ErrorIs(t, ended, context.Canceled)
		select {
		case <-errc:
		case <-time.After(5 * time.Second):
			t.Fatal("the client was not released")
		}
	})
}

func TestStats(t *testing.T) {
	t.Parallel()
	srv := transporttest.NewServer(transporttest.Reply{Body: "ok"})
	t.Cleanup(srv.Close)
	assert.Equal(t, transporttest.Stats{}, srv.Stats())
	c := newClient(t)
	for range 2 {
		resp, err := c.Post(srv.URL, "text/plain", strings.NewReader("abc"))
		require.NoError(t, err)
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	assert.Equal(t, transporttest.Stats{Requests: 2, Connections: 1, OpenConnections: 1, BodyBytes: 6}, srv.Stats())
}

func TestCloseClientConnections(t *testing.T) {
	t.Parallel()
	srv := transporttest.NewServer(transporttest.Reply{Body: "ok"})
	t.Cleanup(srv.Close)
	c := newClient(t)
	_, _, err := get(t, c, srv.URL, 5*time.Second)
	require.NoError(t, err)
	assert.Equal(t, 1, srv.Stats().OpenConnections)
	srv.CloseClientConnections()
	assert.Zero(t, srv.Stats().OpenConnections)
	_, _, err = get(t, c, srv.URL, 5*time.Second)
	require.NoError(t, err, "the server still accepts")
	assert.Equal(t, 2, srv.Stats().Connections)
}
