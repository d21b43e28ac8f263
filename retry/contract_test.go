package retry_test

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rtchain/chain/retry"
	"github.com/rtchain/chain/transporttest"
)

func TestWithTransporttestScript(t *testing.T) {
	t.Parallel()
	// The same status sequence on the shared scripted transport: every
	// discarded body closed, the returned one left open for the caller.
	synctest.Test(t, func(t *testing.T) {
		s := transporttest.NewScript(
			transporttest.Step{Status: 503, Body: "a"},
			transporttest.Step{Status: 502, Body: "b"},
			transporttest.Step{Status: 200, Body: "c"},
		)
		resp, err := retry.New(s).RoundTrip(get(t))
		require.NoError(t, err)
		assert.Equal(t, 3, s.Calls())
		assert.Equal(t, 1, s.BodiesOpen(), "only the returned body is open")
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		assert.Equal(t, "c", string(b))
		assert.Equal(t, 0, s.BodiesOpen())
		assert.Equal(t, 0, s.IdleCloses())
	})
}

// rwBody is a 101 Switching Protocols body: readable and writable.
type rwBody struct {
	io.Reader
	written bytes.Buffer
}

func (*rwBody) Close() error                  { return nil }
func (b *rwBody) Write(p []byte) (int, error) { return b.written.Write(p) }

func TestUpgradeBodyKeepsWriter(t *testing.T) {
	t.Parallel()
	// A3: the response handed back is the one the next layer returned.
	body := &rwBody{Reader: strings.NewReader("")}
	base := instant{resp: &http.Response{StatusCode: 101, Body: body}}
	resp, err := retry.New(base).RoundTrip(get(t))
	require.NoError(t, err)
	w, ok := resp.Body.(io.Writer)
	require.True(t, ok, "101 body keeps io.Writer")
	w.Write([]byte("ping"))
	assert.Equal(t, "ping", body.written.String())
}

func TestRedirectReturnedToClient(t *testing.T) {
	t.Parallel()
	// A4: retry never follows redirects; the outer client's CheckRedirect
	// sees the 302.
	s := newScript(step{status: 302, header: http.Header{"Location": {"/elsewhere"}}})
	var checked bool
	client := &http.Client{
		Transport: retry.New(s),
		CheckRedirect: func(*http.Request, []*http.Request) error {
			checked = true
			return http.ErrUseLastResponse
		},
	}
	resp, err := client.Get("http://example.test/")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, 302, resp.StatusCode)
	assert.True(t, checked)
	assert.Equal(t, 1, s.calls())
}

// zeros is an endless stream of zero bytes.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }

func TestStreamingBodyNotBuffered(t *testing.T) {
	// B1: a large body without GetBody is streamed once, never buffered.
	const size = 64 << 20
	srv := transporttest.NewServer(transporttest.Reply{Status: 503})
	t.Cleanup(srv.Close)
	req, err := http.NewRequest("PUT", srv.URL, io.NopCloser(io.LimitReader(zeros{}, size)))
	require.NoError(t, err)
	req.ContentLength = size
	client, c := clientFor(srv.Client().Transport, fast)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	resp, err := client.Do(req)
	runtime.ReadMemStats(&after)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, 503, resp.StatusCode)
	assert.Equal(t, int32(1), c.n.Load(), "not replayable: sent once")
	assert.Equal(t, int64(size), srv.Stats().BodyBytes, "the server got every byte")
	assert.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(16<<20), "allocations stay far below the body size")
}

func TestWithRandom(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		s := newScript(step{status: 503})
		var waits []time.Duration
		rt := retry.New(s, retry.WithMaxAttempts(4), retry.WithRandom(func() float64 { return 0.5 }),
			retry.WithOnRetry(func(e retry.Event) { waits = append(waits, e.Wait) }))
		resp, err := rt.RoundTrip(get(t))
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, []time.Duration{50 * time.Millisecond, 100 * time.Millisecond, 200 * time.Millisecond}, waits,
			"full jitter with the default base: half of 100, 200, 400 ms")
	})
}

func TestGetBodyFailureEndsLoop(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		s := newScript(step{status: 503}, step{status: 200})
		req, err := http.NewRequest("PUT", "http://example.test/", strings.NewReader("x"))
		require.NoError(t, err)
		req.GetBody = func() (io.ReadCloser, error) { return nil, errors.New("gone") }
		resp, err := retry.New(s).RoundTrip(req)
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, 503, resp.StatusCode, "the last response goes back as it is")
		assert.Equal(t, 1, s.calls())
	})
}

// A GetBody that fails ends the loop without spending a budget token.
func TestGetBodyFailureKeepsBudgetToken(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		budget := retry.NewBudget(retry.WithRatio(0), retry.WithFloor(1)) // one token, time frozen
		tr := retry.New(newScript(step{status: 503}, step{status: 200}), retry.WithBudget(budget))

		put, err := http.NewRequest("PUT", "http://example.test/", strings.NewReader("x"))
		require.NoError(t, err)
		put.GetBody = func() (io.ReadCloser, error) { return nil, errors.New("gone") }
		resp, err := tr.RoundTrip(put)
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, 503, resp.StatusCode)

		s := newScript(step{status: 503}, step{status: 200})
		tr = retry.New(s, retry.WithBudget(budget))
		get, err := http.NewRequest("GET", "http://example.test/", nil)
		require.NoError(t, err)
		resp, err = tr.RoundTrip(get)
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, 200, resp.StatusCode, "the token is still there for a retry")
		assert.Equal(t, 2, s.calls())
	})
}
