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
	"sync"
	"sync/atomic"
	"time"
)

// TLSServer is a loopback HTTPS server for mutual-TLS tests. It requires a
// client certificate signed by one of its accepted client CAs, can rotate its
// own certificate ([TLSServer.SetCertificate]) and the client CAs it accepts
// ([TLSServer.SetClientCAs]) while running, and records the serial number of
// the client certificate of every handshake, connection and request.
//
// Serial numbers are in decimal, as [Pair.Serial] gives them. A TLSServer is
// safe for concurrent use; [TLSServer.Close] waits for requests in flight.
type TLSServer struct {
	// URL is the base URL, https://127.0.0.1:port, set by Start.
	URL string
	// EnableHTTP2 offers h2 as well as http/1.1 in ALPN. Set it before Start.
	EnableHTTP2 bool

	ca  *CA
	srv *httptest.Server
	cfg atomic.Pointer[tls.Config] // served by GetConfigForClient; replaced, never changed

	mu         sync.Mutex // guards the fields below
	cert       *Pair
	clientCAs  *x509.CertPool
	handshakes []Handshake
	requests   []TLSRequest
	live       map[net.Conn]string // open connections → client serial ("" until known)
	nextConn   uint64
}

// Handshake is one TLS handshake the server completed.
type Handshake struct {
	Serial  string    // serial of the client certificate
	Resumed bool      // whether the session was resumed
	At      time.Time // when verification finished
}

// TLSRequest is one request the server received.
type TLSRequest struct {
	Serial string    // serial of the client certificate of the connection
	Proto  string    // "HTTP/1.1" or "HTTP/2.0"
	Conn   uint64    // connection id, from 1 in accept order
	Path   string    // URL path
	At     time.Time // when the handler was called
}

type connIDKey struct{}

// NewTLSServer starts a [TLSServer] whose certificate is issued by ca (see
// [CA.IssueServer]) and which accepts client certificates issued by ca. A nil
// handler answers 200 with the client certificate's serial as the body.
func NewTLSServer(ca *CA, handler http.Handler) *TLSServer {
	s := NewUnstartedTLSServer(ca, handler)
	s.Start()
	return s
}

// NewUnstartedTLSServer returns a [TLSServer] that is not started yet, so that
// EnableHTTP2 can be set; call Start.
func NewUnstartedTLSServer(ca *CA, handler http.Handler) *TLSServer {
	if handler == nil {
		handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, ClientSerial(r))
		})
	}
	s := &TLSServer{ca: ca, cert: ca.IssueServer(), clientCAs: ca.Pool(), live: map[net.Conn]string{}}
	s.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, _ := r.Context().Value(connIDKey{}).(uint64)
		s.mu.Lock()
		s.requests = append(s.requests, TLSRequest{Serial: ClientSerial(r), Proto: r.Proto, Conn: id, Path: r.URL.Path, At: time.Now()})
		s.mu.Unlock()
		handler.ServeHTTP(w, r)
	}))
	s.srv.Config.ConnContext = func(ctx context.Context, c net.Conn) context.Context {
		s.mu.Lock()
		s.nextConn++
		id := s.nextConn
		s.mu.Unlock()
		return context.WithValue(ctx, connIDKey{}, id)
	}
	s.srv.Config.ConnState = s.connState
	// Rejected handshakes are the point of many tests; keep them off stderr.
	s.srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	return s
}

// ClientSerial returns the serial number (decimal) of the client certificate
// of r's connection, or "" when there is none.
func ClientSerial(r *http.Request) string {
	if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
		return ""
	}
	return r.TLS.PeerCertificates[0].SerialNumber.String()
}

// Start starts the server on 127.0.0.1.
func (s *TLSServer) Start() {
	s.mu.Lock()
	s.publish()
	first := s.cert.Certificate
	s.mu.Unlock()
	s.srv.EnableHTTP2 = s.EnableHTTP2
	s.srv.TLS = &tls.Config{
		Certificates: []tls.Certificate{first},
		GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
			return s.cfg.Load(), nil
		},
	}
	s.srv.StartTLS()
	s.URL = s.srv.URL
}

// publish builds the config served from now on. s.mu must be held.
func (s *TLSServer) publish() {
	protos := []string{"http/1.1"}
	if s.EnableHTTP2 {
		protos = []string{"h2", "http/1.1"}
	}
	s.cfg.Store(&tls.Config{
		Certificates:     []tls.Certificate{s.cert.Certificate},
		ClientAuth:       tls.RequireAndVerifyClientCert,
		ClientCAs:        s.clientCAs,
		NextProtos:       protos,
		VerifyConnection: s.recordHandshake,
	})
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
		if serial, ok := s.live[c]; ok && serial == "" {
			if tc, ok := c.(*tls.Conn); ok {
				if cs := tc.ConnectionState(); len(cs.PeerCertificates) > 0 {
					s.live[c] = cs.PeerCertificates[0].SerialNumber.String()
				}
			}
		}
	case http.StateClosed, http.StateHijacked:
		delete(s.live, c)
	}
}

// SetCertificate makes the server present p from the next handshake on.
func (s *TLSServer) SetCertificate(p *Pair) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cert = p
	s.publish()
}

// SetClientCAs makes the server accept, from the next handshake on, client
// certificates issued by any of cas (and no other).
func (s *TLSServer) SetClientCAs(cas ...*CA) {
	pool := x509.NewCertPool()
	for _, ca := range cas {
		pool.AddCert(ca.Cert)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.clientCAs = pool
	s.publish()
}

// Certificate returns the pair the server presents now.
func (s *TLSServer) Certificate() *Pair {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cert
}

// Handshakes returns a copy of the handshakes completed so far, in order.
func (s *TLSServer) Handshakes() []Handshake {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Handshake(nil), s.handshakes...)
}

// Requests returns a copy of the requests received so far, in order.
func (s *TLSServer) Requests() []TLSRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]TLSRequest(nil), s.requests...)
}

// LiveConns returns how many connections are open now, by the serial of
// their client certificate ("" for connections whose handshake has not been
// seen to finish).
func (s *TLSServer) LiveConns() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := map[string]int{}
	for _, serial := range s.live {
		m[serial]++
	}
	return m
}

// Addr returns the server's listening address as host:port, like
// [Server.Addr].
func (s *TLSServer) Addr() string { return s.srv.Listener.Addr().String() }

// Client returns a new client that trusts the server's CA and presents p. Its
// transport has HTTP/2 enabled when the server has.
func (s *TLSServer) Client(p *Pair) *http.Client {
	return &http.Client{Transport: &http.Transport{
		TLSClientConfig:   &tls.Config{RootCAs: s.ca.Pool(), Certificates: []tls.Certificate{p.Certificate}},
		ForceAttemptHTTP2: s.EnableHTTP2,
	}}
}

// CloseClientConnections closes every open connection to the server.
func (s *TLSServer) CloseClientConnections() { s.srv.CloseClientConnections() }

// Close closes the listener and every connection and waits for requests in
// flight to finish.
func (s *TLSServer) Close() { s.srv.Close() }
