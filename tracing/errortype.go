package tracing

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net/http"
	"strconv"

	"github.com/rtchain/chain/errclass"
)

// The values of the error.type attribute that Spans sets on spans and on the
// http.client.request.duration metric, and that its log records carry. The
// list is closed: no other value, and no dynamic text, is ever used, except
// the status code of a response of 400 or more ("404", "503", ...).
const (
	ErrorTimeout           = "timeout"                    // a bound ran out; the phase is in chain.timeout.phase
	ErrorDNS               = "dns_error"                  // the name did not resolve
	ErrorConnectionRefused = "connection_refused"         // the connection was refused
	ErrorConnectionReset   = "connection_reset"           // reset, broken pipe, EOF before the response
	ErrorTLSHandshake      = "tls_handshake_error"        // the TLS handshake failed
	ErrorServerCertificate = "server_certificate_invalid" // the server's certificate did not verify
	ErrorRequestBody       = "request_body_error"         // reading the request body failed
	ErrorProtocol          = "protocol_error"             // the peer spoke malformed HTTP
	ErrorBreakerOpen       = "breaker_open"               // a circuit breaker rejected the call
	ErrorCanceled          = "canceled"                   // cancelled by an inner layer, not by the caller
	ErrorOther             = "_OTHER"                     // none of the above
)

// errorType returns the error.type value for the outcome of one attempt, and
// whether the outcome is a failure at all. A nil err with a status below 400
// is no failure. A cancellation by the caller (the request's context is
// cancelled and the error is a cancellation) is no failure either, following
// the semantic conventions: the span status stays unset and no error.type is
// set. bodyErr tells whether the request body's Read failed during the attempt.
func errorType(ctx context.Context, status int, err error, bodyErr bool) (string, bool) {
	if err == nil {
		if status >= 400 {
			return statusText(status), true
		}
		return "", false
	}
	if bodyErr {
		return ErrorRequestBody, true
	}
	switch errclass.Classify(err) {
	case errclass.Canceled:
		if ctx.Err() != nil {
			return "", false
		}
		return ErrorCanceled, true
	case errclass.Timeout:
		return ErrorTimeout, true
	case errclass.DNS:
		return ErrorDNS, true
	case errclass.Refused:
		return ErrorConnectionRefused, true
	case errclass.Reset:
		return ErrorConnectionReset, true
	case errclass.TLS:
		if certificateInvalid(err) {
			return ErrorServerCertificate, true
		}
		return ErrorTLSHandshake, true
	case errclass.Protocol:
		return ErrorProtocol, true
	case errclass.BreakerOpen:
		return ErrorBreakerOpen, true
	}
	return ErrorOther, true
}

// certificateInvalid reports whether err says the server's certificate did
// not verify.
func certificateInvalid(err error) bool {
	var (
		verErr  *tls.CertificateVerificationError
		uaErr   x509.UnknownAuthorityError
		hostErr x509.HostnameError
		invErr  x509.CertificateInvalidError
	)
	return errors.As(err, &verErr) || errors.As(err, &uaErr) ||
		errors.As(err, &hostErr) || errors.As(err, &invErr)
}

// statusTexts holds the error.type of the common statuses, so that recording
// them allocates nothing.
var statusTexts = func() map[int]string {
	m := make(map[int]string)
	for code := 400; code < 600; code++ {
		if http.StatusText(code) != "" {
			m[code] = strconv.Itoa(code)
		}
	}
	return m
}()

func statusText(code int) string {
	if s, ok := statusTexts[code]; ok {
		return s
	}
	if code < 100 || code > 999 {
		return ErrorOther
	}
	return strconv.Itoa(code)
}
