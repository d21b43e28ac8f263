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

func TestTLSServerRequiresAndRecordsClientCertificates(t *testing.T) {
	for _, h2 := range []bool{false, true} {
		t.Run(fmt.Sprint("h2=", h2), func(t *testing.T) {
			ca := transporttest.NewCA("ca")
			s := transporttest.NewUnstartedTLSServer(ca, nil)
			s.EnableHTTP2 = h2
			s.Start()
			defer s.Close()

			anon := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool()}}}
			_, _, err := tlsGet(anon, s.URL)
			require.Error(t, err, "no client certificate, no response")
			anon.CloseIdleConnections()

			p := ca.IssueClient("c", time.Hour)
			c := s.Client(p)
			defer c.CloseIdleConnections()
			body, proto, err := tlsGet(c, s.URL+"/x")
			require.NoError(t, err)
			assert.Equal(t, p.Serial(), body)
			assert.Equal(t, map[bool]string{false: "HTTP/1.1", true: "HTTP/2.0"}[h2], proto)

			reqs := s.Requests()
			require.Len(t, reqs, 1)
			assert.Equal(t, transporttest.TLSRequest{Serial: p.Serial(), Proto: proto, Conn: reqs[0].Conn, Path: "/x", At: reqs[0].At}, reqs[0])
			assert.WithinDuration(t, time.Now(), reqs[0].At, 5*time.Second)
			assert.NotZero(t, reqs[0].Conn)
			hs := s.Handshakes()
			require.NotEmpty(t, hs)
			assert.Equal(t, p.Serial(), hs[len(hs)-1].Serial)
			assert.Equal(t, map[string]int{p.Serial(): 1}, s.LiveConns())

			c.CloseIdleConnections()
			require.Eventually(t, func() bool { return len(s.LiveConns()) == 0 }, 5*time.Second, 10*time.Millisecond)
		})
	}
}

func TestTLSServerRotatesCertificateAndClientCAs(t *testing.T) {
	ca, ca2 := transporttest.NewCA("ca"), transporttest.NewCA("ca2")
	s := transporttest.NewTLSServer(ca, nil)
	defer s.Close()
	p1 := ca.IssueClient("one", time.Hour)
	p2 := ca2.IssueClient("two", time.Hour)

	c1 := s.Client(p1)
	defer c1.CloseIdleConnections()
	_, _, err := tlsGet(c1, s.URL)
	require.NoError(t, err)

	// Accept only ca2's clients from now on.
	s.SetClientCAs(ca2)
	c1.CloseIdleConnections()
	_, _, err = tlsGet(c1, s.URL)
	require.Error(t, err, "a client from a CA no longer accepted is refused")
	c2 := s.Client(p2) // trusts ca for the server certificate
	defer c2.CloseIdleConnections()
	body, _, err := tlsGet(c2, s.URL)
	require.NoError(t, err)
	assert.Equal(t, p2.Serial(), body)

	// New server certificate from ca2: clients trusting only ca fail.
	s.SetCertificate(ca2.IssueServer())
	c2.CloseIdleConnections()
	_, _, err = tlsGet(c2, s.URL)
	var ua x509.UnknownAuthorityError
	require.ErrorAs(t, err, &ua)
	assert.Equal(t, "ca2", s.Certificate().Leaf.Issuer.CommonName)
}

func TestWriteFileAtomicLeavesNoTemporaryFiles(t *testing.T) {
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

// A mutual-TLS server whose client CAs and certificate can be rotated, and
// which tells who connected.
func ExampleNewTLSServer() {
	ca := transporttest.NewCA("example-ca")
	server := transporttest.NewTLSServer(ca, nil)
	defer server.Close()

	pair := ca.IssueClient("alice", time.Hour)
	client := server.Client(pair)
	defer client.CloseIdleConnections()
	resp, err := client.Get(server.URL)
	if err != nil {
		fmt.Println(err)
		return
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()

	fmt.Println("body is the client serial:", string(body) == pair.Serial())
	fmt.Println("handshake recorded:", server.Handshakes()[0].Serial == pair.Serial())
	// Output:
	// body is the client serial: true
	// handshake recorded: true
}
