package transporttest

import (
	"context"
	"crypto/tls"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// listener wraps the server's listener to number and track connections, and
// to hand them to the server's raw-connection mode when it has one.
type listener struct {
	net.Listener
	s *Server
}

func (l *listener) Accept() (net.Conn, error) {
	for {
		nc, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		s := l.s
		c := &conn{Conn: nc, s: s, id: int(s.connections.Add(1)), dead: make(chan struct{}), dlChanged: make(chan struct{})}
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			nc.Close()
			continue
		}
		s.open[c] = struct{}{}
		if s.rawConn == nil {
			s.mu.Unlock()
			return c, nil
		}
		s.wg.Add(1)
		s.mu.Unlock()
		go func() {
			defer s.wg.Done()
			defer c.Close()
			stop := context.AfterFunc(s.ctx, func() { c.Close() })
			defer stop()
			s.rawConn(c)
		}()
	}
}

// conn is an accepted connection: numbered, tracked, and freezable.
type conn struct {
	net.Conn
	s         *Server
	id        int
	requests  atomic.Int64 // requests received on it so far
	closeOnce sync.Once
	dead      chan struct{} // closed by Close
	frozen    atomic.Bool   // see Server.Freeze

	dlMu         sync.Mutex    // guards readDeadline and dlChanged
	readDeadline time.Time     // as last set, for frozen reads
	dlChanged    chan struct{} // closed (and replaced) when it changes
}

func (c *conn) Read(p []byte) (int, error) {
	if c.frozen.Load() {
		return 0, c.frozenRead()
	}
	return c.Conn.Read(p)
}

// frozenRead blocks like a read from a dead path: until the connection is
// closed or its read deadline passes (net/http uses a past deadline to
// abort its background read).
func (c *conn) frozenRead() error {
	for {
		c.dlMu.Lock()
		dl, changed := c.readDeadline, c.dlChanged
		c.dlMu.Unlock()
		var t *time.Timer
		var expired <-chan time.Time
		if !dl.IsZero() {
			d := time.Until(dl)
			if d <= 0 {
				return os.ErrDeadlineExceeded
			}
			t = time.NewTimer(d)
			expired = t.C
		}
		var err error
		select {
		case <-c.dead:
			err = net.ErrClosed
		case <-expired:
			err = os.ErrDeadlineExceeded
		case <-changed:
		}
		if t != nil {
			t.Stop()
		}
		if err != nil {
			return err
		}
	}
}

func (c *conn) SetDeadline(t time.Time) error {
	c.noteReadDeadline(t)
	return c.Conn.SetDeadline(t)
}

func (c *conn) SetReadDeadline(t time.Time) error {
	c.noteReadDeadline(t)
	return c.Conn.SetReadDeadline(t)
}

func (c *conn) noteReadDeadline(t time.Time) {
	c.dlMu.Lock()
	defer c.dlMu.Unlock()
	c.readDeadline = t
	close(c.dlChanged)
	c.dlChanged = make(chan struct{})
}

func (c *conn) Write(p []byte) (int, error) {
	if c.frozen.Load() {
		select {
		case <-c.dead:
			return 0, net.ErrClosed
		default:
			return len(p), nil // dropped, as on a dead path
		}
	}
	return c.Conn.Write(p)
}

// CloseWrite half-closes the connection when the underlying one can, so
// that net/http's lingering close works as on a plain TCP connection.
func (c *conn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

func (c *conn) Close() error {
	c.closeOnce.Do(func() {
		close(c.dead)
		c.s.mu.Lock()
		delete(c.s.open, c)
		c.s.mu.Unlock()
	})
	return c.Conn.Close()
}

// unwrapConn returns the server's own connection under c (through TLS).
func unwrapConn(c net.Conn) *conn {
	if tc, ok := c.(*tls.Conn); ok {
		c = tc.NetConn()
	}
	cc, _ := c.(*conn)
	return cc
}

// reset closes c with a TCP reset (RST) instead of an orderly FIN (or its
// in-memory equivalent); other connections are simply closed.
func reset(c net.Conn) {
	inner := c
	if tc, ok := inner.(*tls.Conn); ok {
		inner = tc.NetConn()
	}
	if cc, ok := inner.(*conn); ok {
		inner = cc.Conn
	}
	switch nc := inner.(type) {
	case *net.TCPConn:
		nc.SetLinger(0)
	case *memConn:
		nc.abort()
	}
	c.Close()
}
