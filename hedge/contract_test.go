package hedge_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rtchain/chain"
	"github.com/rtchain/chain/errclass"
	"github.com/rtchain/chain/hedge"
	"github.com/rtchain/chain/transporttest"
)

var _ chain.Middleware = hedge.Middleware()

func TestWithTransporttestScript(t *testing.T) {
	// The shared scripted transport: the loser's answer never comes (it was
	// cancelled), the winner's body stays open for the caller.
	synctest.Test(t, func(t *testing.T) {
		s := transporttest.NewScript(
			transporttest.Step{Delay: time.Second, Body: "slow"},
			transporttest.Step{Delay: 5 * ms, Body: "hedge"},
		)
		resp, err := hedge.New(s, hedge.WithDelay(10*ms)).RoundTrip(get(t.Context()))
		require.NoError(t, err)
		synctest.Wait()
		assert.Equal(t, 2, s.Calls())
		assert.Equal(t, 1, s.BodiesOpen(), "only the returned body is open")
		assert.Equal(t, "hedge", readAll(t, resp))
		assert.Equal(t, 0, s.BodiesOpen())
		assert.Equal(t, 0, s.IdleCloses(), "the layer never closes idle connections by itself")
	})
}

// countingBody is a request body that counts its Close calls.
type countingBody struct {
	io.Reader
	closes *atomic.Int32
}

func (b countingBody) Close() error {
	b.closes.Add(1)
	return nil
}

func TestRequestUntouchedAndBodiesClosed(t *testing.T) {
	// A1, B6: the caller's request is the same after a hedged round trip,
	// and every body made for it, the caller's and the hedges', is closed.
	synctest.Test(t, func(t *testing.T) {
		var made, closed atomic.Int32
		newBody := func() io.ReadCloser {
			made.Add(1)
			return countingBody{Reader: strings.NewReader("payload"), closes: &closed}
		}
		req, err := http.NewRequestWithContext(t.Context(), "PUT", "http://api.example/x?q=1", nil)
		require.NoError(t, err)
		req.Body = newBody()
		req.GetBody = func() (io.ReadCloser, error) { return newBody(), nil }
		req.Header.Set("X-Trace", "a")
		before := snapshot(req)

		next := steps(step{delay: time.Second}, step{delay: time.Second}, step{delay: 5 * ms})
		resp, err := hedge.New(next, hedge.WithDelay(10*ms), hedge.WithMaxHedges(2)).RoundTrip(req)
		require.NoError(t, err)
		readAll(t, resp)
		synctest.Wait()
		assert.Equal(t, before, snapshot(req))
		assert.Equal(t, int32(3), made.Load(), "the caller's body and one per hedge")
		assert.Equal(t, made.Load(), closed.Load())
		for _, c := range next.seen() {
			assert.Equal(t, "payload", c.body)
		}
	})
}

func snapshot(r *http.Request) string {
	return fmt.Sprintf("%s %s %v %p %p %p", r.Method, r.URL, r.Header, r.Body, r.GetBody, r.Context())
}

func TestGetBodyFailureSendsNoHedge(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		req, err := http.NewRequestWithContext(t.Context(), "PUT", "http://api.example/", strings.NewReader("x"))
		require.NoError(t, err)
		req.GetBody = func() (io.ReadCloser, error) { return nil, errors.New("gone") }
		next := steps(step{delay: 100 * ms}, step{delay: ms})
		var ev events
		resp, took, err := roundTrip(hedge.New(next, hedge.WithDelay(10*ms), hedge.WithOnHedge(ev.hook)), req)
		require.NoError(t, err)
		assert.Equal(t, "call 0", readAll(t, resp))
		assert.Equal(t, 100*ms, took)
		assert.Len(t, next.seen(), 1)
		assert.Empty(t, ev.list(), "no hedge was sent")
	})
}

func TestContractOfTheNextLayer(t *testing.T) {
	// A5: (nil, nil) becomes an error; a response with an error is closed.
	for _, method := range []string{"GET", "POST"} { // hedged, passed through
		t.Run(method, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				req, _ := http.NewRequestWithContext(t.Context(), method, "http://api.example/", nil)
				resp, err := hedge.New(nilNext{}, hedge.WithDelay(10*ms)).RoundTrip(req)
				assert.Nil(t, resp)
				require.EqualError(t, err, "hedge: RoundTripper implementation (hedge_test.nilNext) returned a nil *Response with a nil error")

				body := &fakeBody{r: strings.NewReader("")}
				both := &bothNext{resp: &http.Response{StatusCode: 200, Body: body}, err: reset}
				resp, err = hedge.New(both, hedge.WithDelay(10*ms)).RoundTrip(req)
				assert.Nil(t, resp)
				require.ErrorIs(t, err, errclass.ErrNetwork)
				assert.True(t, body.closed.Load(), "the response that came with an error was closed")
			})
		})
	}
}

type nilNext struct{}

func (nilNext) RoundTrip(*http.Request) (*http.Response, error) { return nil, nil }

type bothNext struct {
	resp *http.Response
	err  error
}

func (b *bothNext) RoundTrip(*http.Request) (*http.Response, error) { return b.resp, b.err }

// rwBody is a 101 Switching Protocols body: readable and writable.
type rwBody struct {
	io.Reader
	written bytes.Buffer
}

func (*rwBody) Close() error                  { return nil }
func (b *rwBody) Write(p []byte) (int, error) { return b.written.Write(p) }

type rwNext struct{ body *rwBody }

func (n rwNext) RoundTrip(req *http.Request) (*http.Response, error) {
	_ = req.Context().Done()
	return &http.Response{StatusCode: 101, Body: n.body, Request: req}, nil
}

func TestWinnerBodyKeepsWriter(t *testing.T) {
	// A3: the body handed back keeps io.Writer, wrapped or not.
	body := &rwBody{Reader: strings.NewReader("")}
	resp, err := hedge.New(rwNext{body}, hedge.WithDelay(time.Hour)).RoundTrip(get(context.Background()))
	require.NoError(t, err)
	w, ok := resp.Body.(io.Writer)
	require.True(t, ok, "101 body keeps io.Writer")
	w.Write([]byte("ping"))
	assert.Equal(t, "ping", body.written.String())
	resp.Body.Close()
}

func TestUnwrapAndCloseIdleConnections(t *testing.T) {
	// A2: Unwrap reaches the next layer; CloseIdleConnections reaches it,
	// and the hedges' pool too.
	next := steps(step{})
	rt := hedge.New(next)
	assert.Same(t, next, rt.Unwrap())
	assert.Same(t, next, chain.Base(rt))
	(&http.Client{Transport: rt}).CloseIdleConnections()
	assert.Equal(t, int32(1), next.idle.Load())

	base := &http.Transport{}
	assert.Same(t, base, hedge.New(base).Unwrap(), "Unwrap returns next, not the hedges' clone")

	primary, hedges := steps(step{}), steps(step{})
	split := hedge.Split(primary, hedges)
	assert.Same(t, primary, chain.Base(hedge.New(split)), "chain.Base finds the primary transport")
	(&http.Client{Transport: hedge.New(split)}).CloseIdleConnections()
	assert.Equal(t, int32(1), primary.idle.Load())
	assert.Equal(t, int32(1), hedges.idle.Load())
	assert.Same(t, http.DefaultTransport, chain.Base(hedge.New(nil)))
}

func TestSplitSendsHedgesToTheirTransport(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		primary := steps(step{delay: time.Second})
		hedges := steps(step{delay: 5 * ms, body: "from the hedges' pool"})
		rt := hedge.New(hedge.Split(primary, hedges), hedge.WithDelay(10*ms))
		resp, err := rt.RoundTrip(get(t.Context()))
		require.NoError(t, err)
		assert.Equal(t, "from the hedges' pool", readAll(t, resp))
		synctest.Wait()
		assert.Len(t, primary.seen(), 1)
		require.Len(t, hedges.seen(), 1)
		assert.True(t, hedges.seen()[0].hedge)
	})
}

func TestOptionPanics(t *testing.T) {
	for _, tc := range []struct {
		want string
		f    func()
	}{
		{"hedge: WithDelay(0s): need a delay > 0", func() { hedge.WithDelay(0) }},
		{"hedge: WithQuantile(1): need 0 < q < 1", func() { hedge.WithQuantile(1) }},
		{"hedge: WithQuantile(0): need 0 < q < 1", func() { hedge.WithQuantile(0) }},
		{"hedge: WithDelayBounds(0s, 1s): need 0 < floor ≤ ceiling", func() { hedge.WithDelayBounds(0, time.Second) }},
		{"hedge: WithDelayBounds(2s, 1s): need 0 < floor ≤ ceiling", func() { hedge.WithDelayBounds(2*time.Second, time.Second) }},
		{"hedge: WithMaxHedges(0): need at least 1", func() { hedge.WithMaxHedges(0) }},
		{"hedge: Split: nil hedges transport", func() { hedge.Split(nil, nil) }},
	} {
		assert.PanicsWithValue(t, tc.want, tc.f)
	}
}
