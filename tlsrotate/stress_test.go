package tlsrotate_test

import (
	"crypto/x509"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rtchain/chain/tlsrotate"
	"github.com/rtchain/chain/transporttest"
)

// TestTornPairKeepsOldPairUntilKeyArrives is R-2: a new certificate written
// 300 ms before its key. In between, every handshake (forced by closing idle
// connections) uses the old consistent pair; after the key, the new pair is
// active promptly.
func TestTornPairKeepsOldPairUntilKeyArrives(t *testing.T) {
	e := newEnv(t, envOpts{})
	c, tr := e.client()
	old := e.src.Current().Serial()
	p := e.ca.IssueClient("client", time.Hour)
	require.NoError(t, transporttest.WriteFileAtomic(e.cert, p.CertPEM))
	deadline := time.Now().Add(300 * time.Millisecond)
	n := 0
	for time.Now().Before(deadline) {
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
	e := newEnv(t, envOpts{h2: true})
	c, _ := e.client()
	var next, failed atomic.Int64
	var wg sync.WaitGroup
	var firstErr atomic.Value
	for w := 0; w < 16; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= 1000 {
				if _, err := trySerial(c, e.srv.URL); err != nil {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, err)
				}
			}
		}()
	}
	pairs := make([]*transporttest.Pair, 50)
	for i := range pairs {
		pairs[i] = e.ca.IssueClient("client", time.Hour)
	}
	for _, p := range pairs {
		require.NoError(t, transporttest.WritePair(e.dir, p))
		require.NoError(t, e.src.Reload())
	}
	wg.Wait()
	assert.Zero(t, failed.Load(), "first error: %v", firstErr.Load())
	assert.EqualValues(t, 51, e.src.Current().Generation)
}

// TestWatcherSurvivesManyRotationsAndInvalidWrites is R-4.
func TestWatcherSurvivesManyRotationsAndInvalidWrites(t *testing.T) {
	e := newEnv(t, envOpts{kubernetes: true}, tlsrotate.WithDebounce(10*time.Millisecond))
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

func TestExpiringCertificateIsReported(t *testing.T) {
	ca := transporttest.NewCA("ca")
	dir := t.TempDir()
	p := ca.IssueClient("short", time.Minute)
	require.NoError(t, transporttest.WritePair(dir, p))
	got := make(chan error, 4)
	src, err := tlsrotate.NewFileSource(filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key"),
		tlsrotate.WithPollInterval(50*time.Millisecond), tlsrotate.WithDrainTimeout(2*time.Minute),
		tlsrotate.WithOnError(func(err error) { got <- err }))
	require.NoError(t, err)
	defer src.Close()
	select {
	case err := <-got:
		var ee *tlsrotate.ExpiringError
		require.True(t, errors.As(err, &ee), "got %v", err)
		assert.Equal(t, p.Serial(), ee.Serial)
		assert.Equal(t, p.Leaf.NotAfter, ee.NotAfter)
		assert.Contains(t, ee.Error(), "expires in")
	case <-time.After(5 * time.Second):
		t.Fatal("no expiry warning")
	}
	time.Sleep(200 * time.Millisecond)
	assert.Empty(t, got, "warned once per snapshot")
}

func TestRenewAt(t *testing.T) {
	nb := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	leaf := &x509.Certificate{NotBefore: nb, NotAfter: nb.Add(100 * time.Hour)}
	assert.Equal(t, nb.Add(70*time.Hour), tlsrotate.RenewAt(leaf, func() float64 { return 0 }))
	assert.Equal(t, nb.Add(80*time.Hour), tlsrotate.RenewAt(leaf, func() float64 { return 0.5 }))
	for i := 0; i < 1000; i++ {
		at := tlsrotate.RenewAt(leaf, nil)
		require.False(t, at.Before(nb.Add(70*time.Hour)) || at.After(nb.Add(90*time.Hour)), "%v", at)
	}
}

// TestNoRequestOnExpiredConnection is R-8: a 3 s certificate that is never
// rotated, requests every 100 ms over HTTP/2 keep-alive. Requests stop
// going over the old connection at NotAfter, so the server sees none on a
// connection whose certificate has expired (later handshakes are refused).
func TestNoRequestOnExpiredConnection(t *testing.T) {
	ca := transporttest.NewCA("ca")
	dir := t.TempDir()
	p := ca.IssueClient("short", 3*time.Second)
	require.NoError(t, transporttest.WritePair(dir, p))
	srv := transporttest.NewUnstartedTLSServer(ca, nil)
	srv.EnableHTTP2 = true
	srv.Start()
	defer srv.Close()
	src, err := tlsrotate.NewFileSource(filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key"),
		tlsrotate.WithOnError(func(error) {}))
	require.NoError(t, err)
	defer src.Close()
	base := http.DefaultTransport.(*http.Transport).Clone()
	base.TLSClientConfig = tlsConfigWithRoots(ca)
	tr := tlsrotate.New(base, src)
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr, Timeout: 5 * time.Second}

	notAfter := p.Leaf.NotAfter
	okAfter := 0
	for time.Now().Before(notAfter.Add(time.Second)) {
		start := time.Now()
		if _, err := trySerial(c, srv.URL); err == nil && start.After(notAfter) {
			okAfter++
		}
		time.Sleep(100 * time.Millisecond)
	}
	assert.Zero(t, okAfter, "requests started after NotAfter must not succeed on an old connection")
	reqs := srv.Requests()
	require.NotEmpty(t, reqs)
	conns := map[uint64]bool{}
	for _, r := range reqs {
		conns[r.Conn] = true
		assert.True(t, r.At.Before(notAfter.Add(100*time.Millisecond)), "request at %v on a connection whose certificate expired at %v", r.At, notAfter)
	}
	assert.Len(t, conns, 1, "one HTTP/2 connection while the certificate was valid")
}

// TestMaxConnectionAge is R-9: without any rotation, connections are
// replaced every MaxConnectionAge, and none lives longer than it plus the
// drain timeout; no request fails.
func TestMaxConnectionAge(t *testing.T) {
	e := newEnv(t, envOpts{h2: true}, tlsrotate.WithMaxConnectionAge(400*time.Millisecond),
		tlsrotate.WithDrainTimeout(300*time.Millisecond))
	c, _ := e.client()
	start := time.Now()
	for time.Since(start) < 2*time.Second {
		_, err := trySerial(c, e.srv.URL)
		require.NoError(t, err)
		time.Sleep(20 * time.Millisecond)
	}
	first, last := map[uint64]time.Time{}, map[uint64]time.Time{}
	for _, r := range e.srv.Requests() {
		if _, ok := first[r.Conn]; !ok {
			first[r.Conn] = r.At
		}
		last[r.Conn] = r.At
	}
	assert.GreaterOrEqual(t, len(first), 3, "connections were replaced")
	for id := range first {
		assert.LessOrEqual(t, last[id].Sub(first[id]), 400*time.Millisecond+300*time.Millisecond+500*time.Millisecond,
			"connection %d served requests for too long", id)
	}
	assert.EqualValues(t, 1, e.src.Current().Generation, "no rotation happened")
}
