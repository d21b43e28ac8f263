package tlsrotate

import (
	"crypto/tls"
	"crypto/x509"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rtchain/chain/transporttest"
)

// TestVerifyServerFailsClosed is R-11: no host name means no connection,
// whatever the certificate.
func TestVerifyServerFailsClosed(t *testing.T) {
	ca := transporttest.NewCA("ca")
	dir := t.TempDir()
	require.NoError(t, transporttest.WritePair(dir, ca.IssueClient("c", time.Hour)))
	require.NoError(t, transporttest.WriteFileAtomic(filepath.Join(dir, "ca.crt"), ca.CertPEM))
	src, err := NewFileSource(filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key"), WithCAFile(filepath.Join(dir, "ca.crt")))
	require.NoError(t, err)
	defer src.Close()
	server := ca.IssueServer()
	cs := tls.ConnectionState{PeerCertificates: []*x509.Certificate{server.Leaf}}

	assert.NoError(t, src.verifyServer("localhost", nil)(cs))
	assert.NoError(t, src.verifyServer("::1", nil)(cs))
	assert.Error(t, src.verifyServer("", nil)(cs), "empty host must fail closed")
	assert.Error(t, src.verifyServer("example.com", nil)(cs))
	assert.Error(t, src.verifyServer("localhost", nil)(tls.ConnectionState{}), "no certificate")
}

// TestGenerationsAreForgotten: retired generations leave the transport once
// drained, so rotations do not accumulate transports.
func TestGenerationsAreForgotten(t *testing.T) {
	ca := transporttest.NewCA("ca")
	dir := t.TempDir()
	require.NoError(t, transporttest.WritePair(dir, ca.IssueClient("c", time.Hour)))
	src, err := NewFileSource(filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key"))
	require.NoError(t, err)
	defer src.Close()
	tr := New(nil, src)
	for i := 0; i < 20; i++ {
		require.NoError(t, transporttest.WritePair(dir, ca.IssueClient("c", time.Hour)))
		require.NoError(t, src.Reload())
	}
	tr.mu.Lock()
	n := len(tr.gens)
	tr.mu.Unlock()
	assert.Equal(t, 1, n, "only the current generation remains")
	assert.Equal(t, src.Current(), tr.cur.Load().snap)
}
