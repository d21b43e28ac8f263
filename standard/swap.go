package standard

import (
	"net/http"
	"sync/atomic"
)

// swap is a layer of the stack that Update rebuilds: it sends each request
// through the current build of the layer, and Update puts a new build, made
// over the same next RoundTripper, in its place in one atomic store. A
// request in flight finishes in the build it started in; the next one takes
// the new build. The retry and per-attempt timeouts layers sit behind one,
// as their packages have no Update of their own.
//
// PT is *T, a RoundTripper: the form lets the pointer be stored atomically
// without an interface conversion per request.
type swap[T any, PT interface {
	*T
	http.RoundTripper
}] struct {
	cur   atomic.Pointer[T]
	next  http.RoundTripper // the layer below: the next of every build
	build func(c *config, next http.RoundTripper) PT
}

// newSwap returns a swap holding build(c, next).
func newSwap[T any, PT interface {
	*T
	http.RoundTripper
}](c *config, next http.RoundTripper, build func(*config, http.RoundTripper) PT) *swap[T, PT] {
	w := &swap[T, PT]{next: next, build: build}
	w.cur.Store(build(c, next))
	return w
}

// RoundTrip sends req through the current build.
func (w *swap[T, PT]) RoundTrip(req *http.Request) (*http.Response, error) {
	return PT(w.cur.Load()).RoundTrip(req)
}

// Unwrap returns the current build, whose own Unwrap leads on down, so that
// chain.Base walks through.
func (w *swap[T, PT]) Unwrap() http.RoundTripper { return PT(w.cur.Load()) }

// CloseIdleConnections forwards to the layer below.
func (w *swap[T, PT]) CloseIdleConnections() {
	if c, ok := w.next.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}

// load returns the current build; nil on a nil swap (a layer the stack does
// not have).
func (w *swap[T, PT]) load() PT {
	if w == nil {
		return nil
	}
	return w.cur.Load()
}

// rebuild makes a new build with the settings of c and returns it; it
// takes effect with put.
func (w *swap[T, PT]) rebuild(c *config) PT { return w.build(c, w.next) }

// put makes t the current build.
func (w *swap[T, PT]) put(t PT) { w.cur.Store(t) }
