package transporttest_test

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rtchain/chain/transporttest"
)

func TestSequence(t *testing.T) {
	t.Parallel()
	srv := transporttest.NewServer(transporttest.Sequence(
		transporttest.Reply{Status: 503, Header: http.Header{"Retry-After": {"1"}}, Body: "busy"},
		transporttest.Reply{Status: 200, Body: "ok"},
	))
	t.Cleanup(srv.Close)
	c := srv.Client()

	resp, err := c.Post(srv.URL+"/a/b?x=1", "text/plain", strings.NewReader("payload"))
	require.NoError(t, err)
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Equal(t, 503, resp.StatusCode)
	assert.Equal(t, "1", resp.Header.Get("Retry-After"))
	assert.Equal(t, "busy", string(b))

	for range 2 { // the last reply repeats
		status, body, err := get(t, c, srv.URL+"/", 5*time.Second)
		require.NoError(t, err)
		assert.Equal(t, 200, status)
		assert.Equal(t, "ok", body)
	}

	assert.Equal(t, 3, srv.Stats().Requests)
	assert.Equal(t, 1, srv.Stats().Connections, "keep-alive: one connection")
	assert.Equal(t, int64(len("payload")), srv.Stats().BodyBytes)
	seen := srv.Seen()
	require.Len(t, seen, 3)
	assert.Equal(t, http.MethodPost, seen[0].Method)
	assert.Equal(t, "/a/b", seen[0].Path)
	assert.Equal(t, "x=1", seen[0].RawQuery)
	assert.Equal(t, "payload", string(seen[0].Body))
	assert.Equal(t, "text/plain", seen[0].Header.Get("Content-Type"))
	assert.Equal(t, "HTTP/1.1", seen[0].Proto)
	assert.Equal(t, 1, seen[0].ConnID)
	assert.Equal(t, seen[0].ConnID, seen[2].ConnID)
	assert.Nil(t, seen[0].TLS)
}

func TestZeroReplyAndEmptySequence(t *testing.T) {
	t.Parallel()
	for name, h := range map[string]http.Handler{"Reply{}": transporttest.Reply{}, "Sequence()": transporttest.Sequence()} {
		t.Run(name, func(t *testing.T) {
			srv := transporttest.NewServer(h)
			t.Cleanup(srv.Close)
			status, body, err := get(t, srv.Client(), srv.URL, 5*time.Second)
			require.NoError(t, err)
			assert.Equal(t, 200, status)
			assert.Empty(t, body)
		})
	}
}

// TestSequenceCopiesReplies: changing the caller's slice or headers after
// Sequence does not change what the server sends.
func TestSequenceCopiesReplies(t *testing.T) {
	t.Parallel()
	replies := []transporttest.Reply{{Header: http.Header{"X": {"1"}}, Body: "one"}}
	srv := transporttest.NewServer(transporttest.Sequence(replies...))
	t.Cleanup(srv.Close)
	replies[0].Body = "changed"
	replies[0].Header.Set("X", "changed")
	resp, err := srv.Client().Get(srv.URL)
	require.NoError(t, err)
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Equal(t, "one", string(b))
	assert.Equal(t, "1", resp.Header.Get("X"))
}

func TestSeenBodyCapped(t *testing.T) {
	t.Parallel()
	srv := transporttest.NewServer(transporttest.Reply{})
	t.Cleanup(srv.Close)
	const size = 1<<20 + 4096
	resp, err := srv.Client().Post(srv.URL, "application/octet-stream", strings.NewReader(strings.Repeat("z", size)))
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, int64(size), srv.Stats().BodyBytes)
	seen := srv.Seen()
	require.Len(t, seen, 1)
	assert.Len(t, seen[0].Body, 1<<20)
}

func TestConnectionIDs(t *testing.T) {
	t.Parallel()
	srv := transporttest.NewServer(transporttest.Reply{Body: "ok"})
	t.Cleanup(srv.Close)
	c1, c2 := newClient(t), newClient(t)
	for _, c := range []*http.Client{c1, c2, c1} {
		_, _, err := get(t, c, srv.URL, 5*time.Second)
		require.NoError(t, err)
	}
	seen := srv.Seen()
	require.Len(t, seen, 3)
	assert.Equal(t, 2, srv.Stats().Connections)
	assert.Equal(t, 2, srv.Stats().OpenConnections)
	assert.NotEqual(t, seen[0].ConnID, seen[1].ConnID, "two clients, two connections")
	assert.Equal(t, seen[0].ConnID, seen[2].ConnID, "the first client reused its connection")
}

// TestSlowHeader runs in bubbles, on a MemListener, over HTTP/1.1 and
// HTTP/2, so that the time the header timeout takes is exact.
func TestSlowHeader(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		mode  mode
		proto string
	}{{"mem", "HTTP/1.1"}, {"mem/h2", "HTTP/2.0"}} {
		t.Run(tc.proto, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				srv := serve(transporttest.Reply{Delay: 2 * time.Second}, tc.mode)
				t.Cleanup(srv.Close)
				tr := srv.Client().Transport.(*http.Transport).Clone()
				tr.ResponseHeaderTimeout = 100 * time.Millisecond
				t.Cleanup(tr.CloseIdleConnections)
				start := time.Now()
				_, _, err := get(t, &http.Client{Transport: tr}, srv.URL, 10*time.Second)
				require.Error(t, err)
				assert.Contains(t, err.Error(), "timeout awaiting response headers")
				assert.Equal(t, 100*time.Millisecond, time.Since(start), "the header timeout fires, well before the delay")
				require.Equal(t, 1, srv.Stats().Requests)
				assert.Equal(t, tc.proto, srv.Seen()[0].Proto)
			})
		})
	}
}

func TestSlowHeaderAnswers(t *testing.T) {
	t.Parallel()
	srv := transporttest.NewServer(transporttest.Reply{Delay: 50 * time.Millisecond, Body: "slow"})
	t.Cleanup(srv.Close)
	start := time.Now()
	status, body, err := get(t, srv.Client(), srv.URL, 10*time.Second)
	require.NoError(t, err)
	assert.Equal(t, 200, status)
	assert.Equal(t, "slow", body)
	assert.GreaterOrEqual(t, time.Since(start), 50*time.Millisecond)
}

func TestTrickle(t *testing.T) {
	t.Parallel()
	srv := transporttest.NewServer(transporttest.Reply{BodySize: 10, Trickle: 20 * time.Millisecond})
	t.Cleanup(srv.Close)
	start := time.Now()
	status, body, err := get(t, srv.Client(), srv.URL, 10*time.Second)
	require.NoError(t, err)
	assert.Equal(t, 200, status)
	assert.Equal(t, "abcdefghij", body)
	assert.GreaterOrEqual(t, time.Since(start), 10*20*time.Millisecond, "one byte per interval")
}

func TestTrickleBody(t *testing.T) {
	t.Parallel()
	srv := transporttest.NewServer(transporttest.Reply{Body: "hey", Trickle: 20 * time.Millisecond})
	t.Cleanup(srv.Close)
	start := time.Now()
	resp, err := srv.Client().Get(srv.URL)
	require.NoError(t, err)
	defer resp.Body.Close()
	assert.Equal(t, int64(3), resp.ContentLength)
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	assert.Equal(t, "hey", string(b))
	assert.GreaterOrEqual(t, time.Since(start), 3*20*time.Millisecond, "one byte per interval")
}

func TestDeadAddr(t *testing.T) {
	t.Parallel()
	_, _, err := get(t, newClient(t), "http://"+transporttest.DeadAddr(), 5*time.Second)
	require.Error(t, err)
	var op *net.OpError
	require.ErrorAs(t, err, &op)
	assert.Equal(t, "dial", op.Op)
}

func TestSlowReader(t *testing.T) {
	t.Parallel()
	srv := transporttest.NewServer(transporttest.Reply{Body: "ok", ReadChunk: 4, ReadEvery: 10 * time.Millisecond})
	t.Cleanup(srv.Close)
	start := time.Now()
	resp, err := srv.Client().Post(srv.URL, "text/plain", strings.NewReader("0123456789abcdef"))
	require.NoError(t, err)
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Equal(t, 200, resp.StatusCode)
	assert.Equal(t, "ok", string(b))
	assert.GreaterOrEqual(t, time.Since(start), 4*10*time.Millisecond)
	assert.Equal(t, int64(16), srv.Stats().BodyBytes)
	assert.Equal(t, "0123456789abcdef", string(srv.Seen()[0].Body))
}

// TestSequenceBodySize runs in a bubble, on a MemListener, so that "at once"
// is exact.
func TestSequenceBodySize(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) { testSequenceBodySize(t) })
}

func testSequenceBodySize(t *testing.T) {
	srv := serve(transporttest.Sequence(transporttest.Reply{Status: 503, BodySize: 1 << 30}, transporttest.Reply{Status: 503, BodySize: -1}, transporttest.Reply{Status: 200, BodySize: 30}), "mem")
	c := clientOf(t, srv)

	// 1 GiB announced; the client reads a little and closes.
	resp, err := c.Get(srv.URL)
	require.NoError(t, err)
	assert.Equal(t, int64(1<<30), resp.ContentLength)
	head := make([]byte, 28)
	_, err = io.ReadFull(resp.Body, head)
	require.NoError(t, err)
	assert.Equal(t, "abcdefghijklmnopqrstuvwxyzab", string(head))
	resp.Body.Close()

	// Endless: 4 MiB read and still going; the client stops reading.
	resp, err = c.Get(srv.URL)
	require.NoError(t, err)
	assert.Equal(t, int64(-1), resp.ContentLength)
	n, err := io.CopyN(io.Discard, resp.Body, 4<<20)
	require.NoError(t, err)
	assert.Equal(t, int64(4<<20), n)

	status, body, err := get(t, c, srv.URL, 5*time.Second)
	require.NoError(t, err)
	assert.Equal(t, 200, status)
	assert.Equal(t, "abcdefghijklmnopqrstuvwxyzabcd", body)

	// The endless writer is blocked on a client that does not read; Close
	// releases it at once (not after the grace period).
	start := time.Now()
	closeWithin(t, srv, 5*time.Second)
	assert.Less(t, time.Since(start), time.Second, "released within the grace period")
	resp.Body.Close()
}

func TestRawReply(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, raw, wantErr string
		wantStatus         int
	}{
		{"bad status line", "HTTP/1.1 abc\r\n\r\n", "malformed HTTP status code", 0},
		{"short body", "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", "unexpected EOF", 200},
		{"good", "HTTP/1.1 204 No Content\r\n\r\n", "", 204},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := transporttest.NewServer(transporttest.Reply{Raw: tc.raw})
			t.Cleanup(srv.Close)
			status, _, err := get(t, newClient(t), srv.URL, 5*time.Second)
			assert.Equal(t, tc.wantStatus, status)
			if tc.wantErr == "" {
				assert.NoError(t, err)
			} else {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tc.wantErr)
			}
		})
	}
}

// TestRepliesUnderAnotherServer: a Reply and a Sequence are plain
// http.Handlers, usable under httptest; StaleKeepAlive, which needs to
// know connections, then answers every request.
func TestRepliesUnderAnotherServer(t *testing.T) {
	t.Parallel()
	seq := httptest.NewServer(transporttest.Sequence(transporttest.Reply{Status: 503}, transporttest.Reply{Body: "ok"}))
	t.Cleanup(seq.Close)
	stale := httptest.NewServer(transporttest.Reply{Body: "ok", Fault: transporttest.StaleKeepAlive})
	t.Cleanup(stale.Close)
	c := newClient(t)
	var got []int
	for range 3 {
		status, _, err := get(t, c, seq.URL, 5*time.Second)
		require.NoError(t, err)
		got = append(got, status)
	}
	assert.Equal(t, []int{503, 200, 200}, got)
	for range 2 {
		resp, err := c.Post(stale.URL, "text/plain", strings.NewReader("x")) // not replayable
		require.NoError(t, err)
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		assert.Equal(t, 200, resp.StatusCode)
	}
}
