package transporttest

// This file keeps the names of the previous API working, as thin wrappers
// over the new one, until every caller has moved (see MIGRATION.md). It is
// deleted then, whole.

import (
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
	"net/http"
	"sync"
	"time"
)

// NewSequence returns a started server that answers with replies in turn.
//
// Deprecated: use NewServer(Sequence(replies...)).
func NewSequence(replies ...Reply) *Server { return NewServer(Sequence(replies...)) }

// Deprecated: use NewUnstartedServer(Sequence(replies...)).
func NewUnstartedSequence(replies ...Reply) *Server { return NewUnstartedServer(Sequence(replies...)) }

// NewSlowHeader returns a started server that waits d before its header.
//
// Deprecated: use NewServer(Reply{Delay: d}).
func NewSlowHeader(d time.Duration) *Server { return started(NewUnstartedSlowHeader(d)) }

// Deprecated: use NewUnstartedServer(Reply{Delay: d}).
func NewUnstartedSlowHeader(d time.Duration) *Server {
	return NewUnstartedServer(Reply{Delay: d, Body: "slow\n"})
}

// NewTrickle returns a started server that sends total bytes, one per every.
//
// Deprecated: use NewServer(Reply{BodySize: total, Trickle: every}).
func NewTrickle(every time.Duration, total int) *Server {
	return started(NewUnstartedTrickle(every, total))
}

// Deprecated: use NewUnstartedServer(Reply{BodySize: total, Trickle: every}).
func NewUnstartedTrickle(every time.Duration, total int) *Server {
	return NewUnstartedServer(Reply{BodySize: int64(total), Trickle: every})
}

// NewStall returns a started server that stalls after afterBytes of body.
//
// Deprecated: use NewServer(Reply{BodySize: afterBytes, Fault: Stall}).
func NewStall(afterBytes int) *Server { return started(NewUnstartedStall(afterBytes)) }

// Deprecated: use NewUnstartedServer(Reply{BodySize: afterBytes, Fault: Stall}).
func NewUnstartedStall(afterBytes int) *Server {
	return NewUnstartedServer(Reply{BodySize: int64(afterBytes), Fault: Stall})
}

// NewResetMidBody returns a started server that resets after afterBytes.
//
// Deprecated: use NewServer(Reply{BodySize: afterBytes, Fault: ResetMidBody}).
func NewResetMidBody(afterBytes int) *Server { return started(NewUnstartedResetMidBody(afterBytes)) }

// Deprecated: use NewUnstartedServer(Reply{BodySize: afterBytes, Fault: ResetMidBody}).
func NewUnstartedResetMidBody(afterBytes int) *Server {
	return NewUnstartedServer(Reply{BodySize: int64(afterBytes), Fault: ResetMidBody})
}

// NewEmptyReply returns a started server that closes without answering.
//
// Deprecated: use NewServer(Reply{Fault: EmptyReply}).
func NewEmptyReply() *Server { return NewServer(Reply{Fault: EmptyReply}) }

// Deprecated: use NewUnstartedServer(Reply{Fault: EmptyReply}).
func NewUnstartedEmptyReply() *Server { return NewUnstartedServer(Reply{Fault: EmptyReply}) }

// NewReset returns a started server that resets without answering.
//
// Deprecated: use NewServer(Reply{Fault: Reset}).
func NewReset() *Server { return NewServer(Reply{Fault: Reset}) }

// Deprecated: use NewUnstartedServer(Reply{Fault: Reset}).
func NewUnstartedReset() *Server { return NewUnstartedServer(Reply{Fault: Reset}) }

// NewRawReply returns a started server that writes raw as its response.
//
// Deprecated: use NewServer(Reply{Raw: raw}).
func NewRawReply(raw string) *Server { return NewServer(Reply{Raw: raw}) }

// Deprecated: use NewUnstartedServer(Reply{Raw: raw}).
func NewUnstartedRawReply(raw string) *Server { return NewUnstartedServer(Reply{Raw: raw}) }

// NewMalformedChunked returns a started server with a corrupt chunked body.
//
// Deprecated: use NewServer(Reply{Fault: MalformedChunked}).
func NewMalformedChunked() *Server { return NewServer(Reply{Fault: MalformedChunked}) }

// Deprecated: use NewUnstartedServer(Reply{Fault: MalformedChunked}).
func NewUnstartedMalformedChunked() *Server {
	return NewUnstartedServer(Reply{Fault: MalformedChunked})
}

// NewStaleKeepAlive returns a started server that drops reused connections.
//
// Deprecated: use NewServer(Reply{Body: "ok", Fault: StaleKeepAlive}).
func NewStaleKeepAlive() *Server { return started(NewUnstartedStaleKeepAlive()) }

// Deprecated: use NewUnstartedServer(Reply{Body: "ok", Fault: StaleKeepAlive}).
func NewUnstartedStaleKeepAlive() *Server {
	return NewUnstartedServer(Reply{Body: "ok", Fault: StaleKeepAlive})
}

// NewBlackhole returns a started server that never reads or answers.
//
// Deprecated: use NewServer(Reply{Fault: Blackhole}).
func NewBlackhole() *Server { return NewServer(Reply{Fault: Blackhole}) }

// Deprecated: use NewUnstartedServer(Reply{Fault: Blackhole}).
func NewUnstartedBlackhole() *Server { return NewUnstartedServer(Reply{Fault: Blackhole}) }

// NewNoRead returns a started server that never reads request bodies.
//
// Deprecated: use NewServer(Reply{Fault: NoRead}).
func NewNoRead() *Server { return NewServer(Reply{Fault: NoRead}) }

// Deprecated: use NewUnstartedServer(Reply{Fault: NoRead}).
func NewUnstartedNoRead() *Server { return NewUnstartedServer(Reply{Fault: NoRead}) }

// NewSlowReader returns a started server that reads bodies slowly.
//
// Deprecated: use NewServer(Reply{Body: "ok", ReadChunk: chunk, ReadEvery: every}).
func NewSlowReader(chunk int, every time.Duration) *Server {
	return started(NewUnstartedSlowReader(chunk, every))
}

// Deprecated: use NewUnstartedServer(Reply{Body: "ok", ReadChunk: chunk, ReadEvery: every}).
func NewUnstartedSlowReader(chunk int, every time.Duration) *Server {
	if chunk < 1 {
		panic("transporttest: NewSlowReader: chunk must be at least 1")
	}
	return NewUnstartedServer(Reply{Body: "ok", ReadChunk: chunk, ReadEvery: every})
}

// NewAnswerBeforeBody returns a started server that answers before the body.
//
// Deprecated: use NewServer(Reply{Status: status, Fault: AnswerBeforeBody}).
func NewAnswerBeforeBody(status int) *Server { return started(NewUnstartedAnswerBeforeBody(status)) }

// Deprecated: use NewUnstartedServer(Reply{Status: status, Fault: AnswerBeforeBody}).
func NewUnstartedAnswerBeforeBody(status int) *Server {
	return NewUnstartedServer(Reply{Status: status, Body: http.StatusText(status), Fault: AnswerBeforeBody})
}

// NewUpgradeEcho returns a started server that upgrades to an echo.
//
// Deprecated: use NewServer(Reply{Status: http.StatusSwitchingProtocols}).
func NewUpgradeEcho() *Server { return started(NewUnstartedUpgradeEcho()) }

// Deprecated: use NewUnstartedServer(Reply{Status: http.StatusSwitchingProtocols}).
func NewUnstartedUpgradeEcho() *Server {
	return NewUnstartedServer(Reply{Status: http.StatusSwitchingProtocols})
}

// NewHTTP2 returns a started HTTP/2 server that answers with replies in turn.
//
// Deprecated: use NewUnstartedServer(Sequence(replies...)), set EnableHTTP2
// and call StartTLS.
func NewHTTP2(replies ...Reply) *Server {
	s := NewUnstartedServer(Sequence(replies...))
	s.EnableHTTP2 = true
	s.StartTLS()
	return s
}

// NewGoAway returns a started HTTP/2 server that sends GOAWAY after
// afterRequests requests on each connection.
//
// Deprecated: use NewUnstartedServer(Sequence(replies...)), set GoAwayAfter
// and EnableHTTP2, and call StartTLS.
func NewGoAway(afterRequests int, replies ...Reply) *Server {
	s := NewUnstartedGoAway(afterRequests, replies...)
	s.EnableHTTP2 = true
	s.StartTLS()
	return s
}

// Deprecated: use NewUnstartedServer(Sequence(replies...)) and set GoAwayAfter.
func NewUnstartedGoAway(afterRequests int, replies ...Reply) *Server {
	if afterRequests < 1 {
		panic("transporttest: NewGoAway: afterRequests must be at least 1")
	}
	s := NewUnstartedServer(Sequence(replies...))
	s.GoAwayAfter = afterRequests
	return s
}

func started(s *Server) *Server {
	s.Start()
	return s
}

// ConnID returns the id of the connection r arrived on at a Server, or 0.
//
// Deprecated: use Request.ConnID from Server.Seen.
func ConnID(r *http.Request) int {
	if cc, ok := r.Context().Value(connKey{}).(*conn); ok {
		return cc.id
	}
	return 0
}

// Deprecated: use Stats().Requests.
func (s *Server) Requests() int { return s.Stats().Requests }

// Deprecated: use Stats().Connections.
func (s *Server) Connections() int { return s.Stats().Connections }

// Deprecated: use Stats().OpenConnections.
func (s *Server) OpenConnections() int { return s.Stats().OpenConnections }

// Deprecated: use Stats().BodyBytes.
func (s *Server) BodyBytes() int64 { return s.Stats().BodyBytes }

// Deprecated: use Listener.Addr().String() after Start.
func (s *Server) Addr() string {
	if !s.started.Load() {
		return ""
	}
	return s.Listener.Addr().String()
}

// Deprecated: the request's own context is done when Close starts; use
// r.Context().Done().
func (s *Server) Done() <-chan struct{} { return s.ctx.Done() }

// Deprecated: use CloseClientConnections.
func (s *Server) CloseConnections() { s.CloseClientConnections() }

// ClientSerial returns the decimal serial number of the client certificate
// of r's connection, or "".
//
// Deprecated: read r.TLS.PeerCertificates[0].SerialNumber.
func ClientSerial(r *http.Request) string {
	if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
		return ""
	}
	return r.TLS.PeerCertificates[0].SerialNumber.String()
}

// Handshake is one TLS handshake a TLSServer completed.
//
// Deprecated: use Request.TLS (PeerCertificates, DidResume) from Server.Seen.
type Handshake struct {
	Serial  string    // serial of the client certificate
	Resumed bool      // whether the session was resumed
	At      time.Time // when verification finished
}

// TLSRequest is one request a TLSServer received.
//
// Deprecated: use Request, from Server.Seen.
type TLSRequest struct {
	Serial string    // serial of the client certificate of the connection
	Proto  string    // "HTTP/1.1" or "HTTP/2.0"
	Conn   uint64    // connection id, from 1 in accept order
	Path   string    // URL path
	At     time.Time // when the handler was called
}

// TLSServer is a mutual-TLS Server whose certificate and client CAs rotate.
//
// Deprecated: use a Server with TLS set (Certificates, ClientAuth,
// ClientCAs), StartTLS, and UpdateTLS to rotate.
type TLSServer struct {
	URL         string
	EnableHTTP2 bool

	srv *Server
	ca  *CA

	mu         sync.Mutex // guards the fields below
	cert       *Pair
	handshakes []Handshake
	requests   []TLSRequest
	live       map[net.Conn]string // open connections → client serial
}

// NewTLSServer starts a TLSServer whose certificate is issued by ca and
// which requires client certificates issued by ca.
//
// Deprecated: see TLSServer.
func NewTLSServer(ca *CA, handler http.Handler) *TLSServer {
	s := NewUnstartedTLSServer(ca, handler)
	s.Start()
	return s
}

// Deprecated: see TLSServer.
func NewUnstartedTLSServer(ca *CA, handler http.Handler) *TLSServer {
	if handler == nil {
		handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, ClientSerial(r))
		})
	}
	s := &TLSServer{ca: ca, cert: ca.IssueServer(), live: map[net.Conn]string{}}
	s.srv = NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		rec := TLSRequest{Serial: ClientSerial(r), Proto: r.Proto, Conn: uint64(ConnID(r)), Path: r.URL.Path, At: time.Now()}
		s.requests = append(s.requests, rec)
		s.mu.Unlock()
		handler.ServeHTTP(w, r)
	}))
	s.srv.Config.ConnState = s.connState
	return s
}

// Deprecated: see TLSServer.
func (s *TLSServer) Start() {
	s.srv.EnableHTTP2 = s.EnableHTTP2
	protos := []string{"http/1.1"}
	if s.EnableHTTP2 {
		protos = []string{"h2", "http/1.1"}
	}
	s.srv.TLS = &tls.Config{
		Certificates:     []tls.Certificate{s.cert.Certificate},
		ClientAuth:       tls.RequireAndVerifyClientCert,
		ClientCAs:        s.ca.Pool(),
		NextProtos:       protos,
		VerifyConnection: s.recordHandshake,
	}
	s.srv.StartTLS()
	s.URL = s.srv.URL
}

func (s *TLSServer) recordHandshake(cs tls.ConnectionState) error {
	h := Handshake{Resumed: cs.DidResume, At: time.Now()}
	if len(cs.PeerCertificates) > 0 {
		h.Serial = cs.PeerCertificates[0].SerialNumber.String()
	}
	s.mu.Lock()
	s.handshakes = append(s.handshakes, h)
	s.mu.Unlock()
	return nil
}

func (s *TLSServer) connState(c net.Conn, st http.ConnState) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch st {
	case http.StateNew:
		s.live[c] = ""
	case http.StateActive, http.StateIdle:
		if tc, ok := c.(*tls.Conn); ok && s.live[c] == "" {
			if cs := tc.ConnectionState(); len(cs.PeerCertificates) > 0 {
				s.live[c] = cs.PeerCertificates[0].SerialNumber.String()
			}
		}
	case http.StateClosed, http.StateHijacked:
		delete(s.live, c)
	}
}

// Deprecated: use Server.UpdateTLS.
func (s *TLSServer) SetCertificate(p *Pair) {
	s.mu.Lock()
	s.cert = p
	s.mu.Unlock()
	s.srv.UpdateTLS(func(c *tls.Config) { c.Certificates = []tls.Certificate{p.Certificate} })
}

// Deprecated: use Server.UpdateTLS.
func (s *TLSServer) SetClientCAs(cas ...*CA) {
	pool := x509Pool(cas)
	s.srv.UpdateTLS(func(c *tls.Config) { c.ClientCAs = pool })
}

// Deprecated: use Server.Certificate.
func (s *TLSServer) Certificate() *Pair {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cert
}

// Deprecated: use Request.TLS from Server.Seen.
func (s *TLSServer) Handshakes() []Handshake {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Handshake(nil), s.handshakes...)
}

// Deprecated: use Server.Seen.
func (s *TLSServer) Requests() []TLSRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]TLSRequest(nil), s.requests...)
}

// Deprecated: use Server.Stats and Request.TLS.
func (s *TLSServer) LiveConns() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := map[string]int{}
	for _, serial := range s.live {
		m[serial]++
	}
	return m
}

// Deprecated: use Server.Listener.
func (s *TLSServer) Addr() string { return s.srv.Listener.Addr().String() }

// Deprecated: build the client from Server.Client's transport, adding p.
func (s *TLSServer) Client(p *Pair) *http.Client {
	return &http.Client{Transport: &http.Transport{
		TLSClientConfig:   &tls.Config{RootCAs: s.ca.Pool(), Certificates: []tls.Certificate{p.Certificate}},
		ForceAttemptHTTP2: s.EnableHTTP2,
	}}
}

// Deprecated: use Server.CloseClientConnections.
func (s *TLSServer) CloseClientConnections() { s.srv.CloseClientConnections() }

// Deprecated: use Server.Close.
func (s *TLSServer) Close() { s.srv.Close() }

func x509Pool(cas []*CA) *x509.CertPool {
	pool := x509.NewCertPool()
	for _, ca := range cas {
		pool.AddCert(ca.Cert)
	}
	return pool
}
