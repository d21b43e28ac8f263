package standard_test

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rtchain/chain/errclass"
	"github.com/rtchain/chain/retry"
	"github.com/rtchain/chain/standard"
	"github.com/rtchain/chain/transporttest"
)

// TestUpgradeThroughStack is A3: a 101 Switching Protocols response comes
// through every layer (spans on) with a body the caller can write to.
func TestUpgradeThroughStack(t *testing.T) {
	t.Parallel()
	srv := transporttest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, rw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		rw.WriteString("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n")
		rw.Flush()
		line, err := rw.ReadString('\n')
		if err != nil {
			return
		}
		rw.WriteString(line)
		rw.Flush()
	}))
	defer srv.Close()
	tel := newTelemetry(t)
	c := standard.Client(tel.options()...)
	defer c.CloseIdleConnections()

	req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", "echo")
	resp, err := c.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusSwitchingProtocols, resp.StatusCode)
	rw, ok := resp.Body.(io.ReadWriteCloser)
	require.True(t, ok, "101 body is writable through the stack, got %T", resp.Body)
	_, err = rw.Write([]byte("ping\n"))
	require.NoError(t, err)
	line, err := bufio.NewReader(rw).ReadString('\n')
	require.NoError(t, err)
	require.Equal(t, "ping\n", line)
}

// TestErrorShapeThroughStack is A6: a refused connection keeps its class and
// its *net.OpError through every layer and *url.Error, after retries.
func TestErrorShapeThroughStack(t *testing.T) {
	t.Parallel()
	tel := newTelemetry(t)
	c := standard.Client(append(tel.options(), fast, standard.WithTotal(10*time.Second))...)
	defer c.CloseIdleConnections()
	_, err := c.Get("http://" + transporttest.DeadAddr())
	require.Error(t, err)
	require.Equal(t, errclass.Refused, errclass.Classify(err))
	var op *net.OpError
	require.ErrorAs(t, err, &op)
	var re *retry.Error
	require.ErrorAs(t, err, &re)
	require.Equal(t, 3, re.Attempts, "the default 3 attempts")
	require.False(t, errors.Is(err, errclass.ErrTimeout))
}

// TestManyStacksLeakNothing is G3: building and dropping many stacks, some
// of which sent a request, leaves no goroutine behind once their idle
// connections are closed.
func TestManyStacksLeakNothing(t *testing.T) {
	srv := transporttest.NewServer(transporttest.Reply{Body: "ok"})
	defer srv.Close()
	before := runtime.NumGoroutine()
	for i := range 10000 {
		s := standard.New()
		if i%50 == 0 {
			c := &http.Client{Transport: s}
			resp, err := c.Get(srv.URL)
			require.NoError(t, err)
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			c.CloseIdleConnections()
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before+2 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	require.LessOrEqual(t, runtime.NumGoroutine(), before+2, "goroutines left behind")
	require.Equal(t, 200, srv.Stats().Requests)
}
