package tracing

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/rtchain/chain/errclass"
)

type phaseErr struct{ p errclass.Phase }

func (e phaseErr) Error() string                { return "timed out in " + string(e.p) + " after 3.2s" }
func (e phaseErr) Timeout() bool                { return true }
func (e phaseErr) TimeoutPhase() errclass.Phase { return e.p }
func (e phaseErr) Class() errclass.Class        { return errclass.Timeout }

type classErr errclass.Class

func (e classErr) Error() string         { return "class error with dynamic text 12345" }
func (e classErr) Class() errclass.Class { return errclass.Class(e) }

// vocabulary is the documented closed list of error.type values.
var vocabulary = map[string]bool{
	ErrorTimeout: true, ErrorDNS: true, ErrorConnectionRefused: true, ErrorConnectionReset: true,
	ErrorTLSHandshake: true, ErrorServerCertificate: true, ErrorRequestBody: true, ErrorProtocol: true,
	ErrorBreakerOpen: true, ErrorCanceled: true, ErrorOther: true,
}

func TestErrorTypeVocabulary(t *testing.T) {
	wrap := func(err error) error { return &url.Error{Op: "Get", URL: "http://h/?q=secret", Err: err} }
	cases := []struct {
		name string
		err  error
		want string
	}{
		{"dns", &net.DNSError{Err: "no such host", Name: "h", IsNotFound: true}, ErrorDNS},
		{"dns timeout", &net.DNSError{Err: "i/o timeout", Name: "h", IsTimeout: true}, ErrorTimeout},
		{"refused", &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}, ErrorConnectionRefused},
		{"reset", &net.OpError{Op: "read", Net: "tcp", Err: os.NewSyscallError("read", syscall.ECONNRESET)}, ErrorConnectionReset},
		{"broken pipe", &net.OpError{Op: "write", Net: "tcp", Err: os.NewSyscallError("write", syscall.EPIPE)}, ErrorConnectionReset},
		{"eof", io.ErrUnexpectedEOF, ErrorConnectionReset},
		{"deadline", context.DeadlineExceeded, ErrorTimeout},
		{"unknown authority", &tls.CertificateVerificationError{Err: x509.UnknownAuthorityError{}}, ErrorServerCertificate},
		{"hostname", x509.HostnameError{Certificate: &x509.Certificate{}, Host: "h"}, ErrorServerCertificate},
		{"tls alert", tls.AlertError(40), ErrorTLSHandshake},
		{"protocol", classErr(errclass.Protocol), ErrorProtocol},
		{"breaker", classErr(errclass.BreakerOpen), ErrorBreakerOpen},
		{"inner cancel", context.Canceled, ErrorCanceled},
		{"other", errors.New("weird 987"), ErrorOther},
	}
	for _, p := range []errclass.Phase{errclass.PhaseDNS, errclass.PhaseConnect, errclass.PhaseTLSHandshake,
		errclass.PhaseWriteIdle, errclass.PhaseResponseHeader, errclass.PhaseBodyIdle, errclass.PhaseAttempt, errclass.PhaseTotal} {
		cases = append(cases, struct {
			name string
			err  error
			want string
		}{"timeout " + string(p), phaseErr{p}, ErrorTimeout})
	}
	for _, tc := range cases {
		for _, err := range []error{tc.err, wrap(tc.err), fmt.Errorf("layer: %w", tc.err)} {
			t.Run(tc.name, func(t *testing.T) {
				got, failed := errorType(context.Background(), 0, err, false)
				assert.True(t, failed)
				assert.Equal(t, tc.want, got)
				assert.True(t, vocabulary[got], "%q is not in the documented list", got)
			})
		}
	}
	t.Run("statuses", func(t *testing.T) {
		for code := 100; code < 1000; code++ {
			got, failed := errorType(context.Background(), code, nil, false)
			assert.Equal(t, code >= 400, failed)
			if failed {
				assert.Equal(t, fmt.Sprint(code), got)
			}
		}
	})
	t.Run("caller cancel", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		got, failed := errorType(ctx, 0, context.Canceled, false)
		assert.False(t, failed)
		assert.Empty(t, got)
	})
	t.Run("request body", func(t *testing.T) {
		got, _ := errorType(context.Background(), 0, errors.New("x"), true)
		assert.Equal(t, ErrorRequestBody, got)
	})
}

func TestScrub(t *testing.T) {
	req, err := http.NewRequest(http.MethodGet, "https://alice:hunter22@h.example/p?token=abcd1234&n=1&e=a%2Bb%2Bc", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer tok-123456")
	req.Header.Set("Cookie", "sid=cookie99; x=yyyyy")
	req.Header.Set("X-Key", "apikey-777")
	cases := []struct{ in, want string }{
		{"dial tcp 127.0.0.1:1: connection refused", "dial tcp 127.0.0.1:1: connection refused"},
		{`Get "https://alice:hunter22@h.example/p?token=abcd1234&n=1": EOF`, `Get "https://REDACTED@h.example/p?token=REDACTED&n=REDACTED": EOF`},
		{"token abcd1234 and hunter22 and alice", "token REDACTED and REDACTED and REDACTED"},
		{"auth Bearer tok-123456 / tok-123456", "auth REDACTED / REDACTED"},
		{"cookie sid=cookie99 cookie99", "cookie REDACTED REDACTED"},
		{"key apikey-777", "key REDACTED"},
		{"decoded a+b+c", "decoded REDACTED"},
		{"bad url http://u:p@[::1:bad/?q=s end", "bad url http://REDACTED end"},
	}
	for _, tc := range cases {
		assert.Equal(t, tc.want, scrub(tc.in, req, []string{"X-Key"}))
	}
	assert.Equal(t, "key apikey-777", scrub("key apikey-777", req, nil), "only named headers are secret")
}
