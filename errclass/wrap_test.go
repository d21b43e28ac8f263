package errclass_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net/url"
	"syscall"
	"testing"

	"github.com/rtchain/chain/errclass"
)

func TestWrap(t *testing.T) {
	t.Parallel()
	refused := opErr("dial", syscallErr("connect", syscall.ECONNREFUSED))
	unknownCA := &tls.CertificateVerificationError{Err: x509.UnknownAuthorityError{}}
	tests := []struct {
		name     string
		err      error
		sentinel error
		cause    error // errors.Is must still reach it; nil: skip
	}{
		{"refused", refused, errclass.ErrNetwork, syscall.ECONNREFUSED},
		{"reset", io.ErrUnexpectedEOF, errclass.ErrNetwork, io.ErrUnexpectedEOF},
		{"unknown CA", unknownCA, errclass.ErrNetwork, nil},
		{"deadline", context.DeadlineExceeded, errclass.ErrTimeout, context.DeadlineExceeded},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if errors.Is(tt.err, tt.sentinel) {
				t.Fatalf("the raw error already matches %v: the test proves nothing", tt.sentinel)
			}
			w := errclass.Wrap(tt.err)
			u := &url.Error{Op: "Get", URL: "http://x", Err: w}
			if !errors.Is(u, tt.sentinel) {
				t.Errorf("errors.Is(Wrap(err), %v) = false", tt.sentinel)
			}
			if tt.cause != nil && !errors.Is(u, tt.cause) {
				t.Errorf("errors.Is(Wrap(err), cause %v) = false", tt.cause)
			}
			if w.Error() != tt.err.Error() {
				t.Errorf("text %q, want %q", w.Error(), tt.err.Error())
			}
			if got, want := errclass.Classify(u), errclass.Classify(tt.err); got != want {
				t.Errorf("class %v, want %v", got, want)
			}
			if got, want := u.Timeout(), tt.sentinel == errclass.ErrTimeout; got != want {
				t.Errorf("url.Error.Timeout() = %v, want %v", got, want)
			}
			if errors.Is(u, errclass.ErrHTTPStatus) {
				t.Error("matches another class's sentinel")
			}
		})
	}
	t.Run("unchanged", func(t *testing.T) {
		if errclass.Wrap(nil) != nil {
			t.Error("Wrap(nil) != nil")
		}
		plain := errors.New("no class")
		if errclass.Wrap(plain) != plain {
			t.Error("an error of a class without a sentinel was wrapped")
		}
		w := errclass.Wrap(io.EOF)
		if errclass.Wrap(w) != w {
			t.Error("an error that already matches was wrapped again")
		}
	})
}
