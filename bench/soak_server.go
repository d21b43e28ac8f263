package bench

import (
	"crypto/tls"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rtchain/chain/transporttest"
)

// Fault is a failure a FaultServer plays for one request, chosen by the
// client in the request path (see FaultPath).
type Fault uint8

// The faults of the soak, in the order of their names.
const (
	FaultNone          Fault = iota // 200 with a short body
	FaultResetBefore                // the request is read, the connection reset (RST), no response
	FaultResetMid                   // 200 and half the body, then a reset
	FaultStall                      // 200 and a few bytes, then silence
	FaultSlowHeader                 // no response header for a long while
	Fault503                        // 503 without Retry-After
	Fault503RetryAfter              // 503 with Retry-After: 1
	FaultTrickle                    // 200, the body a byte at a time below the idle bound
	FaultRefused                    // nothing listens: the dial is refused (client side)
	numFaults
)

var faultNames = [numFaults]string{
	"none", "reset_before", "reset_mid", "stall", "slow_header",
	"503", "503_retry_after", "trickle", "refused",
}

// String returns the fault's name as used in paths and reports.
func (f Fault) String() string {
	if f < numFaults {
		return faultNames[f]
	}
	return "fault(" + strconv.Itoa(int(f)) + ")"
}

// SoakAttemptHeader is the header the retry layer sets on every retry (the
// number of attempts made before); a FaultServer plays the fault only on
// the first k attempts of a request.
const SoakAttemptHeader = "X-Soak-Attempt"

// FaultPath returns the path that makes a FaultServer play f on the first k
// attempts of a request and answer 200 from then on.
func FaultPath(f Fault, k int) string {
	return "/soak/" + f.String() + "/" + strconv.Itoa(k)
}

// FaultTiming is what a FaultServer's slow faults take; the soak sets it from
// the client's bounds, so that a slow header and a stall outlast them and a
// trickle never does.
type FaultTiming struct {
	SlowHeader    time.Duration // how long a slow header is held back
	TrickleEvery  time.Duration // the gap between trickled bytes
	TrickleBytes  int           // how many bytes a trickle sends
	Body          int           // the body size of a 200
	StallMaxBlock time.Duration // the longest a stall waits for the client to go
}

// FaultServer is a loopback HTTP server that plays, per request, the fault
// named in the path (see FaultPath). It keeps counters only (no record per
// request), so that a long run does not grow its memory, and it tracks its
// open connections and the handlers still running, for leak checks.
type FaultServer struct {
	*httptest.Server
	timing   FaultTiming
	body     []byte
	stop     chan struct{}
	stopOnce sync.Once
	cert     atomic.Pointer[tls.Config] // the TLS config served now, with mutual TLS

	requests atomic.Int64
	inflight atomic.Int64
	conns    atomic.Int64
}

// NewFaultServer starts a FaultServer on 127.0.0.1 with timing t, over
// cleartext HTTP/1.1.
func NewFaultServer(t FaultTiming) *FaultServer {
	s := newFaultServer(t)
	s.Server.Start()
	return s
}

// NewMutualTLSFaultServer starts a FaultServer on 127.0.0.1 with timing t
// that speaks HTTP/2 and HTTP/1.1 over TLS with a certificate from ca, and
// requires a client certificate issued by ca. SetCertificate rotates its
// certificate. Unlike transporttest.TLSServer it records nothing per
// request or handshake, so that a long run does not grow its memory.
func NewMutualTLSFaultServer(t FaultTiming, ca *transporttest.CA) *FaultServer {
	s := newFaultServer(t)
	s.SetCertificate(ca, ca.IssueServer())
	s.Server.EnableHTTP2 = true
	s.Server.TLS = &tls.Config{GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
		return s.cert.Load(), nil
	}}
	s.Server.StartTLS()
	return s
}

// SetCertificate makes a mutual-TLS FaultServer present p from the next
// handshake on, and accept client certificates issued by ca.
func (s *FaultServer) SetCertificate(ca *transporttest.CA, p *transporttest.Pair) {
	s.cert.Store(&tls.Config{
		Certificates: []tls.Certificate{p.Certificate},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    ca.Pool(),
		NextProtos:   []string{"h2", "http/1.1"},
	})
}

func newFaultServer(t FaultTiming) *FaultServer {
	s := &FaultServer{timing: t, stop: make(chan struct{}), body: make([]byte, t.Body)}
	for i := range s.body {
		s.body[i] = byte('a' + i%26)
	}
	s.Server = httptest.NewUnstartedServer(s)
	s.Server.Config.ConnState = s.connState
	// Resets and rejected handshakes are the point; keep them off stderr.
	s.Server.Config.ErrorLog = log.New(io.Discard, "", 0)
	return s
}

func (s *FaultServer) connState(_ net.Conn, st http.ConnState) {
	switch st {
	case http.StateNew:
		s.conns.Add(1)
	case http.StateClosed, http.StateHijacked:
		s.conns.Add(-1)
	}
}

// OpenConns returns how many connections are open at the server.
func (s *FaultServer) OpenConns() int64 { return s.conns.Load() }

// InFlight returns how many handlers are still running.
func (s *FaultServer) InFlight() int64 { return s.inflight.Load() }

// Requests returns how many requests (attempts) the server has received.
func (s *FaultServer) Requests() int64 { return s.requests.Load() }

// Close releases the handlers that wait and shuts the server down.
func (s *FaultServer) Close() {
	s.stopOnce.Do(func() { close(s.stop) })
	s.Server.CloseClientConnections()
	s.Server.Close()
}

// parseFault reads "/soak/<fault>/<k>".
func parseFault(path string) (Fault, int) {
	rest, ok := strings.CutPrefix(path, "/soak/")
	if !ok {
		return FaultNone, 0
	}
	name, ks, _ := strings.Cut(rest, "/")
	k, _ := strconv.Atoi(ks)
	for f := range numFaults {
		if faultNames[f] == name {
			return f, k
		}
	}
	return FaultNone, 0
}

// ServeHTTP plays the fault of r's path, unless r is a retry past the first
// k attempts.
func (s *FaultServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.requests.Add(1)
	s.inflight.Add(1)
	defer s.inflight.Add(-1)
	f, k := parseFault(r.URL.Path)
	if prev, _ := strconv.Atoi(r.Header.Get(SoakAttemptHeader)); prev >= k {
		f = FaultNone
	}
	switch f {
	case FaultResetBefore:
		s.reset(w, 0)
	case FaultResetMid:
		s.reset(w, len(s.body)/2)
	case FaultStall:
		w.Header().Set("Content-Length", strconv.Itoa(len(s.body)))
		w.Write(s.body[:16])
		http.NewResponseController(w).Flush()
		s.wait(r, s.timing.StallMaxBlock)
	case FaultSlowHeader:
		if s.wait(r, s.timing.SlowHeader) {
			w.Write(s.body)
		}
	case Fault503:
		w.WriteHeader(http.StatusServiceUnavailable)
	case Fault503RetryAfter:
		w.Header().Set("Retry-After", "1")
		w.WriteHeader(http.StatusServiceUnavailable)
	case FaultTrickle:
		s.trickle(w, r)
	default:
		w.Write(s.body)
	}
}

// wait blocks for d, or until the client goes away or the server closes; it
// reports whether the whole d passed.
func (s *FaultServer) wait(r *http.Request, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-r.Context().Done():
	case <-s.stop:
	}
	return false
}

func (s *FaultServer) trickle(w http.ResponseWriter, r *http.Request) {
	rc := http.NewResponseController(w)
	w.Header().Set("Content-Length", strconv.Itoa(s.timing.TrickleBytes))
	w.WriteHeader(http.StatusOK)
	rc.Flush()
	for i := range s.timing.TrickleBytes {
		if !s.wait(r, s.timing.TrickleEvery) {
			return
		}
		if _, err := w.Write(s.body[i%len(s.body) : i%len(s.body)+1]); err != nil {
			return
		}
		rc.Flush()
	}
}

// reset writes a 200 header announcing the whole body and the first n bytes
// of it (nothing at all when n is 0), then resets the connection.
func (s *FaultServer) reset(w http.ResponseWriter, n int) {
	c, buf, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	if n > 0 {
		buf.WriteString("HTTP/1.1 200 OK\r\nContent-Length: " + strconv.Itoa(len(s.body)) + "\r\n\r\n")
		buf.Write(s.body[:n])
		buf.Flush()
	}
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetLinger(0)
	}
	c.Close()
}
