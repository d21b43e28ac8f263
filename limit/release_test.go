package limit_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rtchain/chain/limit"
)

// failingBody returns some bytes and then err.
type failingBody struct {
	r   io.Reader
	err error
}

func (b *failingBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if err == io.EOF {
		err = b.err
	}
	return n, err
}

func (b *failingBody) Close() error { return nil }

var errBoom = errors.New("boom")

// Every way an attempt can end frees its slot, exactly once: the next
// request is admitted, and the slot count never goes below zero.
func TestSlotReleasedOnEveryPath(t *testing.T) {
	for _, tc := range []struct {
		name  string
		reply func(*http.Request) (*http.Response, error)
		use   func(t *testing.T, resp *http.Response, err error)
	}{
		{"eof", nil, func(t *testing.T, resp *http.Response, err error) {
			require.NoError(t, err)
			b, _ := io.ReadAll(resp.Body) // read to the end, never closed
			assert.Equal(t, "hello", string(b))
		}},
		{"eof then close twice", nil, func(t *testing.T, resp *http.Response, err error) {
			require.NoError(t, err)
			io.ReadAll(resp.Body)
			resp.Body.Close()
			resp.Body.Close()
		}},
		{"close unread", nil, func(t *testing.T, resp *http.Response, err error) {
			require.NoError(t, err)
			resp.Body.Close()
		}},
		{"body read error", func(req *http.Request) (*http.Response, error) {
			return &http.Response{StatusCode: 200, Body: &failingBody{strings.NewReader("he"), errBoom}, Request: req}, nil
		}, func(t *testing.T, resp *http.Response, err error) {
			require.NoError(t, err)
			_, err = io.ReadAll(resp.Body)
			assert.ErrorIs(t, err, errBoom)
		}},
		{"no body", func(req *http.Request) (*http.Response, error) {
			return &http.Response{StatusCode: 204, Body: http.NoBody, Request: req}, nil
		}, func(t *testing.T, resp *http.Response, err error) {
			require.NoError(t, err)
			assert.Equal(t, http.NoBody, resp.Body)
		}},
		{"nil body", func(req *http.Request) (*http.Response, error) {
			return &http.Response{StatusCode: 204, Request: req}, nil
		}, func(t *testing.T, resp *http.Response, err error) { require.NoError(t, err) }},
		{"error", func(*http.Request) (*http.Response, error) {
			return nil, errBoom
		}, func(t *testing.T, resp *http.Response, err error) { assert.ErrorIs(t, err, errBoom) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			reply := func(req *http.Request) (*http.Response, error) {
				if req.URL.Path == "/hold" || tc.reply == nil {
					return okReply(req)
				}
				return tc.reply(req)
			}
			rt := limit.New(&fake{reply: reply}, limit.WithMaxInFlight(2))
			other := mustHold(t, rt, "http://a.test/hold") // keeps one slot: a double release would show
			resp, err := get(t, rt, "http://a.test/")
			tc.use(t, resp, err)
			assert.Equal(t, 1, rt.Stats("a.test").InFlight)
			other.Body.Close()
			assert.Equal(t, 0, rt.Stats("a.test").InFlight)
			for range 2 {
				again := mustHold(t, rt, "http://a.test/hold")
				defer again.Body.Close()
			}
		})
	}
}

// A panic of the next layer frees the slot and reaches the caller.
func TestSlotReleasedOnPanic(t *testing.T) {
	rt := limit.New(&fake{reply: func(*http.Request) (*http.Response, error) { panic("next broke") }},
		limit.WithMaxInFlight(1))
	assert.PanicsWithValue(t, "next broke", func() { get(t, rt, "http://a.test/") })
	assert.Equal(t, limit.Stats{Limit: 1}, rt.Stats("a.test"))
}

// A caller that cancels while the request is in flight frees the slot when
// the next layer returns.
func TestSlotReleasedOnCallerCancel(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		next := &fake{}
		next.setDelay(time.Second)
		rt := limit.New(next, limit.WithMaxInFlight(1))
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(10*time.Millisecond, cancel)
		_, err := rt.RoundTrip(newReq(t, ctx, "http://a.test/"))
		assert.ErrorIs(t, err, context.Canceled)
		assert.Equal(t, limit.Stats{Limit: 1}, rt.Stats("a.test"))
	})
}

// A body the caller never closes does not keep its slot once the request's
// context has ended: the next request that needs the slot reclaims it. The
// wait for a slot reclaims too.
func TestAbandonedBodyReclaimed(t *testing.T) {
	for _, wait := range []time.Duration{0, time.Second} {
		t.Run("wait="+wait.String(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				rt := limit.New(&fake{}, limit.WithMaxInFlight(1), limit.WithMaxWait(wait))
				ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
				defer cancel()
				abandoned, err := rt.RoundTrip(newReq(t, ctx, "http://a.test/"))
				require.NoError(t, err)
				_ = abandoned // never read, never closed

				if wait == 0 {
					_, err = get(t, rt, "http://a.test/")
					require.True(t, isLimited(err), "the context is alive: the slot is held")
					time.Sleep(51 * time.Millisecond)
				}
				start := time.Now()
				resp, err := get(t, rt, "http://a.test/")
				require.NoError(t, err, "the abandoned slot was not reclaimed")
				if wait > 0 {
					assert.Equal(t, 50*time.Millisecond, time.Since(start), "reclaimed when the context ended")
				}
				assert.Equal(t, 1, rt.Stats("a.test").InFlight)
				abandoned.Body.Close() // late Close: the slot is not released twice
				assert.Equal(t, 1, rt.Stats("a.test").InFlight)
				drain(resp)
				assert.Equal(t, 0, rt.Stats("a.test").InFlight)
			})
		})
	}
}

// The body of a 101 Switching Protocols response stays writable.
func TestUpgradeBodyKeepsWriter(t *testing.T) {
	conn := &rwc{Reader: strings.NewReader("pong")}
	rt := limit.New(&fake{reply: func(req *http.Request) (*http.Response, error) {
		return &http.Response{StatusCode: http.StatusSwitchingProtocols, Body: conn, Request: req}, nil
	}}, limit.WithMaxInFlight(1))
	resp := mustHold(t, rt, "http://a.test/")
	w, ok := resp.Body.(io.Writer)
	require.True(t, ok, "the upgraded body lost io.Writer")
	_, err := w.Write([]byte("ping"))
	require.NoError(t, err)
	assert.Equal(t, "ping", conn.written.String())
	assert.Equal(t, 1, rt.Stats("a.test").InFlight)
	resp.Body.Close()
	assert.Equal(t, 0, rt.Stats("a.test").InFlight)

	plain := limit.New(&fake{}, limit.WithMaxInFlight(1))
	resp = mustHold(t, plain, "http://a.test/")
	_, isWriter := resp.Body.(io.Writer)
	assert.False(t, isWriter, "a plain body must not pretend to be writable")
	resp.Body.Close()
}

type rwc struct {
	io.Reader
	written strings.Builder
}

func (c *rwc) Write(p []byte) (int, error) { return c.written.Write(p) }
func (c *rwc) Close() error                { return nil }
