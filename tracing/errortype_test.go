package tracing

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
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

// vocabulary is the documented closed list of error.type values besides
// status codes: errclass's class names, one vocabulary for the module.
var vocabulary = func() map[string]bool {
	m := map[string]bool{}
	for c := errclass.Canceled; c <= errclass.Unknown; c++ {
		m[c.String()] = true
	}
	return m
}()

func TestErrorTypeVocabulary(t *testing.T) {
	wrap := func(err error) error { return &url.Error{Op: "Get", URL: "http://h/?q=secret", Err: err} }
	cases := []struct {
		name string
		err  error
		want string
	}{
		{"dns", &net.DNSError{Err: "no such host", Name: "h", IsNotFound: true}, "dns"},
		{"dns timeout", &net.DNSError{Err: "i/o timeout", Name: "h", IsTimeout: true}, "timeout"},
		{"refused", &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}, "refused"},
		{"reset", &net.OpError{Op: "read", Net: "tcp", Err: os.NewSyscallError("read", syscall.ECONNRESET)}, "reset"},
		{"broken pipe", &net.OpError{Op: "write", Net: "tcp", Err: os.NewSyscallError("write", syscall.EPIPE)}, "reset"},
		{"eof", io.ErrUnexpectedEOF, "reset"},
		{"deadline", context.DeadlineExceeded, "timeout"},
		{"unknown authority", &tls.CertificateVerificationError{Err: x509.UnknownAuthorityError{}}, "tls"},
		{"hostname", x509.HostnameError{Certificate: &x509.Certificate{}, Host: "h"}, "tls"},
		{"tls alert", tls.AlertError(40), "tls"},
		{"protocol", classErr(errclass.Protocol), "protocol"},
		{"breaker", classErr(errclass.BreakerOpen), "breaker_open"},
		{"inner cancel", context.Canceled, "canceled"},
		{"other", errors.New("weird 987"), "unknown"},
	}
	for _, p := range []errclass.Phase{errclass.PhaseDNS, errclass.PhaseConnect, errclass.PhaseTLSHandshake,
		errclass.PhaseWriteIdle, errclass.PhaseResponseHeader, errclass.PhaseBodyIdle, errclass.PhaseAttempt, errclass.PhaseTotal} {
		cases = append(cases, struct {
			name string
			err  error
			want string
		}{"timeout " + string(p), phaseErr{p}, "timeout"})
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
		assert.Equal(t, "request_body", got)
	})
}
