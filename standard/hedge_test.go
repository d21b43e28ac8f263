package standard_test

import (
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"

	"github.com/rtchain/chain"
	"github.com/rtchain/chain/hedge"
	"github.com/rtchain/chain/standard"
)

// TestWithHedge: a slow first attempt gets a hedge, which wins; the hedges
// spend the stack's retry budget and are counted as chain.hedge.* metrics.
func TestWithHedge(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		tel := newTelemetry(t)
		var calls atomic.Int32
		base := rtFunc(func(r *http.Request) (*http.Response, error) {
			if calls.Add(1) == 1 { // the first attempt hangs until it loses
				<-r.Context().Done()
				return nil, r.Context().Err()
			}
			return &http.Response{StatusCode: http.StatusOK, Body: http.NoBody, Request: r}, nil
		})
		s := standard.New(standard.WithBase(base), standard.WithMeterProvider(tel.mp),
			standard.WithHedge(hedge.WithDelay(50*time.Millisecond)))
		require.NotNil(t, s.Hedge())
		assert.Same(t, hedge.Budget(s.Budget()), s.Hedge().Settings().Budget, "the retry budget")
		start := time.Now()
		resp, err := s.RoundTrip(mustGet(t, "http://svc.test/"))
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, 50*time.Millisecond, time.Since(start), "the hedge answered at once")
		assert.Equal(t, int32(2), calls.Load())
		assert.Equal(t, int64(1), tel.sum(t, "chain.hedge.sent", attribute.KeyValue{}))
		assert.Equal(t, int64(1), tel.sum(t, "chain.hedge.won", attribute.KeyValue{}))
		assert.Equal(t, "the retry budget", setting(t, s.Config(), "hedge", "hedge.WithBudget").Value)
		assert.Equal(t, "50ms", setting(t, s.Config(), "hedge", "hedge.WithDelay").Value)
	})
	assert.Nil(t, standard.New(standard.WithBase(rtFunc(nil))).Hedge(), "no hedge layer without WithHedge")
}

// TestWithHedgeKeepsBase: with the default base, hedges go through a pool of
// their own at the bottom, and Base and chain.Base still give the base.
func TestWithHedgeKeepsBase(t *testing.T) {
	t.Parallel()
	s := standard.New(standard.WithHedge())
	defer s.CloseIdleConnections()
	require.NotNil(t, s.Base())
	assert.Same(t, s.Base(), chain.Base(s))
}

// TestHedgeOnItsOwnConnection: over HTTP/2, where requests to a host share
// a connection, a hedge goes out on a connection of its own, from a clone
// of the base made at the first hedge (so the TLS settings given to Base
// after New apply to it).
func TestHedgeOnItsOwnConnection(t *testing.T) {
	t.Parallel()
	var requests, conns atomic.Int32
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if requests.Add(1) == 1 {
			select { // the first attempt is slow
			case <-r.Context().Done():
			case <-time.After(5 * time.Second):
			}
			return
		}
		w.Write([]byte("ok"))
	}))
	srv.EnableHTTP2 = true
	srv.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			conns.Add(1)
		}
	}
	srv.StartTLS()
	defer srv.Close()

	s := standard.New(standard.WithHedge(hedge.WithDelay(100 * time.Millisecond)))
	defer s.CloseIdleConnections()
	s.Base().TLSClientConfig = srv.Client().Transport.(*http.Transport).TLSClientConfig.Clone()
	start := time.Now()
	resp, body, err := get(t, &http.Client{Transport: s}, srv.URL)
	require.NoError(t, err)
	assert.Equal(t, "HTTP/2.0", resp.Proto)
	assert.Equal(t, "ok", body)
	assert.Less(t, time.Since(start), 3*time.Second, "the hedge answered")
	assert.Equal(t, int32(2), conns.Load(), "the hedge had a connection of its own")
}
