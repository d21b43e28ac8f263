package hedge

import (
	"net/http"

	"github.com/rtchain/chain/errclass"
	"github.com/rtchain/chain/internal/attempt"
	"github.com/rtchain/chain/internal/layer"
)

// Split returns a RoundTripper for the bottom of a stack that hedges: it
// sends the hedges of a [Transport] above it to hedges and every other
// request to primary (nil means [http.DefaultTransport]). Give it two
// transports with separate connection pools, typically base and base.Clone(),
// so that a hedge never rides the connection of the attempt it hedges. Over
// HTTP/1 a busy connection is never shared anyway, but over HTTP/2 every
// request to a host shares one connection, and a hedge on it would suffer
// whatever makes the first attempt slow (a lost packet, a stalled stream
// window, a congested link).
//
//	base := timeouts.NewTransport()
//	rt := chain.Build(hedge.Split(base, base.Clone()),
//		retry.Middleware(), hedge.Middleware(), breaker.Middleware(), timeouts.Middleware())
//
// [New] does this by itself when its next layer is an *http.Transport. Layers
// between the two (breaker, tracing, timeouts) see hedges as any other
// attempt. Unwrap returns primary, so chain.Base finds the primary base;
// CloseIdleConnections reaches both. Split panics when hedges is nil.
func Split(primary, hedges http.RoundTripper) http.RoundTripper {
	if hedges == nil {
		panic("hedge: Split: nil hedges transport")
	}
	return &split{Next: layer.Of(primary), hedges: hedges}
}

type split struct {
	layer.Next // primary
	hedges     http.RoundTripper
}

var _ http.RoundTripper = (*split)(nil)

// RoundTrip sends req to the hedges' transport when its context marks it as a
// hedge, and to the primary transport otherwise.
func (s *split) RoundTrip(req *http.Request) (*http.Response, error) {
	rt := s.RT()
	if attempt.Hedge(req.Context()) {
		rt = s.hedges
	}
	resp, err := rt.RoundTrip(req)
	return resp, errclass.Wrap(err)
}

// CloseIdleConnections closes the idle connections of both transports.
func (s *split) CloseIdleConnections() {
	s.Next.CloseIdleConnections()
	layer.Of(s.hedges).CloseIdleConnections()
}
