package transporttest

import (
	"context"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
)

// A MemListener is an in-memory network: a [net.Listener] whose connections
// come from its own [MemListener.DialContext]. No socket is involved, so a server and a client joined by a MemListener can
// run inside a testing/synctest bubble, where every wait (timeouts, trickles,
// stalls, retries) runs on the bubble's fake clock and takes no real time.
//
// To run a server in memory, set its Listener before starting it; the
// server's [Server.Client] then dials the MemListener:
//
//	synctest.Test(t, func(t *testing.T) {
//		srv := transporttest.NewUnstartedServer(transporttest.Reply{Delay: time.Minute})
//		srv.Listener = transporttest.NewMemListener()
//		srv.Start()
//		defer srv.Close()
//		client := srv.Client() // set its timeouts, wrap its Transport...
//		...
//	})
//
// Create the MemListener inside the bubble that uses it.
//
// The connections behave like loopback TCP where tests can tell: each
// direction buffers 256 KiB, so a write returns once it fits and blocks
// while the peer does not read (an upload to a server that never reads
// stalls after 256 KiB); deadlines work; CloseWrite half-closes; a closed
// peer is seen as io.EOF on read and EPIPE on write; and a fixture's reset
// (see [ResetMidBody]) is seen as ECONNRESET once the data sent before
// it has been read.
//
// A MemListener is safe for concurrent use. Its address is 127.0.0.1:1, so
// that URLs and the TLS test certificate work; nothing is dialed there.
type MemListener struct {
	conns     chan net.Conn
	done      chan struct{}
	closeOnce sync.Once
	dials     atomic.Int32 // numbers the client ends' ports
}

// NewMemListener returns an open MemListener.
func NewMemListener() *MemListener {
	return &MemListener{conns: make(chan net.Conn), done: make(chan struct{})}
}

// Accept waits for the next DialContext and returns the server end of its
// pipe. After Close it returns [net.ErrClosed].
func (l *MemListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

// Close stops the listener: pending and later dials fail with "connection
// refused". Connections already made stay open. Close always returns nil.
func (l *MemListener) Close() error {
	l.closeOnce.Do(func() { close(l.done) })
	return nil
}

// Addr returns the listener's nominal address, 127.0.0.1:1 over "tcp".
func (l *MemListener) Addr() net.Addr { return memAddr }

var memAddr = &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 1}

// DialContext connects to the listener, whatever network and address are
// given, so it can be used as [http.Transport.DialContext]. It waits for
// Accept; it fails with the context's error when ctx is done first, and
// with a *net.OpError wrapping ECONNREFUSED when the listener is closed.
func (l *MemListener) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	port := 1024 + int(l.dials.Add(1)-1)%64000
	client, server := newMemConns(&net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port}, memAddr)
	select {
	case l.conns <- server:
		return client, nil
	case <-l.done:
		client.Close()
		server.Close()
		return nil, &net.OpError{Op: "dial", Net: "tcp", Addr: memAddr, Err: syscall.ECONNREFUSED}
	case <-ctx.Done():
		client.Close()
		server.Close()
		return nil, &net.OpError{Op: "dial", Net: "tcp", Addr: memAddr, Err: ctx.Err()}
	}
}
