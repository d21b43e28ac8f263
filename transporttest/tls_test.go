package transporttest_test

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rtchain/chain/transporttest"
)

func TestCAIssuesVerifiableCertificates(t *testing.T) {
	t.Parallel()
	ca := transporttest.NewCA("ca")
	srv := ca.IssueServer()
	for _, host := range []string{"localhost", "127.0.0.1", "::1"} {
		_, err := srv.Leaf.Verify(x509.VerifyOptions{Roots: ca.Pool(), DNSName: host})
		assert.NoError(t, err, host)
	}
	_, err := srv.Leaf.Verify(x509.VerifyOptions{Roots: ca.Pool(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})
	assert.Error(t, err, "a server certificate is not for clients")

	cl := ca.IssueClient("me", 2*time.Hour)
	_, err = cl.Leaf.Verify(x509.VerifyOptions{Roots: ca.Pool(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})
	assert.NoError(t, err)
	assert.Equal(t, "me", cl.Leaf.Subject.CommonName)
	assert.WithinDuration(t, time.Now().Add(2*time.Hour), cl.Leaf.NotAfter, time.Minute)
	assert.NotEqual(t, srv.Serial(), cl.Serial())

	_, err = tls.X509KeyPair(cl.CertPEM, cl.KeyPEM)
	assert.NoError(t, err, "PEM pair matches")

	nb := time.Now().Add(time.Hour)
	future := ca.Issue(transporttest.CertSpec{NotBefore: nb, NotAfter: nb.Add(time.Hour), IPAddresses: []net.IP{net.IPv4(10, 0, 0, 1)}, Server: true})
	assert.Equal(t, nb.Truncate(time.Second).UTC(), future.Leaf.NotBefore.UTC())
	assert.Len(t, future.Leaf.IPAddresses, 1)

	other := transporttest.NewCA("other")
	_, err = cl.Leaf.Verify(x509.VerifyOptions{Roots: other.Pool(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})
	assert.Error(t, err)
}

func tlsGet(c *http.Client, url string) (string, string, error) {
	resp, err := c.Get(url)
	if err != nil {
		return "", "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), resp.Proto, err
}

// mutualTLS returns an unstarted server for h that presents a certificate
// issued by ca and requires client certificates issued by ca.
func mutualTLS(ca *transporttest.CA, h http.Handler) *transporttest.Server {
	srv := transporttest.NewUnstartedServer(h)
	srv.TLS = &tls.Config{
		Certificates: []tls.Certificate{ca.IssueServer().Certificate},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    ca.Pool(),
	}
	return srv
}

// clientWith returns a client that trusts ca and presents p.
func clientWith(t *testing.T, ca *transporttest.CA, p *transporttest.Pair, h2 bool) *http.Client {
	tr := &http.Transport{
		TLSClientConfig: &tls.Config{
			RootCAs:            ca.Pool(),
			Certificates:       []tls.Certificate{p.Certificate},
			ClientSessionCache: tls.NewLRUClientSessionCache(4),
		},
		ForceAttemptHTTP2: h2,
	}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

// serialOf returns the serial of the client certificate a request came with.
func serialOf(r transporttest.Request) string {
	if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
		return ""
	}
	return r.TLS.PeerCertificates[0].SerialNumber.String()
}

func TestMutualTLSRecordsClientCertificates(t *testing.T) {
	t.Parallel()
	for _, h2 := range []bool{false, true} {
		t.Run(fmt.Sprint("h2=", h2), func(t *testing.T) {
			ca := transporttest.NewCA("ca")
			s := mutualTLS(ca, transporttest.Reply{Body: "hi"})
			s.EnableHTTP2 = h2
			s.StartTLS()
			defer s.Close()

			anon := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool()}}}
			_, _, err := tlsGet(anon, s.URL)
			require.Error(t, err, "no client certificate, no response")
			anon.CloseIdleConnections()

			p := ca.IssueClient("c", time.Hour)
			c := clientWith(t, ca, p, h2)
			body, proto, err := tlsGet(c, s.URL+"/x")
			require.NoError(t, err)
			assert.Equal(t, "hi", body)
			assert.Equal(t, map[bool]string{false: "HTTP/1.1", true: "HTTP/2.0"}[h2], proto)
			c.CloseIdleConnections()
			_, _, err = tlsGet(c, s.URL+"/y")
			require.NoError(t, err)

			seen := s.Seen()
			require.Len(t, seen, 2)
			assert.Equal(t, p.Serial(), serialOf(seen[0]))
			assert.Equal(t, proto, seen[0].Proto)
			assert.Equal(t, "/x", seen[0].Path)
			assert.NotZero(t, seen[0].ConnID)
			assert.NotEqual(t, seen[0].ConnID, seen[1].ConnID, "a new connection after CloseIdleConnections")
			assert.False(t, seen[0].TLS.DidResume)
			assert.True(t, seen[1].TLS.DidResume, "the client's session cache resumed the first session")
		})
	}
}

func TestUpdateTLSRotatesCertificateAndClientCAs(t *testing.T) {
	t.Parallel()
	ca, ca2 := transporttest.NewCA("ca"), transporttest.NewCA("ca2")
	s := mutualTLS(ca, nil)
	s.StartTLS()
	defer s.Close()
	p1 := ca.IssueClient("one", time.Hour)
	p2 := ca2.IssueClient("two", time.Hour)
	assert.Equal(t, "ca", s.Certificate().Issuer.CommonName)

	c1 := clientWith(t, ca, p1, false)
	_, _, err := tlsGet(c1, s.URL)
	require.NoError(t, err)

	// Accept only ca2's clients from now on.
	s.UpdateTLS(func(c *tls.Config) { c.ClientCAs = ca2.Pool() })
	c1.CloseIdleConnections()
	_, _, err = tlsGet(c1, s.URL)
	require.Error(t, err, "a client from a CA no longer accepted is refused")
	c2 := clientWith(t, ca, p2, false) // trusts ca for the server certificate
	_, _, err = tlsGet(c2, s.URL)
	require.NoError(t, err)
	seen := s.Seen()
	assert.Equal(t, p2.Serial(), serialOf(seen[len(seen)-1]))

	// New server certificate from ca2: clients trusting only ca fail.
	s.UpdateTLS(func(c *tls.Config) { c.Certificates = []tls.Certificate{ca2.IssueServer().Certificate} })
	assert.Equal(t, "ca2", s.Certificate().Issuer.CommonName)
	c2.CloseIdleConnections()
	_, _, err = tlsGet(c2, s.URL)
	var ua x509.UnknownAuthorityError
	require.ErrorAs(t, err, &ua)
	_, _, err = tlsGet(clientWith(t, ca2, p2, false), s.URL)
	require.NoError(t, err, "a client trusting ca2 gets through")
}

// TestClientTrustsOwnCertificate: the server's client trusts a certificate
// given in TLS, whoever issued it, as httptest's does.
func TestClientTrustsOwnCertificate(t *testing.T) {
	t.Parallel()
	ca := transporttest.NewCA("ca")
	s := transporttest.NewUnstartedServer(transporttest.Reply{Body: "ok"})
	s.TLS = &tls.Config{Certificates: []tls.Certificate{ca.IssueServer().Certificate}}
	s.EnableHTTP2 = true
	s.StartTLS()
	defer s.Close()
	body, proto, err := tlsGet(s.Client(), s.URL)
	require.NoError(t, err)
	assert.Equal(t, "ok", body)
	assert.Equal(t, "HTTP/2.0", proto)
}

func TestWriteFileAtomicLeavesNoTemporaryFiles(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "f")
	require.NoError(t, transporttest.WriteFileAtomic(path, []byte("one")))
	require.NoError(t, transporttest.WriteFileAtomic(path, []byte("two")))
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, "two", string(b))
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	assert.Len(t, entries, 1)
	assert.Error(t, transporttest.WriteFileAtomic(filepath.Join(dir, "missing", "f"), nil))
}

func TestWriteKubernetesSwapsAllFilesAtOnce(t *testing.T) {
	t.Parallel()
	ca := transporttest.NewCA("ca")
	dir := t.TempDir()
	p1, p2 := ca.IssueClient("a", time.Hour), ca.IssueClient("b", time.Hour)
	require.NoError(t, transporttest.WriteKubernetes(dir, transporttest.KubernetesPair(p1, ca)))
	require.NoError(t, transporttest.WriteKubernetes(dir, transporttest.KubernetesPair(p2, nil)))

	for name, want := range map[string][]byte{"tls.crt": p2.CertPEM, "tls.key": p2.KeyPEM} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		require.NoError(t, err)
		assert.Equal(t, string(want), string(b), name)
		target, err := os.Readlink(filepath.Join(dir, name))
		require.NoError(t, err)
		assert.Equal(t, filepath.Join("..data", name), target)
	}
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	// ..data, one timestamped directory (the old one is gone), and the links.
	require.Len(t, names, 5, "%v", names)
	assert.Equal(t, []string{"..data", "ca.crt", "tls.crt", "tls.key"}, []string{names[1], names[2], names[3], names[4]})
	_, err = os.Stat(filepath.Join(dir, "ca.crt"))
	assert.Error(t, err, "ca.crt is dangling once the new set lacks it, as in Kubernetes")
}
