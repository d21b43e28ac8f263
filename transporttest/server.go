package transporttest

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"time"
)

// closeGrace is how long [Server.Close] lets connections that are still busy
// finish once every stalling handler has been released, before it closes them.
const closeGrace = time.Second

// A Server is a fake HTTP server on the loopback interface (or on a
// [MemListener]) that serves a handler, typically a [Reply] or a [Sequence]
// of them that plays a failure shape, and records what it saw.
//
// It is shaped like [httptest.Server]: [NewServer] returns it started,
// [NewUnstartedServer] returns it unstarted so that the exported fields below
// can be set before [Server.Start] or [Server.StartTLS]. TLS, HTTP/2,
// in-memory connections and graceful shutdowns (GOAWAY) are modes set by
// those fields, and work with every handler.
//
// Every server records each request (see [Server.Seen]) and counts requests,
// connections and request-body bytes (see [Server.Stats]); both are safe to
// read concurrently, while requests are being served. The context of every
// request it serves is done when [Server.Close] starts, which ends every wait
// of this package's fixtures; a handler of your own should stop waiting then
// too. Close waits for requests in flight, then closes every connection and
// waits for the server's goroutines, so a test that calls it leaks nothing; it
// is convenient as t.Cleanup(srv.Close).
//
// A Server holds no global state: any number may run in parallel tests.
// Make Servers with NewServer or NewUnstartedServer; the zero value is not
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
	// built-in certificate (valid for 127.0.0.1, ::1 and example.com).
	// [Server.Client] trusts the server's certificate, whoever issued it.
	// Set ClientAuth and ClientCAs here to ask for client certificates
	// (mutual TLS); [Request.TLS] shows what each client sent. Change the
	// configuration of a running server with [Server.UpdateTLS].
	TLS *tls.Config

	// Config is the underlying http.Server. Its Handler is the server's
	// behaviour; the server wraps it at Start to record each request, so a
	// Handler replaced before Start is recorded too. Other fields (timeouts,
	// ErrorLog, ConnState, ConnContext, BaseContext) may be set before
	// Start; ConnContext, ConnState and BaseContext are chained, not
	// replaced. ErrorLog defaults to a logger that discards, so expected
	// failures do not clutter test output.
	Config *http.Server

	// GoAwayAfter, when positive, shuts each connection down gracefully once
	// it has received that many requests: over HTTP/2 the server sends
	// GOAWAY (NO_ERROR, naming the last stream it will process), finishes
	// the streams it accepted and closes the connection, and requests the
	// client sent after the GOAWAY are not processed (the Go transport
	// retries them on a new connection by itself); over HTTP/1.1 the last
	// response carries "Connection: close". New connections are accepted as
	// usual, each with its own count. Zero, the default, never shuts a
	// connection down; Start panics if it is negative. It has no effect on a
	// server whose handler is a [Blackhole] Reply.
	GoAwayAfter int

	// rawConn, when set, takes every accepted connection instead of the
	// http.Server (Blackhole, GoAwayAfter); it runs in its own goroutine,
	// counted by wg, and the connection is closed when it returns.
	rawConn func(c *conn)

	hs      *httptest.Server // the running server, set by start
	handler http.Handler     // Config.Handler wrapped to record, set by start
	ctx     context.Context  // done when Close starts; the base of every request's context
	cancel  context.CancelFunc
	started atomic.Bool
	once    sync.Once // guards Close

	tlsMu  sync.Mutex                 // serialises UpdateTLS
	tlsCur atomic.Pointer[tls.Config] // set by UpdateTLS, served to later handshakes

	wg sync.WaitGroup // handlers in flight and raw-connection goroutines

	requests    atomic.Int64
	connections atomic.Int64
	bodyBytes   atomic.Int64

	mu     sync.Mutex // guards the fields below
	closed bool       // Close has started; no new handler or goroutine starts
	seen   []*Request // every request, in arrival order; Body grows as it is read
	open   map[*conn]struct{}
}

// NewServer returns a started [Server] that serves h and records every
// request. h is typically a [Reply] or a [Sequence], which play the failure
// shapes of this package, but any handler works. A nil h answers 404 to
// everything. It panics if h is a Reply with an invalid field.
func NewServer(h http.Handler) *Server {
	s := NewUnstartedServer(h)
	s.Start()
	return s
}

// NewUnstartedServer is like [NewServer] but does not start the server, so
// that its exported fields can be set before [Server.Start] or
// [Server.StartTLS].
func NewUnstartedServer(h http.Handler) *Server {
	switch rp := h.(type) {
	case nil:
		h = http.NotFoundHandler()
	case Reply:
		rp.check()
	case *Reply:
		rp.check()
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Server{
		Config: &http.Server{Handler: h},
		ctx:    ctx,
		cancel: cancel,
		open:   make(map[*conn]struct{}),
	}
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
	if s.GoAwayAfter < 0 {
		panic(fmt.Sprintf("transporttest: Server.GoAwayAfter(%d): need at least 0", s.GoAwayAfter))
	}
	if !s.started.CompareAndSwap(false, true) {
		panic("transporttest: server already started")
	}
	if s.Listener == nil {
		s.Listener = newLocalListener()
	}
	switch {
	case isBlackhole(s.Config.Handler):
		s.rawConn = s.hold
	case s.GoAwayAfter > 0:
		s.rawConn = s.serveGoAway
	}
	hs := &httptest.Server{
		Listener:    &listener{Listener: s.Listener, s: s},
		Config:      s.wrapConfig(),
		EnableHTTP2: s.EnableHTTP2,
	}
	s.hs = hs // before the server's goroutines start; they read it
	if useTLS {
		hs.TLS = s.servedTLS()
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

// wrapConfig wraps Config's handler to record requests, and its hooks to
// number connections and to end every request's context when Close starts.
func (s *Server) wrapConfig() *http.Server {
	cfg := s.Config
	if cfg.ErrorLog == nil {
		cfg.ErrorLog = log.New(io.Discard, "", 0)
	}
	inner := cfg.Handler
	cfg.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.serve(inner, w, r)
	})
	s.handler = cfg.Handler
	userBase := cfg.BaseContext
	cfg.BaseContext = func(l net.Listener) context.Context {
		if userBase == nil {
			return s.ctx
		}
		ctx, cancel := context.WithCancel(userBase(l))
		context.AfterFunc(s.ctx, cancel)
		return ctx
	}
	userCtx := cfg.ConnContext
	cfg.ConnContext = func(ctx context.Context, c net.Conn) context.Context {
		if cc := unwrapConn(c); cc != nil {
			ctx = context.WithValue(ctx, connKey{}, cc)
		}
		if userCtx != nil {
			ctx = userCtx(ctx, c)
		}
		return ctx
	}
	return cfg
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

// hold is the raw-connection mode of a Blackhole server: the connection is
// neither read nor written until Close.
func (s *Server) hold(*conn) { <-s.ctx.Done() }

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

// Certificate returns the certificate the server presents to new
// connections, or nil before StartTLS.
func (s *Server) Certificate() *x509.Certificate {
	if cfg := s.tlsCur.Load(); cfg != nil {
		return leaf(cfg)
	}
	if s.hs == nil {
		return nil
	}
	return s.hs.Certificate()
}

// Close shuts the server down: it ends the context of every request (which
// releases every handler that stalls on purpose), stops accepting, gives busy
// connections up to a second to finish their responses, then closes every
// connection (including hijacked and black-holed ones) and waits for all of
// the server's goroutines. After Close returns, no goroutine of the server is
// left. Close may be called more than once and on a server that was never
// started.
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
			s.CloseClientConnections()
			<-done
		}
		t.Stop()
		s.CloseClientConnections()
		s.wg.Wait()
	})
}

// CloseClientConnections closes every connection the server has open now,
// abruptly, while the server keeps accepting new ones; requests in flight on
// them fail. Clients see the connections drop, as after a server restart.
func (s *Server) CloseClientConnections() {
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

// Freeze black-holes every connection open now, as a dead network path
// would: the server stops reading from them and silently drops whatever it
// writes to them, so the client's requests (and HTTP/2 pings) go
// unanswered. Connections accepted later work normally. Close still closes
// frozen connections.
//
// On an HTTP/2 server, after a first request, it makes the dead HTTP/2
// connection of golang/go#31643: only the client's HTTP/2 health check
// (http.HTTP2Config.SendPingTimeout and PingTimeout) or its timeouts end a
// request on it, while new connections are served normally.
func (s *Server) Freeze() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.open {
		c.frozen.Store(true)
	}
}
