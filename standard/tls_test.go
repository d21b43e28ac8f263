package standard_test

import (
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

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
