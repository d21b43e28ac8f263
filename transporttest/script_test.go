package transporttest_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rtchain/chain/transporttest"
)

// closeCounter is a request body that records Close.
type closeCounter struct {
	io.Reader
	mu     sync.Mutex
	closes int
}

func (c *closeCounter) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closes++
	return nil
}

func (c *closeCounter) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closes
}

func TestScriptSteps(t *testing.T) {
	t.Parallel()
	errRefused := syscall.ECONNREFUSED
	s := transporttest.NewScript(
		transporttest.Step{Status: 503, Header: http.Header{"Retry-After": {"2"}}, Body: "busy"},
		transporttest.Step{Err: errRefused},
		transporttest.Step{Body: "ok"},
	)
	do := func(body string) (*http.Response, error) {
		req, err := http.NewRequest(http.MethodPost, "http://example.test/p?q=1", strings.NewReader(body))
		require.NoError(t, err)
		req.Header.Set("X-Test", body)
		return s.RoundTrip(req)
	}

	resp, err := do("one")
	require.NoError(t, err)
	assert.Equal(t, 503, resp.StatusCode)
	assert.Equal(t, "503 Service Unavailable", resp.Status)
	assert.Equal(t, "2", resp.Header.Get("Retry-After"))
	b, _ := io.ReadAll(resp.Body)
	assert.Equal(t, "busy", string(b))
	assert.Equal(t, int64(4), resp.ContentLength)
	assert.Equal(t, 1, s.BodiesOpen())
	require.NoError(t, resp.Body.Close())
	require.NoError(t, resp.Body.Close())
	assert.Equal(t, 1, s.BodiesClosed(), "a body counts once")
	assert.Zero(t, s.BodiesOpen())

	resp, err = do("two")
	assert.Nil(t, resp)
	assert.ErrorIs(t, err, errRefused)

	for range 2 { // the last step repeats
		resp, err = do("three")
		require.NoError(t, err)
		assert.Equal(t, 200, resp.StatusCode)
		resp.Body.Close()
	}

	assert.Equal(t, 4, s.Calls())
	assert.Equal(t, 3, s.Bodies())
	assert.Equal(t, 3, s.BodiesClosed())
	seen := s.Seen()
	require.Len(t, seen, 4)
	assert.Equal(t, "one", string(seen[0].Body))
	assert.Equal(t, "two", seen[1].Header.Get("X-Test"))
	assert.Equal(t, "/p", seen[0].Path)
	assert.Equal(t, "q=1", seen[0].RawQuery)
	assert.Equal(t, "example.test", seen[0].Host)
	assert.Equal(t, http.MethodPost, seen[0].Method)
}

func TestScriptClosesRequestBody(t *testing.T) {
	t.Parallel()
	for name, step := range map[string]transporttest.Step{
		"response": {Status: 200},
		"error":    {Err: errors.New("boom")},
	} {
		t.Run(name, func(t *testing.T) {
			s := transporttest.NewScript(step)
			body := &closeCounter{Reader: strings.NewReader("data")}
			req, _ := http.NewRequest(http.MethodPut, "http://example.test/", body)
			resp, err := s.RoundTrip(req)
			if err == nil {
				resp.Body.Close()
			}
			assert.Equal(t, 1, body.count())
		})
	}
	t.Run("canceled", func(t *testing.T) {
		s := transporttest.NewScript()
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		body := &closeCounter{Reader: strings.NewReader("data")}
		req, _ := http.NewRequestWithContext(ctx, http.MethodPut, "http://example.test/", body)
		resp, err := s.RoundTrip(req)
		assert.Nil(t, resp)
		assert.ErrorIs(t, err, context.Canceled)
		assert.Equal(t, 1, body.count())
		assert.Equal(t, 1, s.Calls())
	})
}

func TestScriptDelay(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		s := transporttest.NewScript(transporttest.Step{Delay: 3 * time.Second, Body: "late"})
		start := time.Now()
		req, _ := http.NewRequest(http.MethodGet, "http://example.test/", nil)
		resp, err := s.RoundTrip(req)
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, 3*time.Second, time.Since(start), "the delay runs on the bubble's clock")
	})
}

func TestScriptDelayHonoursContext(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		s := transporttest.NewScript(transporttest.Step{Delay: time.Hour})
		cause := errors.New("caller gave up")
		ctx, cancel := context.WithTimeoutCause(context.Background(), 2*time.Second, cause)
		defer cancel()
		start := time.Now()
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://example.test/", nil)
		resp, err := s.RoundTrip(req)
		assert.Nil(t, resp)
		assert.ErrorIs(t, err, cause, "the context's cause is returned")
		assert.Equal(t, 2*time.Second, time.Since(start))
		assert.Zero(t, s.Bodies())
	})
}

func TestScriptThroughClient(t *testing.T) {
	t.Parallel()
	s := transporttest.NewScript(transporttest.Step{Status: 302, Header: http.Header{"Location": {"/next"}}}, transporttest.Step{Body: "there"})
	c := &http.Client{Transport: s}
	resp, err := c.Get("http://example.test/start")
	require.NoError(t, err)
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Equal(t, "there", string(b))
	assert.Equal(t, 2, s.Calls())
	assert.Equal(t, "/next", s.Seen()[1].Path)
	assert.Zero(t, s.BodiesOpen(), "the client closed the redirect's body")
	c.CloseIdleConnections()
	assert.Equal(t, 1, s.IdleCloses())
}

func TestScriptConcurrent(t *testing.T) {
	t.Parallel()
	s := transporttest.NewScript(transporttest.Step{Body: "x"})
	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() {
			req, _ := http.NewRequest(http.MethodGet, "http://example.test/", nil)
			resp, err := s.RoundTrip(req)
			if assert.NoError(t, err) {
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		})
	}
	wg.Wait()
	assert.Equal(t, 50, s.Calls())
	assert.Equal(t, 50, s.BodiesClosed())
	assert.Len(t, s.Seen(), 50)
}

func TestScriptBodyErr(t *testing.T) {
	t.Parallel()
	cut := errors.New("cut")
	s := transporttest.NewScript(transporttest.Step{Body: "part", BodyErr: cut})
	req, _ := http.NewRequest(http.MethodGet, "http://example.test/", nil)
	resp, err := s.RoundTrip(req)
	require.NoError(t, err)
	b, err := io.ReadAll(resp.Body)
	assert.Equal(t, "part", string(b))
	assert.ErrorIs(t, err, cut)
	require.NoError(t, resp.Body.Close())
	_, err = resp.Body.Read(make([]byte, 1))
	assert.ErrorIs(t, err, http.ErrBodyReadAfterClose)
	assert.Zero(t, s.BodiesOpen())
}
