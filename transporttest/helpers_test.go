package transporttest_test

import (
	"context"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/rtchain/chain/internal/testflag"
	"github.com/rtchain/chain/transporttest"
)

// TestMain lets the parallel tests overlap (see testflag.RaiseParallel).
// Every test calls t.Parallel, so that the waits on real time (loopback
// fixtures with delays, the server's lingering close) overlap, except the
// tests that check for leaked goroutines: they run alone, before the
// parallel ones.
func TestMain(m *testing.M) {
	testflag.RaiseParallel(16)
	goleak.VerifyTestMain(m)
}

// A mode is how a test starts a server: over cleartext HTTP/1.1 on
// loopback (""), TLS with HTTP/1.1 ("tls"), TLS with HTTP/2 ("h2"),
// cleartext on a MemListener ("mem"), or TLS with HTTP/2 on a MemListener
// ("mem/h2"). The MemListener modes run inside a testing/synctest bubble.
type mode string

// serve starts a server for h in mode m; the caller closes it.
func serve(h http.Handler, m mode) *transporttest.Server {
	return startIn(transporttest.NewUnstartedServer(h), m)
}

// startIn starts srv in mode m and returns it; the caller closes it.
func startIn(srv *transporttest.Server, m mode) *transporttest.Server {
	switch m {
	case "":
		srv.Start()
	case "tls":
		srv.StartTLS()
	case "h2":
		srv.EnableHTTP2 = true
		srv.StartTLS()
	case "mem":
		srv.Listener = transporttest.NewMemListener()
		srv.Start()
	case "mem/h2":
		srv.Listener = transporttest.NewMemListener()
		srv.EnableHTTP2 = true
		srv.StartTLS()
	default:
		panic("unknown mode " + string(m))
	}
	return srv
}

// reply is shorthand for a Reply that plays fault f.
func reply(f transporttest.Fault) transporttest.Reply { return transporttest.Reply{Fault: f} }

// get does a GET through c with the given context timeout and returns the
// status, the body read and the first error.
func get(t *testing.T, c *http.Client, url string, timeout time.Duration) (int, string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return getCtx(t, c, ctx, url)
}

// getStalled does a GET through c whose request ends, as at a deadline, once
// stalled reports that the fixture stalls (see transporttest.DeadlineWhen).
func getStalled(t *testing.T, c *http.Client, url string, stalled func() bool) (int, string, error) {
	t.Helper()
	ctx, cancel := transporttest.DeadlineWhen(stalled)
	defer cancel()
	return getCtx(t, c, ctx, url)
}

// getCtx does a GET through c with ctx and returns the status, the body
// read and the first error.
func getCtx(t *testing.T, c *http.Client, ctx context.Context, url string) (int, string, error) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	require.NoError(t, err)
	resp, err := c.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

// clientOf returns a client with its own transport, a clone of that of
// srv.Client() (so it dials a MemListener too), closed at cleanup.
func clientOf(t *testing.T, srv *transporttest.Server) *http.Client {
	t.Helper()
	tr := srv.Client().Transport.(*http.Transport).Clone()
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

// newClient returns a client with its own transport, closed at cleanup.
func newClient(t *testing.T) *http.Client {
	t.Helper()
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}
