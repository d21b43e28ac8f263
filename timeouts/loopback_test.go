package timeouts_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rtchain/chain/errclass"
	"github.com/rtchain/chain/timeouts"
	"github.com/rtchain/chain/transporttest"
)

// The tests of this file use real loopback sockets: what they check depends
// on the kernel (socket buffers, SYNs dropped by a full accept queue, IPv6,
// TCP_NOTSENT_LOWAT). They run in parallel; their time assertions are
// generous.

// The phases over real HTTP/1.1 and h2 connections, through New over
// NewTransport.
func TestLoopbackPhases(t *testing.T) {
	t.Parallel()
	for _, p := range protos {
		t.Run(p.name+"/header", func(t *testing.T) {
			t.Parallel()
			srv := start(t, transporttest.NewUnstartedServer(transporttest.Reply{Delay: 5 * time.Second}), p.h2)
			c := client(t, srv, timeouts.WithResponseHeader(200*ms))
			var err error
			took := within(t, func() { _, err = get(t, nil, c, srv.URL) })
			requireTimeout(t, err, errclass.PhaseResponseHeader)
			assert.GreaterOrEqual(t, took, 200*ms)
		})
		t.Run(p.name+"/body_idle", func(t *testing.T) {
			t.Parallel()
			srv := start(t, transporttest.NewUnstartedServer(transporttest.Reply{BodySize: 1000, Fault: transporttest.Stall}), p.h2)
			c := client(t, srv, timeouts.WithBodyIdle(200*ms))
			resp, err := get(t, nil, c, srv.URL)
			require.NoError(t, err)
			defer resp.Body.Close()
			within(t, func() { _, err = io.Copy(io.Discard, resp.Body) })
			requireTimeout(t, err, errclass.PhaseBodyIdle)
		})
	}
}

// Item 2: NewTransport alone, over real sockets: header (HTTP/1 cleartext
// and TLS), TLS handshake, DNS and connect timeouts are all *Error.
func TestLoopbackNewTransportAlone(t *testing.T) {
	t.Parallel()
	t.Run("header", func(t *testing.T) {
		t.Parallel()
		srv := start(t, transporttest.NewUnstartedServer(transporttest.Reply{Delay: 5 * time.Second}), false)
		var err error
		within(t, func() {
			_, err = get(t, nil, &http.Client{Transport: base(t, srv, timeouts.WithResponseHeader(200*ms))}, srv.URL)
		})
		requireTyped(t, err, errclass.PhaseResponseHeader)
	})
	t.Run("header/tls", func(t *testing.T) {
		t.Parallel()
		srv := transporttest.NewUnstartedServer(transporttest.Reply{Delay: 5 * time.Second})
		srv.StartTLS()
		t.Cleanup(srv.Close)
		var err error
		within(t, func() {
			_, err = get(t, nil, &http.Client{Transport: base(t, srv, timeouts.WithResponseHeader(200*ms))}, srv.URL)
		})
		requireTyped(t, err, errclass.PhaseResponseHeader)
	})
	t.Run("tls_handshake", func(t *testing.T) {
		t.Parallel()
		srv := transporttest.NewUnstartedServer(transporttest.Reply{Fault: transporttest.Blackhole})
		srv.StartTLS()
		t.Cleanup(srv.Close)
		var err error
		within(t, func() {
			_, err = get(t, nil, &http.Client{Transport: base(t, srv, timeouts.WithTLSHandshake(200*ms))}, srv.URL)
		})
		te := requireTimeout(t, err, errclass.PhaseTLSHandshake)
		assert.Equal(t, 200*ms, te.Limit)
	})
	t.Run("dns", func(t *testing.T) {
		t.Parallel()
		r := &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
			<-ctx.Done() // no packet leaves the process
			return nil, ctx.Err()
		}}
		b := base(t, nil, timeouts.WithDNS(200*ms), timeouts.WithResolver(r))
		var err error
		within(t, func() { _, err = get(t, nil, &http.Client{Transport: b}, "http://never.invalid:8080/") })
		te := requireTimeout(t, err, errclass.PhaseDNS)
		assert.Equal(t, 200*ms, te.Limit)
	})
	t.Run("connect", func(t *testing.T) {
		t.Parallel()
		addr := fullBacklog(t)
		b := base(t, nil, timeouts.WithConnect(200*ms))
		var err error
		within(t, func() { _, err = get(t, nil, &http.Client{Transport: b}, "http://"+addr+"/") })
		te := requireTimeout(t, err, errclass.PhaseConnect)
		assert.Equal(t, 200*ms, te.Limit)
		var op *net.OpError
		assert.ErrorAs(t, err, &op, "the dial error is kept")
	})
}

// T-14 for the connect phase: the caller's cancel and deadline stay the
// caller's.
func TestCallerCancelConnect(t *testing.T) {
	t.Parallel()
	addr := fullBacklog(t)
	c := client(t, nil, timeouts.WithConnect(time.Second))
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*ms, cancel)
	_, err := get(t, ctx, c, "http://"+addr+"/")
	requireCanceled(t, err)
	ctx, cancel = context.WithTimeout(context.Background(), 100*ms)
	defer cancel()
	_, err = get(t, ctx, c, "http://"+addr+"/")
	requireCallerDeadline(t, err)
}

// Item 6 over real sockets: the first address (IPv4, whose accept queue is
// full, so its SYNs are dropped) never answers; the second (IPv6 loopback,
// same port) connects after the 300ms fallback delay, not after the 5s
// connect bound.
func TestLoopbackHappyEyeballs(t *testing.T) {
	t.Parallel()
	var live net.Listener
	var addr string
	for range 10 {
		addr = fullBacklog(t)
		_, port, _ := net.SplitHostPort(addr)
		var err error
		if live, err = net.Listen("tcp6", "[::1]:"+port); err == nil {
			break
		}
	}
	require.NotNil(t, live, "no port free on both 127.0.0.1 and [::1]")
	srv := transporttest.NewUnstartedServer(transporttest.Reply{Body: "ok"})
	srv.Listener = live
	start(t, srv, false)
	_, port, _ := net.SplitHostPort(addr)
	b := base(t, nil, timeouts.WithConnect(5*time.Second),
		timeouts.WithResolver(fixedResolver{netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("::1")}))
	var resp *http.Response
	var err error
	took := within(t, func() { resp, err = get(t, nil, &http.Client{Transport: b}, "http://example.test:"+port+"/") })
	require.NoError(t, err)
	resp.Body.Close()
	assert.GreaterOrEqual(t, took, 300*ms)
	assert.Equal(t, 1, srv.Stats().Connections)
}

// Item 4 over a refused port: the total error is Phase total and still
// errors.Is ECONNREFUSED.
func TestLoopbackTotalRefused(t *testing.T) {
	t.Parallel()
	addr := transporttest.DeadAddr()
	rt := timeouts.Total(300 * ms)(&testRetry{next: timeouts.New(base(t, nil)), wait: 20 * ms})
	var err error
	within(t, func() { _, err = get(t, nil, &http.Client{Transport: rt}, "http://"+addr+"/") })
	requireTimeout(t, err, errclass.PhaseTotal)
	assert.ErrorIs(t, err, syscall.ECONNREFUSED)
	assert.ErrorIs(t, err, errclass.ErrNetwork, "the cause still matches its own sentinel")
}

// Item 1 over real sockets, HTTP/1.1 and h2: a stream of 128 KiB bursts
// every 700ms, read in 4 KiB reads, is read in full under
// WithAdaptiveBodyIdle(1.8, 200ms, 10s), and the stall that follows fails at
// the adaptive bound (about 1.26s), far within the 10s ceiling. That such a
// stream also reaches EOF, with 4 KiB reads and with io.Copy, and that the
// bound is exactly 1.26s, is checked on fake time by
// TestAdaptiveBodyIdleFollowsBursts. (By the rule, a Read that waits 20ms or
// more inside a burst, as a scheduling delay of a loaded machine can make
// it, is a gap: the test runs one stream per protocol.)
func TestLoopbackAdaptiveStream(t *testing.T) {
	t.Parallel()
	opt := timeouts.WithAdaptiveBodyIdle(1.8, 200*ms, 10*time.Second)
	for _, p := range protos {
		t.Run(p.name, func(t *testing.T) {
			t.Parallel()
			srv := start(t, transporttest.NewUnstartedServer(bursts(4, 128<<10, 700*ms, true)), p.h2)
			resp, err := get(t, nil, client(t, srv, opt), srv.URL)
			require.NoError(t, err)
			defer resp.Body.Close()
			var n int64
			took := elapsed(func() { n, err = readBy(resp.Body, 4<<10) })
			assert.Equal(t, int64(4*128<<10), n, "the stream is read in full")
			te := requireTimeout(t, err, errclass.PhaseBodyIdle)
			assert.InDelta(t, 1260*ms, te.Limit, float64(300*ms), "1.8 x the gaps of about 700ms")
			assert.Less(t, took-3*700*ms, 5*time.Second, "the stall is cut at the adaptive bound, not the ceiling")
		})
	}
}

// smallBuffers makes a listener whose connections have a 32 KiB receive
// buffer, so that a server's reading in batches shows to the client.
func smallBuffers(t *testing.T) net.Listener {
	lc := net.ListenConfig{Control: func(_, _ string, rc syscall.RawConn) error {
		return rc.Control(func(fd uintptr) { syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 32<<10) })
	}}
	ln, err := lc.Listen(context.Background(), "tcp", "127.0.0.1:0")
	require.NoError(t, err)
	return ln
}

// Item 1 over real sockets: an upload to a server that reads 256 KiB, then
// works for 600ms, completes under WithAdaptiveWriteIdle(3, 1s, 10s), with
// small socket buffers on both sides (the client's through WithDialer's
// Control) so that the batches show. The floor keeps the test independent
// of the machine's load: by the rule, a Read that waits a tenth of the floor
// inside a batch (a scheduling delay) is a gap, and three such gaps would
// bring a lower floor below the 600ms pauses. The rule itself, and that the
// bound adapts to 3 x 600ms, are checked exactly on fake time by
// TestAdaptiveWriteIdleBatchedReader.
func TestLoopbackAdaptiveWriteBatched(t *testing.T) {
	t.Parallel()
	srv := transporttest.NewUnstartedServer(batchedReader(256<<10, 600*ms))
	srv.Listener = smallBuffers(t)
	start(t, srv, false)
	var controlled atomic.Int32
	d := &net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		controlled.Add(1)
		return rc.Control(func(fd uintptr) { syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_SNDBUF, 32<<10) })
	}}
	c := client(t, srv, timeouts.WithDialer(d), timeouts.WithAdaptiveWriteIdle(3, time.Second, 10*time.Second))
	req, err := http.NewRequest(http.MethodPut, srv.URL, newUpload(1<<20))
	require.NoError(t, err)
	resp, err := c.Do(req)
	require.NoError(t, err)
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Equal(t, "ok", string(b))
	assert.Equal(t, int32(1), controlled.Load(), "the dialer's Control ran")
}

// slowHop is a TCP proxy to target that forwards what the client sends at
// rate bytes per second, and the answers at once: a bandwidth-limited hop.
func slowHop(t *testing.T, target string, rate int) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	done := make(chan struct{})
	var conns []net.Conn
	t.Cleanup(func() {
		ln.Close()
		<-done
	})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				for _, c := range conns {
					c.Close()
				}
				return
			}
			up, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			conns = append(conns, c, up)
			go func() {
				throttle(up, c, rate)
				up.(*net.TCPConn).CloseWrite()
			}()
			go func() {
				io.Copy(c, up)
				c.Close()
			}()
		}
	}()
	return ln.Addr().String()
}

// throttle copies src to dst at rate bytes per second.
func throttle(dst io.Writer, src io.Reader, rate int) {
	buf := make([]byte, 8<<10)
	next := time.Now()
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if _, err := dst.Write(buf[:n]); err != nil {
				return
			}
			next = next.Add(time.Duration(n) * time.Second / time.Duration(rate))
			time.Sleep(time.Until(next))
		}
		if err != nil {
			return
		}
	}
}

// Item 8: a 1 MiB upload through a 512 KB/s hop (2s in all) completes
// under a 1s write idle bound (its bytes leave in steps shorter than the
// bound), and an upload to a server that stops reading fails with
// write_idle, even when the whole body would fit in the kernel's buffers.
func TestLoopbackWriteProgress(t *testing.T) {
	t.Parallel()
	t.Run("slow hop", func(t *testing.T) {
		t.Parallel()
		srv := start(t, transporttest.NewUnstartedServer(transporttest.Reply{Body: "ok"}), false)
		hop := slowHop(t, srv.Listener.Addr().String(), 512<<10)
		c := client(t, srv, timeouts.WithWriteIdle(time.Second), timeouts.WithResponseHeader(10*time.Second))
		req, err := http.NewRequest(http.MethodPut, "http://"+hop+"/", newUpload(1<<20))
		require.NoError(t, err)
		resp, err := c.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, int64(1<<20), srv.Stats().BodyBytes)
	})
	t.Run("stops reading", func(t *testing.T) {
		t.Parallel()
		srv := transporttest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.CopyN(io.Discard, r.Body, 64<<10)
			<-r.Context().Done() // then nothing, until the client goes or the server closes
		}))
		start(t, srv, false)
		c := client(t, srv, timeouts.WithWriteIdle(300*ms), timeouts.WithResponseHeader(10*time.Second))
		body := newUpload(1 << 20)
		req, err := http.NewRequest(http.MethodPut, srv.URL, body)
		require.NoError(t, err)
		within(t, func() { _, err = c.Do(req) })
		requireTimeout(t, err, errclass.PhaseWriteIdle)
	})
}

// Item 7 over real HTTP/1.1 and h2: a PUT whose body source fails mid-way
// is the caller's failure (request_body), not a reset or a timeout.
func TestLoopbackRequestBodyFailure(t *testing.T) {
	t.Parallel()
	for _, p := range protos {
		t.Run(p.name, func(t *testing.T) {
			t.Parallel()
			srv := start(t, transporttest.NewUnstartedServer(transporttest.Reply{Body: "ok"}), p.h2)
			req, err := http.NewRequest(http.MethodPut, srv.URL, &failingSource{n: 256 << 10, err: io.ErrUnexpectedEOF})
			require.NoError(t, err)
			_, err = client(t, srv).Do(req)
			requireRequestBody(t, err, io.ErrUnexpectedEOF)
		})
	}
}

// fullBacklog returns a loopback address whose listener never accepts and
// whose accept queue is full, so the kernel drops further SYNs and a connect
// to it hangs until the client gives up.
func fullBacklog(t *testing.T) string {
	t.Helper()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	require.NoError(t, err)
	t.Cleanup(func() { syscall.Close(fd) })
	require.NoError(t, syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}))
	require.NoError(t, syscall.Listen(fd, 0))
	sa, err := syscall.Getsockname(fd)
	require.NoError(t, err)
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(sa.(*syscall.SockaddrInet4).Port))
	for range 16 {
		c, err := net.DialTimeout("tcp", addr, 200*ms)
		if err != nil {
			return addr // the queue is full
		}
		t.Cleanup(func() { c.Close() })
	}
	t.Fatalf("the accept queue of %s never filled", addr)
	return ""
}
