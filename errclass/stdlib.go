package errclass

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"net/http"
	"net/textproto"
	"os"
	"strings"
	"syscall"
)

// This file holds the checks that recognise the errors of the standard
// library: typed checks first, then, for the errors net/http does not export,
// their exact text (STYLE 13). Every text is listed in stdlibTexts with the
// file of GOROOT/src that spells it; TestStdlibTextsStillInGOROOT fails when
// one of them changes.

// walk calls f on err and on every error it wraps (Unwrap() error and
// Unwrap() []error), depth first, until f returns true. It reports whether f
// did. It does not allocate when f captures nothing.
func walk(err error, f func(error) bool) bool {
	for depth := 0; err != nil && depth < maxDepth; depth++ {
		if f(err) {
			return true
		}
		switch x := err.(type) {
		case interface{ Unwrap() error }:
			err = x.Unwrap()
		case interface{ Unwrap() []error }:
			for _, e := range x.Unwrap() {
				if walk(e, f) {
					return true
				}
			}
			return false
		default:
			return false
		}
	}
	return false
}

// maxDepth bounds walk on a (broken) cyclic chain.
const maxDepth = 100

// opError returns the first *net.OpError in err's chain whose Op is op.
func opError(err error, op string) (*net.OpError, bool) {
	var found *net.OpError
	walk(err, func(e error) bool {
		if oe, ok := e.(*net.OpError); ok && oe.Op == op {
			found = oe
			return true
		}
		return false
	})
	return found, found != nil
}

// classifyDNS classifies a *net.DNSError anywhere in the chain: a timeout is
// Timeout (phase DNS), anything else (not found, temporary server failure,
// no answer) is DNS.
func classifyDNS(err error) (Class, bool) {
	de, ok := errors.AsType[*net.DNSError](err)
	if !ok {
		return OK, false
	}
	if isDNSTimeout(de) {
		return Timeout, true
	}
	return DNS, true
}

func isDNSTimeout(de *net.DNSError) bool {
	return de.IsTimeout || errors.Is(de, context.DeadlineExceeded)
}

// isTimeout reports whether any error in the chain is a deadline or says it
// is a timeout. *url.Error.Timeout only asks its direct cause, so the whole
// chain is walked.
func isTimeout(err error) bool {
	return isOneOf(err, deadlines) || walk(err, func(e error) bool {
		t, ok := e.(interface{ Timeout() bool })
		return ok && t.Timeout()
	})
}

var deadlines = []error{context.DeadlineExceeded, os.ErrDeadlineExceeded}

// isRefused reports a connection that could not be made: ECONNREFUSED, or a
// dial that failed because the host or network is unreachable or down.
func isRefused(err error) bool {
	if isOneOf(err, refused) {
		return true
	}
	return isOneOf(err, unreachable) && hasOp(err, "dial")
}

var (
	refused     = []error{syscall.ECONNREFUSED}
	unreachable = []error{syscall.EHOSTUNREACH, syscall.ENETUNREACH, syscall.EHOSTDOWN, syscall.ENETDOWN}
)

// isOneOf is errors.Is for several targets in one walk of the chain: it
// reports whether an error in err's chain equals one of targets or has an Is
// method that matches one. The targets are comparable values, so the
// comparison cannot panic.
func isOneOf(err error, targets []error) bool {
	return walk(err, func(e error) bool {
		for _, t := range targets {
			if e == t {
				return true
			}
		}
		if x, ok := e.(interface{ Is(error) bool }); ok {
			for _, t := range targets {
				if x.Is(t) {
					return true
				}
			}
		}
		return false
	})
}

// isTLS reports the typed TLS and certificate errors of crypto/tls and
// crypto/x509, and TLS alerts (crypto/tls reports an alert it received as a
// *net.OpError with Op "remote error", one it sent as Op "local error").
func isTLS(err error) bool {
	return isHandshakeTLS(err) || walk(err, func(e error) bool {
		switch e := e.(type) {
		case tls.AlertError:
			return true
		case *net.OpError:
			return e.Op == "local error"
		}
		return false
	})
}

// isHandshakeTLS reports the TLS failures that can only happen before any
// byte of a request is delivered to the server's HTTP layer: certificate
// verification (done by the client during the handshake), a peer that does
// not speak TLS, and alerts received from the peer (in TLS 1.3 a rejected
// client certificate is reported after the client's side of the handshake
// completed, but the server discards what it was sent).
//
// None of these types has an As method, so one walk with a type switch
// decides exactly as errors.As would, for a fraction of the cost.
func isHandshakeTLS(err error) bool {
	return errors.Is(err, http.ErrSchemeMismatch) || walk(err, func(e error) bool {
		switch e := e.(type) {
		case *tls.CertificateVerificationError, tls.RecordHeaderError, *tls.ECHRejectionError,
			x509.UnknownAuthorityError, x509.HostnameError, x509.CertificateInvalidError,
			x509.SystemRootsError, x509.ConstraintViolationError, x509.UnhandledCriticalExtension,
			x509.InsecureAlgorithmError:
			return true
		case *net.OpError:
			return e.Op == "remote error"
		}
		return false
	})
}

func hasType[E error](err error) bool {
	_, ok := errors.AsType[E](err)
	return ok
}

func hasOp(err error, op string) bool {
	_, ok := opError(err, op)
	return ok
}

// h2StreamError mirrors the HTTP/2 StreamError of net/http's bundled HTTP/2
// implementation (and of golang.org/x/net/http2). That type is unexported,
// but it has an As method that fills any struct with the same field names and
// convertible field types; this is the way net/http documents for reaching
// it.
type h2StreamError struct {
	StreamID uint32
	Code     uint32
	Cause    error
}

func (e h2StreamError) Error() string { return "http2 stream error" }

// HTTP/2 error codes (RFC 9113, section 7).
const (
	h2Protocol      = 0x1
	h2FrameSize     = 0x6
	h2RefusedStream = 0x7
	h2Compression   = 0x9
)

// h2FromPeer is the text of the Cause that net/http's HTTP/2 transport puts
// in a StreamError the peer sent (http2errFromPeer in h2_bundle.go).
const h2FromPeer = "received from peer"

// classifyH2 classifies an HTTP/2 stream error: a stream this side reset
// because the peer broke the protocol is Protocol; any other stream reset
// (sent by the peer, or local) is Reset.
func classifyH2(err error) (Class, bool) {
	se, ok := errors.AsType[h2StreamError](err)
	if !ok {
		return OK, false
	}
	fromPeer := se.Cause != nil && se.Cause.Error() == h2FromPeer
	switch se.Code {
	case h2Protocol, h2FrameSize, h2Compression:
		if !fromPeer && se.Cause != nil {
			return Protocol, true
		}
	}
	return Reset, true
}

// isH2Refused reports an HTTP/2 REFUSED_STREAM: the server did not process
// the stream (RFC 9113, section 8.7).
func isH2Refused(err error) bool {
	se, ok := errors.AsType[h2StreamError](err)
	return ok && se.Code == h2RefusedStream
}

// isReset reports a broken connection.
func isReset(err error) bool { return isOneOf(err, resets) }

var resets = []error{syscall.ECONNRESET, syscall.ECONNABORTED, syscall.EPIPE, io.EOF, io.ErrUnexpectedEOF, net.ErrClosed}

// isProtocol reports the typed protocol errors: a malformed header line
// (textproto.ProtocolError) or an overlong chunk header line.
func isProtocol(err error) bool {
	return hasType[textproto.ProtocolError](err) || errors.Is(err, http.ErrLineTooLong)
}

// stdlibText is one error of the standard library recognised by its text.
type stdlibText struct {
	text   string // a substring of the error's text
	class  Class
	phase  Phase  // for timeouts: the phase it reveals
	unsent bool   // whether it proves the request was not processed
	source string // the file of GOROOT/src that spells it
	name   string // the stdlib error it stands for
}

// stdlibTexts lists the unexported errors of net/http (and its bundled
// HTTP/2) recognised by their text, in the order they are tried. The
// timeouts among them are classified by their Timeout method; their text
// only reveals the phase.
var stdlibTexts = [...]stdlibText{
	// Timeouts: class by type (net.Error), phase by text.
	{text: "(Client.Timeout exceeded while awaiting headers)", class: Timeout, phase: PhaseTotal,
		source: "net/http/client.go", name: "timeoutError from Client.do"},
	{text: "(Client.Timeout or context cancellation while reading body)", class: Timeout, phase: PhaseTotal,
		source: "net/http/client.go", name: "timeoutError from cancelTimerBody.Read"},
	{text: "net/http: TLS handshake timeout", class: Timeout, phase: PhaseTLSHandshake, unsent: true,
		source: "net/http/transport.go", name: "tlsHandshakeTimeoutError"},
	{text: "net/http: timeout awaiting response headers", class: Timeout, phase: PhaseResponseHeader,
		source: "net/http/transport.go", name: "errTimeout"},
	{text: "http2: timeout awaiting response headers", class: Timeout, phase: PhaseResponseHeader,
		source: "net/http/h2_bundle.go", name: "http2errTimeout"},

	// Cancellation by Request.Cancel or CancelRequest (the context's own
	// error comes back as context.Canceled and is checked by type).
	{text: "net/http: request canceled", class: Canceled,
		source: "net/http/transport.go", name: "errRequestCanceled, errRequestCanceledConn, http2errRequestCanceled"},

	// Broken connections.
	{text: "http: server closed idle connection", class: Reset,
		source: "net/http/transport.go", name: "errServerClosedIdle"},
	{text: "http2: Transport received Server's graceful shutdown GOAWAY", class: Reset, unsent: true,
		source: "net/http/h2_bundle.go", name: "http2errClientConnGotGoAway (stream above the GOAWAY's last stream id)"},
	{text: "http2: server sent GOAWAY and closed the connection", class: Reset,
		source: "net/http/h2_bundle.go", name: "http2GoAwayError"},
	{text: "REFUSED_STREAM", class: Reset, unsent: true,
		source: "net/http/h2_bundle.go", name: "http2StreamError with REFUSED_STREAM, flattened into the text of \"http2: Transport: cannot retry err [...]\""},
	{text: "stream error: stream ID ", class: Reset,
		source: "net/http/h2_bundle.go", name: "http2StreamError, flattened into the text of \"http2: Transport: cannot retry err [...]\""},
	{text: "http2: client connection lost", class: Reset,
		source: "net/http/h2_bundle.go", name: "closeForLostPing (the HTTP/2 ping health check found the connection dead)"},
	{text: "http2: client connection force closed via ClientConn.Close", class: Reset,
		source: "net/http/h2_bundle.go", name: "http2errClientConnForceClosed"},
	{text: "http2: client conn is closed", class: Reset,
		source: "net/http/h2_bundle.go", name: "http2errClientConnClosed"},
	{text: "http: unexpected EOF reading trailer", class: Reset,
		source: "net/http/transfer.go", name: "errTrailerEOF"},

	// Malformed responses.
	{text: "malformed HTTP response", class: Protocol,
		source: "net/http/response.go", name: "badStringError from ReadResponse"},
	{text: "malformed HTTP status code", class: Protocol,
		source: "net/http/response.go", name: "badStringError from ReadResponse"},
	{text: "malformed HTTP version", class: Protocol,
		source: "net/http/response.go", name: "badStringError from ReadResponse"},
	{text: "net/http: server response headers exceeded ", class: Protocol,
		source: "net/http/transport.go", name: "persistConn.readLoop header limit"},
	{text: "bad Content-Length", class: Protocol,
		source: "net/http/transfer.go", name: "badStringError from parseContentLength"},
	{text: "invalid empty Content-Length", class: Protocol,
		source: "net/http/transfer.go", name: "badStringError from parseContentLength"},
	{text: "http: message cannot contain multiple Content-Length headers", class: Protocol,
		source: "net/http/transfer.go", name: "fixLength"},
	{text: "http: suspiciously long trailer after chunked body", class: Protocol,
		source: "net/http/transfer.go", name: "body.readTrailer"},
	{text: "malformed chunked encoding", class: Protocol,
		source: "net/http/internal/chunked.go", name: "chunkedReader"},
	{text: "invalid byte in chunk length", class: Protocol,
		source: "net/http/internal/chunked.go", name: "parseHexUint"},
	{text: "empty hex number for chunk length", class: Protocol,
		source: "net/http/internal/chunked.go", name: "parseHexUint"},
	{text: "http chunk length too large", class: Protocol,
		source: "net/http/internal/chunked.go", name: "parseHexUint"},
	{text: "chunked encoding contains too much non-data", class: Protocol,
		source: "net/http/internal/chunked.go", name: "chunkedReader"},
	{text: "chunked line ends with bare LF", class: Protocol,
		source: "net/http/internal/chunked.go", name: "readChunkLine"},
	{text: "invalid CR in chunked line", class: Protocol,
		source: "net/http/internal/chunked.go", name: "readChunkLine"},

	// crypto/tls and crypto/x509 begin the text of every error they make
	// with their package name; the handshake errors that have no type
	// (unsupported version, bad key share, ...) are recognised that way.
	{text: "tls: ", class: TLS,
		source: "crypto/tls/handshake_client.go", name: "errors.New(\"tls: ...\") handshake errors"},
	{text: "x509: ", class: TLS,
		source: "crypto/x509/x509.go", name: "errors.New(\"x509: ...\") parse errors"},
}

// matchText returns the first entry of stdlibTexts whose text appears in
// the text of one of the innermost errors of err's chain (those that wrap
// nothing), or nil. Errors that implement Classer are not the standard
// library's and are skipped. Only innermost errors are formatted: their text is
// short and usually stored, where a *url.Error would format its URL.
func matchText(err error) *stdlibText {
	var found *stdlibText
	walk(err, func(e error) bool {
		switch e.(type) {
		case interface{ Unwrap() error }, interface{ Unwrap() []error }, Classer:
			// Not innermost, or not the standard library's.
			return false
		}
		s := e.Error()
		for i := range stdlibTexts {
			if strings.Contains(s, stdlibTexts[i].text) {
				found = &stdlibTexts[i]
				return true
			}
		}
		return false
	})
	return found
}

// classifyText is the last resort of Classify.
func classifyText(err error) Class {
	if t := matchText(err); t != nil {
		return t.class
	}
	return Unknown
}
