package tlsrotate_test

import (
	"bufio"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rtchain/chain/tlsrotate"
	"github.com/rtchain/chain/transporttest"
)

// inBubbles runs test in a synctest bubble over HTTP/1.1 and over HTTP/2.
func inBubbles(t *testing.T, test func(t *testing.T, h2 bool)) {
	for _, h2 := range []bool{false, true} {
		t.Run(map[bool]string{false: "http1", true: "http2"}[h2], func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) { test(t, h2) })
		})
	}
}

// TestZeroFailedRequestsAcrossRotations is H1/R-7: keep-alives on, a steady
// stream of concurrent requests, several rotations. No request fails, and
// every request that starts after a snapshot is published is served on a
// connection whose client certificate is that snapshot's or newer; at the
// end only the newest certificate's connections are open. The rotations
// come after so many requests, not after so much time, so that every
// generation takes its share whatever the requests cost.
func TestZeroFailedRequestsAcrossRotations(t *testing.T) {
	t.Parallel()
	inBubbles(t, func(t *testing.T, h2 bool) {
		b := newBubble(t, h2)
		c, _ := b.client()
		var genOf sync.Map // serial → generation
		first := b.src.Current().Generation
		genOf.Store(b.src.Current().Serial(), first)
		type result struct {
			startGen uint64
			serial   string
			err      error
		}
		var mu sync.Mutex
		var results []result
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for range 4 {
			wg.Go(func() {
				for {
					select {
					case <-stop:
						return
					default:
					}
					g := b.src.Current().Generation
					s, err := trySerial(c, memURL)
					mu.Lock()
					results = append(results, result{g, s, err})
					mu.Unlock()
					time.Sleep(20 * time.Millisecond)
				}
			})
		}
		// awaitResults waits until n requests have ended.
		awaitResults := func(n int) {
			for {
				mu.Lock()
				got := len(results)
				mu.Unlock()
				if got >= n {
					return
				}
				time.Sleep(time.Millisecond)
			}
		}
		const perGeneration = 30
		var last string
		for i := range 4 {
			awaitResults((i + 1) * perGeneration)
			p := b.ca.IssueClient("client", time.Hour)
			genOf.Store(p.Serial(), b.src.Current().Generation+1)
			b.rotateTo(p)
			last = p.Serial()
		}
		awaitResults(5 * perGeneration)
		close(stop)
		wg.Wait()

		t.Logf("%d requests", len(results))
		served := map[uint64]int{}
		for _, r := range results {
			require.NoError(t, r.err, "no request may fail across rotations")
			v, ok := genOf.Load(r.serial)
			require.True(t, ok, "unknown serial %q", r.serial)
			require.GreaterOrEqual(t, v.(uint64), r.startGen,
				"request started at generation %d was served with the certificate of generation %d", r.startGen, v)
			served[v.(uint64)]++
		}
		for g := first; g <= first+4; g++ {
			assert.Positive(t, served[g], "no request was served with the certificate of generation %d: %v", g, served)
		}
		c.CloseIdleConnections()
		synctest.Wait()
		for s, n := range b.srv.liveConns() {
			assert.True(t, s == last || n == 0, "connections with old certificate %s still open: %v", s, b.srv.liveConns())
		}
	})
}

// rotateTo writes p and reloads.
func (b *bubble) rotateTo(p *transporttest.Pair) {
	b.t.Helper()
	require.NoError(b.t, transporttest.WritePair(b.dir, p))
	require.NoError(b.t, b.src.Reload())
	require.Equal(b.t, p.Serial(), b.src.Current().Serial())
}

// TestInflightStreamOnOldConnectionCompletes: a response streaming on an old
// connection finishes without error while new requests already use the new
// certificate; the old connection is closed once its body is done.
func TestInflightStreamOnOldConnectionCompletes(t *testing.T) {
	t.Parallel()
	inBubbles(t, func(t *testing.T, h2 bool) {
		b := newBubble(t, h2)
		c, tr := b.client()
		oldSerial := b.src.Current().Serial()
		require.Equal(t, oldSerial, serial(t, c, memURL)) // a pooled connection exists

		resp, err := c.Get(memURL + "/stream")
		require.NoError(t, err)
		br := bufio.NewReader(resp.Body)
		first, err := br.ReadString('\n')
		require.NoError(t, err)
		require.Equal(t, oldSerial+"\n", first)

		p := b.rotate()
		assert.Equal(t, p.Serial(), serial(t, c, memURL), "first request after the swap uses the new certificate")
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
		synctest.Wait()
		assert.Zero(t, b.srv.liveConns()[oldSerial], "old-certificate connection still open after its stream ended")
		assert.Equal(t, map[uint64]int{2: 1}, tr.LiveConnections(), "only the new generation's connection is left")
		assert.Zero(t, tr.Stats().Stale)
	})
}

// TestDrainTimeoutClosesStuckConnection: a body nobody finishes is cut at
// the drain timeout, and its connection counts as stale until then.
func TestDrainTimeoutClosesStuckConnection(t *testing.T) {
	t.Parallel()
	inBubbles(t, func(t *testing.T, h2 bool) {
		b := newBubble(t, h2)
		c, tr := b.client(tlsrotate.WithDrainTimeout(300 * time.Millisecond))
		oldSerial := b.src.Current().Serial()
		resp, err := c.Get(memURL + "/hang")
		require.NoError(t, err)
		defer resp.Body.Close()
		br := bufio.NewReader(resp.Body)
		_, err = br.ReadString('\n')
		require.NoError(t, err)

		b.rotate()
		synctest.Wait()
		assert.Equal(t, 1, tr.Stats().Stale, "the hanging stream's connection drains")
		start := time.Now()
		_, err = br.ReadString('\n')
		require.Error(t, err, "the hanging stream is cut at the drain timeout")
		assert.Equal(t, 300*time.Millisecond, time.Since(start))
		synctest.Wait()
		assert.Zero(t, b.srv.liveConns()[oldSerial], "old connection still open after the drain timeout")
		assert.Zero(t, tr.LiveConnections()[1], "no generation-1 connection left")
		assert.Zero(t, tr.Stats().Stale)
	})
}

func TestImmediateRetirementClosesInflight(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		b := newBubble(t, false)
		c, _ := b.client(tlsrotate.WithRetirement(tlsrotate.Immediate))
		resp, err := c.Get(memURL + "/hang")
		require.NoError(t, err)
		defer resp.Body.Close()
		br := bufio.NewReader(resp.Body)
		_, err = br.ReadString('\n')
		require.NoError(t, err)
		p := b.rotate()
		_, err = br.ReadString('\n')
		require.Error(t, err)
		assert.Equal(t, p.Serial(), serial(t, c, memURL))
	})
}

// TestNoneRetirementKeepsOldGenerationsReachable: under None, five
// rotations with a connection each leave five old connections, counted as
// stale and closed by CloseIdleConnections (before, they were forgotten and
// stayed open for good).
func TestNoneRetirementKeepsOldGenerationsReachable(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		b := newBubble(t, false)
		c, tr := b.client(tlsrotate.WithRetirement(tlsrotate.None))
		for range 5 {
			serial(t, c, memURL)
			b.rotate()
		}
		last := serial(t, c, memURL)
		synctest.Wait()
		assert.Equal(t, 6, tr.Stats().Connections)
		assert.Equal(t, 5, tr.Stats().Stale, "old generations' connections are counted")
		assert.Len(t, tr.LiveConnections(), 6)

		c.CloseIdleConnections()
		synctest.Wait()
		assert.Equal(t, map[string]int{}, b.srv.liveConns(), "CloseIdleConnections reaches every generation")
		assert.Equal(t, map[uint64]int{}, tr.LiveConnections())
		assert.Zero(t, tr.Stats().Stale)
		assert.Equal(t, last, serial(t, c, memURL))
		assert.EqualValues(t, 5, tr.Stats().Renewals[tlsrotate.TriggerRotation])
	})
}

// TestNoRequestOnExpiredConnection is R-8: a 3 s certificate that is never
// rotated, requests every 100 ms over HTTP/2 keep-alive. Requests stop
// going over the old connection at NotAfter, so the server sees none on a
// connection whose certificate has expired.
func TestNoRequestOnExpiredConnection(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		b := newBubble(t, true)
		p := b.ca.IssueClient("short", 3*time.Second)
		b.rotateTo(p)
		c, _ := b.client()
		notAfter := p.Leaf.NotAfter
		okAfter := 0
		for time.Now().Before(notAfter.Add(time.Second)) {
			start := time.Now()
			if _, err := trySerial(c, memURL); err == nil && start.After(notAfter) {
				okAfter++
			}
			time.Sleep(100 * time.Millisecond)
		}
		assert.Zero(t, okAfter, "requests started after NotAfter must not succeed on an old connection")
		conns := map[int]bool{}
		for _, r := range b.srv.requestLog() {
			conns[r.Conn] = true
			assert.False(t, r.At.After(notAfter), "request at %v on a connection whose certificate expired at %v", r.At, notAfter)
		}
		assert.Len(t, conns, 1, "one HTTP/2 connection while the certificate was valid")
	})
}

// TestCertificateInsideExpiryMarginIsRetired is the expiry rule of the
// renewal design: connections whose certificate expires within the margin
// (5 minutes by default) are retired before they fail, and the source is
// re-read then, so a renewed certificate waiting on disk (with no watcher
// to announce it) is taken for the new connections.
func TestCertificateInsideExpiryMarginIsRetired(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		require.Equal(t, 5*time.Minute, tlsrotate.DefaultExpiryMargin, "the design's margin")
		b := newBubble(t, false)
		old := b.src.Current()
		c, tr := b.client()
		require.Equal(t, old.Serial(), serial(t, c, memURL))

		renewed := b.ca.IssueClient("client", 2*time.Hour)
		require.NoError(t, transporttest.WritePair(b.dir, renewed)) // not re-read: no watcher, hourly poll
		time.Sleep(time.Until(old.Leaf.NotAfter.Add(-tlsrotate.DefaultExpiryMargin)) - time.Second)
		assert.Equal(t, old.Serial(), serial(t, c, memURL), "outside the margin the pooled connection serves")
		assert.Equal(t, old.Serial(), b.src.Current().Serial())

		time.Sleep(time.Second + time.Millisecond) // just inside the margin
		synctest.Wait()
		assert.Equal(t, renewed.Serial(), b.src.Current().Serial(), "the margin made the source re-read")
		assert.Zero(t, b.srv.liveConns()[old.Serial()], "the idle connection is closed at the margin, with no request")
		assert.Equal(t, renewed.Serial(), serial(t, c, memURL), "the next request handshakes with the renewed certificate")
		assert.EqualValues(t, 1, tr.Stats().Renewals[tlsrotate.TriggerExpiry])
		assert.True(t, time.Now().Before(old.Leaf.NotAfter), "all of this before the old certificate expired")
	})
}

// TestMaxConnectionAge is R-9: without any rotation, connections are
// replaced every MaxConnectionAge, and none lives longer than it plus the
// drain timeout; no request fails.
func TestMaxConnectionAge(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		b := newBubble(t, true)
		c, tr := b.client(tlsrotate.WithMaxConnectionAge(400*time.Millisecond), tlsrotate.WithDrainTimeout(300*time.Millisecond))
		start := time.Now()
		for time.Since(start) < 2*time.Second {
			_, err := trySerial(c, memURL)
			require.NoError(t, err)
			time.Sleep(20 * time.Millisecond)
		}
		first, last := map[int]time.Time{}, map[int]time.Time{}
		for _, r := range b.srv.requestLog() {
			if _, ok := first[r.Conn]; !ok {
				first[r.Conn] = r.At
			}
			last[r.Conn] = r.At
		}
		assert.GreaterOrEqual(t, len(first), 5, "connections were replaced")
		for id := range first {
			assert.LessOrEqual(t, last[id].Sub(first[id]), 400*time.Millisecond, "connection %d served requests for too long", id)
		}
		assert.EqualValues(t, 1, b.src.Current().Generation, "no rotation happened")
		assert.GreaterOrEqual(t, tr.Stats().Renewals[tlsrotate.TriggerMaxAge], uint64(4))
	})
}

// TestRequestBodyClosedOnEveryPath: the request body is closed once on
// success, on a dial error and on a rejected handshake.
func TestRequestBodyClosedOnEveryPath(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		b := newBubble(t, false)
		_, tr := b.client()
		for _, name := range []string{"success", "rejected handshake", "dial error"} {
			switch name {
			case "rejected handshake":
				b.srv.setClientCAs(transporttest.NewCA("other"))
			case "dial error":
				b.srv.ml.Close()
			}
			tr.CloseIdleConnections()
			body := &closeCounter{Reader: strings.NewReader("payload")}
			req, err := http.NewRequest(http.MethodPost, memURL+"/", body)
			require.NoError(t, err)
			resp, err := tr.RoundTrip(req)
			if err == nil {
				resp.Body.Close()
			} else {
				assert.Nil(t, resp)
			}
			assert.Equal(t, name != "success", err != nil, "%s: %v", name, err)
			assert.EqualValues(t, 1, body.closes.Load(), "%s: request body closes", name)
		}
	})
}
