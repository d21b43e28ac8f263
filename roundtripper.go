package chain

import "net/http"

// RoundTripperFunc adapts an ordinary function to the [http.RoundTripper]
// interface, as [http.HandlerFunc] does for handlers. It is the quickest way to
// write a fake base transport in a test or a one-off middleware.
//
// A RoundTripperFunc has no next layer: it has no Unwrap method and its
// CloseIdleConnections is not forwarded anywhere.
type RoundTripperFunc func(*http.Request) (*http.Response, error)

var _ http.RoundTripper = RoundTripperFunc(nil)

// RoundTrip calls f(req).
func (f RoundTripperFunc) RoundTrip(req *http.Request) (*http.Response, error) {
	return f(req)
}
