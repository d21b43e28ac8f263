package transporttest

import (
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// memBufSize is how many bytes an in-memory connection buffers in each
// direction, as a socket's send and receive buffers do.
const memBufSize = 256 << 10

// memPipe is one direction of an in-memory connection.
type memPipe struct {
	mu      sync.Mutex    // guards the fields below
	data    []byte        // written, not yet read
	rclosed bool          // the reading end closed: writes fail
	wclosed bool          // the writing end closed or half-closed: reads drain, then EOF
	reset   bool          // the writing end reset: reads fail once drained, writes at once
	wake    chan struct{} // closed and replaced on every change
}

func newMemPipe() *memPipe { return &memPipe{wake: make(chan struct{})} }

// changed wakes every waiter. p.mu must be held.
func (p *memPipe) changed() {
	close(p.wake)
	p.wake = make(chan struct{})
}

// memDeadline is a read or write deadline that wakes waiters when it changes.
type memDeadline struct {
	mu   sync.Mutex
	t    time.Time
	wake chan struct{} // closed and replaced when t changes
}

func (d *memDeadline) set(t time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.t = t
	if d.wake != nil {
		close(d.wake)
	}
	d.wake = make(chan struct{})
}

// expired reports whether the deadline has passed.
func (d *memDeadline) expired() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return !d.t.IsZero() && !time.Now().Before(d.t)
}

// wait blocks until wake is closed, the deadline changes or passes; it
// returns os.ErrDeadlineExceeded in the last case.
func (d *memDeadline) wait(wake <-chan struct{}) error {
	d.mu.Lock()
	t, changed := d.t, d.wake
	if changed == nil {
		d.wake = make(chan struct{})
		changed = d.wake
	}
	d.mu.Unlock()
	var expired <-chan time.Time
	if !t.IsZero() {
		left := time.Until(t)
		if left <= 0 {
			return os.ErrDeadlineExceeded
		}
		timer := time.NewTimer(left)
		defer timer.Stop()
		expired = timer.C
	}
	select {
	case <-wake:
	case <-changed:
	case <-expired:
		return os.ErrDeadlineExceeded
	}
	return nil
}

// memConn is one end of a buffered in-memory connection: unlike net.Pipe,
// a write returns once its bytes fit in the buffer, as on TCP, and the
// connection can be half-closed (CloseWrite) and reset.
type memConn struct {
	r, w          *memPipe
	local, remote net.Addr
	rdl, wdl      memDeadline
	closeOnce     sync.Once
	closed        atomic.Bool // Close was called
}

// newMemConns returns the two ends of a new connection.
func newMemConns(clientAddr, serverAddr net.Addr) (client, server *memConn) {
	up, down := newMemPipe(), newMemPipe()
	client = &memConn{r: down, w: up, local: clientAddr, remote: serverAddr}
	server = &memConn{r: up, w: down, local: serverAddr, remote: clientAddr}
	return client, server
}

func (c *memConn) opError(op string, err error) error {
	return &net.OpError{Op: op, Net: "tcp", Source: c.local, Addr: c.remote, Err: err}
}

func (c *memConn) Read(b []byte) (int, error) {
	p := c.r
	for {
		if c.rdl.expired() {
			return 0, c.opError("read", os.ErrDeadlineExceeded)
		}
		p.mu.Lock()
		switch {
		case p.rclosed:
			p.mu.Unlock()
			return 0, c.opError("read", net.ErrClosed)
		case len(p.data) > 0:
			n := copy(b, p.data)
			p.data = p.data[n:]
			p.changed()
			p.mu.Unlock()
			return n, nil
		case p.reset:
			p.mu.Unlock()
			return 0, c.opError("read", syscall.ECONNRESET)
		case p.wclosed:
			p.mu.Unlock()
			return 0, io.EOF
		case len(b) == 0:
			p.mu.Unlock()
			return 0, nil
		}
		wake := p.wake
		p.mu.Unlock()
		if err := c.rdl.wait(wake); err != nil {
			return 0, c.opError("read", err)
		}
	}
}

func (c *memConn) Write(b []byte) (int, error) {
	p := c.w
	n := 0
	for {
		if c.wdl.expired() {
			return n, c.opError("write", os.ErrDeadlineExceeded)
		}
		p.mu.Lock()
		switch {
		case c.closed.Load():
			p.mu.Unlock()
			return n, c.opError("write", net.ErrClosed)
		case p.wclosed: // after CloseWrite
			p.mu.Unlock()
			return n, c.opError("write", syscall.EPIPE)
		case p.reset:
			p.mu.Unlock()
			return n, c.opError("write", syscall.ECONNRESET)
		case p.rclosed:
			p.mu.Unlock()
			return n, c.opError("write", syscall.EPIPE)
		}
		if room := memBufSize - len(p.data); room > 0 && n < len(b) {
			k := min(room, len(b)-n)
			p.data = append(p.data, b[n:n+k]...)
			n += k
			p.changed()
		}
		if n == len(b) {
			p.mu.Unlock()
			return n, nil
		}
		wake := p.wake
		p.mu.Unlock()
		if err := c.wdl.wait(wake); err != nil {
			return n, c.opError("write", err)
		}
	}
}

// Close closes both directions. Unread data is dropped; the peer reads
// what was written before, then io.EOF, and its writes fail with EPIPE.
func (c *memConn) Close() error {
	c.closeOnce.Do(func() {
		c.closed.Store(true)
		c.r.mu.Lock()
		c.r.rclosed = true
		c.r.data = nil
		c.r.changed()
		c.r.mu.Unlock()
		c.w.mu.Lock()
		c.w.wclosed = true
		c.w.changed()
		c.w.mu.Unlock()
	})
	return nil
}

// CloseWrite half-closes the connection: the peer reads io.EOF after the
// data written so far, and this end can still read.
func (c *memConn) CloseWrite() error {
	c.w.mu.Lock()
	defer c.w.mu.Unlock()
	c.w.wclosed = true
	c.w.changed()
	return nil
}

// abort closes the connection as a TCP reset does: the peer reads the data
// already sent, then ECONNRESET, and its writes fail with ECONNRESET.
func (c *memConn) abort() {
	c.w.mu.Lock()
	c.w.reset = true
	c.w.changed()
	c.w.mu.Unlock()
	c.r.mu.Lock()
	c.r.reset = true
	c.r.changed()
	c.r.mu.Unlock()
	c.Close()
}

func (c *memConn) LocalAddr() net.Addr  { return c.local }
func (c *memConn) RemoteAddr() net.Addr { return c.remote }

func (c *memConn) SetDeadline(t time.Time) error {
	c.rdl.set(t)
	c.wdl.set(t)
	return nil
}

func (c *memConn) SetReadDeadline(t time.Time) error {
	c.rdl.set(t)
	return nil
}

func (c *memConn) SetWriteDeadline(t time.Time) error {
	c.wdl.set(t)
	return nil
}
