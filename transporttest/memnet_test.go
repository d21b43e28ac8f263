package transporttest_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rtchain/chain/transporttest"
)

func TestUpgradeEcho(t *testing.T) {
	srv := transporttest.NewUpgradeEcho()
	t.Cleanup(srv.Close)
	req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", "echo")
	resp, err := srv.Client().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	assert.Equal(t, http.StatusSwitchingProtocols, resp.StatusCode)
	assert.Equal(t, "echo", resp.Header.Get("Upgrade"))
	rw, ok := resp.Body.(io.ReadWriter)
	require.True(t, ok, "the 101 body is writable")
	for _, msg := range []string{"hello", "again"} {
		_, err = rw.Write([]byte(msg))
		require.NoError(t, err)
		buf := make([]byte, len(msg))
		_, err = io.ReadFull(rw, buf)
		require.NoError(t, err)
		assert.Equal(t, msg, string(buf))
	}
	assert.Equal(t, int64(10), srv.BodyBytes())
}

func TestUpgradeEchoRejectsPlainRequest(t *testing.T) {
	srv := transporttest.NewUpgradeEcho()
	t.Cleanup(srv.Close)
	status, _, err := get(t, srv.Client(), srv.URL, 5*time.Second)
	require.NoError(t, err)
	assert.Equal(t, http.StatusBadRequest, status)
}

func TestUpgradeEchoClose(t *testing.T) {
	srv := transporttest.NewUpgradeEcho()
	req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", "echo")
	resp, err := srv.Client().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	srv.Close() // the echo loop is released
	_, err = resp.Body.Read(make([]byte, 1))
	assert.Error(t, err)
}

func TestMemListener(t *testing.T) {
	srv := transporttest.NewUnstartedSequence(transporttest.Reply{Status: 201, Body: "in memory"})
	srv.Listener = transporttest.NewMemListener()
	srv.Start()
	t.Cleanup(srv.Close)
	assert.Equal(t, "http://127.0.0.1:1", srv.URL)
	resp, err := srv.Client().Post(srv.URL+"/x", "text/plain", strings.NewReader("up"))
	require.NoError(t, err)
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Equal(t, 201, resp.StatusCode)
	assert.Equal(t, "in memory", string(b))
	assert.Equal(t, 1, srv.Connections())
	assert.Equal(t, int64(2), srv.BodyBytes())
}

func TestMemListenerTLSHTTP2(t *testing.T) {
	srv := transporttest.NewUnstartedSequence(transporttest.Reply{Body: "h2"})
	srv.Listener = transporttest.NewMemListener()
	srv.EnableHTTP2 = true
	srv.StartTLS()
	t.Cleanup(srv.Close)
	resp, err := srv.Client().Get(srv.URL)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, 2, resp.ProtoMajor)
}

func TestMemListenerDialErrors(t *testing.T) {
	l := transporttest.NewMemListener()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := l.DialContext(ctx, "tcp", "ignored:1")
	assert.ErrorIs(t, err, context.Canceled)
	require.NoError(t, l.Close())
	_, err = l.DialContext(context.Background(), "tcp", "ignored:1")
	assert.ErrorIs(t, err, syscall.ECONNREFUSED)
	_, err = l.Accept()
	assert.Error(t, err)
}

// TestSynctestBubble runs fixtures whose waits are long in real time inside
// a synctest bubble: they take no real time, and the fake clock shows
// exactly the waits.
func TestSynctestBubble(t *testing.T) {
	t.Run("SlowHeader", headerTimeoutInBubble)
	t.Run("Trickle", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			srv := transporttest.NewUnstartedTrickle(time.Second, 30)
			srv.Listener = transporttest.NewMemListener()
			srv.Start()
			defer srv.Close()
			start := time.Now()
			resp, err := srv.Client().Get(srv.URL)
			require.NoError(t, err)
			b, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			require.NoError(t, err)
			assert.Len(t, b, 30)
			assert.Equal(t, 30*time.Second, time.Since(start))
		})
	})
	t.Run("StallUntilClose", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			srv := transporttest.NewUnstartedStall(2)
			srv.Listener = transporttest.NewMemListener()
			srv.Start()
			ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
			defer cancel()
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
			resp, err := srv.Client().Do(req)
			require.NoError(t, err)
			defer resp.Body.Close()
			_, err = io.ReadAll(resp.Body)
			assert.True(t, errors.Is(err, context.DeadlineExceeded), "got %v", err)
			srv.Close()
		})
	})
}
