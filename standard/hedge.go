package standard

import (
	"net/http"
	"sync"
	"sync/atomic"

	"github.com/rtchain/chain/hedge"
	"github.com/rtchain/chain/tlsrotate"
)

// hedgeSplit returns bottom, the bottom of the stack, split so that the
// hedges of the hedge layer go through a connection pool of their own: a
// clone of the base *http.Transport (under a tlsrotate transport of its own
// on the same source, with WithTLS). Another kind of base gets the hedges
// too.
func (s *Stack) hedgeSplit(bottom http.RoundTripper) http.RoundTripper {
	if s.base == nil {
		return bottom
	}
	p := &pool{make: func() http.RoundTripper { return s.base.Clone() }}
	if src := s.c.tls; src != nil {
		p.make = func() http.RoundTripper { return tlsrotate.New(s.base.Clone(), src) }
	}
	return hedge.Split(bottom, p)
}

// pool is the transport of the hedges: made at the first hedge from the
// base as it is then, so that fields of Stack.Base changed before the first
// request apply to it too.
type pool struct {
	make func() http.RoundTripper
	once sync.Once
	rt   atomic.Pointer[http.RoundTripper] // set once, by once
}

func (p *pool) RoundTrip(req *http.Request) (*http.Response, error) {
	p.once.Do(func() {
		rt := p.make()
		p.rt.Store(&rt)
	})
	return (*p.rt.Load()).RoundTrip(req)
}

// CloseIdleConnections closes the pool's idle connections, once it is made.
func (p *pool) CloseIdleConnections() {
	if rt := p.rt.Load(); rt != nil {
		if c, ok := (*rt).(interface{ CloseIdleConnections() }); ok {
			c.CloseIdleConnections()
		}
	}
}
