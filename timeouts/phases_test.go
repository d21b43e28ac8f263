package timeouts_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rtchain/chain/errclass"
	"github.com/rtchain/chain/timeouts"
	"github.com/rtchain/chain/transporttest"
)

// T-12, D1: the response header bound, enforced by the middleware.
func TestResponseHeader(t *testing.T) {
	for _, p := range protos {
		t.Run(p.name, func(t *testing.T) {
			t.Parallel()
			srv := start(t, transporttest.NewUnstartedSlowHeader(5*time.Second), p.h2)
			// The transport's own header bound stays at its 3s default, so
			// the middleware's fires first.
			c := &http.Client{Transport: timeouts.New(base(t, srv), timeouts.WithResponseHeader(200*time.Millisecond))}
			var err error
			took := within(t, func() { _, err = get(t, nil, c, srv.URL) })
			te := requireTimeout(t, err, errclass.PhaseResponseHeader)
			assert.Equal(t, 200*time.Millisecond, te.Limit)
			assert.Equal(t, "timeouts: response header not received within 200ms", te.Error())
			assert.GreaterOrEqual(t, took, 200*time.Millisecond)
		})
	}
}

// T-1: net/http's own header timeout (from NewTransport) comes back as *Error
// with the right phase when only the transport has the bound.
func TestResponseHeaderFromTransport(t *testing.T) {
	for _, p := range protos {
		t.Run(p.name, func(t *testing.T) {
			t.Parallel()
			srv := start(t, transporttest.NewUnstartedSlowHeader(5*time.Second), p.h2)
			b := base(t, srv, timeouts.WithResponseHeader(200*time.Millisecond))
			c := &http.Client{Transport: timeouts.New(b, timeouts.WithResponseHeader(0))}
			var err error
			within(t, func() { _, err = get(t, nil, c, srv.URL) })
			te := requireTimeout(t, err, errclass.PhaseResponseHeader)
			assert.Equal(t, 200*time.Millisecond, te.Limit)
			assert.NotNil(t, te.Unwrap(), "the net/http error is kept as the cause")
		})
	}
}

// T-4, D2: a body that stops, right after the header and mid-stream.
func TestBodyIdle(t *testing.T) {
	for _, p := range protos {
		for _, after := range []int{0, 1000} {
			t.Run(fmt.Sprintf("%s/after%d", p.name, after), func(t *testing.T) {
				t.Parallel()
				srv := start(t, transporttest.NewUnstartedStall(after), p.h2)
				c := client(t, srv, timeouts.WithBodyIdle(200*time.Millisecond))
				resp, err := get(t, nil, c, srv.URL)
				require.NoError(t, err)
				defer resp.Body.Close()
				var n int64
				took := within(t, func() { n, err = io.Copy(io.Discard, resp.Body) })
				assert.Equal(t, int64(after), n)
				te := requireTimeout(t, err, errclass.PhaseBodyIdle)
				assert.Equal(t, "timeouts: no response body byte received for 200ms", te.Error())
				assert.GreaterOrEqual(t, took, 200*time.Millisecond)
				// Reading again gives the same error, at once.
				_, err2 := resp.Body.Read(make([]byte, 1))
				assert.Same(t, te, asTimeout(err2))
			})
		}
	}
}

func asTimeout(err error) *timeouts.Error {
	te, _ := err.(*timeouts.Error)
	return te
}

// T-7: the body idle error is the same over HTTP/1.1 and h2.
func TestBodyIdleSameErrorBothProtocols(t *testing.T) {
	var texts []string
	for _, p := range protos {
		srv := start(t, transporttest.NewUnstartedStall(10), p.h2)
		c := client(t, srv, timeouts.WithBodyIdle(150*time.Millisecond))
		resp, err := get(t, nil, c, srv.URL)
		require.NoError(t, err)
		_, err = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		te := requireTimeout(t, err, errclass.PhaseBodyIdle)
		assert.Nil(t, te.Unwrap(), "%s: our own timer fired; no lower error leaks through", p.name)
		texts = append(texts, err.Error())
	}
	assert.Equal(t, texts[0], texts[1])
}

// T-9: after a body idle timeout, HTTP/1 drops the connection and h2 keeps it.
func TestBodyIdleConnectionReuse(t *testing.T) {
	for _, p := range protos {
		t.Run(p.name, func(t *testing.T) {
			t.Parallel()
			h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == "/stall" {
					w.Header().Set("Content-Length", "100")
					w.WriteHeader(200)
					w.(http.Flusher).Flush()
					select {
					case <-r.Context().Done():
					case <-time.After(3 * time.Second):
					}
					return
				}
				io.WriteString(w, "ok")
			})
			srv := start(t, transporttest.NewUnstartedServer(h), p.h2)
			c := client(t, srv, timeouts.WithBodyIdle(150*time.Millisecond))
			resp, err := get(t, nil, c, srv.URL+"/stall")
			require.NoError(t, err)
			_, err = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			requireTimeout(t, err, errclass.PhaseBodyIdle)
			resp, err = get(t, nil, c, srv.URL+"/ok")
			require.NoError(t, err)
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if p.h2 {
				assert.Equal(t, 1, srv.Connections(), "h2 keeps the connection")
			} else {
				assert.Equal(t, 2, srv.Connections(), "HTTP/1 dials again")
			}
		})
	}
}

// T-5: a trickle that outlives the idle bound ten times over is not cut.
func TestTrickleNotCut(t *testing.T) {
	for _, p := range protos {
		t.Run(p.name, func(t *testing.T) {
			t.Parallel()
			const every, idle, n = 50 * time.Millisecond, 250 * time.Millisecond, 50
			srv := start(t, transporttest.NewUnstartedTrickle(every, n), p.h2)
			c := client(t, srv, timeouts.WithBodyIdle(idle))
			resp, err := get(t, nil, c, srv.URL)
			require.NoError(t, err)
			defer resp.Body.Close()
			begin := time.Now()
			b, err := io.ReadAll(resp.Body)
			require.NoError(t, err)
			assert.Len(t, b, n)
			assert.Greater(t, time.Since(begin), 2*idle, "the stream outlived the bound")
		})
	}
}

// T-6, T-10, C8: a consumer that pauses three idle bounds between reads of a
// body sent at once is not cut, and the context lives until EOF.
func TestSlowConsumerNotCut(t *testing.T) {
	for _, p := range protos {
		t.Run(p.name, func(t *testing.T) {
			t.Parallel()
			body := strings.Repeat("x", 1<<20)
			srv := start(t, transporttest.NewUnstartedSequence(transporttest.Reply{Body: body}), p.h2)
			const idle = 100 * time.Millisecond
			c := client(t, srv, timeouts.WithBodyIdle(idle), timeouts.WithResponseHeader(idle))
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
	}
}

// T-11: an upload to a peer that never reads fails with write_idle.
func TestWriteIdle(t *testing.T) {
	for _, p := range protos {
		t.Run(p.name, func(t *testing.T) {
			t.Parallel()
			srv := start(t, transporttest.NewUnstartedNoRead(), p.h2)
			c := client(t, srv, timeouts.WithWriteIdle(200*time.Millisecond))
			body := newUpload(64 << 20)
			req, err := http.NewRequest(http.MethodPut, srv.URL, body)
			require.NoError(t, err)
			within(t, func() { _, err = c.Do(req) })
			te := requireTimeout(t, err, errclass.PhaseWriteIdle)
			assert.Equal(t, "timeouts: request body not taken by the transport for 200ms", te.Error())
			assert.Eventually(t, func() bool { return body.closed.Load() >= 1 }, generous, 10*time.Millisecond,
				"the request body is closed")
		})
	}
}

// T-11: a slow producer (time inside the caller's Read) is not counted, and
// an upload that keeps moving is not cut.
func TestWriteIdleSlowProducerNotCut(t *testing.T) {
	srv := start(t, transporttest.NewUnstartedSequence(transporttest.Reply{Body: "ok"}), false)
	const idle = 100 * time.Millisecond
	c := client(t, srv, timeouts.WithWriteIdle(idle))
	body := &slowProducer{left: 3, pause: 3 * idle}
	req, err := http.NewRequest(http.MethodPost, srv.URL, body)
	require.NoError(t, err)
	resp, err := c.Do(req)
	require.NoError(t, err)
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Equal(t, "ok", string(b))
	assert.Equal(t, int64(3), srv.BodyBytes())
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
	srv := start(t, transporttest.NewUnstartedBlackhole(), false)
	c := client(t, srv, timeouts.WithResponseHeader(200*time.Millisecond))
	var err error
	within(t, func() { _, err = get(t, nil, c, srv.URL) })
	requireTimeout(t, err, errclass.PhaseResponseHeader)
}

// T-1: a TLS handshake that never completes, reported by net/http, becomes
// Phase tls_handshake; the header clock does not run during connection
// set-up.
func TestTLSHandshake(t *testing.T) {
	srv := transporttest.NewUnstartedBlackhole()
	srv.StartTLS()
	t.Cleanup(srv.Close)
	opts := []timeouts.Option{timeouts.WithTLSHandshake(200 * time.Millisecond), timeouts.WithResponseHeader(100 * time.Millisecond)}
	c := client(t, srv, opts...)
	var err error
	within(t, func() { _, err = get(t, nil, c, srv.URL) })
	te := requireTimeout(t, err, errclass.PhaseTLSHandshake)
	assert.Equal(t, 200*time.Millisecond, te.Limit)
}

// T-3: a resolver that never answers fails with Phase dns.
func TestDNSHang(t *testing.T) {
	c := client(t, nil, timeouts.WithDNS(200*time.Millisecond), timeouts.WithResolver(hangingResolver()))
	var err error
	within(t, func() { _, err = get(t, nil, c, "http://never.invalid:8080/") })
	te := requireTimeout(t, err, errclass.PhaseDNS)
	assert.Equal(t, 200*time.Millisecond, te.Limit)
	var op *net.OpError
	assert.ErrorAs(t, err, &op, "the dial error is kept")
}

// hangingResolver never answers: its DNS connection blocks until the lookup's
// context ends. No packet leaves the process.
func hangingResolver() *net.Resolver {
	return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
		<-ctx.Done()
		return nil, ctx.Err()
	}}
}

// T-1: a connect that gets no answer fails with Phase connect.
func TestConnect(t *testing.T) {
	addr := fullBacklog(t)
	c := client(t, nil, timeouts.WithConnect(200*time.Millisecond))
	var err error
	within(t, func() { _, err = get(t, nil, c, "http://"+addr+"/") })
	te := requireTimeout(t, err, errclass.PhaseConnect)
	assert.Equal(t, 200*time.Millisecond, te.Limit)
	var op *net.OpError
	assert.ErrorAs(t, err, &op, "the dial error is kept")
}

// T-1 matrix for the attempt bound: it covers header and body together.
func TestAttempt(t *testing.T) {
	for _, p := range protos {
		t.Run(p.name, func(t *testing.T) {
			t.Parallel()
			srv := start(t, transporttest.NewUnstartedTrickle(20*time.Millisecond, 1000), p.h2)
			c := client(t, srv, timeouts.WithAttempt(300*time.Millisecond))
			resp, err := get(t, nil, c, srv.URL)
			require.NoError(t, err)
			defer resp.Body.Close()
			within(t, func() { _, err = io.Copy(io.Discard, resp.Body) })
			te := requireTimeout(t, err, errclass.PhaseAttempt)
			assert.Equal(t, "timeouts: attempt did not finish within 300ms", te.Error())
		})
	}
}
