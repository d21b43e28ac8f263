package hedge_test

import (
	"io"
	"net"
	"net/http"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rtchain/chain"
	"github.com/rtchain/chain/hedge"
	"github.com/rtchain/chain/transporttest"
)

// stuckFirst starts a loopback server (HTTP/2 over TLS when h2) whose first
// request gets no answer until the client gives up on it; every other
// request gets "fast" at once. It returns the server and its client's
// *http.Transport.
func stuckFirst(t *testing.T, h2 bool) (*transporttest.Server, *http.Transport) {
	return stuckFirstOn(t, h2, nil)
}

// stuckFirstOn is stuckFirst on l (nil: loopback), for example a
// transporttest.MemListener inside a synctest bubble.
func stuckFirstOn(t *testing.T, h2 bool, l net.Listener) (*transporttest.Server, *http.Transport) {
	var n atomic.Int32
	srv := transporttest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) == 1 {
			<-r.Context().Done() // also done when the server closes
			return
		}
		io.WriteString(w, "fast")
	}))
	srv.Listener = l
	if h2 {
		srv.EnableHTTP2 = true
		srv.StartTLS()
	} else {
		srv.Start()
	}
	t.Cleanup(srv.Close)
	return srv, srv.Client().Transport.(*http.Transport)
}

// hedgedGet sends a GET to srv through rt and checks that the hedge answered.
func hedgedGet(t *testing.T, rt http.RoundTripper, srv *transporttest.Server) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), "GET", srv.URL+"/", nil)
	require.NoError(t, err)
	start := time.Now()
	resp, err := rt.RoundTrip(req)
	require.NoError(t, err)
	assert.Equal(t, "fast", readAll(t, resp))
	assert.Less(t, time.Since(start), 5*time.Second, "the hedge answered, not the stuck first attempt")
}

// conns returns the server-side connection of each request seen.
func conns(srv *transporttest.Server) []int {
	var ids []int
	for _, r := range srv.Seen() {
		ids = append(ids, r.ConnID)
	}
	return ids
}

// TestHedgeUsesAnotherConnection runs in bubbles, on a MemListener, so
// that the first attempt reaches the server before the hedge whatever the
// machine's load (on loopback, a handshake slower than the hedge delay let
// the hedge arrive first and be the stuck one).
func TestHedgeUsesAnotherConnection(t *testing.T) {
	for _, tc := range []struct {
		name  string
		h2    bool
		proto string
	}{
		{"HTTP/1.1", false, "HTTP/1.1"},
		{"HTTP/2", true, "HTTP/2.0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				srv, base := stuckFirstOn(t, tc.h2, transporttest.NewMemListener())
				rt := hedge.New(base, hedge.WithDelay(50*ms))
				t.Cleanup(rt.CloseIdleConnections)
				hedgedGet(t, rt, srv)
				seen := srv.Seen()
				require.Len(t, seen, 2)
				assert.Equal(t, tc.proto, seen[1].Proto)
				assert.NotEqual(t, seen[0].ConnID, seen[1].ConnID, "the hedge went over another connection")

				// Not poisoned: the next request succeeds; over HTTP/2 it goes
				// over the first connection, whose stream was reset. (Over
				// HTTP/1 the cancelled attempt's connection is closed, and the
				// hedge's idle one belongs to the hedges' pool: a new one.)
				req, _ := http.NewRequestWithContext(t.Context(), "GET", srv.URL+"/", nil)
				resp, err := rt.RoundTrip(req)
				require.NoError(t, err)
				assert.Equal(t, "fast", readAll(t, resp))
				if tc.h2 {
					ids := conns(srv)
					assert.Equal(t, ids[0], ids[2], "the first connection carries the next request")
					assert.Equal(t, 2, srv.Stats().Connections)
				}
			})
		})
	}
}

func TestSplitGivesHedgesTheirOwnPoolOverHTTP2(t *testing.T) {
	// In a stack with a layer between hedge and the base, the hedge layer
	// cannot clone the base itself: Split at the bottom does it.
	srv, base := stuckFirst(t, true)
	bottom := hedge.Split(base, base.Clone())
	t.Cleanup(layerClose(bottom))
	rt := hedge.New(passThrough(bottom), hedge.WithDelay(50*ms))
	hedgedGet(t, rt, srv)
	ids := conns(srv)
	require.Len(t, ids, 2)
	assert.NotEqual(t, ids[0], ids[1], "the hedge went over the second pool's connection")
}

func TestWithoutSplitHTTP2HedgesShareTheConnection(t *testing.T) {
	// The control for the test above: the same stack with one pool puts the
	// hedge on the slow attempt's connection.
	srv, base := stuckFirst(t, true)
	t.Cleanup(base.CloseIdleConnections)
	rt := hedge.New(passThrough(base), hedge.WithDelay(50*ms))
	hedgedGet(t, rt, srv)
	ids := conns(srv)
	require.Len(t, ids, 2)
	assert.Equal(t, ids[0], ids[1], "one HTTP/2 connection carried both")
}

// passThrough hides rt behind a layer of its own.
func passThrough(rt http.RoundTripper) http.RoundTripper {
	return chain.RoundTripperFunc(func(r *http.Request) (*http.Response, error) { return rt.RoundTrip(r) })
}

func layerClose(rt http.RoundTripper) func() {
	return func() { rt.(interface{ CloseIdleConnections() }).CloseIdleConnections() }
}
