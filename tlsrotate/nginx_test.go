package tlsrotate_test

import (
	"crypto/x509"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rtchain/chain/tlsrotate"
	"github.com/rtchain/chain/transporttest"
)

// nginxPage is nginx 1.22's page for a client certificate it rejected.
const nginxPage = "<html>\r\n<head><title>400 The SSL certificate error</title></head>\r\n<body>\r\n" +
	"<center><h1>400 Bad Request</h1></center>\r\n<center>The SSL certificate error</center>\r\n" +
	"<hr><center>nginx/1.22.1</center>\r\n</body>\r\n</html>\r\n"

// nginxLike answers as nginx with ssl_verify_client on does: the handshake
// takes any certificate, and a request whose certificate does not verify
// against the accepted CAs gets 400 with nginx's page, and the connection
// closed.
type nginxLike struct {
	mu       sync.Mutex
	accepted *x509.CertPool
	next     http.Handler
}

func (n *nginxLike) accept(ca *transporttest.CA) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.accepted = ca.Pool()
}

func (n *nginxLike) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n.mu.Lock()
	pool := n.accepted
	n.mu.Unlock()
	certs := r.TLS.PeerCertificates
	if _, err := certs[0].Verify(x509.VerifyOptions{Roots: pool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		w.Header().Set("Server", "nginx/1.22.1")
		w.Header().Set("Content-Type", "text/html")
		w.Header().Set("Connection", "close")
		w.WriteHeader(http.StatusBadRequest)
		io.WriteString(w, nginxPage)
		return
	}
	n.next.ServeHTTP(w, r)
}

// TestNginxStyleRejectionRenews: a server that rejects the certificate with
// nginx's 400 after a completed handshake. The 400 reaches the caller as it
// came (sent once, body intact); the renewal re-reads the source, and the
// next request presents the new certificate.
func TestNginxStyleRejectionRenews(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		ca := transporttest.NewCA("ca")
		ngx := &nginxLike{next: streamingHandler()}
		ngx.accept(ca)
		srv := newMemServer(t, ca, false, ngx)
		srv.acceptAnyCertificate()
		src, prov := hourlySource(t, ca.IssueClient("client", time.Hour))
		tr := tlsrotate.New(srv.base(ca), src)
		defer tr.CloseIdleConnections()
		c := &http.Client{Transport: tr}
		require.Equal(t, src.Current().Serial(), serial(t, c, memURL))

		newCA := transporttest.NewCA("new-ca")
		next := newCA.IssueClient("client", time.Hour)
		prov.set(next)
		ngx.accept(newCA)
		before := len(srv.requestLog())
		resp, err := c.Get(memURL + "/")
		require.NoError(t, err, "a status is never turned into an error")
		b, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
		assert.Equal(t, nginxPage, string(b), "the body reaches the caller unread")
		assert.Len(t, srv.requestLog(), before+1, "the request was sent once, never again")
		assert.EqualValues(t, 1, tr.Stats().Renewals[tlsrotate.TriggerResponse])

		assert.Equal(t, next.Serial(), serial(t, c, memURL), "the next request presents the re-read certificate")
	})
}

func TestNginxRejection(t *testing.T) {
	t.Parallel()
	nginx := func(mod func(*http.Response)) *http.Response {
		r := &http.Response{StatusCode: 400, ProtoMajor: 1, Close: true, Header: http.Header{
			"Server": {"nginx/1.22.1"}, "Content-Type": {"text/html"}}}
		if mod != nil {
			mod(r)
		}
		return r
	}
	for name, tc := range map[string]struct {
		resp *http.Response
		want bool
	}{
		"nginx's own 400":      {nginx(nil), true},
		"server_tokens off":    {nginx(func(r *http.Response) { r.Header.Set("Server", "nginx") }), true},
		"openresty":            {nginx(func(r *http.Response) { r.Header.Set("Server", "openresty/1.21") }), true},
		"over HTTP/2":          {nginx(func(r *http.Response) { r.ProtoMajor, r.Close = 2, false }), true},
		"an application's 400": {nginx(func(r *http.Response) { r.Close = false }), false},
		"JSON":                 {nginx(func(r *http.Response) { r.Header.Set("Content-Type", "application/json") }), false},
		"another server":       {nginx(func(r *http.Response) { r.Header.Set("Server", "envoy") }), false},
		"no server header":     {nginx(func(r *http.Response) { r.Header.Del("Server") }), false},
		"another status":       {nginx(func(r *http.Response) { r.StatusCode = 403 }), false},
	} {
		assert.Equal(t, tc.want, tlsrotate.NginxRejection(tc.resp), name)
	}
}

// TestRealNginxRejectionRenews runs the case against nginx itself, when it is
// installed: nginx trusts only a new client CA; the source starts with an
// older certificate while its provider already has one of the new CA.
func TestRealNginxRejectionRenews(t *testing.T) {
	t.Parallel()
	bin, err := exec.LookPath("nginx")
	if err != nil {
		bin = "/usr/sbin/nginx"
		if _, err := os.Stat(bin); err != nil {
			t.Skip("nginx is not installed")
		}
	}
	ca, newCA := transporttest.NewCA("ca"), transporttest.NewCA("new-ca")
	dir := t.TempDir()
	server := ca.IssueServer()
	for name, data := range map[string][]byte{"srv.crt": server.CertPEM, "srv.key": server.KeyPEM, "client-ca.crt": newCA.CertPEM} {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), data, 0o600))
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	l.Close()
	conf := fmt.Sprintf(`daemon off; master_process off; pid %[1]s/nginx.pid; error_log %[1]s/error.log;
events { worker_connections 64; }
http {
  access_log off;
  client_body_temp_path %[1]s; proxy_temp_path %[1]s; fastcgi_temp_path %[1]s; uwsgi_temp_path %[1]s; scgi_temp_path %[1]s;
  server {
    listen %[2]s ssl;
    ssl_certificate %[1]s/srv.crt; ssl_certificate_key %[1]s/srv.key;
    ssl_client_certificate %[1]s/client-ca.crt; ssl_verify_client on;
    location / { return 200 "$ssl_client_serial"; }
  }
}`, dir, addr)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "nginx.conf"), []byte(conf), 0o600))
	cmd := exec.Command(bin, "-p", dir, "-c", filepath.Join(dir, "nginx.conf"))
	cmd.Stderr = os.Stderr
	require.NoError(t, cmd.Start())
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	eventually(t, 10*time.Second, func() bool {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
		}
		return err == nil
	}, "nginx did not start")

	src, prov := hourlySource(t, ca.IssueClient("client", time.Hour))
	next := newCA.IssueClient("client", time.Hour)
	prov.set(next)
	tr := tlsrotate.New(&http.Transport{TLSClientConfig: tlsConfigWithRoots(ca)}, src)
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr}

	resp, err := c.Get("https://" + addr + "/")
	require.NoError(t, err)
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	t.Logf("nginx answered %s, Server %q, Content-Type %q, Close %v", resp.Status, resp.Header.Get("Server"), resp.Header.Get("Content-Type"), resp.Close)
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
	assert.Contains(t, string(b), "The SSL certificate error")
	assert.True(t, tlsrotate.NginxRejection(resp), "nginx's answer matches the rule")
	assert.EqualValues(t, 1, tr.Stats().Renewals[tlsrotate.TriggerResponse])

	resp, err = c.Get("https://" + addr + "/")
	require.NoError(t, err)
	b, err = io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	got, ok := new(big.Int).SetString(string(b), 16) // nginx's $ssl_client_serial is hexadecimal
	require.True(t, ok, "serial %q", b)
	assert.Equal(t, next.Serial(), got.String(), "the renewed certificate")
}
