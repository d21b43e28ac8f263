package errclass_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/textproto"
	"net/url"
	"os"
	"syscall"
	"testing"

	"github.com/rtchain/chain/errclass"
)

func TestClassString(t *testing.T) {
	t.Parallel()
	// These names are a published interface (metrics, logs): never change one.
	want := map[errclass.Class]string{
		errclass.OK:          "ok",
		errclass.Canceled:    "canceled",
		errclass.RequestBody: "request_body",
		errclass.Timeout:     "timeout",
		errclass.DNS:         "dns",
		errclass.Refused:     "refused",
		errclass.Reset:       "reset",
		errclass.TLS:         "tls",
		errclass.Status:      "status",
		errclass.BreakerOpen: "breaker_open",
		errclass.Limited:     "limited",
		errclass.Protocol:    "protocol",
		errclass.Unknown:     "unknown",
		errclass.Class(200):  "unknown",
	}
	for c, w := range want {
		if got := c.String(); got != w {
			t.Errorf("Class(%d).String() = %q, want %q", uint8(c), got, w)
		}
	}
}

func TestPhaseValues(t *testing.T) {
	t.Parallel()
	want := map[errclass.Phase]string{
		errclass.PhaseNone: "", errclass.PhaseDNS: "dns", errclass.PhaseConnect: "connect",
		errclass.PhaseTLSHandshake: "tls_handshake", errclass.PhaseWriteIdle: "write_idle",
		errclass.PhaseResponseHeader: "response_header", errclass.PhaseBodyIdle: "body_idle",
		errclass.PhaseAttempt: "attempt", errclass.PhaseTotal: "total",
		errclass.PhaseRequestBody: "request_body",
	}
	for p, w := range want {
		if string(p) != w {
			t.Errorf("phase %q, want %q", p, w)
		}
	}
}

func TestSentinel(t *testing.T) {
	t.Parallel()
	tests := []struct {
		c    errclass.Class
		want error
	}{
		{errclass.OK, nil}, {errclass.Canceled, nil}, {errclass.Timeout, errclass.ErrTimeout},
		{errclass.DNS, errclass.ErrNetwork}, {errclass.Refused, errclass.ErrNetwork},
		{errclass.Reset, errclass.ErrNetwork}, {errclass.TLS, errclass.ErrNetwork},
		{errclass.Status, errclass.ErrHTTPStatus}, {errclass.BreakerOpen, nil},
		{errclass.Protocol, nil}, {errclass.Unknown, nil},
		{errclass.RequestBody, nil}, {errclass.Limited, nil},
	}
	for _, tt := range tests {
		if got := tt.c.Sentinel(); got != tt.want {
			t.Errorf("%v.Sentinel() = %v, want %v", tt.c, got, tt.want)
		}
	}
}

// classed is an error of "another package" that declares its class and
// phase and matches its sentinel through Class.Sentinel.
type classed struct {
	class errclass.Class
	phase errclass.Phase
}

func (e *classed) Error() string                      { return "classed: " + e.class.String() }
func (e *classed) Class() errclass.Class              { return e.class }
func (e *classed) TimeoutPhase() errclass.Phase       { return e.phase }
func (e *classed) Is(target error) bool               { return target != nil && target == e.class.Sentinel() }
func (e *classed) Unwrap() error                      { return context.DeadlineExceeded }
func syscallErr(op string, errno syscall.Errno) error { return os.NewSyscallError(op, errno) }

func opErr(op string, err error) error {
	return &net.OpError{Op: op, Net: "tcp", Addr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 1}, Err: err}
}

// timeoutErr is a net.Error timeout without any chain, like net/http's
// unexported timeout errors.
type timeoutErr string

func (e timeoutErr) Error() string   { return string(e) }
func (e timeoutErr) Timeout() bool   { return true }
func (e timeoutErr) Temporary() bool { return true }

type classCase struct {
	name   string
	err    error
	class  errclass.Class
	phase  errclass.Phase
	unsent bool
}

// classCases are errors shaped exactly as the standard library makes them,
// built by hand; the real ones are produced over loopback in net_test.go.
func classCases() []classCase {
	return []classCase{
		{name: "canceled", err: context.Canceled, class: errclass.Canceled},
		{name: "request canceled text", err: errors.New("net/http: request canceled"), class: errclass.Canceled},
		{name: "deadline", err: context.DeadlineExceeded, class: errclass.Timeout},
		{name: "os deadline", err: os.ErrDeadlineExceeded, class: errclass.Timeout},
		{name: "dns not found", err: &net.DNSError{Err: "no such host", Name: "x.test", IsNotFound: true}, class: errclass.DNS, unsent: true},
		{name: "dns temporary", err: &net.DNSError{Err: "server misbehaving", Name: "x.test", IsTemporary: true}, class: errclass.DNS, unsent: true},
		{name: "dns timeout", err: &net.DNSError{Err: "i/o timeout", Name: "x.test", IsTimeout: true}, class: errclass.Timeout, phase: errclass.PhaseDNS, unsent: true},
		{name: "dns canceled", err: opErr("dial", &net.DNSError{Err: "operation was canceled", UnwrapErr: context.Canceled}), class: errclass.Canceled, unsent: true},
		{name: "dial timeout", err: opErr("dial", timeoutErr("i/o timeout")), class: errclass.Timeout, phase: errclass.PhaseConnect, unsent: true},
		{name: "refused", err: opErr("dial", syscallErr("connect", syscall.ECONNREFUSED)), class: errclass.Refused, unsent: true},
		{name: "unreachable", err: opErr("dial", syscallErr("connect", syscall.EHOSTUNREACH)), class: errclass.Refused, unsent: true},
		{name: "dial other", err: opErr("dial", errors.New("no suitable address")), class: errclass.Unknown, unsent: true},
		{name: "proxyconnect", err: opErr("proxyconnect", io.EOF), class: errclass.Reset, unsent: true},
		{name: "reset", err: opErr("read", syscallErr("read", syscall.ECONNRESET)), class: errclass.Reset},
		{name: "broken pipe", err: opErr("write", syscallErr("write", syscall.EPIPE)), class: errclass.Reset},
		{name: "eof", err: io.EOF, class: errclass.Reset},
		{name: "unexpected eof", err: io.ErrUnexpectedEOF, class: errclass.Reset},
		{name: "closed", err: net.ErrClosed, class: errclass.Reset},
		{name: "server closed idle", err: errors.New("http: server closed idle connection"), class: errclass.Reset},
		{name: "goaway closed", err: errors.New(`http2: server sent GOAWAY and closed the connection; LastStreamID=1, ErrCode=NO_ERROR, debug=""`), class: errclass.Reset},
		{name: "goaway unprocessed", err: errors.New("http2: Transport received Server's graceful shutdown GOAWAY"), class: errclass.Reset, unsent: true},
		{name: "unknown authority", err: &tls.CertificateVerificationError{Err: x509.UnknownAuthorityError{}}, class: errclass.TLS, unsent: true},
		{name: "hostname", err: x509.HostnameError{Host: "x.test", Certificate: &x509.Certificate{}}, class: errclass.TLS, unsent: true},
		{name: "expired", err: x509.CertificateInvalidError{Reason: x509.Expired, Cert: &x509.Certificate{}}, class: errclass.TLS, unsent: true},
		{name: "record header", err: tls.RecordHeaderError{Msg: "first record does not look like a TLS handshake"}, class: errclass.TLS, unsent: true},
		{name: "scheme mismatch", err: http.ErrSchemeMismatch, class: errclass.TLS, unsent: true},
		{name: "remote alert", err: opErr("remote error", errors.New("tls: bad certificate")), class: errclass.TLS, unsent: true},
		{name: "local alert", err: opErr("local error", errors.New("tls: bad record MAC")), class: errclass.TLS},
		{name: "alert error", err: tls.AlertError(42), class: errclass.TLS},
		{name: "tls text", err: errors.New("tls: server selected unsupported protocol version 303"), class: errclass.TLS},
		{name: "tls handshake timeout", err: timeoutErr("net/http: TLS handshake timeout"), class: errclass.Timeout, phase: errclass.PhaseTLSHandshake, unsent: true},
		{name: "response header timeout", err: timeoutErr("net/http: timeout awaiting response headers"), class: errclass.Timeout, phase: errclass.PhaseResponseHeader},
		{name: "h2 response header timeout", err: timeoutErr("http2: timeout awaiting response headers"), class: errclass.Timeout, phase: errclass.PhaseResponseHeader},
		{name: "client timeout", err: timeoutErr("context deadline exceeded (Client.Timeout exceeded while awaiting headers)"), class: errclass.Timeout, phase: errclass.PhaseTotal},
		{name: "client timeout body", err: timeoutErr("read: connection reset (Client.Timeout or context cancellation while reading body)"), class: errclass.Timeout, phase: errclass.PhaseTotal},
		{name: "protocol header", err: textproto.ProtocolError(`malformed MIME header line: "x"`), class: errclass.Protocol},
		{name: "malformed response", err: errors.New(`malformed HTTP response "garbage"`), class: errclass.Protocol},
		{name: "chunked", err: errors.New("malformed chunked encoding"), class: errclass.Protocol},
		{name: "line too long", err: http.ErrLineTooLong, class: errclass.Protocol},
		{name: "classer", err: &classed{class: errclass.BreakerOpen}, class: errclass.BreakerOpen, unsent: true},
		{name: "classer timeout", err: &classed{class: errclass.Timeout, phase: errclass.PhaseBodyIdle}, class: errclass.Timeout, phase: errclass.PhaseBodyIdle},
		{name: "classer connect", err: &classed{class: errclass.Timeout, phase: errclass.PhaseConnect}, class: errclass.Timeout, phase: errclass.PhaseConnect, unsent: true},
		{name: "status error", err: &errclass.StatusError{StatusCode: 503}, class: errclass.Status},
		{name: "unknown", err: errors.New("boom"), class: errclass.Unknown},
		{name: "unsupported scheme", err: errors.New(`unsupported protocol scheme "ftp"`), class: errclass.Unknown},
	}
}

// wrappings are the ways an error reaches a caller: as is, wrapped with %w,
// inside the *url.Error of http.Client, and both, and joined with another.
var wrappings = []struct {
	name string
	wrap func(error) error
}{
	{"raw", func(err error) error { return err }},
	{"wrapped", func(err error) error { return fmt.Errorf("layer: %w", err) }},
	{"url.Error", func(err error) error { return &url.Error{Op: "Get", URL: "http://127.0.0.1:1/", Err: err} }},
	{"wrapped url.Error", func(err error) error {
		return fmt.Errorf("retry: gave up: %w", &url.Error{Op: "Post", URL: "http://127.0.0.1:1/", Err: fmt.Errorf("inner: %w", err)})
	}},
	{"joined", func(err error) error { return errors.Join(errors.New("unrelated"), err) }},
}

func TestClassifyWrapping(t *testing.T) {
	t.Parallel()
	for _, tc := range classCases() {
		for _, w := range wrappings {
			t.Run(tc.name+"/"+w.name, func(t *testing.T) {
				err := w.wrap(tc.err)
				if got := errclass.Classify(err); got != tc.class {
					t.Errorf("Classify = %v, want %v (err %v)", got, tc.class, err)
				}
				if got := errclass.PhaseOf(err); got != tc.phase {
					t.Errorf("PhaseOf = %q, want %q", got, tc.phase)
				}
				if got := errclass.Unsent(err); got != tc.unsent {
					t.Errorf("Unsent = %v, want %v", got, tc.unsent)
				}
			})
		}
	}
}

func TestClassifyNil(t *testing.T) {
	t.Parallel()
	if got := errclass.Classify(nil); got != errclass.OK {
		t.Errorf("Classify(nil) = %v, want ok", got)
	}
	if got := errclass.PhaseOf(nil); got != errclass.PhaseNone {
		t.Errorf("PhaseOf(nil) = %q, want none", got)
	}
	if errclass.Unsent(nil) {
		t.Error("Unsent(nil) = true, want false")
	}
}

func TestClassifyResponse(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		resp *http.Response
		err  error
		want errclass.Class
	}{
		{"200", &http.Response{StatusCode: 200}, nil, errclass.OK},
		{"304", &http.Response{StatusCode: 304}, nil, errclass.OK},
		{"404", &http.Response{StatusCode: 404}, nil, errclass.Status},
		{"503", &http.Response{StatusCode: 503}, nil, errclass.Status},
		{"error", nil, io.EOF, errclass.Reset},
		{"nil nil", nil, nil, errclass.OK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := errclass.ClassifyResponse(tt.resp, tt.err); got != tt.want {
				t.Errorf("ClassifyResponse = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestSentinelMatching(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		err  error
		want []error
		not  []error
	}{
		{"timeout", &classed{class: errclass.Timeout}, []error{errclass.ErrTimeout, context.DeadlineExceeded}, []error{errclass.ErrNetwork, errclass.ErrHTTPStatus}},
		{"reset", &classed{class: errclass.Reset}, []error{errclass.ErrNetwork}, []error{errclass.ErrTimeout, errclass.ErrHTTPStatus}},
		{"status", &errclass.StatusError{StatusCode: 500}, []error{errclass.ErrHTTPStatus}, []error{errclass.ErrNetwork, errclass.ErrTimeout}},
		{"breaker", &classed{class: errclass.BreakerOpen}, nil, []error{errclass.ErrNetwork, errclass.ErrTimeout, errclass.ErrHTTPStatus}},
	}
	for _, tt := range tests {
		for _, w := range wrappings {
			t.Run(tt.name+"/"+w.name, func(t *testing.T) {
				err := w.wrap(tt.err)
				for _, s := range tt.want {
					if !errors.Is(err, s) {
						t.Errorf("errors.Is(%v, %v) = false, want true", err, s)
					}
				}
				for _, s := range tt.not {
					if errors.Is(err, s) {
						t.Errorf("errors.Is(%v, %v) = true, want false", err, s)
					}
				}
			})
		}
	}
}
