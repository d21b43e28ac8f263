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
	t.Parallel()
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

// R-8 with a CA migration: a generation whose connections may carry the
// previous certificate retires by the earlier expiry of the two.
func TestExpiryCoversPreviousCertificate(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	leaf := func(notAfter time.Time) *x509.Certificate { return &x509.Certificate{NotAfter: notAfter} }
	cur := leaf(now.Add(10 * time.Hour))
	margin := time.Minute
	for _, tc := range []struct {
		name     string
		previous *tls.Certificate
		want     time.Time
	}{
		{"no previous", nil, now.Add(10*time.Hour - margin)},
		{"previous expires first", &tls.Certificate{Leaf: leaf(now.Add(time.Hour))}, now.Add(time.Hour - margin)},
		{"previous expires later", &tls.Certificate{Leaf: leaf(now.Add(20 * time.Hour))}, now.Add(10*time.Hour - margin)},
		{"previous already expired", &tls.Certificate{Leaf: leaf(now.Add(-time.Hour))}, now.Add(10*time.Hour - margin)},
		{"previous inside the margin", &tls.Certificate{Leaf: leaf(now.Add(30 * time.Second))}, now.Add(30 * time.Second)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			snap := &Snapshot{Leaf: cur, previous: tc.previous}
			assert.Equal(t, tc.want, expiry(snap, now, margin))
		})
	}
}
