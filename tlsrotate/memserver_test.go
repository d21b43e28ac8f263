package tlsrotate_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rtchain/chain/tlsrotate"
	"github.com/rtchain/chain/transporttest"
)

// memServer is a mutual-TLS server on a transporttest.MemListener, so that
// it runs inside a testing/synctest bubble: handshakes, drains, expiry
// margins and ages pass on the bubble's clock. It requires a client
// certificate from one of its client CAs (changeable while it runs) and
// records the client serial of every connection and request.
type memServer struct {
	ml  *transporttest.MemListener
	srv *http.Server
	cfg atomic.Pointer[tls.Config] // served per handshake; replaced, never changed
	h2  bool

	mu       sync.Mutex // guards the fields below
	cert     tls.Certificate
	live     map[net.Conn]string // open connections → client serial ("" until known)
	requests []memRequest
	nextConn int
}

type memRequest struct {
	Serial string
	Conn   int
	At     time.Time
	Proto  string
}

type connKey struct{}

// newMemServer starts a memServer with a certificate of ca that accepts
// client certificates of ca, answering with handler (streamingHandler when
// nil). It stops at the end of t.
func newMemServer(t *testing.T, ca *transporttest.CA, h2 bool, handler http.Handler) *memServer {
	t.Helper()
	if handler == nil {
		handler = streamingHandler()
	}
	s := &memServer{ml: transporttest.NewMemListener(), h2: h2, cert: ca.IssueServer().Certificate,
		live: map[net.Conn]string{}}
	s.setClientCAs(ca)
	s.srv = &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			id, _ := r.Context().Value(connKey{}).(int)
			s.mu.Lock()
			s.requests = append(s.requests, memRequest{Serial: clientSerial(r), Conn: id, At: time.Now(), Proto: r.Proto})
			s.mu.Unlock()
			handler.ServeHTTP(w, r)
		}),
		TLSConfig: &tls.Config{GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) { return s.cfg.Load(), nil }},
		ConnContext: func(ctx context.Context, c net.Conn) context.Context {
			s.mu.Lock()
			defer s.mu.Unlock()
			s.nextConn++
			s.live[c] = ""
			return context.WithValue(ctx, connKey{}, s.nextConn)
		},
		ConnState: func(c net.Conn, st http.ConnState) {
			if st == http.StateClosed || st == http.StateHijacked {
				s.mu.Lock()
				delete(s.live, c)
				s.mu.Unlock()
			}
		},
		ErrorLog: log.New(io.Discard, "", 0), // rejected handshakes are the point of many tests
	}
	if !h2 {
		s.srv.TLSNextProto = map[string]func(*http.Server, *tls.Conn, http.Handler){}
	}
	go s.srv.ServeTLS(lingerListener{s.ml}, "", "")
	t.Cleanup(s.close)
	return s
}

// setClientCAs makes the server accept client certificates of cas only,
// from the next handshake on.
func (s *memServer) setClientCAs(cas ...*transporttest.CA) {
	pool := x509.NewCertPool()
	for _, ca := range cas {
		pool.AddCert(ca.Cert)
	}
	protos := []string{"http/1.1"}
	if s.h2 {
		protos = []string{"h2", "http/1.1"}
	}
	s.cfg.Store(&tls.Config{
		Certificates: []tls.Certificate{s.cert},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    pool,
		NextProtos:   protos,
		// Classic X25519 only: the hybrid post-quantum exchange costs a lot
		// under the race detector and tests nothing here.
		CurvePreferences: []tls.CurveID{tls.X25519},
		VerifyConnection: func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return errors.New("no client certificate")
			}
			return nil
		},
	})
}

// acceptAnyCertificate makes the handshake take any client certificate, as
// nginx does; the handler decides.
func (s *memServer) acceptAnyCertificate() {
	cfg := s.cfg.Load().Clone()
	cfg.ClientAuth = tls.RequireAnyClientCert
	cfg.ClientCAs = nil // names no acceptable CA: the client sends its newest certificate
	s.cfg.Store(cfg)
}

// base returns a template transport that dials the server and trusts its
// CA. Like the server, it offers the classic X25519 exchange only: the
// hybrid post-quantum key share costs a lot under the race detector.
func (s *memServer) base(ca *transporttest.CA) *http.Transport {
	return &http.Transport{DialContext: s.ml.DialContext, ForceAttemptHTTP2: s.h2, MaxIdleConnsPerHost: 16,
		TLSClientConfig: &tls.Config{RootCAs: ca.Pool(), CurvePreferences: []tls.CurveID{tls.X25519}}}
}

const memURL = "https://127.0.0.1:1"

// liveConns returns the open connections by the client serial they carry.
func (s *memServer) liveConns() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := map[string]int{}
	for c := range s.live {
		if tc, ok := c.(*tls.Conn); ok {
			if p := tc.ConnectionState().PeerCertificates; len(p) > 0 {
				m[p[0].SerialNumber.String()]++
				continue
			}
		}
		m[""]++
	}
	return m
}

func (s *memServer) requestLog() []memRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]memRequest(nil), s.requests...)
}

// closeClientConnections closes every open connection, as a server restart
// would. It is for tests in a bubble.
func (s *memServer) closeClientConnections() {
	s.mu.Lock()
	conns := make([]net.Conn, 0, len(s.live))
	for c := range s.live {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	for _, c := range conns {
		c.Close()
	}
	synctest.Wait() // the clients' read loops see the close before the next request
}

func (s *memServer) close() {
	s.srv.Close()
	s.ml.Close()
}

// bubble is one mutual-TLS setup inside a synctest bubble: a CA, a directory
// with the client's files, a memServer and a file source that only polls
// (fsnotify would keep the bubble's clock from advancing).
type bubble struct {
	t   *testing.T
	ca  *transporttest.CA
	dir string
	srv *memServer
	src *tlsrotate.Source

	mu   sync.Mutex
	errs []error
}

func newBubble(t *testing.T, h2 bool, opts ...tlsrotate.Option) *bubble {
	t.Helper()
	b := &bubble{t: t, ca: transporttest.NewCA("test-ca"), dir: t.TempDir()}
	require.NoError(t, transporttest.WritePair(b.dir, b.ca.IssueClient("client", time.Hour)))
	b.srv = newMemServer(t, b.ca, h2, nil)
	all := append([]tlsrotate.Option{tlsrotate.WithFSNotify(false), tlsrotate.WithPollInterval(time.Hour),
		tlsrotate.WithOnError(func(err error) {
			b.mu.Lock()
			b.errs = append(b.errs, err)
			b.mu.Unlock()
		})}, opts...)
	src, err := tlsrotate.NewFileSource(b.dir+"/"+transporttest.CertFileName, b.dir+"/"+transporttest.KeyFileName, all...)
	require.NoError(t, err)
	t.Cleanup(func() { src.Close() })
	b.src = src
	return b
}

// client returns a client over tlsrotate.New on the bubble's source.
func (b *bubble) client(opts ...tlsrotate.TransportOption) (*http.Client, *tlsrotate.Transport) {
	tr := tlsrotate.New(b.srv.base(b.ca), b.src, opts...)
	b.t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}, tr
}

// rotate writes a new pair and reloads; it returns the pair.
func (b *bubble) rotate() *transporttest.Pair {
	b.t.Helper()
	p := b.ca.IssueClient("client", time.Hour)
	require.NoError(b.t, transporttest.WritePair(b.dir, p))
	require.NoError(b.t, b.src.Reload())
	require.Equal(b.t, p.Serial(), b.src.Current().Serial())
	return p
}

func (b *bubble) errors() []error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]error(nil), b.errs...)
}

// lingerListener's connections close a moment after the server closes them,
// as a kernel's socket buffer takes what a client writes before it sees the
// close: the client of a server that rejects its certificate after the
// handshake (TLS 1.3) writes its request, then reads the alert.
type lingerListener struct{ net.Listener }

func (l lingerListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &lingerConn{Conn: c}, nil
}

type lingerConn struct {
	net.Conn
	once sync.Once
}

func (c *lingerConn) Close() error {
	c.once.Do(func() { time.AfterFunc(10*time.Millisecond, func() { c.Conn.Close() }) })
	return nil
}
