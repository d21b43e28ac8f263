package tlsrotate_test

import (
	"crypto/tls"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/rtchain/chain/tlsrotate"
	"github.com/rtchain/chain/transporttest"
)

func TestRotationByAtomicRenameIsPickedUpWithoutPolling(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{}) // poll interval 1h: only fsnotify can find it
	c, _ := e.client()
	old := e.src.Current()
	require.Equal(t, old.Serial(), serial(t, c, e.srv.URL))

	p := e.ca.IssueClient("client", time.Hour)
	start := time.Now()
	require.NoError(t, transporttest.WritePair(e.dir, p))
	r := e.waitRotation()
	for r.NewSerial != p.Serial() { // the cert alone may have been seen first (key mismatch)
		r = e.waitRotation()
	}
	assert.Less(t, time.Since(start), 5*time.Second)
	assert.Equal(t, old.Serial(), r.OldSerial)
	assert.True(t, r.CertChanged)
	assert.False(t, r.RootsChanged)
	assert.Equal(t, p.Leaf.NotAfter, r.NotAfter)
	assert.Equal(t, p.Serial(), e.src.Current().Serial())
	assert.Equal(t, p.Serial(), serial(t, c, e.srv.URL), "request after the rotation must present the new certificate")
}

func TestRotationBySymlinkSwapIsPickedUpWithoutPolling(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{kubernetes: true})
	c, _ := e.client()
	require.Equal(t, e.src.Current().Serial(), serial(t, c, e.srv.URL))
	for i := 0; i < 3; i++ {
		p := e.ca.IssueClient("client", time.Hour)
		start := time.Now()
		require.NoError(t, transporttest.WriteKubernetes(e.dir, transporttest.KubernetesPair(p, e.ca)))
		r := e.waitRotation()
		assert.Less(t, time.Since(start), 5*time.Second)
		require.Equal(t, p.Serial(), r.NewSerial, "a ..data swap changes all files at once: no intermediate state")
		assert.Equal(t, p.Serial(), serial(t, c, e.srv.URL))
	}
	assert.Empty(t, e.errors(), "a symlink swap never shows a torn pair")
}

func TestInPlaceRewriteIsPickedUp(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	p := e.ca.IssueClient("client", time.Hour)
	// Rewrite both files in place (truncate and write), key first.
	writeFile(t, e.key, p.KeyPEM)
	writeFile(t, e.cert, p.CertPEM)
	eventually(t, 5*time.Second, func() bool { return e.src.Current().Serial() == p.Serial() },
		"in-place rewrite not picked up within 5s")
}

func TestDirectoryReplacedIsHandled(t *testing.T) {
	t.Parallel()
	ca := transporttest.NewCA("ca")
	parent := t.TempDir()
	dir := filepath.Join(parent, "certs")
	require.NoError(t, os.Mkdir(dir, 0o755))
	require.NoError(t, transporttest.WritePair(dir, ca.IssueClient("a", time.Hour)))
	src, err := tlsrotate.NewFileSource(filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key"),
		tlsrotate.WithPollInterval(10*time.Minute), tlsrotate.WithOnError(func(err error) { t.Logf("%v: %v", time.Now().Format("05.000"), err) }))
	require.NoError(t, err)
	defer src.Close()

	require.NoError(t, os.RemoveAll(dir))
	time.Sleep(300 * time.Millisecond) // the watcher sees the removal and fails to read
	require.NoError(t, os.Mkdir(dir, 0o755))
	p := ca.IssueClient("b", time.Hour)
	require.NoError(t, transporttest.WritePair(dir, p))
	// Found by the retry after the rejected read (1 s, then 2 s backoff).
	eventually(t, 8*time.Second, func() bool { return src.Current().Serial() == p.Serial() },
		"re-created directory not picked up within 8s")
	// And the watch is back: the next change is seen quickly.
	p2 := ca.IssueClient("c", time.Hour)
	require.NoError(t, transporttest.WritePair(dir, p2))
	eventually(t, 5*time.Second, func() bool { return src.Current().Serial() == p2.Serial() },
		"change after re-creation not picked up within 5s")
}

func TestCloseStopsWatcher(t *testing.T) {
	ignore := goleak.IgnoreCurrent()
	ca := transporttest.NewCA("ca")
	dir := t.TempDir()
	require.NoError(t, transporttest.WritePair(dir, ca.IssueClient("a", time.Hour)))
	src, err := tlsrotate.NewFileSource(filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key"))
	require.NoError(t, err)
	require.NoError(t, src.Close())
	require.NoError(t, src.Close(), "Close is idempotent")
	goleak.VerifyNone(t, ignore)
	// The last snapshot stays usable after Close.
	c, err := src.GetClientCertificate(nil)
	require.NoError(t, err)
	require.NotEmpty(t, c.Certificate)
}

func TestSessionCacheIsFreshPerGeneration(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	base := http.DefaultTransport.(*http.Transport).Clone()
	base.TLSClientConfig = &tls.Config{ClientSessionCache: tls.NewLRUClientSessionCache(8)}
	tr := tlsrotate.New(base, e.src)
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr}
	serial(t, c, e.srv.URL)
	tr.CloseIdleConnections()
	serial(t, c, e.srv.URL)
	require.True(t, e.lastResumed(), "sanity: the session cache resumes within a generation")

	p := e.ca.IssueClient("client", time.Hour)
	require.NoError(t, transporttest.WritePair(e.dir, p))
	require.NoError(t, e.src.Reload())
	assert.Equal(t, p.Serial(), serial(t, c, e.srv.URL), "no resumption of the old certificate's session")
	assert.False(t, e.lastResumed())
}

// TestDebounceIsNotStarvedByOtherWrites: a file written every 20 ms in the
// same directory never lets a 100 ms debounce go quiet; a rotation is still
// picked up, at ten debounce intervals at most (before: only at the poll).
func TestDebounceIsNotStarvedByOtherWrites(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		noise := filepath.Join(e.dir, "noise.log")
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
			os.WriteFile(noise, []byte(strconv.Itoa(i)), 0o600)
		}
	}()
	defer func() { close(stop); <-done }()
	time.Sleep(200 * time.Millisecond) // the noise is going
	p := e.ca.IssueClient("client", time.Hour)
	require.NoError(t, transporttest.WritePair(e.dir, p))
	eventually(t, 5*time.Second, func() bool { return e.src.Current().Serial() == p.Serial() },
		"rotation not picked up while another file is written every 20 ms")
}
