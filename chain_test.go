package chain_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/rtchain/chain"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// ok answers every request at once with an empty 200.
var ok = chain.RoundTripperFunc(func(req *http.Request) (*http.Response, error) {
	return &http.Response{StatusCode: http.StatusOK, Body: http.NoBody, Request: req}, nil
})

func TestBuildNilBaseIsDefaultTransport(t *testing.T) {
	assert.Same(t, http.DefaultTransport, chain.Build(nil))
	assert.Same(t, http.DefaultTransport, chain.Base(chain.Build(nil, func(next http.RoundTripper) http.RoundTripper { return wrapper{next} })))
}

func TestBuildNoMiddlewareReturnsBase(t *testing.T) {
	b := &http.Transport{}
	assert.Same(t, b, chain.Build(b))
	assert.Same(t, b, chain.Build(b, nil, nil))
}

func TestBuildOrderAndNilSkipped(t *testing.T) {
	var trail []string
	rt := chain.Build(ok, tag("a", &trail), nil, tag("b", &trail), tag("c", &trail))
	resp, err := rt.RoundTrip(httptest.NewRequest(http.MethodGet, "http://x.test/", nil))
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, []string{"a in", "b in", "c in", "c out", "b out", "a out"}, trail)
}

func TestBaseWalksToBottom(t *testing.T) {
	b := &http.Transport{}
	var rt http.RoundTripper = b
	for range 5 {
		rt = wrapper{rt}
	}
	assert.Same(t, b, chain.Base(rt))
	assert.Nil(t, chain.Base(nil))
	// A layer without Unwrap is the bottom.
	assert.NotNil(t, chain.Base(ok))
	// A layer whose Unwrap returns nil is the bottom.
	w := wrapper{}
	assert.Equal(t, w, chain.Base(w))
}

func TestBuildAcceptsPlainFuncValues(t *testing.T) {
	// A concern package's Middleware returns an unnamed func type; it must be
	// usable with Build without conversion.
	var plain func(http.RoundTripper) http.RoundTripper = func(next http.RoundTripper) http.RoundTripper { return wrapper{next} }
	rt := chain.Build(ok, plain)
	_, isWrapper := rt.(wrapper)
	assert.True(t, isWrapper)
}

// noop is the cheapest possible decorator: a struct holding next.
type noop struct{ next http.RoundTripper }

func (n *noop) RoundTrip(req *http.Request) (*http.Response, error) { return n.next.RoundTrip(req) }

func noopMW(next http.RoundTripper) http.RoundTripper { return &noop{next} }

var okResp = &http.Response{StatusCode: http.StatusOK, Body: http.NoBody}

// instant answers at once with a shared response, so the benchmark measures
// only what the stack adds.
var instant = chain.RoundTripperFunc(func(*http.Request) (*http.Response, error) { return okResp, nil })

// BenchmarkBuild shows that Build itself adds nothing per round trip: five
// no-op middlewares cost five calls and no allocation over the base.
func BenchmarkBuild(b *testing.B) {
	req := httptest.NewRequest(http.MethodGet, "http://x.test/", nil)
	for _, bc := range []struct {
		name string
		rt   http.RoundTripper
	}{
		{"base", chain.Build(instant)},
		{"five-noop", chain.Build(instant, noopMW, noopMW, noopMW, noopMW, noopMW)},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := bc.rt.RoundTrip(req); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func TestBuildAddsNoAllocations(t *testing.T) {
	req := httptest.NewRequest(http.MethodGet, "http://x.test/", nil)
	rt := chain.Build(instant, noopMW, noopMW, noopMW, noopMW, noopMW)
	allocs := testing.AllocsPerRun(100, func() { _, _ = rt.RoundTrip(req) })
	assert.Zero(t, allocs, "allocations per round trip through five no-op middlewares")
}
