package tlsrotate_test

import (
	"crypto/tls"
	"crypto/x509"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/rtchain/chain/internal/testflag"
	"github.com/rtchain/chain/tlsrotate"
	"github.com/rtchain/chain/transporttest"
)

// TestMain lets the parallel tests overlap (see testflag.RaiseParallel):
// the real-time ones mostly wait on loopback and fsnotify, and their waits
// then overlap with the bubbles' work. The tests that count allocations or
// goroutines of the whole process do not call t.Parallel: they run alone,
// before the parallel ones.
func TestMain(m *testing.M) {
	testflag.RaiseParallel(16)
	goleak.VerifyTestMain(m)
}

// env is one mutual-TLS setup: a CA, a directory with the client's files, a
// server that requires client certificates and a source watching the files.
// It runs in real time, on loopback and fsnotify, for what depends on the
// kernel; everything else runs in synctest bubbles (see bubble).
type env struct {
	t    *testing.T
	ca   *transporttest.CA
	dir  string
	cert string                // path of tls.crt
	key  string                // path of tls.key
	caf  string                // path of ca.crt
	srv  *transporttest.Server // mutual TLS: requires client certificates of ca
	src  *tlsrotate.Source

	mu        sync.Mutex
	rotations []tlsrotate.Rotation
	errs      []error
	rotated   chan tlsrotate.Rotation
	rejected  chan error
}

type envOpts struct {
	h2         bool
	kubernetes bool
	noCA       bool
}

func newEnv(t *testing.T, eo envOpts, opts ...tlsrotate.Option) *env {
	t.Helper()
	e := &env{t: t, ca: transporttest.NewCA("test-ca"), dir: t.TempDir(),
		rotated: make(chan tlsrotate.Rotation, 64), rejected: make(chan error, 64)}
	e.cert = filepath.Join(e.dir, transporttest.CertFileName)
	e.key = filepath.Join(e.dir, transporttest.KeyFileName)
	e.caf = filepath.Join(e.dir, transporttest.CAFileName)
	p := e.ca.IssueClient("client", time.Hour)
	if eo.kubernetes {
		require.NoError(t, transporttest.WriteKubernetes(e.dir, transporttest.KubernetesPair(p, e.ca)))
	} else {
		require.NoError(t, transporttest.WritePair(e.dir, p))
		require.NoError(t, transporttest.WriteFileAtomic(e.caf, e.ca.CertPEM))
	}
	e.srv = newMutualTLSServer(t, e.ca, streamingHandler(), eo.h2)
	all := []tlsrotate.Option{
		tlsrotate.WithPollInterval(10 * time.Minute), // long: only fsnotify finds changes quickly
		tlsrotate.WithOnRotate(func(r tlsrotate.Rotation) {
			e.mu.Lock()
			e.rotations = append(e.rotations, r)
			e.mu.Unlock()
			select {
			case e.rotated <- r:
			default:
			}
		}),
		tlsrotate.WithOnError(func(err error) {
			e.mu.Lock()
			e.errs = append(e.errs, err)
			e.mu.Unlock()
			select {
			case e.rejected <- err:
			default:
			}
		}),
	}
	if !eo.noCA {
		all = append(all, tlsrotate.WithCAFile(e.caf))
	}
	src, err := tlsrotate.NewFileSource(e.cert, e.key, append(all, opts...)...)
	require.NoError(t, err)
	t.Cleanup(func() { src.Close() })
	e.src = src
	return e
}

// client returns a client over tlsrotate.New; with no CA file in the source
// the base transport trusts the test CA itself.
func (e *env) client() (*http.Client, *tlsrotate.Transport) {
	base := http.DefaultTransport.(*http.Transport).Clone()
	if e.src.Current().Roots == nil {
		base.TLSClientConfig = tlsConfigWithRoots(e.ca)
	}
	tr := tlsrotate.New(base, e.src)
	e.t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 20 * time.Second}, tr
}

// waitRotation waits (generously) for the next rotation.
func (e *env) waitRotation() tlsrotate.Rotation {
	e.t.Helper()
	select {
	case r := <-e.rotated:
		return r
	case <-time.After(10 * time.Second):
		e.t.Fatalf("no rotation within 10s; errors: %v", e.errors())
		return tlsrotate.Rotation{}
	}
}

// drainRotations forgets rotations reported so far.
func (e *env) drainRotations() {
	for {
		select {
		case <-e.rotated:
		default:
			return
		}
	}
}

func (e *env) waitRejection() error {
	e.t.Helper()
	select {
	case err := <-e.rejected:
		return err
	case <-time.After(10 * time.Second):
		e.t.Fatal("no rejection reported within 10s")
		return nil
	}
}

func (e *env) errors() []error {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]error(nil), e.errs...)
}

// serial does GET / and returns the body: the serial of the client
// certificate the server saw on that request's connection.
func serial(t *testing.T, c *http.Client, url string) string {
	t.Helper()
	s, err := trySerial(c, url)
	require.NoError(t, err)
	return s
}

func trySerial(c *http.Client, url string) (string, error) {
	resp, err := c.Get(url + "/")
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != 200 {
		return "", &statusErr{resp.StatusCode}
	}
	return string(b), nil
}

type statusErr struct{ code int }

func (e *statusErr) Error() string { return http.StatusText(e.code) }

// newMutualTLSServer starts a server for h that presents a certificate
// issued by ca and requires client certificates issued by ca, offering
// HTTP/2 when h2 is set; it is closed at the end of the test.
func newMutualTLSServer(tb testing.TB, ca *transporttest.CA, h http.Handler, h2 bool) *transporttest.Server {
	srv := transporttest.NewUnstartedServer(h)
	srv.TLS = &tls.Config{
		Certificates: []tls.Certificate{ca.IssueServer().Certificate},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    ca.Pool(),
	}
	srv.EnableHTTP2 = h2
	srv.StartTLS()
	tb.Cleanup(srv.Close)
	return srv
}

// clientSerial returns the serial number (decimal) of the client
// certificate of r's connection, or "".
func clientSerial(r *http.Request) string {
	if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
		return ""
	}
	return r.TLS.PeerCertificates[0].SerialNumber.String()
}

// serialHandler answers every request with the client's serial.
var serialHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	io.WriteString(w, clientSerial(r))
})

// setServerCertificate makes the server present p from the next handshake on.
func (e *env) setServerCertificate(p *transporttest.Pair) {
	e.srv.UpdateTLS(func(c *tls.Config) { c.Certificates = []tls.Certificate{p.Certificate} })
}

// acceptClientCAs makes the server accept, from the next handshake on,
// client certificates issued by any of cas (and no other).
func (e *env) acceptClientCAs(cas ...*transporttest.CA) {
	pool := x509.NewCertPool()
	for _, ca := range cas {
		pool.AddCert(ca.Cert)
	}
	e.srv.UpdateTLS(func(c *tls.Config) { c.ClientCAs = pool })
}

// lastResumed reports whether the connection of the server's last request
// resumed a TLS session.
func (e *env) lastResumed() bool {
	seen := e.srv.Seen()
	require.NotEmpty(e.t, seen)
	return seen[len(seen)-1].TLS.DidResume
}

// streamingHandler answers "/" with the client serial, and "/stream" with the
// serial, a newline, then one line per "tick" until "n" lines were sent,
// waiting for the request context or 50 ms between lines.
func streamingHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, clientSerial(r))
	})
	mux.HandleFunc("/stream", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, clientSerial(r)+"\n")
		w.(http.Flusher).Flush()
		for i := 0; i < 20; i++ {
			select {
			case <-r.Context().Done():
				return
			case <-time.After(50 * time.Millisecond):
			}
			io.WriteString(w, "tick\n")
			w.(http.Flusher).Flush()
		}
	})
	mux.HandleFunc("/hang", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, clientSerial(r)+"\n")
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	})
	return mux
}

// eventually polls cond every 5 ms for at most d.
func eventually(t *testing.T, d time.Duration, cond func() bool, msg string, args ...any) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf(msg, args...)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func writeFile(t *testing.T, path string, data []byte) {
	t.Helper()
	require.NoError(t, os.WriteFile(path, data, 0o600))
}

func tlsConfigWithRoots(ca *transporttest.CA) *tls.Config { return &tls.Config{RootCAs: ca.Pool()} }
