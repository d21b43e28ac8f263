package standard_test

import (
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"

	"github.com/rtchain/chain"
	"github.com/rtchain/chain/standard"
	"github.com/rtchain/chain/tlsrotate"
	"github.com/rtchain/chain/transporttest"
)

// TestWithTLS sends requests through the whole stack with a client
// certificate from a tlsrotate file source; after a rotation, new requests
// present the new certificate and none fails.
func TestWithTLS(t *testing.T) {
	ca := transporttest.NewCA("test-ca")
	srv := transporttest.NewTLSServer(ca, nil)
	defer srv.Close()

	dir := t.TempDir()
	first := ca.IssueClient("client", time.Hour)
	require.NoError(t, transporttest.WritePair(dir, first))
	caFile := filepath.Join(dir, transporttest.CAFileName)
	require.NoError(t, os.WriteFile(caFile, ca.CertPEM, 0o600))
	src, err := tlsrotate.NewFileSource(filepath.Join(dir, transporttest.CertFileName),
		filepath.Join(dir, transporttest.KeyFileName), tlsrotate.WithCAFile(caFile))
	require.NoError(t, err)
	defer src.Close()

	s := standard.New(standard.WithTLS(src))
	defer s.CloseIdleConnections()
	c := chain.Base(s)
	require.NotNil(t, s.Base())
	require.Same(t, s.Base(), c, "Base is the live transport")

	serial := func() string {
		t.Helper()
		resp, err := s.RoundTrip(mustGet(t, srv.URL))
		require.NoError(t, err)
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return string(b)
	}
	require.Equal(t, first.Serial(), serial())

	second := ca.IssueClient("client", time.Hour)
	require.NoError(t, transporttest.WritePair(dir, second))
	require.NoError(t, src.Reload())
	require.Equal(t, second.Serial(), serial(), "the new certificate after rotation")
}

// ObserveTLS turns a Source's rotations and rejections into chain.tls.*
// metrics.
func TestObserveTLS(t *testing.T) {
	tel := newTelemetry(t)
	obs := standard.NewObserver(tel.mp)
	ca := transporttest.NewCA("test-ca")
	dir := t.TempDir()
	require.NoError(t, transporttest.WritePair(dir, ca.IssueClient("client", time.Hour)))
	certFile, keyFile := filepath.Join(dir, transporttest.CertFileName), filepath.Join(dir, transporttest.KeyFileName)
	src, err := tlsrotate.NewFileSource(certFile, keyFile, standard.ObserveTLS(obs)...)
	require.NoError(t, err)
	defer src.Close()

	// A rotation, seen by Reload or by the watcher, whichever comes first.
	require.NoError(t, transporttest.WritePair(dir, ca.IssueClient("client", time.Hour)))
	require.NoError(t, src.Reload())
	assert.Equal(t, int64(1), tel.sum(t, "chain.tls.rotations", attribute.KeyValue{}))

	// A rejection reaches WithOnError through the watcher (Reload returns
	// its own instead).
	require.NoError(t, os.WriteFile(certFile, []byte("not a certificate"), 0o600))
	rejected := attribute.String("chain.tls.reason", "parse_error")
	require.Eventually(t, func() bool { return tel.sum(t, "chain.tls.rejections", rejected) >= 1 },
		5*time.Second, 20*time.Millisecond, "the watcher's rejection is counted")
	assert.Equal(t, int64(1), tel.sum(t, "chain.tls.rotations", attribute.KeyValue{}), "a rejection is not a rotation")

	assert.Nil(t, standard.ObserveTLS(nil))
}
