package timeouts

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rtchain/chain/errclass"
)

// What a connection of NewTransport watches (conn.rules).
const (
	ruleSniff  = 1 << iota // the next write tells what the connection carries
	ruleTLS                // a TLS handshake is in progress
	ruleHeader             // HTTP/1: the response header bound runs after writes
)

// TLS record types (RFC 8446, section 5.1).
const (
	recChangeCipherSpec = 0x14
	recHandshake        = 0x16
	recApplicationData  = 0x17
)

// conn is a connection made by NewTransport's dialer. It bounds what the
// transport above cannot name by itself, and sees only bytes:
//
//   - The TLS handshake: from the first write, when it is a TLS record, until
//     the handshake is over, the connection has a deadline of the
//     WithTLSHandshake bound, and its failure is an *Error of Phase
//     tls_handshake. The handshake is over at the client's first write of an
//     application-data record (TLS 1.3 sends its Finished message as one;
//     in TLS 1.2 it is the first request), or, in TLS 1.2, when the server's
//     Finished arrives after both sides changed cipher spec.
//   - The response header, on HTTP/1: after each write (of a request that
//     starts with a request line, or over TLS) the read side gets a deadline
//     of the WithResponseHeader bound, which the next write or the first
//     byte read removes; its failure is an *Error of Phase response_header.
//     An exchange of New above claims the connection for its request (from
//     httptrace's GotConn) and the connection then leaves the bound to it.
//     HTTP/2 is told apart by what net/http's HTTP/2 client does and its
//     HTTP/1 client never does: it sets a write deadline before each write
//     when Transport.HTTP2.WriteByteTimeout is set (NewTransport sets it), so
//     a connection on which a write deadline is set never runs the bound.
//     Cleartext HTTP/2 is told by its preface; a proxy's CONNECT and a SOCKS
//     greeting leave the decision to the next write.
//
// Everything else passes through: a connection that runs no rule costs one
// atomic load per Read and Write.
type conn struct {
	net.Conn
	d     *dialer
	rules atomic.Uint32
	reads atomic.Uint64 // HTTP/1: reads that returned bytes
	armed atomic.Bool   // HTTP/1: the header deadline is set (or being set)

	mu        sync.Mutex // guards the fields below
	out, in   recordScanner
	tlsAt     time.Time // the handshake's deadline
	armedAt   time.Time // the header deadline set on the read side, zero when none
	owner     *exchange // the exchange of New that claimed the connection
	mark      uint64    // reads when the last write began
	writing   int       // writes in progress
	pending   bool      // a write ended while claimed, its answer not yet begun
	clientCCS bool      // the client changed cipher spec (TLS 1.2)
	serverCCS bool      // then the server did
	ending    bool      // the write in progress ends the TLS handshake
	h2        bool      // a write deadline was set: HTTP/2
}

func (d *dialer) wrap(c net.Conn) net.Conn {
	w := &conn{Conn: c, d: d}
	w.rules.Store(ruleSniff)
	return w
}

// NetConn returns the connection the dialer made.
func (c *conn) NetConn() net.Conn { return c.Conn }

func (c *conn) Write(p []byte) (int, error) {
	if c.rules.Load() == 0 {
		return c.Conn.Write(p)
	}
	c.beforeWrite(p)
	n, err := c.Conn.Write(p)
	return n, c.afterWrite(err)
}

// ReadFrom keeps the fast path of the connection below (sendfile, splice)
// for request bodies on HTTP/1.
func (c *conn) ReadFrom(r io.Reader) (int64, error) {
	rf, ok := c.Conn.(io.ReaderFrom)
	switch rules := c.rules.Load(); {
	case !ok || rules&(ruleSniff|ruleTLS) != 0:
		return io.Copy(writerOnly{c}, r)
	case rules == 0:
		return rf.ReadFrom(r)
	}
	c.beforeWrite(nil)
	n, err := rf.ReadFrom(r)
	return n, c.afterWrite(err)
}

type writerOnly struct{ io.Writer }

// Read is decided after the Read below returns: the transport's read loop
// waits in Read from before its request is written, so the rules that apply
// are those of the moment the bytes (or the deadline) came. On HTTP/1 a
// Read that returns bytes while no header deadline is set costs two atomic
// operations.
func (c *conn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	rules := c.rules.Load()
	if rules == 0 {
		return n, err
	}
	if rules == ruleHeader {
		if n > 0 {
			c.reads.Add(1)
		}
		if err == nil && !c.armed.Load() {
			return n, err
		}
	}
	return n, c.afterRead(p[:n], err)
}

// CloseWrite half-closes the connection, when the connection below can.
func (c *conn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return &net.OpError{Op: "close", Net: "tcp", Err: errors.ErrUnsupported}
}

func (c *conn) SetDeadline(t time.Time) error {
	c.noteDeadline(t)
	return c.Conn.SetDeadline(t)
}

func (c *conn) SetWriteDeadline(t time.Time) error {
	c.noteDeadline(t)
	return c.Conn.SetWriteDeadline(t)
}

// noteDeadline turns the header rule off for good when the owner sets a
// write deadline: net/http's HTTP/2 client does, its HTTP/1 client never does.
func (c *conn) noteDeadline(t time.Time) {
	if t.IsZero() || c.rules.Load() == 0 {
		return
	}
	c.mu.Lock()
	c.h2 = true
	c.disarmLocked()
	c.rules.Store(c.rules.Load() &^ ruleHeader)
	c.mu.Unlock()
}

func (c *conn) beforeWrite(p []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.rules.Load()&ruleSniff != 0 {
		c.sniff(p)
	}
	if c.rules.Load()&ruleTLS != 0 {
		c.out.scan(p, c.clientRecord)
	}
	if c.rules.Load()&ruleHeader != 0 {
		c.writing++
		c.mark = c.reads.Load()
		c.pending = false
		c.disarmLocked()
	}
}

func (c *conn) afterWrite(err error) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	rules := c.rules.Load()
	if rules&ruleTLS != 0 {
		return c.tlsError(err)
	}
	if rules&ruleHeader == 0 {
		return err
	}
	c.writing--
	if err != nil || c.writing > 0 || c.ending {
		c.ending = false
		return err
	}
	if c.owner != nil {
		c.pending = true
	} else {
		c.armLocked()
	}
	return nil
}

func (c *conn) afterRead(p []byte, err error) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	rules := c.rules.Load()
	if rules&ruleTLS != 0 {
		c.in.scan(p, c.serverRecord)
		return c.tlsError(err)
	}
	if rules&ruleHeader == 0 {
		return err
	}
	if len(p) > 0 {
		c.pending = false
		c.disarmLocked()
		return err
	}
	if !c.armedAt.IsZero() && errors.Is(err, os.ErrDeadlineExceeded) && !time.Now().Before(c.armedAt) {
		return &Error{Phase: errclass.PhaseResponseHeader, Limit: c.d.header, cause: err}
	}
	return err
}

// sniff decides from the first bytes written what the connection carries.
// Called with c.mu held.
func (c *conn) sniff(p []byte) {
	switch {
	case len(p) >= 3 && p[0] == recHandshake && p[1] == 3:
		c.tlsAt = time.Now().Add(c.d.tls)
		c.Conn.SetDeadline(c.tlsAt)
		c.rules.Store(ruleTLS)
	case bytes.HasPrefix(p, []byte("CONNECT ")), len(p) > 0 && p[0] == 5:
		// A proxy tunnel or a SOCKS5 greeting: the next write decides.
	case bytes.HasPrefix(p, []byte("PRI * HTTP/2.0")):
		c.rules.Store(0)
	case isRequestLine(p) && c.d.header > 0:
		c.rules.Store(ruleHeader)
	default:
		c.rules.Store(0)
	}
}

// isRequestLine reports whether p starts with an HTTP/1 request line: a
// method token of upper-case letters and a space.
func isRequestLine(p []byte) bool {
	i := 0
	for i < len(p) && i < 16 && p[i] >= 'A' && p[i] <= 'Z' {
		i++
	}
	return i > 0 && i < len(p) && p[i] == ' '
}

// clientRecord and serverRecord follow the TLS handshake. Called with c.mu
// held.
func (c *conn) clientRecord(typ byte) {
	switch typ {
	case recChangeCipherSpec:
		c.clientCCS = true
	case recApplicationData:
		c.ending = c.rules.Load()&ruleTLS != 0 // this write ends the handshake: no header clock after it
		c.endHandshake()
	}
}

func (c *conn) serverRecord(typ byte) {
	switch {
	case typ == recChangeCipherSpec && c.clientCCS:
		c.serverCCS = true
	case typ == recHandshake && c.serverCCS: // TLS 1.2 server Finished
		c.endHandshake()
	}
}

// endHandshake removes the handshake's deadline and starts watching the
// response header, unless the connection cannot tell HTTP/1 from HTTP/2.
func (c *conn) endHandshake() {
	if c.rules.Load()&ruleTLS == 0 {
		return
	}
	c.Conn.SetDeadline(time.Time{})
	rules := uint32(0)
	if c.d.header > 0 && !c.h2 && c.d.seesHTTP2() {
		rules = ruleHeader
	}
	c.writing = 0 // beforeWrite counts the write in progress, if any, after this
	c.mark = c.reads.Load()
	c.rules.Store(rules)
}

// tlsError names a failure of the handshake's deadline. Called with c.mu held.
func (c *conn) tlsError(err error) error {
	if err != nil && errors.Is(err, os.ErrDeadlineExceeded) && !time.Now().Before(c.tlsAt) {
		return &Error{Phase: errclass.PhaseTLSHandshake, Limit: c.d.tls, cause: err}
	}
	return err
}

// armLocked starts the header bound on the read side, unless a byte of the
// answer was read since the write began; disarmLocked stops it. armed is set
// before reads is checked, and Read adds to reads before it checks armed:
// either armLocked sees the byte, or that Read sees armed and disarms.
func (c *conn) armLocked() {
	if c.d.header == 0 || c.rules.Load()&ruleHeader == 0 {
		return
	}
	c.armed.Store(true)
	if c.reads.Load() != c.mark {
		c.armed.Store(false)
		return
	}
	c.armedAt = time.Now().Add(c.d.header)
	c.Conn.SetReadDeadline(c.armedAt)
}

func (c *conn) disarmLocked() {
	if !c.armedAt.IsZero() {
		c.armedAt = time.Time{}
		c.Conn.SetReadDeadline(time.Time{})
	}
	c.armed.Store(false)
}

// claim leaves the header bound of the request in flight to s.
func (c *conn) claim(s *exchange) {
	c.mu.Lock()
	c.owner = s
	c.disarmLocked()
	c.mu.Unlock()
}

// release ends s's claim; when a request written since is waiting for its
// header, its bound starts now.
func (c *conn) release(s *exchange) {
	c.mu.Lock()
	if c.owner == s {
		c.owner = nil
		if c.pending && c.writing == 0 {
			c.armLocked()
		}
		c.pending = false
	}
	c.mu.Unlock()
}

// seesHTTP2 reports whether an HTTP/2 connection of the transport would be
// told apart (it sets write deadlines), or HTTP/2 is off.
func (d *dialer) seesHTTP2() bool {
	t := d.t
	if t == nil {
		return false
	}
	if t.Protocols != nil && !t.Protocols.HTTP2() {
		return true
	}
	return t.HTTP2 != nil && t.HTTP2.WriteByteTimeout > 0
}

// recordScanner follows the TLS record headers in a byte stream, across
// Reads and Writes, and reports each record's type as its header completes.
type recordScanner struct {
	hdr  [5]byte
	n    int // bytes of hdr seen
	left int // payload bytes of the current record still to come
}

func (r *recordScanner) scan(p []byte, f func(typ byte)) {
	for len(p) > 0 {
		if r.left > 0 {
			k := min(r.left, len(p))
			r.left -= k
			p = p[k:]
			continue
		}
		k := copy(r.hdr[r.n:], p)
		r.n += k
		p = p[k:]
		if r.n == len(r.hdr) {
			r.n = 0
			r.left = int(r.hdr[3])<<8 | int(r.hdr[4])
			f(r.hdr[0])
		}
	}
}
