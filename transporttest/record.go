package transporttest

import (
	"context"
	"crypto/tls"
	"io"
	"net/http"
)

// maxSeenBody is how many bytes of each request body [Request.Body] keeps.
const maxSeenBody = 1 << 20

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
	// Body holds the first 1 MiB of the request body that the handler read.
	// Replies that do not read the body (NoRead, AnswerBeforeBody) leave it
	// empty or short; [Stats.BodyBytes] counts every byte.
	Body []byte
	// ConnID identifies the connection the request came on: connections are
	// numbered 1, 2, … in the order the server accepted them, so two
	// requests with the same ConnID shared a connection. A Script records 0.
	ConnID int
	// TLS is the connection's TLS state, or nil for cleartext (and for a
	// Script). The client's certificates are in TLS.PeerCertificates, and
	// TLS.DidResume reports whether the connection resumed a TLS session.
	TLS *tls.ConnectionState
}

func (r Request) clone() Request {
	r.Header = r.Header.Clone()
	r.Body = append([]byte(nil), r.Body...)
	return r
}

// Stats are a [Server]'s counters at one moment, from [Server.Stats].
type Stats struct {
	// Requests is how many requests have reached the server's handler,
	// including those still in flight and those answered with a failure.
	Requests int
	// Connections is how many connections the server has accepted.
	Connections int
	// OpenConnections is how many accepted connections the server has not
	// closed yet. A connection the client closed counts until the server
	// notices, which may be when the server next reads from it.
	OpenConnections int
	// BodyBytes is how many bytes of request bodies the handlers have read,
	// over all requests, including the bytes an upgraded (101) connection
	// echoed.
	BodyBytes int64
}

// Stats returns the server's counters now. It is safe to call at any time,
// while requests are being served.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	open := len(s.open)
	s.mu.Unlock()
	return Stats{
		Requests:        int(s.requests.Load()),
		Connections:     int(s.connections.Load()),
		OpenConnections: open,
		BodyBytes:       s.bodyBytes.Load(),
	}
}

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

// connKey is the context key of the *conn a request arrived on.
type connKey struct{}

// exchangeKey is the context key of the *exchange of a request.
type exchangeKey struct{}

// An exchange is what the server tells this package's handlers about a
// request: its place on its connection, and where to count echoed bytes.
type exchange struct {
	s       *Server
	connSeq int64 // 1 for the first request on its connection, 0 if unknown
}

// exchangeOf returns the exchange of r, or nil when r was not received by
// a Server of this package.
func exchangeOf(r *http.Request) *exchange {
	ex, _ := r.Context().Value(exchangeKey{}).(*exchange)
	return ex
}

// serve records r and runs the handler.
func (s *Server) serve(h http.Handler, w http.ResponseWriter, r *http.Request) {
	ex := &exchange{s: s}
	rec := &Request{
		Method:   r.Method,
		Path:     r.URL.Path,
		RawQuery: r.URL.RawQuery,
		Host:     r.Host,
		Proto:    r.Proto,
		Header:   r.Header.Clone(),
		TLS:      r.TLS,
	}
	if cc, ok := r.Context().Value(connKey{}).(*conn); ok {
		ex.connSeq = cc.requests.Add(1)
		rec.ConnID = cc.id
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
	r = r.WithContext(context.WithValue(r.Context(), exchangeKey{}, ex))
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
