package tlsrotate_test

import (
	"bufio"
	"crypto/tls"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/rtchain/chain/tlsrotate"
	"github.com/rtchain/chain/transporttest"
)

func TestRotationByAtomicRenameIsPickedUpWithoutPolling(t *testing.T) {
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

func TestPollingFallbackFindsChange(t *testing.T) {
	e := newEnv(t, envOpts{}, tlsrotate.WithFSNotify(false), tlsrotate.WithPollInterval(200*time.Millisecond))
	p := e.ca.IssueClient("client", time.Hour)
	require.NoError(t, transporttest.WritePair(e.dir, p))
	eventually(t, 5*time.Second, func() bool { return e.src.Current().Serial() == p.Serial() },
		"polling did not pick up the new pair within 5s")
}

func TestInPlaceRewriteIsPickedUp(t *testing.T) {
	e := newEnv(t, envOpts{})
	p := e.ca.IssueClient("client", time.Hour)
	// Rewrite both files in place (truncate and write), key first.
	writeFile(t, e.key, p.KeyPEM)
	writeFile(t, e.cert, p.CertPEM)
	eventually(t, 5*time.Second, func() bool { return e.src.Current().Serial() == p.Serial() },
		"in-place rewrite not picked up within 5s")
}

func TestDirectoryReplacedIsHandled(t *testing.T) {
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

// TestZeroFailedRequestsAcrossRotations is H1/R-7: keep-alives on, a steady
// stream of concurrent requests, several rotations. No request fails, and
// every request that starts after a snapshot is published is served on a
// connection whose client certificate is that snapshot's or newer.
func TestZeroFailedRequestsAcrossRotations(t *testing.T) {
	for _, h2 := range []bool{false, true} {
		t.Run(map[bool]string{false: "http1", true: "http2"}[h2], func(t *testing.T) {
			e := newEnv(t, envOpts{h2: h2})
			c, _ := e.client()

			genOf := sync.Map{} // serial → generation
			genOf.Store(e.src.Current().Serial(), e.src.Current().Generation)
			type result struct {
				startGen uint64
				serial   string
				proto    string
				err      error
			}
			var mu sync.Mutex
			var results []result
			stop := make(chan struct{})
			var wg sync.WaitGroup
			const workers, maxPerWorker = 8, 2000
			for w := 0; w < workers; w++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := 0; i < maxPerWorker; i++ {
						select {
						case <-stop:
							return
						default:
						}
						g := e.src.Current().Generation
						resp, err := c.Get(e.srv.URL + "/")
						r := result{startGen: g, err: err}
						if err == nil {
							r.proto = resp.Proto
							var sb strings.Builder
							_, r.err = bufio.NewReader(resp.Body).WriteTo(&sb)
							resp.Body.Close()
							r.serial = sb.String()
							if resp.StatusCode != 200 {
								r.err = errors.New(resp.Status)
							}
						}
						mu.Lock()
						results = append(results, r)
						mu.Unlock()
						time.Sleep(2 * time.Millisecond)
					}
				}()
			}
			var rotatedAt []time.Time
			var serials []string
			for k := 0; k < 4; k++ {
				time.Sleep(150 * time.Millisecond)
				p := e.ca.IssueClient("client", time.Hour)
				genOf.Store(p.Serial(), e.src.Current().Generation+1)
				require.NoError(t, transporttest.WriteFileAtomic(e.cert+".new", nil)) // noise in the directory
				require.NoError(t, transporttest.WritePair(e.dir, p))
				for e.src.Current().Serial() != p.Serial() {
					e.waitRotation()
				}
				rotatedAt = append(rotatedAt, time.Now())
				serials = append(serials, p.Serial())
				genOf.Store(p.Serial(), e.src.Current().Generation)
			}
			time.Sleep(150 * time.Millisecond)
			close(stop)
			wg.Wait()

			require.Greater(t, len(results), 100, "too few requests to mean anything")
			perGen := map[uint64]int{}
			for _, r := range results {
				require.NoError(t, r.err, "no request may fail across rotations")
				if h2 {
					require.Equal(t, "HTTP/2.0", r.proto)
				}
				v, ok := genOf.Load(r.serial)
				require.True(t, ok, "unknown serial %q", r.serial)
				gen := v.(uint64)
				require.GreaterOrEqual(t, gen, r.startGen,
					"request started at generation %d was served with the certificate of generation %d", r.startGen, gen)
				perGen[gen]++
			}
			t.Logf("%d requests, per generation %v", len(results), perGen)
			// Every handshake the server saw well after a rotation used that
			// rotation's certificate or a newer one.
			for _, h := range e.srv.Handshakes() {
				v, ok := genOf.Load(h.Serial)
				require.True(t, ok, "handshake with unknown serial %q", h.Serial)
				for k, at := range rotatedAt {
					if h.At.After(at.Add(time.Second)) {
						require.GreaterOrEqual(t, v.(uint64), uint64(k+2), "handshake at %v after rotation %d used an old certificate", h.At, k+1)
					}
				}
			}
			last := serials[len(serials)-1]
			c.CloseIdleConnections()
			eventually(t, 5*time.Second, func() bool {
				for s, n := range e.srv.LiveConns() {
					if s != last && n > 0 {
						return false
					}
				}
				return true
			}, "connections with old certificates still open: %v", e.srv.LiveConns())
		})
	}
}

// TestInflightStreamOnOldConnectionCompletes: a response streaming on an old
// connection finishes without error while new requests already use the new
// certificate; the old connection is closed once its body is done.
func TestInflightStreamOnOldConnectionCompletes(t *testing.T) {
	for _, h2 := range []bool{false, true} {
		t.Run(map[bool]string{false: "http1", true: "http2"}[h2], func(t *testing.T) {
			e := newEnv(t, envOpts{h2: h2})
			c, tr := e.client()
			oldSerial := e.src.Current().Serial()
			require.Equal(t, oldSerial, serial(t, c, e.srv.URL)) // a pooled connection exists

			resp, err := c.Get(e.srv.URL + "/stream")
			require.NoError(t, err)
			br := bufio.NewReader(resp.Body)
			first, err := br.ReadString('\n')
			require.NoError(t, err)
			require.Equal(t, oldSerial+"\n", first)

			p := e.ca.IssueClient("client", time.Hour)
			require.NoError(t, transporttest.WritePair(e.dir, p))
			require.NoError(t, e.src.Reload()) // no need to wait for the watcher
			require.Equal(t, p.Serial(), e.src.Current().Serial())
			assert.Equal(t, p.Serial(), serial(t, c, e.srv.URL), "first request after the swap uses the new certificate")

			ticks := 0
			for {
				line, err := br.ReadString('\n')
				if err != nil {
					require.ErrorIs(t, err, io.EOF, "the old stream must end cleanly")
					break
				}
				require.Equal(t, "tick\n", line)
				ticks++
			}
			require.Equal(t, 20, ticks)
			require.NoError(t, resp.Body.Close())
			eventually(t, 5*time.Second, func() bool { return e.srv.LiveConns()[oldSerial] == 0 },
				"old-certificate connection still open after its stream ended: %v", e.srv.LiveConns())
			assert.Equal(t, map[uint64]int{2: 1}, tr.LiveConnections(), "only the new generation's connection is left")
		})
	}
}

func TestDrainTimeoutClosesStuckConnection(t *testing.T) {
	for _, h2 := range []bool{false, true} {
		t.Run(map[bool]string{false: "http1", true: "http2"}[h2], func(t *testing.T) {
			e := newEnv(t, envOpts{h2: h2}, tlsrotate.WithDrainTimeout(300*time.Millisecond))
			c, tr := e.client()
			oldSerial := e.src.Current().Serial()
			resp, err := c.Get(e.srv.URL + "/hang")
			require.NoError(t, err)
			defer resp.Body.Close()
			br := bufio.NewReader(resp.Body)
			_, err = br.ReadString('\n')
			require.NoError(t, err)

			require.NoError(t, transporttest.WritePair(e.dir, e.ca.IssueClient("client", time.Hour)))
			require.NoError(t, e.src.Reload())
			start := time.Now()
			_, err = br.ReadString('\n')
			require.Error(t, err, "the hanging stream is cut at the drain timeout")
			assert.Less(t, time.Since(start), 5*time.Second)
			eventually(t, 5*time.Second, func() bool { return e.srv.LiveConns()[oldSerial] == 0 },
				"old connection still open after the drain timeout: %v", e.srv.LiveConns())
			assert.Empty(t, tr.LiveConnections()[1], "no generation-1 connection left")
		})
	}
}

func TestImmediatePolicyClosesInflight(t *testing.T) {
	e := newEnv(t, envOpts{}, tlsrotate.WithPolicy(tlsrotate.Immediate))
	c, _ := e.client()
	resp, err := c.Get(e.srv.URL + "/hang")
	require.NoError(t, err)
	defer resp.Body.Close()
	br := bufio.NewReader(resp.Body)
	_, err = br.ReadString('\n')
	require.NoError(t, err)
	p := e.ca.IssueClient("client", time.Hour)
	require.NoError(t, transporttest.WritePair(e.dir, p))
	require.NoError(t, e.src.Reload())
	_, err = br.ReadString('\n')
	require.Error(t, err)
	assert.Equal(t, p.Serial(), serial(t, c, e.srv.URL))
}

func TestSessionCacheIsFreshPerGeneration(t *testing.T) {
	e := newEnv(t, envOpts{})
	base := http.DefaultTransport.(*http.Transport).Clone()
	base.TLSClientConfig = &tls.Config{ClientSessionCache: tls.NewLRUClientSessionCache(8)}
	tr := tlsrotate.New(base, e.src)
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr}
	serial(t, c, e.srv.URL)
	tr.CloseIdleConnections()
	serial(t, c, e.srv.URL)
	hs := e.srv.Handshakes()
	require.True(t, hs[len(hs)-1].Resumed, "sanity: the session cache resumes within a generation")

	p := e.ca.IssueClient("client", time.Hour)
	require.NoError(t, transporttest.WritePair(e.dir, p))
	require.NoError(t, e.src.Reload())
	assert.Equal(t, p.Serial(), serial(t, c, e.srv.URL), "no resumption of the old certificate's session")
	hs = e.srv.Handshakes()
	assert.False(t, hs[len(hs)-1].Resumed)
}
