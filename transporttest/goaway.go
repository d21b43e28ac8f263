package transporttest

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
)

// serveGoAway serves the single connection c with an http.Server of its own
// (configured from s.Config), so that a graceful shutdown (GOAWAY over
// HTTP/2) after s.GoAwayAfter requests reaches c alone.
func (s *Server) serveGoAway(c *conn) {
	after := s.GoAwayAfter
	connDone := make(chan struct{})
	var doneOnce, shutOnce sync.Once
	var served atomic.Int64
	cfg := s.Config
	srv := &http.Server{
		ErrorLog:          cfg.ErrorLog,
		BaseContext:       cfg.BaseContext,
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
