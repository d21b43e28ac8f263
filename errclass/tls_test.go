package errclass_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rtchain/chain/errclass"
)

// testCA is a certificate authority made for one test.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

var serial atomic.Int64

func newKey(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return key
}

func newCA(t *testing.T) *testCA {
	t.Helper()
	key := newKey(t)
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(serial.Add(1)),
		Subject:               pkix.Name{CommonName: "errclass test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &testCA{cert: cert, key: key}
}

func (ca *testCA) pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.cert)
	return p
}

// leaf issues a server certificate for the given IPs and DNS names, valid
// from notBefore to notAfter.
func (ca *testCA) leaf(t *testing.T, ips []net.IP, dns []string, notBefore, notAfter time.Time) tls.Certificate {
	t.Helper()
	key := newKey(t)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial.Add(1)),
		Subject:      pkix.Name{CommonName: "errclass test server"},
		NotBefore:    notBefore,
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:  ips,
		DNSNames:     dns,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

var loopback = []net.IP{net.IPv4(127, 0, 0, 1)}

// newTLSServer starts an HTTPS server on loopback with the given TLS config;
// it is closed at the end of the test.
func newTLSServer(t *testing.T, cfg *tls.Config) *httptest.Server {
	t.Helper()
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok")
	}))
	srv.TLS = cfg
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // handshake failures are the point
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv
}

func tlsClient(t *testing.T, cfg *tls.Config) *http.Client {
	t.Helper()
	return &http.Client{Transport: newTransport(t, func(tr *http.Transport) { tr.TLSClientConfig = cfg })}
}

func TestRealTLS(t *testing.T) {
	t.Parallel()
	ca := newCA(t)
	now := time.Now()
	good := ca.leaf(t, loopback, nil, now.Add(-time.Hour), now.Add(time.Hour))

	t.Run("control", func(t *testing.T) {
		srv := newTLSServer(t, &tls.Config{Certificates: []tls.Certificate{good}})
		if err := get(t, tlsClient(t, &tls.Config{RootCAs: ca.pool()}), srv.URL); err != nil {
			t.Fatalf("a valid certificate failed: %v", err)
		}
	})
	t.Run("unknown authority", func(t *testing.T) {
		srv := newTLSServer(t, &tls.Config{Certificates: []tls.Certificate{good}})
		err := get(t, tlsClient(t, &tls.Config{RootCAs: newCA(t).pool()}), srv.URL)
		check(t, err, errclass.TLS, errclass.PhaseNone, true)
		var ua x509.UnknownAuthorityError
		var cv *tls.CertificateVerificationError
		if !errors.As(err, &ua) || !errors.As(err, &cv) {
			t.Errorf("want x509.UnknownAuthorityError in a *tls.CertificateVerificationError: %v", err)
		}
	})
	t.Run("expired", func(t *testing.T) {
		expired := ca.leaf(t, loopback, nil, now.Add(-2*time.Hour), now.Add(-time.Hour))
		srv := newTLSServer(t, &tls.Config{Certificates: []tls.Certificate{expired}})
		err := get(t, tlsClient(t, &tls.Config{RootCAs: ca.pool()}), srv.URL)
		check(t, err, errclass.TLS, errclass.PhaseNone, true)
		var inv x509.CertificateInvalidError
		if !errors.As(err, &inv) || inv.Reason != x509.Expired {
			t.Errorf("want x509.CertificateInvalidError{Reason: Expired}: %v", err)
		}
	})
	t.Run("hostname mismatch", func(t *testing.T) {
		other := ca.leaf(t, nil, []string{"elsewhere.test"}, now.Add(-time.Hour), now.Add(time.Hour))
		srv := newTLSServer(t, &tls.Config{Certificates: []tls.Certificate{other}})
		err := get(t, tlsClient(t, &tls.Config{RootCAs: ca.pool()}), srv.URL)
		check(t, err, errclass.TLS, errclass.PhaseNone, true)
		var he x509.HostnameError
		if !errors.As(err, &he) {
			t.Errorf("want x509.HostnameError: %v", err)
		}
	})
	t.Run("client certificate required", func(t *testing.T) {
		// TLS 1.3: the server's refusal arrives as an alert after the
		// client's side of the handshake is done.
		srv := newTLSServer(t, &tls.Config{Certificates: []tls.Certificate{good},
			ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: ca.pool()})
		err := get(t, tlsClient(t, &tls.Config{RootCAs: ca.pool()}), srv.URL)
		check(t, err, errclass.TLS, errclass.PhaseNone, true)
	})
	t.Run("version mismatch", func(t *testing.T) {
		srv := newTLSServer(t, &tls.Config{Certificates: []tls.Certificate{good}, MinVersion: tls.VersionTLS13})
		err := get(t, tlsClient(t, &tls.Config{RootCAs: ca.pool(), MaxVersion: tls.VersionTLS12}), srv.URL)
		check(t, err, errclass.TLS, errclass.PhaseNone, true)
	})
	t.Run("server speaks plain HTTP", func(t *testing.T) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
		t.Cleanup(srv.Close)
		err := get(t, tlsClient(t, &tls.Config{RootCAs: ca.pool()}), "https://"+srv.Listener.Addr().String()+"/")
		check(t, err, errclass.TLS, errclass.PhaseNone, true)
	})
}
