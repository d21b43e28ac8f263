package transporttest

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
)

// NewHTTP2 returns a started HTTP/2 server over TLS that answers as
// [NewSequence] does. [Server.Client] trusts its certificate and speaks
// HTTP/2 to it; [Request.Proto] is "HTTP/2.0".
//
// For a dead HTTP/2 connection (golang/go#31643), make a first request so
// that the client holds a connection, then call [Server.Freeze]: the server
// stops reading that connection and drops what it writes, so only the
// client's HTTP/2 health check (http.HTTP2Config.SendPingTimeout and
// PingTimeout) or its timeouts can end a request on it, while new
// connections are served normally.
//
// Every other fixture runs over HTTP/2 the same way: take its NewUnstarted…
// form, set EnableHTTP2 and call StartTLS.
func NewHTTP2(replies ...Reply) *Server {
	s := NewUnstartedSequence(replies...)
	s.EnableHTTP2 = true
	s.StartTLS()
	return s
}

// NewGoAway returns a started HTTP/2 server over TLS that answers as
// [NewSequence] does and shuts each connection down gracefully once it has
// received afterRequests requests: it sends GOAWAY (NO_ERROR, naming the
// last stream it will process), finishes the streams it accepted and closes
// the connection. Requests the client sent on that connection after the
// GOAWAY are not processed; the Go transport retries them on a new
// connection by itself. New connections are accepted as usual, and each gets
// its own afterRequests.
//
// NewUnstartedGoAway started with Start (HTTP/1.1) does the same with
// "Connection: close" on the last response of each connection.
func NewGoAway(afterRequests int, replies ...Reply) *Server {
	s := NewUnstartedGoAway(afterRequests, replies...)
	s.EnableHTTP2 = true
	s.StartTLS()
	return s
}

// NewUnstartedGoAway is like [NewGoAway] but does not start the server; set
// EnableHTTP2 before StartTLS for HTTP/2. It panics if afterRequests is less
// than 1.
func NewUnstartedGoAway(afterRequests int, replies ...Reply) *Server {
	if afterRequests < 1 {
		panic("transporttest: NewGoAway: afterRequests must be at least 1")
	}
	s := NewUnstartedSequence(replies...)
	s.rawConn = func(c *conn) { s.serveGoAway(c, afterRequests) }
	return s
}

// serveGoAway serves the single connection c with an http.Server of its own
// (configured from s.Config), so that a graceful shutdown (GOAWAY over
// HTTP/2) reaches c alone.
func (s *Server) serveGoAway(c *conn, after int) {
	connDone := make(chan struct{})
	var doneOnce, shutOnce sync.Once
	var served atomic.Int64
	cfg := s.Config
	srv := &http.Server{
		ErrorLog:          cfg.ErrorLog,
		ConnContext:       cfg.ConnContext,
		ReadTimeout:       cfg.ReadTimeout,
		ReadHeaderTimeout: cfg.ReadHeaderTimeout,
		WriteTimeout:      cfg.WriteTimeout,
		IdleTimeout:       cfg.IdleTimeout,
		MaxHeaderBytes:    cfg.MaxHeaderBytes,
		HTTP2:             cfg.HTTP2,
		Protocols:         cfg.Protocols,
		TLSConfig:         s.hs.TLS.Clone(), // Serve adds to it
		ConnState: func(_ net.Conn, st http.ConnState) {
			if st == http.StateClosed || st == http.StateHijacked {
				doneOnce.Do(func() { close(connDone) })
			}
		},
	}
	srv.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if served.Add(1) == int64(after) {
			if r.ProtoMajor == 1 {
				w.Header().Set("Connection", "close")
			}
			shutOnce.Do(func() {
				// serveGoAway's goroutine holds a count on s.wg while
				// this handler runs, so Add is safe here.
				s.wg.Add(1)
				go func() {
					defer s.wg.Done()
					srv.Shutdown(context.Background())
				}()
			})
		}
		s.handler.ServeHTTP(w, r)
	})
	l := &oneConnListener{c: c, closed: make(chan struct{})}
	var ln net.Listener = l
	if srv.TLSConfig != nil {
		ln = tls.NewListener(l, srv.TLSConfig)
	}
	srv.Serve(ln)
	<-connDone
}

// oneConnListener yields one connection, then waits until it is closed
// (by a shutdown) or the connection dies.
type oneConnListener struct {
	c         *conn
	taken     atomic.Bool
	closed    chan struct{}
	closeOnce sync.Once
}

func (l *oneConnListener) Accept() (net.Conn, error) {
	if l.taken.CompareAndSwap(false, true) {
		return l.c, nil
	}
	select {
	case <-l.closed:
	case <-l.c.dead:
	}
	return nil, net.ErrClosed
}

func (l *oneConnListener) Close() error {
	l.closeOnce.Do(func() { close(l.closed) })
	return nil
}

func (l *oneConnListener) Addr() net.Addr { return l.c.LocalAddr() }
