package errclass

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/rtchain/chain/internal/redact"
)

// MaxBody is the most bytes of a response body that [FromResponse] keeps in
// [StatusError.Body] (1 KiB): enough for an error message, never a download.
const MaxBody = 1 << 10

// bodyWait bounds how long FromResponse waits for the body snippet (a
// variable so that tests can shorten it).
var bodyWait = time.Second

// StatusError is the error [FromResponse] makes of a response with a status
// of 400 or more. It is [Status] for [Classify] and matches [ErrHTTPStatus]
// for errors.Is.
//
// It carries no secret: URL is redacted (user info and every query value
// replaced by REDACTED, fragment dropped) and Header is a copy of the
// response header in which the values of Authorization, Proxy-Authorization,
// Cookie and Set-Cookie are replaced by REDACTED. Body is not part of the
// error text.
type StatusError struct {
	StatusCode int         // the response's status code, 400 or more
	Status     string      // the response's status line, e.g. "503 Service Unavailable"
	Method     string      // the request's method, "" when the response has no Request
	URL        string      // the request's URL, redacted; "" when the response has no Request
	Header     http.Header // a redacted copy of the response header
	Body       []byte      // the first bytes of the body, at most MaxBody; nil when it had none or none arrived in time
}

// Error returns "errclass: METHOD URL: STATUS", for instance
// "errclass: GET http://host/path?q=REDACTED: 503 Service Unavailable",
// leaving out the method and URL when they are unknown. When the answer
// rejects the client certificate (see [StatusError.CertificateRejected]), the
// text says so: "errclass: GET https://host/: 400 Bad Request: the server
// rejected the client certificate (The SSL certificate error)".
func (e *StatusError) Error() string {
	var b strings.Builder
	b.WriteString("errclass: ")
	if e.Method != "" {
		b.WriteString(e.Method)
		b.WriteByte(' ')
	}
	if e.URL != "" {
		b.WriteString(e.URL)
	}
	if e.Method != "" || e.URL != "" {
		b.WriteString(": ")
	}
	b.WriteString(e.statusText())
	if why, ok := e.certRejection(); ok {
		b.WriteString(": the server rejected the client certificate")
		if why != "" {
			b.WriteString(" (" + why + ")")
		}
	}
	return b.String()
}

// CertificateRejected reports whether the answer says that the server
// rejected the client's TLS certificate, or that it expected one and got
// none, although the TLS handshake succeeded. nginx (and servers behind it)
// answer so: status 400 with "The SSL certificate error" (its internal code
// 495) or "No required SSL certificate was sent" (496) in the body; the
// codes 495 and 496 themselves, where a server sends them, say the same.
// The class stays [Status].
func (e *StatusError) CertificateRejected() bool {
	_, ok := e.certRejection()
	return ok
}

// certRejections are nginx's texts for a rejected or missing client
// certificate (ngx_http_special_response.c: ngx_http_error_495_page and
// ngx_http_error_496_page, sent with status 400).
var certRejections = [...]string{"The SSL certificate error", "No required SSL certificate was sent"}

// certRejection returns the text that says the client certificate was
// rejected, and whether the answer says so at all.
func (e *StatusError) certRejection() (string, bool) {
	switch e.StatusCode {
	case 495:
		return certRejections[0], true
	case 496:
		return certRejections[1], true
	case http.StatusBadRequest:
		for _, t := range certRejections {
			if bytes.Contains(e.Body, []byte(t)) {
				return t, true
			}
		}
	}
	return "", false
}

// statusText is Status, or "503 Service Unavailable" made from StatusCode
// when Status is empty.
func (e *StatusError) statusText() string {
	if e.Status != "" {
		return e.Status
	}
	s := strconv.Itoa(e.StatusCode)
	if t := http.StatusText(e.StatusCode); t != "" {
		s += " " + t
	}
	return s
}

// Is reports whether target is [ErrHTTPStatus].
func (e *StatusError) Is(target error) bool { return target == ErrHTTPStatus }

// Class returns [Status].
func (e *StatusError) Class() Class { return Status }

// errNoResponse is what FromResponse returns for a nil response with a nil
// error.
var errNoResponse = errors.New("errclass: FromResponse: nil response and nil error")

// FromResponse turns the result of a round trip (or of http.Client.Do) into
// an error, for callers who treat 4xx and 5xx answers as failures:
//
//   - a non-nil err is returned unchanged, and resp is not touched (net/http
//     returns both only when CheckRedirect failed, with the body closed);
//   - a nil resp with a nil err (a broken RoundTripper) is an error, class
//     Unknown;
//   - a status below 400 gives nil, and the body is left untouched and open
//     for the caller to read and close; 1xx and 3xx answers that reach the
//     caller (a redirect not followed, 304 Not Modified) are not failures;
//   - a status of 400 or more gives a [*StatusError], and the body is
//     closed, always: FromResponse reads at most [MaxBody] bytes of it, even
//     from an endless body, and waits at most one second for them, so that a
//     body that stalls cannot hang the caller (a server that has sent its
//     status sends a short error message at once; one that does not is not
//     worth waiting for, and the caller's context may have no deadline). When
//     that second has passed, the body is closed, which ends the pending read
//     on net/http's bodies, and the bytes read so far are kept; a body whose
//     read does not end on Close is given one more second, then abandoned
//     without its bytes (its read finishes in the background). A body longer
//     than MaxBody is not drained, so its connection is not reused.
//
// It is safe to call from several goroutines on different responses.
func FromResponse(resp *http.Response, err error) error {
	if err != nil {
		return err
	}
	if resp == nil {
		return errNoResponse
	}
	if resp.StatusCode < 400 {
		return nil
	}
	se := &StatusError{
		StatusCode: resp.StatusCode,
		Status:     resp.Status,
		Header:     redact.Header(resp.Header),
	}
	if req := resp.Request; req != nil {
		se.Method = req.Method
		if se.Method == "" {
			se.Method = http.MethodGet
		}
		se.URL = redact.URL(req.URL)
	}
	if resp.Body != nil {
		se.Body = snippet(resp.Body)
	}
	return se
}

// snippet reads at most MaxBody bytes of body within bodyWait and closes it.
//
// The read runs in its own goroutine because a Read cannot be given a
// deadline; if the bound passes, Close ends that Read (net/http's bodies
// return from a pending Read when closed) and snippet waits for the
// goroutine once more, for as long again, before giving up on the bytes. A
// body whose Read survives its own Close leaves that goroutine behind until
// the Read returns.
func snippet(body io.ReadCloser) []byte {
	type result struct {
		buf []byte
		n   int
	}
	done := make(chan result, 1)
	go func() {
		buf := make([]byte, MaxBody)
		n, _ := io.ReadFull(body, buf)
		done <- result{buf, n}
	}()
	timer := time.NewTimer(bodyWait)
	defer timer.Stop()
	var r result
	select {
	case r = <-done:
		body.Close()
	case <-timer.C:
		body.Close()
		timer.Reset(bodyWait)
		select {
		case r = <-done:
		case <-timer.C:
			return nil
		}
	}
	if r.n == 0 {
		return nil
	}
	return r.buf[:r.n:r.n]
}
