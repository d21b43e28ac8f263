package layer

import (
	"fmt"
	"net/http"
)

// Checked enforces the result contract of [http.RoundTripper] on what rt
// returned for req, the way net/http's Client does, so that a layer never
// passes a broken result up:
//
//   - a nil response with a nil error becomes the error of [NilResponse],
//     and req.Body is closed (a RoundTripper that breaks the contract may
//     not have closed it; closing twice is harmless);
//   - a response that came with an error is closed and dropped: the error
//     is returned alone, as net/http's Client ignores such a response.
//
// A well-behaved result is returned as it is. pkg names the layer that
// checks ("retry", "breaker", ...), as the prefix of the error.
func Checked(pkg string, rt http.RoundTripper, req *http.Request, resp *http.Response, err error) (*http.Response, error) {
	if err != nil || resp == nil {
		resp, err = broken(pkg, rt, req, resp, err)
	}
	return resp, err
}

// broken is the slow path of Checked, apart so that Checked inlines.
func broken(pkg string, rt http.RoundTripper, req *http.Request, resp *http.Response, err error) (*http.Response, error) {
	if err != nil {
		if resp != nil && resp.Body != nil {
			resp.Body.Close()
		}
		return nil, err
	}
	if req != nil && req.Body != nil {
		req.Body.Close()
	}
	return nil, NilResponse(pkg, rt)
}

// NilResponse returns the error that replaces a nil response with a nil
// error from rt, in net/http's words with pkg as the prefix:
// "retry: RoundTripper implementation (*main.fake) returned a nil *Response
// with a nil error".
func NilResponse(pkg string, rt http.RoundTripper) error {
	return fmt.Errorf("%s: RoundTripper implementation (%T) returned a nil *Response with a nil error", pkg, rt)
}
