package tlsrotate

import (
	"net/http"

	"github.com/rtchain/chain/errclass"
	"github.com/rtchain/chain/internal/layer"
)

// A request that will not use TLS from the source carries no certificate, so
// rotations have nothing to change on its connections: it goes through one
// clone of the template that is never retired, the cleartext pool, and its
// connections stay pooled across rotations.

// cleartextPool returns the transport for requests that will not use TLS,
// cloned from the template at the first call.
func (t *Transport) cleartextPool() *http.Transport {
	if p := t.cleartext.Load(); p != nil {
		return p
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if p := t.cleartext.Load(); p != nil {
		return p
	}
	p := t.template.Clone()
	t.cleartext.Store(p)
	return p
}

// usesTLS reports whether rt would use TLS for the http:// request req: only
// through an https:// proxy. It asks rt's proxy function, as rt will.
func usesTLS(rt *http.Transport, req *http.Request) bool {
	if rt.Proxy == nil {
		return false
	}
	u, err := rt.Proxy(req)
	// A proxy function that fails fails the request in either pool.
	return err == nil && u != nil && u.Scheme == "https"
}

// roundTripCleartext sends req, which will not use TLS, through rt, the
// cleartext pool.
func roundTripCleartext(rt *http.Transport, req *http.Request) (*http.Response, error) {
	resp, err := rt.RoundTrip(req)
	resp, err = layer.Checked("tlsrotate", rt, req, resp, err)
	if err != nil {
		return nil, errclass.Wrap(err)
	}
	return resp, nil
}
