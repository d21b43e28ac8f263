package transporttest_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rtchain/chain/transporttest"
)

func TestUpgradeEcho(t *testing.T) {
	t.Parallel()
	srv := transporttest.NewServer(transporttest.Reply{Status: http.StatusSwitchingProtocols})
	t.Cleanup(srv.Close)
	req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", "echo")
	resp, err := srv.Client().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	assert.Equal(t, http.StatusSwitchingProtocols, resp.StatusCode)
	assert.Equal(t, "echo", resp.Header.Get("Upgrade"))
	rw, ok := resp.Body.(io.ReadWriter)
	require.True(t, ok, "the 101 body is writable")
	for _, msg := range []string{"hello", "again"} {
		_, err = rw.Write([]byte(msg))
		require.NoError(t, err)
		buf := make([]byte, len(msg))
		_, err = io.ReadFull(rw, buf)
		require.NoError(t, err)
		assert.Equal(t, msg, string(buf))
	}
	assert.Equal(t, int64(10), srv.Stats().BodyBytes)
}

func TestUpgradeEchoRejectsPlainRequest(t *testing.T) {
	t.Parallel()
	srv := transporttest.NewServer(transporttest.Reply{Status: http.StatusSwitchingProtocols})
	t.Cleanup(srv.Close)
	status, _, err := get(t, srv.Client(), srv.URL, 5*time.Second)
	require.NoError(t, err)
	assert.Equal(t, http.StatusBadRequest, status)
}

func TestUpgradeEchoClose(t *testing.T) {
	t.Parallel()
	srv := transporttest.NewServer(transporttest.Reply{Status: http.StatusSwitchingProtocols})
	req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", "echo")
	resp, err := srv.Client().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	srv.Close() // the echo loop is released
	_, err = resp.Body.Read(make([]byte, 1))
	assert.Error(t, err)
}

func TestMemListener(t *testing.T) {
	t.Parallel()
	srv := transporttest.NewUnstartedServer(transporttest.Reply{Status: 201, Body: "in memory"})
	srv.Listener = transporttest.NewMemListener()
	srv.Start()
	t.Cleanup(srv.Close)
	assert.Equal(t, "http://127.0.0.1:1", srv.URL)
	resp, err := srv.Client().Post(srv.URL+"/x", "text/plain", strings.NewReader("up"))
	require.NoError(t, err)
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Equal(t, 201, resp.StatusCode)
	assert.Equal(t, "in memory", string(b))
	assert.Equal(t, 1, srv.Stats().Connections)
	assert.Equal(t, int64(2), srv.Stats().BodyBytes)
}

func TestMemListenerTLSHTTP2(t *testing.T) {
	t.Parallel()
	srv := transporttest.NewUnstartedServer(transporttest.Reply{Body: "h2"})
	srv.Listener = transporttest.NewMemListener()
	srv.EnableHTTP2 = true
	srv.StartTLS()
	t.Cleanup(srv.Close)
	resp, err := srv.Client().Get(srv.URL)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, 2, resp.ProtoMajor)
}

func TestMemListenerDialErrors(t *testing.T) {
	t.Parallel()
	l := transporttest.NewMemListener()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := l.DialContext(ctx, "tcp", "ignored:1")
	assert.ErrorIs(t, err, context.Canceled)
	require.NoError(t, l.Close())
	_, err = l.DialContext(context.Background(), "tcp", "ignored:1")
	assert.ErrorIs(t, err, syscall.ECONNREFUSED)
	_, err = l.Accept()
	assert.Error(t, err)
}

// TestSynctestBubble runs fixtures whose waits are long in real time inside
// a synctest bubble: they take no real time, and the fake clock shows
// exactly the waits.
func TestSynctestBubble(t *testing.T) {
	t.Parallel()
	t.Run("SlowHeader", headerTimeoutInBubble)
	t.Run("Trickle", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			srv := transporttest.NewUnstartedServer(transporttest.Reply{BodySize: 30, Trickle: time.Second})
			srv.Listener = transporttest.NewMemListener()
			srv.Start()
			defer srv.Close()
			start := time.Now()
			resp, err := srv.Client().Get(srv.URL)
			require.NoError(t, err)
			b, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			require.NoError(t, err)
			assert.Len(t, b, 30)
			assert.Equal(t, 30*time.Second, time.Since(start))
		})
	})
	t.Run("StallUntilClose", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			srv := transporttest.NewUnstartedServer(transporttest.Reply{BodySize: 2, Fault: transporttest.Stall})
			srv.Listener = transporttest.NewMemListener()
			srv.Start()
			ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
			defer cancel()
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
			resp, err := srv.Client().Do(req)
			require.NoError(t, err)
			defer resp.Body.Close()
			_, err = io.ReadAll(resp.Body)
			assert.True(t, errors.Is(err, context.DeadlineExceeded), "got %v", err)
			srv.Close()
		})
	})
}

// memPair returns both ends of an in-memory connection.
func memPair(t *testing.T) (client, server net.Conn) {
	t.Helper()
	l := transporttest.NewMemListener()
	t.Cleanup(func() { l.Close() })
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := l.Accept()
		if err == nil {
			accepted <- c
		}
		close(accepted)
	}()
	client, err := l.DialContext(context.Background(), "tcp", "x:1")
	require.NoError(t, err)
	server = <-accepted
	require.NotNil(t, server)
	t.Cleanup(func() { client.Close(); server.Close() })
	return client, server
}

func TestMemConn(t *testing.T) {
	t.Parallel()
	t.Run("buffered writes", func(t *testing.T) {
		c, s := memPair(t)
		// Both ends write before either reads: fine with buffers, a
		// deadlock with net.Pipe.
		_, err := c.Write([]byte("ping"))
		require.NoError(t, err)
		_, err = s.Write([]byte("pong"))
		require.NoError(t, err)
		buf := make([]byte, 4)
		_, err = io.ReadFull(s, buf)
		require.NoError(t, err)
		assert.Equal(t, "ping", string(buf))
		_, err = io.ReadFull(c, buf)
		require.NoError(t, err)
		assert.Equal(t, "pong", string(buf))
	})
	t.Run("full buffer blocks until the deadline", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			c, _ := memPair(t)
			require.NoError(t, c.SetWriteDeadline(time.Now().Add(time.Second)))
			start := time.Now()
			n, err := c.Write(make([]byte, 1<<20))
			assert.Equal(t, 256<<10, n, "the buffer took 256 KiB")
			var ne net.Error
			require.ErrorAs(t, err, &ne)
			assert.True(t, ne.Timeout())
			assert.ErrorIs(t, err, os.ErrDeadlineExceeded)
			assert.Equal(t, time.Second, time.Since(start))
		})
	})
	t.Run("deadline set while blocked wakes the read", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			c, _ := memPair(t)
			errc := make(chan error, 1)
			go func() {
				_, err := c.Read(make([]byte, 1))
				errc <- err
			}()
			synctest.Wait()
			require.NoError(t, c.SetReadDeadline(time.Unix(1, 0)))
			assert.ErrorIs(t, <-errc, os.ErrDeadlineExceeded)
		})
	})
	t.Run("close and half-close", func(t *testing.T) {
		c, s := memPair(t)
		_, err := c.Write([]byte("last words"))
		require.NoError(t, err)
		require.NoError(t, c.(interface{ CloseWrite() error }).CloseWrite())
		b, err := io.ReadAll(s)
		require.NoError(t, err, "EOF after the data")
		assert.Equal(t, "last words", string(b))
		_, err = s.Write([]byte("reply"))
		require.NoError(t, err, "the other direction stays open")
		buf := make([]byte, 5)
		_, err = io.ReadFull(c, buf)
		require.NoError(t, err)
		require.NoError(t, s.Close())
		_, err = c.Read(buf)
		assert.ErrorIs(t, err, io.EOF)
		_, err = c.Write([]byte("x"))
		assert.ErrorIs(t, err, syscall.EPIPE)
		require.NoError(t, c.Close())
		_, err = c.Read(buf)
		assert.ErrorIs(t, err, net.ErrClosed)
	})
}

// TestMemListenerShapes runs failure shapes in memory, inside a bubble.
func TestMemListenerShapes(t *testing.T) {
	t.Parallel()
	t.Run("ResetMidBody", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			srv := serve(transporttest.Reply{BodySize: 3, Fault: transporttest.ResetMidBody}, "mem")
			defer srv.Close()
			resp, err := srv.Client().Get(srv.URL)
			require.NoError(t, err)
			_, err = io.ReadAll(resp.Body)
			resp.Body.Close()
			assert.ErrorIs(t, err, syscall.ECONNRESET)
		})
	})
	t.Run("EmptyReply", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			srv := serve(transporttest.Reply{Fault: transporttest.EmptyReply}, "mem")
			defer srv.Close()
			_, err := srv.Client().Get(srv.URL)
			assert.ErrorIs(t, err, io.EOF)
		})
	})
	t.Run("NoRead", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			srv := serve(transporttest.Reply{Fault: transporttest.NoRead}, "mem")
			defer srv.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			req, _ := http.NewRequestWithContext(ctx, http.MethodPut, srv.URL, strings.NewReader(strings.Repeat("x", 4<<20)))
			start := time.Now()
			_, err := srv.Client().Do(req)
			assert.ErrorIs(t, err, context.DeadlineExceeded)
			assert.Equal(t, 30*time.Second, time.Since(start))
			assert.Zero(t, srv.Stats().BodyBytes)
		})
	})
	t.Run("Blackhole", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			srv := serve(transporttest.Reply{Fault: transporttest.Blackhole}, "mem")
			defer srv.Close()
			ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
			defer cancel()
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
			_, err := srv.Client().Do(req)
			assert.ErrorIs(t, err, context.DeadlineExceeded)
			assert.Equal(t, 1, srv.Stats().Connections)
		})
	})
	t.Run("UpgradeEcho", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			srv := serve(transporttest.Reply{Status: http.StatusSwitchingProtocols}, "mem")
			defer srv.Close()
			req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
			req.Header.Set("Connection", "Upgrade")
			req.Header.Set("Upgrade", "echo")
			resp, err := srv.Client().Do(req)
			require.NoError(t, err)
			defer resp.Body.Close()
			rw := resp.Body.(io.ReadWriter)
			for _, m := range []string{"one", "two"} { // two writes before any read
				_, err := rw.Write([]byte(m))
				require.NoError(t, err)
			}
			buf := make([]byte, 6)
			_, err = io.ReadFull(rw, buf)
			require.NoError(t, err)
			assert.Equal(t, "onetwo", string(buf))
		})
	})
	t.Run("GoAwayHTTP2", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			srv := transporttest.NewUnstartedServer(transporttest.Reply{})
			srv.GoAwayAfter = 1
			srv.Listener = transporttest.NewMemListener()
			srv.EnableHTTP2 = true
			srv.StartTLS()
			defer srv.Close()
			for range 3 {
				resp, err := srv.Client().Get(srv.URL)
				require.NoError(t, err)
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				assert.Equal(t, 2, resp.ProtoMajor)
				synctest.Wait()
			}
			assert.Equal(t, 3, srv.Stats().Connections)
		})
	})
}
