package tlsrotate_test

import (
	"crypto/x509"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rtchain/chain/tlsrotate"
	"github.com/rtchain/chain/transporttest"
)

// TestTornPairKeepsOldPairUntilKeyArrives is R-2: a new certificate written
// 300 ms (or more) before its key. In between, every handshake (forced by
// closing idle connections) uses the old consistent pair; after the key,
// the new pair is active promptly.
func TestTornPairKeepsOldPairUntilKeyArrives(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	c, tr := e.client()
	old := e.src.Current().Serial()
	p := e.ca.IssueClient("client", time.Hour)
	require.NoError(t, transporttest.WriteFileAtomic(e.cert, p.CertPEM))
	// The window lasts 300 ms, and until the torn pair has been reported
	// (10s at most): on a busy machine the watcher can take longer than
	// that to look at the new certificate.
	deadline, limit := time.Now().Add(300*time.Millisecond), time.Now().Add(10*time.Second)
	n := 0
	for time.Now().Before(deadline) || len(e.errors()) == 0 && time.Now().Before(limit) {
		tr.CloseIdleConnections()
		require.Equal(t, old, serial(t, c, e.srv.URL), "handshake during the torn window")
		n++
	}
	require.NoError(t, transporttest.WriteFileAtomic(e.key, p.KeyPEM))
	keyAt := time.Now()
	eventually(t, 5*time.Second, func() bool { return e.src.Current().Serial() == p.Serial() },
		"new pair not active within 5s after the key")
	t.Logf("%d handshakes in the torn window; new pair active %v after the key", n, time.Since(keyAt))
	assert.Equal(t, p.Serial(), serial(t, c, e.srv.URL))
	var re *tlsrotate.RejectError
	errs := e.errors()
	require.NotEmpty(t, errs, "the torn pair was reported")
	require.True(t, errors.As(errs[0], &re))
	assert.Equal(t, tlsrotate.ReasonKeyMismatch, re.Reason)
}

// TestConcurrentRequestsDuringManyRotations is R-1: 1,000 requests from 16
// goroutines during 50 rotations, race-clean, none failing.
func TestConcurrentRequestsDuringManyRotations(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		b := newBubble(t, true)
		c, tr := b.client()
		var next, failed atomic.Int64
		var firstErr atomic.Value
		var wg sync.WaitGroup
		for range 16 {
			wg.Go(func() {
				for next.Add(1) <= 1000 {
					if _, err := trySerial(c, memURL); err != nil {
						failed.Add(1)
						firstErr.CompareAndSwap(nil, err)
					}
				}
			})
		}
		for range 50 {
			b.rotate()
		}
		wg.Wait()
		assert.Zero(t, failed.Load(), "first error: %v", firstErr.Load())
		assert.EqualValues(t, 51, b.src.Current().Generation)
		assert.LessOrEqual(t, tr.Stats().Renewals[tlsrotate.TriggerRotation], uint64(50), "at most one generation per rotation")
	})
}

// TestWatcherSurvivesManyRotationsAndInvalidWrites is R-4.
func TestWatcherSurvivesManyRotationsAndInvalidWrites(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{kubernetes: true}, tlsrotate.WithDebounce(2*time.Millisecond))
	for i := 1; i <= 100; i++ {
		if i%5 == 0 {
			require.NoError(t, transporttest.WriteKubernetes(e.dir, map[string][]byte{"tls.crt": []byte("garbage"), "tls.key": []byte("garbage"), "ca.crt": e.ca.CertPEM}))
			err := e.waitRejection()
			var re *tlsrotate.RejectError
			require.True(t, errors.As(err, &re), "got %v", err)
		}
		p := e.ca.IssueClient("client", time.Hour)
		require.NoError(t, transporttest.WriteKubernetes(e.dir, transporttest.KubernetesPair(p, e.ca)))
		eventually(t, 5*time.Second, func() bool { return e.src.Current().Serial() == p.Serial() },
			"rotation %d not picked up", i)
	}
}

// TestSymlinkTargetDirectoryIsWatched: a certificate path that is a symlink
// into another directory, rotated by renames there, is seen without polling.
func TestSymlinkTargetDirectoryIsWatched(t *testing.T) {
	t.Parallel()
	ca := transporttest.NewCA("ca")
	real, links := t.TempDir(), t.TempDir()
	require.NoError(t, transporttest.WritePair(real, ca.IssueClient("a", time.Hour)))
	for _, n := range []string{"tls.crt", "tls.key"} {
		require.NoError(t, os.Symlink(filepath.Join(real, n), filepath.Join(links, n)))
	}
	src, err := tlsrotate.NewFileSource(filepath.Join(links, "tls.crt"), filepath.Join(links, "tls.key"),
		tlsrotate.WithPollInterval(10*time.Minute))
	require.NoError(t, err)
	defer src.Close()
	p := ca.IssueClient("b", time.Hour)
	require.NoError(t, transporttest.WritePair(real, p))
	eventually(t, 5*time.Second, func() bool { return src.Current().Serial() == p.Serial() },
		"rotation in the symlink target's directory not seen")
}

func TestRenewAt(t *testing.T) {
	t.Parallel()
	nb := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	leaf := &x509.Certificate{NotBefore: nb, NotAfter: nb.Add(100 * time.Hour)}
	assert.Equal(t, nb.Add(70*time.Hour), tlsrotate.RenewAt(leaf, func() float64 { return 0 }))
	assert.Equal(t, nb.Add(80*time.Hour), tlsrotate.RenewAt(leaf, func() float64 { return 0.5 }))
	for i := 0; i < 1000; i++ {
		at := tlsrotate.RenewAt(leaf, nil)
		require.False(t, at.Before(nb.Add(70*time.Hour)) || at.After(nb.Add(90*time.Hour)), "%v", at)
	}
}
