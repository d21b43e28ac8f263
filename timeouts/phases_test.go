package timeouts_test

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rtchain/chain/errclass"
	"github.com/rtchain/chain/timeouts"
	"github.com/rtchain/chain/transporttest"
)

// The phases of a round trip through New, over HTTP/1.1 and h2, on fake
// time: each bound fires no earlier than its limit and at most an eighth of
// it later.

// T-12, D1: the response header bound.
func TestResponseHeader(t *testing.T) {
	t.Parallel()
	for _, p := range protos {
		t.Run(p.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				srv := inMemory(t, transporttest.NewUnstartedServer(transporttest.Reply{Delay: time.Minute}), p.h2)
				c := memClient(t, srv, timeouts.WithResponseHeader(200*ms))
				var err error
				took := elapsed(func() { _, err = get(t, nil, c, srv.URL) })
				te := requireTimeout(t, err, errclass.PhaseResponseHeader)
				assert.Equal(t, 200*ms, te.Limit)
				assert.Equal(t, "timeouts: response_header: no response header within 200ms", te.Error())
				assert.GreaterOrEqual(t, took, 200*ms)
				assert.LessOrEqual(t, took, 225*ms)
			})
		})
	}
}

// T-4, D2: a body that stops, right after the header and mid-stream.
func TestBodyIdle(t *testing.T) {
	t.Parallel()
	for _, p := range protos {
		for _, after := range []int{0, 1000} {
			t.Run(fmt.Sprintf("%s/after%d", p.name, after), func(t *testing.T) {
				synctest.Test(t, func(t *testing.T) {
					srv := inMemory(t, transporttest.NewUnstartedServer(transporttest.Reply{BodySize: int64(after), Fault: transporttest.Stall}), p.h2)
					c := memClient(t, srv, timeouts.WithBodyIdle(200*ms))
					resp, err := get(t, nil, c, srv.URL)
					require.NoError(t, err)
					defer resp.Body.Close()
					var n int64
					took := elapsed(func() { n, err = io.Copy(io.Discard, resp.Body) })
					assert.Equal(t, int64(after), n)
					te := requireTimeout(t, err, errclass.PhaseBodyIdle)
					assert.Equal(t, "timeouts: body_idle: no response body byte received for 200ms", te.Error())
					assert.GreaterOrEqual(t, took, 200*ms)
					assert.LessOrEqual(t, took, 225*ms)
					// Reading again gives the same error, at once.
					_, err2 := resp.Body.Read(make([]byte, 1))
					assert.Same(t, te, err2)
				})
			})
		}
	}
}

// T-7: the body idle error is the same over HTTP/1.1 and h2, and no lower
// error leaks through.
func TestBodyIdleSameErrorBothProtocols(t *testing.T) {
	t.Parallel()
	var texts []string
	for _, p := range protos {
		synctest.Test(t, func(t *testing.T) {
			srv := inMemory(t, transporttest.NewUnstartedServer(transporttest.Reply{BodySize: 10, Fault: transporttest.Stall}), p.h2)
			c := memClient(t, srv, timeouts.WithBodyIdle(150*ms))
			resp, err := get(t, nil, c, srv.URL)
			require.NoError(t, err)
			_, err = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			te := requireTimeout(t, err, errclass.PhaseBodyIdle)
			assert.Nil(t, te.Unwrap(), "%s: our own timer fired", p.name)
			texts = append(texts, err.Error())
		})
	}
	assert.Equal(t, texts[0], texts[1])
}

// T-9: after a body idle timeout, HTTP/1 drops the connection and h2 keeps
// it. T-16: the bounds are per request, never on the connection: a pooled
// connection idle for ten body idle bounds is reused.
func TestConnectionAfterBodyIdle(t *testing.T) {
	t.Parallel()
	for _, p := range protos {
		t.Run(p.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					if r.URL.Path == "/stall" {
						w.Header().Set("Content-Length", "100")
						w.WriteHeader(200)
						w.(http.Flusher).Flush()
						<-r.Context().Done()
						return
					}
					io.WriteString(w, "ok")
				})
				srv := inMemory(t, transporttest.NewUnstartedServer(h), p.h2)
				c := memClient(t, srv, timeouts.WithBodyIdle(150*ms))
				resp, err := get(t, nil, c, srv.URL+"/stall")
				require.NoError(t, err)
				_, err = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				requireTimeout(t, err, errclass.PhaseBodyIdle)
				for range 2 {
					resp, err = get(t, nil, c, srv.URL+"/ok")
					require.NoError(t, err)
					_, err = io.Copy(io.Discard, resp.Body)
					require.NoError(t, err)
					resp.Body.Close()
					time.Sleep(1500 * ms)
				}
				if p.h2 {
					assert.Equal(t, 1, srv.Stats().Connections, "h2 keeps the connection")
				} else {
					assert.Equal(t, 2, srv.Stats().Connections, "HTTP/1 dials again once, then reuses")
				}
			})
		})
	}
}

// T-5: a trickle that outlives the idle bound ten times over is not cut.
func TestTrickleNotCut(t *testing.T) {
	t.Parallel()
	for _, p := range protos {
		t.Run(p.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				const every, idle, n = 50 * ms, 250 * ms, 50
				srv := inMemory(t, transporttest.NewUnstartedServer(transporttest.Reply{BodySize: n, Trickle: every}), p.h2)
				c := memClient(t, srv, timeouts.WithBodyIdle(idle))
				resp, err := get(t, nil, c, srv.URL)
				require.NoError(t, err)
				defer resp.Body.Close()
				var b []byte
				took := elapsed(func() { b, err = io.ReadAll(resp.Body) })
				require.NoError(t, err)
				assert.Len(t, b, n)
				assert.Equal(t, n*every, took, "the stream outlived the bound ten times")
			})
		})
	}
}

// T-6, T-10, C8: a consumer that pauses three idle bounds between reads of a
// body sent at once is not cut, and the context lives until EOF.
func TestSlowConsumerNotCut(t *testing.T) {
	t.Parallel()
	for _, p := range protos {
		t.Run(p.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				body := strings.Repeat("x", 1<<20)
				srv := inMemory(t, transporttest.NewUnstartedServer(transporttest.Reply{Body: body}), p.h2)
				const idle = 100 * ms
				c := memClient(t, srv, timeouts.WithBodyIdle(idle), timeouts.WithResponseHeader(idle))
				resp, err := get(t, nil, c, srv.URL)
				require.NoError(t, err)
				defer resp.Body.Close()
				buf := make([]byte, 64<<10)
				var got int
				for i := 0; ; i++ {
					if i < 3 {
						time.Sleep(3 * idle)
					}
					n, err := resp.Body.Read(buf)
					got += n
					if err == io.EOF {
						break
					}
					require.NoError(t, err)
				}
				assert.Equal(t, len(body), got)
			})
		})
	}
}

// T-11: an upload to a peer that never reads fails with write_idle, and the
// request body is closed.
func TestWriteIdle(t *testing.T) {
	t.Parallel()
	for _, p := range protos {
		t.Run(p.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				srv := inMemory(t, transporttest.NewUnstartedServer(transporttest.Reply{Fault: transporttest.NoRead}), p.h2)
				c := memClient(t, srv, timeouts.WithWriteIdle(200*ms))
				body := newUpload(64 << 20)
				req, err := http.NewRequest(http.MethodPut, srv.URL, body)
				require.NoError(t, err)
				_, err = c.Do(req)
				te := requireTimeout(t, err, errclass.PhaseWriteIdle)
				assert.Equal(t, "timeouts: write_idle: no request body byte taken for 200ms", te.Error())
				synctest.Wait()
				assert.GreaterOrEqual(t, body.closed.Load(), int32(1), "the request body is closed")
			})
		})
	}
}

// T-11: a slow producer (time inside the caller's Read) is not counted, and
// an upload that keeps moving is not cut.
func TestWriteIdleSlowProducerNotCut(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		srv := inMemory(t, transporttest.NewUnstartedServer(transporttest.Reply{Body: "ok"}), false)
		const idle = 100 * ms
		c := memClient(t, srv, timeouts.WithWriteIdle(idle))
		req, err := http.NewRequest(http.MethodPost, srv.URL, &slowProducer{left: 3, pause: 3 * idle})
		require.NoError(t, err)
		resp, err := c.Do(req)
		require.NoError(t, err)
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		assert.Equal(t, "ok", string(b))
		assert.Equal(t, int64(3), srv.Stats().BodyBytes)
	})
}

type slowProducer struct {
	left  int
	pause time.Duration
}

func (s *slowProducer) Read(p []byte) (int, error) {
	if s.left == 0 {
		return 0, io.EOF
	}
	time.Sleep(s.pause)
	s.left--
	p[0] = 'x'
	return 1, nil
}

// A blackhole (connect succeeds, nothing answers) is a response header
// timeout.
func TestBlackholeIsResponseHeader(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		srv := inMemory(t, transporttest.NewUnstartedServer(transporttest.Reply{Fault: transporttest.Blackhole}), false)
		c := memClient(t, srv, timeouts.WithResponseHeader(200*ms))
		_, err := get(t, nil, c, srv.URL)
		requireTimeout(t, err, errclass.PhaseResponseHeader)
	})
}

// T-1 matrix for the attempt bound: it covers header and body together.
func TestAttempt(t *testing.T) {
	t.Parallel()
	for _, p := range protos {
		t.Run(p.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				srv := inMemory(t, transporttest.NewUnstartedServer(transporttest.Reply{BodySize: 1000, Trickle: 20 * ms}), p.h2)
				c := memClient(t, srv, timeouts.WithAttempt(300*ms))
				var took time.Duration
				resp, err := get(t, nil, c, srv.URL)
				require.NoError(t, err)
				defer resp.Body.Close()
				took = elapsed(func() { _, err = io.Copy(io.Discard, resp.Body) })
				te := requireTimeout(t, err, errclass.PhaseAttempt)
				assert.Equal(t, "timeouts: attempt: attempt not done within 300ms", te.Error())
				assert.LessOrEqual(t, took, 340*ms)
			})
		})
	}
}
