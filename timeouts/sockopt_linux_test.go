package timeouts_test

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/rtchain/chain/timeouts"
	"github.com/rtchain/chain/transporttest"
)

// Item 8 and WithDialer: NewTransport's sockets have TCP_NOTSENT_LOWAT set,
// after the Control of a dialer of the caller's, whose LocalAddr applies too.
func TestSocketOptions(t *testing.T) {
	t.Parallel()
	srv := start(t, transporttest.NewUnstartedServer(transporttest.Reply{Body: "ok"}), false)
	var controlled atomic.Int32
	d := &net.Dialer{
		LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)},
		Control:   func(string, string, syscall.RawConn) error { controlled.Add(1); return nil },
	}
	var got net.Conn
	ctx := httptrace.WithClientTrace(context.Background(), &httptrace.ClientTrace{
		GotConn: func(info httptrace.GotConnInfo) { got = info.Conn },
	})
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
	require.NoError(t, err)
	resp, err := (&http.Client{Transport: base(t, srv, timeouts.WithDialer(d))}).Do(req)
	require.NoError(t, err)
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	assert.Equal(t, int32(1), controlled.Load())

	if tc, ok := got.(*tls.Conn); ok {
		got = tc.NetConn()
	}
	tcp, ok := got.(interface{ NetConn() net.Conn }).NetConn().(*net.TCPConn)
	require.True(t, ok, "GotConnInfo.Conn has NetConn, the dialed connection")
	assert.Equal(t, "127.0.0.1", tcp.LocalAddr().(*net.TCPAddr).IP.String())
	rc, err := tcp.SyscallConn()
	require.NoError(t, err)
	var lowat int
	require.NoError(t, rc.Control(func(fd uintptr) {
		lowat, err = unix.GetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_NOTSENT_LOWAT)
	}))
	require.NoError(t, err)
	assert.Equal(t, 16<<10, lowat)
}
