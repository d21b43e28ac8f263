package timeouts_test

import (
	"fmt"
	"io"
	"net/http"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rtchain/chain/errclass"
	"github.com/rtchain/chain/timeouts"
	"github.com/rtchain/chain/transporttest"
)

// bursts is a handler that sends n bursts of size bytes, one every every
// (the first at once), then ends the body, or stalls when stall is set.
func bursts(n, size int, every time.Duration, stall bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		chunk := make([]byte, size)
		for i := range n {
			if i > 0 {
				select {
				case <-time.After(every):
				case <-r.Context().Done():
					return
				}
			}
			if _, err := w.Write(chunk); err != nil {
				return
			}
			w.(http.Flusher).Flush()
		}
		if stall {
			<-r.Context().Done()
		}
	})
}

// readBy reads body to the end in reads of size bytes, or with io.Copy when
// size is 0.
func readBy(body io.Reader, size int) (int64, error) {
	if size == 0 {
		return io.Copy(io.Discard, body)
	}
	buf := make([]byte, size)
	var n int64
	for {
		k, err := body.Read(buf)
		n += int64(k)
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
}

// Item 1: a stream of 128 KiB bursts every 700ms runs under
// WithAdaptiveBodyIdle(1.8, 200ms, 10s) to its end, however it is read
// (reads served from the transport's buffer are not gaps); after the 3rd gap
// the bound is 1.8 x 700ms = 1.26s, so a stall after such a stream fails at
// 1.26s, not at the 10s ceiling.
func TestAdaptiveBodyIdleFollowsBursts(t *testing.T) {
	t.Parallel()
	for _, p := range protos {
		for _, size := range []int{4 << 10, 0} {
			t.Run(fmt.Sprintf("%s/read%d", p.name, size), func(t *testing.T) {
				synctest.Test(t, func(t *testing.T) {
					srv := inMemory(t, transporttest.NewUnstartedServer(bursts(6, 128<<10, 700*ms, false)), p.h2)
					c := memClient(t, srv, timeouts.WithAdaptiveBodyIdle(1.8, 200*ms, 10*time.Second))
					resp, err := get(t, nil, c, srv.URL)
					require.NoError(t, err)
					defer resp.Body.Close()
					n, err := readBy(resp.Body, size)
					require.NoError(t, err)
					assert.Equal(t, int64(6*128<<10), n)
				})
			})
			t.Run(fmt.Sprintf("%s/read%d/stall", p.name, size), func(t *testing.T) {
				synctest.Test(t, func(t *testing.T) {
					srv := inMemory(t, transporttest.NewUnstartedServer(bursts(6, 128<<10, 700*ms, true)), p.h2)
					c := memClient(t, srv, timeouts.WithAdaptiveBodyIdle(1.8, 200*ms, 10*time.Second))
					resp, err := get(t, nil, c, srv.URL)
					require.NoError(t, err)
					defer resp.Body.Close()
					var n int64
					took := elapsed(func() { n, err = readBy(resp.Body, size) })
					assert.Equal(t, int64(6*128<<10), n)
					te := requireTimeout(t, err, errclass.PhaseBodyIdle)
					assert.Equal(t, 1260*ms, te.Limit, "1.8 x the 700ms gaps")
					stall := took - 5*700*ms
					assert.GreaterOrEqual(t, stall, 1260*ms)
					assert.LessOrEqual(t, stall, 1260*ms+1260*ms/8)
				})
			})
		}
	}
}

// Item 1: until the 3rd gap the static bound applies (clamped to the
// ceiling), or 5s when the first gap is already 2s or more.
func TestAdaptiveBodyIdleColdStart(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		every time.Duration
		want  time.Duration
	}{
		{"static", 500 * ms, 10 * time.Second},
		{"long first gap", 3 * time.Second, 5 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				// Two bursts (one gap), then a stall.
				srv := inMemory(t, transporttest.NewUnstartedServer(bursts(2, 1<<10, tc.every, true)), false)
				c := memClient(t, srv, timeouts.WithAdaptiveBodyIdle(2, 100*ms, 10*time.Second))
				resp, err := get(t, nil, c, srv.URL)
				require.NoError(t, err)
				defer resp.Body.Close()
				_, err = io.Copy(io.Discard, resp.Body)
				te := requireTimeout(t, err, errclass.PhaseBodyIdle)
				assert.Equal(t, tc.want, te.Limit)
			})
		})
	}
}

// Item 1: WithBodyIdle(0) and WithWriteIdle(0) with an adaptive option leave
// the adaptive bound working on its own (cold start at the ceiling).
func TestAdaptiveWorksWithoutStaticBound(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		srv := inMemory(t, transporttest.NewUnstartedServer(transporttest.Reply{BodySize: 10, Fault: transporttest.Stall}), false)
		c := memClient(t, srv, timeouts.WithBodyIdle(0), timeouts.WithAdaptiveBodyIdle(2, 100*ms, 3*time.Second))
		resp, err := get(t, nil, c, srv.URL)
		require.NoError(t, err)
		defer resp.Body.Close()
		_, err = io.Copy(io.Discard, resp.Body)
		te := requireTimeout(t, err, errclass.PhaseBodyIdle)
		assert.Equal(t, 3*time.Second, te.Limit)
	})
	synctest.Test(t, func(t *testing.T) {
		srv := inMemory(t, transporttest.NewUnstartedServer(transporttest.Reply{Fault: transporttest.NoRead}), false)
		c := memClient(t, srv, timeouts.WithWriteIdle(0), timeouts.WithAdaptiveWriteIdle(3, 100*ms, 2*time.Second))
		req, err := http.NewRequest(http.MethodPut, srv.URL, newUpload(64<<20))
		require.NoError(t, err)
		_, err = c.Do(req)
		te := requireTimeout(t, err, errclass.PhaseWriteIdle)
		assert.Equal(t, 2*time.Second, te.Limit)
	})
}

// batchedReader is a handler that reads the request body batch bytes at a
// time, working for pause after each batch, then answers "ok".
func batchedReader(batch int, pause time.Duration) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		buf := make([]byte, batch)
		for {
			if _, err := io.ReadFull(r.Body, buf); err != nil {
				break
			}
			select {
			case <-time.After(pause):
			case <-r.Context().Done():
				return
			}
		}
		io.WriteString(w, "ok")
	})
}

// Item 1: an upload to a server that reads in batches (256 KiB, then 600ms
// of work) completes under WithAdaptiveWriteIdle(3, 100ms, 10s): the writes
// the connection takes at once are not gaps, the 600ms waits are, and the
// bound becomes 3 x 600ms. A server that then stops reading is cut at that
// bound.
func TestAdaptiveWriteIdleBatchedReader(t *testing.T) {
	t.Parallel()
	for _, p := range protos {
		t.Run(p.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				srv := inMemory(t, transporttest.NewUnstartedServer(batchedReader(256<<10, 600*ms)), p.h2)
				c := memClient(t, srv, timeouts.WithAdaptiveWriteIdle(3, 100*ms, 10*time.Second))
				req, err := http.NewRequest(http.MethodPut, srv.URL, newUpload(4<<20))
				require.NoError(t, err)
				resp, err := c.Do(req)
				require.NoError(t, err)
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				assert.Equal(t, "ok", string(b))
			})
		})
	}
	synctest.Test(t, func(t *testing.T) {
		stopAfter := 4 * 256 << 10
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			buf := make([]byte, 256<<10)
			for read := 0; read < stopAfter; read += len(buf) {
				if _, err := io.ReadFull(r.Body, buf); err != nil {
					return
				}
				time.Sleep(600 * ms)
			}
			<-r.Context().Done() // never reads again
		})
		srv := inMemory(t, transporttest.NewUnstartedServer(h), false)
		c := memClient(t, srv, timeouts.WithAdaptiveWriteIdle(3, 100*ms, 10*time.Second))
		req, err := http.NewRequest(http.MethodPut, srv.URL, newUpload(64<<20))
		require.NoError(t, err)
		_, err = c.Do(req)
		te := requireTimeout(t, err, errclass.PhaseWriteIdle)
		assert.Equal(t, 1800*ms, te.Limit, "3 x the 600ms gaps")
	})
}
