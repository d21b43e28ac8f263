package chain

import (
	"net/http"

	"github.com/rtchain/chain/internal/layer"
)

// Middleware wraps a RoundTripper in another. Every concern package of this
// module returns one from its Middleware function, typed as
// func(http.RoundTripper) http.RoundTripper so that a package can be used
// without importing chain; such a value is assignable to Middleware.
type Middleware func(http.RoundTripper) http.RoundTripper

// Build stacks mws on base and returns the outermost RoundTripper.
//
// The first middleware given is the outermost: a request passes through mws[0],
// then mws[1], and so on down to base. A nil base means [http.DefaultTransport];
// nil middlewares are skipped. With no middleware, Build returns base itself, so
// Build adds no cost of its own to a round trip.
func Build(base http.RoundTripper, mws ...Middleware) http.RoundTripper {
	rt := base
	if rt == nil {
		rt = http.DefaultTransport
	}
	for i := len(mws) - 1; i >= 0; i-- {
		if mws[i] != nil {
			rt = mws[i](rt)
		}
	}
	return rt
}

// Base walks the Unwrap chain of rt to the bottom and returns the innermost
// RoundTripper: usually the [*http.Transport] at the base of a stack, so that
// its settings stay reachable. A layer that has no Unwrap() http.RoundTripper
// method, or whose Unwrap returns nil, is the bottom. Base(nil) is nil.
func Base(rt http.RoundTripper) http.RoundTripper { return layer.Base(rt) }
