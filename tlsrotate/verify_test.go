package tlsrotate_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rtchain/chain"
	"github.com/rtchain/chain/errclass"
	"github.com/rtchain/chain/tlsrotate"
	"github.com/rtchain/chain/transporttest"
)

// clients returns, for each wiring mode, a client on e.src.
func clients(t *testing.T, e *env) map[string]*http.Client {
	t.Helper()
	newTr, _ := e.client()
	cfgTr := http.DefaultTransport.(*http.Transport).Clone()
	tlsrotate.Configure(cfgTr, e.src)
	t.Cleanup(cfgTr.CloseIdleConnections)
	return map[string]*http.Client{"New": newTr, "Configure": {Transport: cfgTr, Timeout: 20 * time.Second}}
}

func isUnknownAuthority(err error) bool {
	var ua x509.UnknownAuthorityError
	return errors.As(err, &ua)
}

// TestCARotationWithOverlap is H2/R-10: a server certificate from a new CA
// fails before the bundle update, works after it (old and new CA overlap),
// and the old CA's servers keep working during the overlap.
func TestCARotationWithOverlap(t *testing.T) {
	t.Parallel()
	for _, h2 := range []bool{false, true} {
		t.Run(map[bool]string{false: "http1", true: "http2"}[h2], func(t *testing.T) {
			e := newEnv(t, envOpts{h2: h2})
			for mode, c := range clients(t, e) {
				t.Run(mode, func(t *testing.T) {
					e.setServerCertificate(e.ca.IssueServer())
					e.srv.CloseClientConnections()
					c.CloseIdleConnections()
					require.NoError(t, transporttest.WriteFileAtomic(e.caf, e.ca.CertPEM))
					require.NoError(t, e.src.Reload())
					require.Equal(t, e.src.Current().Serial(), serial(t, c, e.srv.URL))

					newCA := transporttest.NewCA("new-ca")
					e.setServerCertificate(newCA.IssueServer())
					e.srv.CloseClientConnections()
					c.CloseIdleConnections()
					_, err := trySerial(c, e.srv.URL)
					require.Error(t, err, "a server from a CA not yet trusted must fail")
					assert.True(t, isUnknownAuthority(err), "got %v, want x509.UnknownAuthorityError", err)

					e.drainRotations()
					overlap := append(append([]byte{}, e.ca.CertPEM...), newCA.CertPEM...)
					require.NoError(t, transporttest.WriteFileAtomic(e.caf, overlap))
					r := e.waitRotation()
					require.True(t, r.RootsChanged)
					assert.Equal(t, e.src.Current().Serial(), serial(t, c, e.srv.URL), "first request after the CA update succeeds")

					e.setServerCertificate(e.ca.IssueServer()) // back to the old CA: still trusted during overlap
					e.srv.CloseClientConnections()
					c.CloseIdleConnections()
					assert.Equal(t, e.src.Current().Serial(), serial(t, c, e.srv.URL))
				})
			}
		})
	}
}

// TestConfigureVerifiesDialedIP is R-11: an IP-literal URL whose certificate
// is for a different IP fails in both modes (ServerName is empty for IPs;
// the dialed address is what is checked).
func TestConfigureVerifiesDialedIP(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	e.setServerCertificate(e.ca.Issue(transporttest.CertSpec{Server: true, IPAddresses: []net.IP{net.IPv4(10, 0, 0, 1)}}))
	for mode, c := range clients(t, e) {
		_, err := trySerial(c, e.srv.URL)
		require.Error(t, err, mode)
		var he x509.HostnameError
		assert.True(t, errors.As(err, &he), "%s: got %v, want x509.HostnameError", mode, err)
		assert.Contains(t, err.Error(), "127.0.0.1", mode)
	}
	// A certificate with the right IP but for client use is refused too.
	e.setServerCertificate(e.ca.Issue(transporttest.CertSpec{IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}}))
	for mode, c := range clients(t, e) {
		_, err := trySerial(c, e.srv.URL)
		require.Error(t, err, mode)
		assert.True(t, strings.Contains(err.Error(), "usage"), "%s: got %v", mode, err)
	}
}

// TestConfigureVerifiesResumedSessions is R-11: with a session cache, a
// resumed session is verified against the roots current at resumption.
func TestConfigureVerifiesResumedSessions(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{ClientSessionCache: tls.NewLRUClientSessionCache(8)}
	tlsrotate.Configure(tr, e.src)
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr}
	serial(t, c, e.srv.URL)
	tr.CloseIdleConnections()
	serial(t, c, e.srv.URL)
	require.True(t, e.lastResumed(), "sanity: the session was resumed")

	// Now trust only another CA: the resumed session must fail verification.
	newCA := transporttest.NewCA("new-ca")
	writeCAOnly(t, e, newCA)
	tr.CloseIdleConnections()
	_, err := trySerial(c, e.srv.URL)
	require.Error(t, err)
	assert.True(t, isUnknownAuthority(err), "got %v", err)
}

// writeCAOnly replaces the CA bundle with ca's certificate, keeping the
// client pair valid by issuing it from ca as well (the bundle is the issuer).
func writeCAOnly(t *testing.T, e *env, ca *transporttest.CA) {
	t.Helper()
	p := ca.IssueClient("client", time.Hour)
	require.NoError(t, transporttest.WriteFileAtomic(e.caf, ca.CertPEM))
	require.NoError(t, transporttest.WritePair(e.dir, p))
	require.NoError(t, e.src.Reload())
	require.Equal(t, p.Serial(), e.src.Current().Serial())
}

func TestConfigureRejectsProxies(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.Proxy = func(*http.Request) (*url.URL, error) { return url.Parse("http://127.0.0.1:1") }
	tlsrotate.Configure(tr, e.src)
	_, err := (&http.Client{Transport: tr}).Get(e.srv.URL)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "proxies")
}

func TestConfigureKeepsHTTP2(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{h2: true})
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tlsrotate.Configure(tr, e.src)
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr}).Get(e.srv.URL)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, "HTTP/2.0", resp.Proto)
}

// TestTransportIsTheBase: the Transport sits at the bottom of a chain,
// chain.Base reaches its template, and CloseIdleConnections reaches its
// generations.
func TestTransportIsTheBase(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{h2: true})
	base := http.DefaultTransport.(*http.Transport).Clone()
	tr := tlsrotate.New(base, e.src)
	rt := chain.Build(tr, func(next http.RoundTripper) http.RoundTripper { return next })
	require.Same(t, base, chain.Base(rt), "chain.Base reaches the template")
	c := &http.Client{Transport: rt}
	defer c.CloseIdleConnections()
	resp, err := c.Get(e.srv.URL)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, "HTTP/2.0", resp.Proto)
	assert.Equal(t, map[uint64]int{1: 1}, tr.LiveConnections())
	c.CloseIdleConnections()
	eventually(t, 5*time.Second, func() bool { return len(tr.LiveConnections()) == 0 },
		"CloseIdleConnections reaches the generations")
}

// TestCAMigrationServesPreviousCertificateToOldServers is R-6: after the
// client moved to a certificate from a new CA, a server that still accepts
// only the old CA gets the previous (still valid) certificate; once it
// accepts the new CA, the new one.
func TestCAMigrationServesPreviousCertificateToOldServers(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	c, tr := e.client()
	old := e.src.Current().Serial()
	newCA := transporttest.NewCA("new-ca")
	require.NoError(t, transporttest.WriteFileAtomic(e.caf, append(append([]byte{}, e.ca.CertPEM...), newCA.CertPEM...)))
	p := newCA.IssueClient("client", time.Hour)
	require.NoError(t, transporttest.WritePair(e.dir, p))
	require.NoError(t, e.src.Reload())
	require.Equal(t, p.Serial(), e.src.Current().Serial())

	assert.Equal(t, old, serial(t, c, e.srv.URL), "a server accepting only the old CA gets the previous certificate")
	e.acceptClientCAs(e.ca, newCA)
	tr.CloseIdleConnections()
	assert.Equal(t, p.Serial(), serial(t, c, e.srv.URL), "a server accepting both gets the newest")
	e.acceptClientCAs(newCA)
	tr.CloseIdleConnections()
	assert.Equal(t, p.Serial(), serial(t, c, e.srv.URL))
}

// TestConfigureHandshakeTimeoutIsUnsent: through Configure, a handshake
// that outlives TLSHandshakeTimeout fails with phase tls_handshake and is
// known to be unsent, so a POST may be resent (before: a bare "context
// deadline exceeded", no phase, not unsent).
func TestConfigureHandshakeTimeoutIsUnsent(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		ca := transporttest.NewCA("ca")
		p := ca.IssueClient("client", time.Hour)
		src, err := tlsrotate.NewFuncSource(func(context.Context) (*tlsrotate.Material, error) {
			return &tlsrotate.Material{CertPEM: p.CertPEM, KeyPEM: p.KeyPEM, CAPEM: ca.CertPEM}, nil
		})
		require.NoError(t, err)
		defer src.Close()
		ml := transporttest.NewMemListener()
		defer ml.Close()
		go silentServer(ml)
		tr := &http.Transport{DialContext: ml.DialContext, TLSHandshakeTimeout: 2 * time.Second}
		tlsrotate.Configure(tr, src)
		defer tr.CloseIdleConnections()

		req, err := http.NewRequest(http.MethodPost, memURL, strings.NewReader("payload"))
		require.NoError(t, err)
		start := time.Now()
		_, err = tr.RoundTrip(req)
		require.Error(t, err)
		assert.Equal(t, 2*time.Second, time.Since(start))
		assert.Equal(t, errclass.PhaseTLSHandshake, errclass.PhaseOf(err), "%v", err)
		assert.True(t, errclass.Unsent(err))
		assert.Equal(t, errclass.Timeout, errclass.Classify(err))
		assert.ErrorIs(t, err, errclass.ErrTimeout)
		assert.ErrorIs(t, err, context.DeadlineExceeded)
		assert.Contains(t, err.Error(), "tlsrotate: tls_handshake: no TLS handshake within 2s")

		// The caller's own deadline stays the caller's.
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		req, err = http.NewRequestWithContext(ctx, http.MethodGet, memURL, nil)
		require.NoError(t, err)
		_, err = tr.RoundTrip(req)
		assert.ErrorIs(t, err, context.DeadlineExceeded)
		assert.NotEqual(t, errclass.PhaseTLSHandshake, errclass.PhaseOf(err))
	})
}
