package errclass_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"net/url"
	"os"
	"syscall"
	"testing"

	"github.com/rtchain/chain/errclass"
)

func urlErr(err error) error { return &url.Error{Op: "Get", URL: "http://127.0.0.1:1/x", Err: err} }

var benchErrors = []struct {
	name string
	err  error
}{
	{"nil", nil},
	{"canceled", urlErr(context.Canceled)},
	{"refused", urlErr(&net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)})},
	{"reset", urlErr(&net.OpError{Op: "read", Net: "tcp", Err: os.NewSyscallError("read", syscall.ECONNRESET)})},
	{"dns", urlErr(&net.OpError{Op: "dial", Net: "tcp", Err: &net.DNSError{Err: "no such host", IsNotFound: true}})},
	{"tls", urlErr(&tls.CertificateVerificationError{Err: x509.UnknownAuthorityError{}})},
	{"classer", urlErr(&errclass.StatusError{StatusCode: 503})},
	{"text", urlErr(errors.New("http: server closed idle connection"))},
	{"unknown", urlErr(errors.New("boom"))},
}

func BenchmarkClassify(b *testing.B) {
	for _, be := range benchErrors {
		b.Run(be.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				errclass.Classify(be.err)
			}
		})
	}
}

func BenchmarkUnsent(b *testing.B) {
	for _, be := range benchErrors {
		b.Run(be.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				errclass.Unsent(be.err)
			}
		})
	}
}
