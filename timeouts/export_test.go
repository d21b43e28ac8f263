package timeouts

import (
	"context"
	"net"
	"net/http"
)

// NewTransportDialing is NewTransport with its connect step replaced by raw:
// the dialer still resolves, races the address families and wraps each
// connection; raw makes the connection to one address.
func NewTransportDialing(raw func(ctx context.Context, network, addr string) (net.Conn, error), opts ...Option) *http.Transport {
	c := newConfig(opts)
	return newHTTPTransport(&c, raw)
}
