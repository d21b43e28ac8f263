package transporttest

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// maxSeenBody is how many bytes of each request body [Request.Body] keeps.
const maxSeenBody = 1 << 20

// closeGrace is how long [Server.Close] lets connections that are still busy
// finish once every stalling handler has been released, before it closes them.
const closeGrace = time.Second

// A Server is a fake HTTP server on the loopback interface (or on a
// [MemListener]) that plays one failure shape and records what it saw.
//
// Servers are made by the New… constructors of this package, which return
// them started; each has a NewUnstarted… twin that returns it unstarted, so
// that the exported fields below can be set before [Server.Start] or
// [Server.StartTLS], as with [httptest.NewUnstartedServer]. [NewServer] wraps
// a handler of your own with the same recording.
//
// Every server counts requests, connections and request-body bytes, and
// keeps each request (see [Server.Seen]); the counters are safe to read
// concurrently, while requests are being served. [Server.Close] releases every
// handler that is stalling on purpose, closes every connection and waits for
// the server's goroutines, so a test that calls it leaks nothing; it is
// convenient as t.Cleanup(srv.Close).
//
// A Server holds no global state: any number may run in parallel tests.
// Make Servers with the constructors of this package; the zero value is not
// usable.
type Server struct {
	// URL is the base URL of the started server, of the form
	// "http://127.0.0.1:port" or "https://127.0.0.1:port", with no trailing
	// slash. It is empty until Start or StartTLS.
	URL string

	// Listener accepts the server's connections. When it is nil at Start,
	// the server listens on 127.0.0.1 with a free port (on [::1] if the host
	// has no IPv4 loopback). Set it before Start to serve elsewhere, for
	// example on a [MemListener] inside a testing/synctest bubble; the server
	// then owns it and closes it on Close.
	Listener net.Listener

	// EnableHTTP2 makes StartTLS offer HTTP/2 through ALPN, and makes the
	// client from [Server.Client] use it. It has no effect on Start
	// (cleartext HTTP/2 is not offered).
	EnableHTTP2 bool

	// TLS is the TLS configuration StartTLS uses; it is cloned at StartTLS.
	// When it is nil or has no Certificates, StartTLS adds httptest's
	// built-in certificate (valid for 127.0.0.1, ::1 and example.com), which
	// [Server.Client] trusts. With a certificate of your own, configure the
	// client's RootCAs yourself. Set ClientAuth and ClientCAs here to ask
	// for client certificates; [Request.TLS] shows what each client sent.
	TLS *tls.Config

	// Config is the underlying http.Server. Its Handler is the fixture's
	// behaviour; the server wraps it at Start to record each request, so a
	// Handler replaced before Start is recorded too. Other fields (timeouts,
	// ErrorLog, ConnState, ConnContext) may be set before Start; ConnContext
	// and ConnState are chained, not replaced. ErrorLog defaults to a logger
	// that discards, so expected failures do not clutter test output.
	Config *http.Server

	// rawConn, when set, takes every accepted connection instead of the
	// http.Server (blackhole, GOAWAY); it runs in its own goroutine, counted
	// by wg, and the connection is closed when it returns.
	rawConn func(c *conn)

	hs      *httptest.Server // the running server, set by start
	handler http.Handler     // Config.Handler wrapped to record, set by start
	ctx     context.Context  // done when Close starts
	cancel  context.CancelFunc
	started atomic.Bool
	once    sync.Once // guards Close

	wg sync.WaitGroup // handlers in flight and raw-connection goroutines

	requests    atomic.Int64
	connections atomic.Int64
	bodyBytes   atomic.Int64

	mu     sync.Mutex // guards the fields below
	closed bool       // Close has started; no new handler or goroutine starts
	seen   []*Request // every request, in arrival order; Body grows as it is read
	open   map[*conn]struct{}
}

// A Request is what a [Server] (or a [Script]) recorded of one request.
type Request struct {
	// Method is the request method.
	Method string
	// Path is the path of the request URL, as the server decoded it.
	Path string
	// RawQuery is the encoded query of the request URL, without the '?'.
	RawQuery string
	// Host is the Host header (or the URL host, for a Script).
	Host string
	// Proto is the protocol, "HTTP/1.1" or "HTTP/2.0".
	Proto string
	// Header is a copy of the request header.
	Header http.Header
	// Body holds the first 1 MiB of the request body that the fixture read.
	// Fixtures that never read the body (NoRead, AnswerBeforeBody) leave it
	// empty or short; [Server.BodyBytes] counts every byte.
	Body []byte
	// ConnID identifies the connection the request came on: connections are
	// numbered 1, 2, … in the order the server accepted them, so two
	// requests with the same ConnID shared a connection. A Script records 0.
	ConnID int
	// TLS is the connection's TLS state, or nil for cleartext (and for a
	// Script); the client's certificates are in TLS.PeerCertificates.
	TLS *tls.ConnectionState
}

func (r Request) clone() Request {
	r.Header = r.Header.Clone()
	r.Body = append([]byte(nil), r.Body...)
	return r
}

// NewServer returns a started [Server] that serves h and records every
// request as the fixtures of this package do. Use it for a behaviour the
// package does not offer; [ConnID] tells h which connection a request came
// on, and h should stop waiting when [Server.Done] is closed. A nil h
// answers 404 to everything.
func NewServer(h http.Handler) *Server {
	s := NewUnstartedServer(h)
	s.Start()
	return s
}

// NewUnstartedServer is like [NewServer] but does not start the server.
func NewUnstartedServer(h http.Handler) *Server {
	if h == nil {
		h = http.NotFoundHandler()
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Server{
		Config: &http.Server{Handler: h},
		ctx:    ctx,
		cancel: cancel,
		open:   make(map[*conn]struct{}),
	}
}

// newRaw returns an unstarted server whose connections are all given to fn.
func newRaw(fn func(s *Server, c *conn)) *Server {
	s := NewUnstartedServer(http.NotFoundHandler())
	s.rawConn = func(c *conn) { fn(s, c) }
	return s
}

// Start starts the server on plain HTTP/1.1. It panics if the server was
// already started or if no loopback port is free.
func (s *Server) Start() { s.start(false) }

// StartTLS starts the server with TLS (and HTTP/2 when EnableHTTP2 is set).
// It panics if the server was already started.
func (s *Server) StartTLS() { s.start(true) }

func (s *Server) start(useTLS bool) {
	if s.ctx == nil {
		panic("transporttest: Server not made by a constructor")
	}
	if !s.started.CompareAndSwap(false, true) {
		panic("transporttest: server already started")
	}
	if s.Listener == nil {
		s.Listener = newLocalListener()
	}
	cfg := s.Config
	if cfg.ErrorLog == nil {
		cfg.ErrorLog = log.New(io.Discard, "", 0)
	}
	inner := cfg.Handler
	cfg.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.serve(inner, w, r)
	})
	s.handler = cfg.Handler
	userCtx := cfg.ConnContext
	cfg.ConnContext = func(ctx context.Context, c net.Conn) context.Context {
		if cc := unwrapConn(c); cc != nil {
			ctx = context.WithValue(ctx, connKey{}, cc.id)
		}
		if userCtx != nil {
			ctx = userCtx(ctx, c)
		}
		return ctx
	}
	hs := &httptest.Server{
		Listener:    &listener{Listener: s.Listener, s: s},
		Config:      cfg,
		EnableHTTP2: s.EnableHTTP2,
	}
	if s.TLS != nil {
		hs.TLS = s.TLS.Clone()
	}
	s.hs = hs // before the server's goroutines start; they read it
	if useTLS {
		hs.StartTLS()
	} else {
		hs.Start()
	}
	if d, ok := s.Listener.(interface {
		DialContext(ctx context.Context, network, addr string) (net.Conn, error)
	}); ok {
		if t, ok := hs.Client().Transport.(*http.Transport); ok {
			t.DialContext = d.DialContext
		}
	}
	s.URL = hs.URL
}

// newLocalListener listens on a free loopback port, IPv4 first.
func newLocalListener() net.Listener {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		if l, err = net.Listen("tcp6", "[::1]:0"); err != nil {
			panic("transporttest: failed to listen on a loopback port: " + err.Error())
		}
	}
	return l
}

// serve records r and runs the fixture's handler.
func (s *Server) serve(h http.Handler, w http.ResponseWriter, r *http.Request) {
	rec := &Request{
		Method:   r.Method,
		Path:     r.URL.Path,
		RawQuery: r.URL.RawQuery,
		Host:     r.Host,
		Proto:    r.Proto,
		Header:   r.Header.Clone(),
		ConnID:   ConnID(r),
		TLS:      r.TLS,
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		w.Header().Set("Connection", "close")
		http.Error(w, "transporttest: server closed", http.StatusServiceUnavailable)
		return
	}
	s.wg.Add(1)
	s.seen = append(s.seen, rec)
	s.mu.Unlock()
	defer s.wg.Done()
	s.requests.Add(1)
	if r.Body != nil && r.Body != http.NoBody {
		r.Body = &recordingBody{ReadCloser: r.Body, s: s, rec: rec}
	}
	h.ServeHTTP(w, r)
}

// recordingBody counts and keeps what a handler reads of a request body.
type recordingBody struct {
	io.ReadCloser
	s   *Server
	rec *Request
}

func (b *recordingBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if n > 0 {
		b.s.bodyBytes.Add(int64(n))
		b.s.mu.Lock()
		if room := maxSeenBody - len(b.rec.Body); room > 0 {
			b.rec.Body = append(b.rec.Body, p[:min(n, room)]...)
		}
		b.s.mu.Unlock()
	}
	return n, err
}

type connKey struct{}

// ConnID returns the id of the connection r arrived on at a [Server] (see
// [Request.ConnID]), or 0 when r was not received by one.
func ConnID(r *http.Request) int {
	id, _ := r.Context().Value(connKey{}).(int)
	return id
}

// Addr returns the address the server listens on, as "127.0.0.1:port".
// It is empty before Start.
func (s *Server) Addr() string {
	if !s.started.Load() {
		return ""
	}
	return s.Listener.Addr().String()
}

// Client returns an HTTP client configured for the server: it trusts the
// server's certificate (after StartTLS), speaks HTTP/2 when EnableHTTP2 is
// set, and dials the server's [MemListener] when it has one. The same client
// is returned on every call; its idle connections are closed by Close. It
// returns nil before Start.
func (s *Server) Client() *http.Client {
	if s.hs == nil {
		return nil
	}
	return s.hs.Client()
}

// Certificate returns the certificate the server presents after StartTLS,
// or nil.
func (s *Server) Certificate() *x509.Certificate {
	if s.hs == nil {
		return nil
	}
	return s.hs.Certificate()
}

// Requests returns how many requests have reached the server's handler so
// far, including those still in flight and those the fixture answered with
// a failure.
func (s *Server) Requests() int { return int(s.requests.Load()) }

// Connections returns how many connections the server has accepted so far.
func (s *Server) Connections() int { return int(s.connections.Load()) }

// OpenConnections returns how many accepted connections the server has not
// closed yet. A connection the client closed counts until the server
// notices, which may be when the server next reads from it.
func (s *Server) OpenConnections() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.open)
}

// BodyBytes returns how many bytes of request bodies the server's handlers
// have read so far, over all requests.
func (s *Server) BodyBytes() int64 { return s.bodyBytes.Load() }

// Seen returns a copy of every request the server has received so far, in
// arrival order. The body of a request still being read may be incomplete.
// The server keeps every request until it is dropped, so a load test of
// millions of requests holds them all.
func (s *Server) Seen() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Request, len(s.seen))
	for i, r := range s.seen {
		out[i] = r.clone()
	}
	return out
}

// Done returns a channel that is closed when Close starts. Handlers given to
// [NewServer] should stop waiting when it is closed, so that Close returns.
func (s *Server) Done() <-chan struct{} { return s.ctx.Done() }

// Close shuts the server down: it releases every handler that is stalling on
// purpose, stops accepting, gives busy connections up to a second to finish
// their responses, then closes every connection (including hijacked and
// black-holed ones) and waits for all of the server's goroutines. After
// Close returns, no goroutine of the server is left. Close may be called
// more than once and on a server that was never started.
func (s *Server) Close() {
	if s.cancel == nil {
		return // not made by a constructor: nothing to close
	}
	s.once.Do(func() {
		s.mu.Lock()
		s.closed = true
		s.mu.Unlock()
		s.cancel()
		if s.hs == nil {
			if s.Listener != nil {
				s.Listener.Close()
			}
			return
		}
		done := make(chan struct{})
		go func() {
			s.hs.Close()
			close(done)
		}()
		t := time.NewTimer(closeGrace)
		select {
		case <-done:
		case <-t.C:
			s.closeConns()
			<-done
		}
		t.Stop()
		s.closeConns()
		s.wg.Wait()
	})
}

// CloseConnections closes every connection the server has open now,
// abruptly, while the server keeps accepting new ones; requests in flight on
// them fail. Clients see the connections drop, as after a server restart.
func (s *Server) CloseConnections() { s.closeConns() }

// closeConns closes every connection the server still has open.
func (s *Server) closeConns() {
	s.mu.Lock()
	conns := make([]*conn, 0, len(s.open))
	for c := range s.open {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	for _, c := range conns {
		c.Close()
	}
}

// wait waits for d. When the client goes away or the server is closed
// first, it aborts the handler: the connection is closed (the stream reset,
// over HTTP/2) with no further response.
func (s *Server) wait(r *http.Request, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return
	case <-r.Context().Done():
	case <-s.ctx.Done():
	}
	panic(http.ErrAbortHandler)
}

// block waits for the client to go away or the server to close, then aborts
// the handler as wait does.
func (s *Server) block(r *http.Request) {
	select {
	case <-r.Context().Done():
	case <-s.ctx.Done():
	}
	panic(http.ErrAbortHandler)
}

// listener wraps the server's listener to number and track connections.
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
	if cc := unwrapConn(c); cc != nil {
		switch nc := cc.Conn.(type) {
		case *net.TCPConn:
			nc.SetLinger(0)
		case *memConn:
			nc.abort()
		}
	}
	c.Close()
}

// Freeze black-holes every connection open now, as a dead network path
// would: the server stops reading from them and silently drops whatever it
// writes to them, so the client's requests (and HTTP/2 pings) go
// unanswered. Connections accepted later work normally. Close still closes
// frozen connections. Freeze is the dead-HTTP/2-connection fixture when
// called on an HTTP/2 server after a first request (see [NewHTTP2]).
func (s *Server) Freeze() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.open {
		c.frozen.Store(true)
	}
}
