package tlsrotate

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"time"

	"github.com/rtchain/chain/errclass"
)

// Configure wires t to src in place, for code that keeps its own
// *http.Transport: t.TLSClientConfig (cloned, or created) gets src's
// GetClientCertificate, so new handshakes present the current certificate.
// Pooled connections keep the certificate they were made with; use [New] to
// retire them on rotation.
//
// When src has a CA bundle, Configure also sets t.DialTLSContext to a dialer
// that verifies each server itself, in VerifyConnection (which also runs on
// resumed sessions), against the roots current at that handshake: the full
// chain, with the intermediates the server sent and ExtKeyUsageServerAuth,
// for the host that was dialed (an IP literal is checked against the
// certificate's IP addresses). It fails closed when there is no host name.
// Requests through a proxy fail in that mode, since the dialer would not see
// the target host; use [New] there. HTTP/2 stays on if t would have used it,
// and t.TLSHandshakeTimeout bounds the handshake: a handshake that takes
// longer fails with an error of phase tls_handshake that errclass.Unsent
// reports as unsent (the request was never written), as net/http's own
// "TLS handshake timeout" is.
func Configure(t *http.Transport, src *Source) {
	h2 := h2Enabled(t)
	var cfg *tls.Config
	if t.TLSClientConfig != nil {
		cfg = t.TLSClientConfig.Clone()
	} else {
		cfg = &tls.Config{}
	}
	cfg.Certificates = nil
	cfg.GetClientCertificate = src.GetClientCertificate
	t.TLSClientConfig = cfg
	if src.Current().Roots == nil {
		return
	}
	t.DialTLSContext = src.verifyingDialer(t, cfg, h2)
	if h2 {
		t.ForceAttemptHTTP2 = true
	}
	if proxy := t.Proxy; proxy != nil {
		t.Proxy = func(r *http.Request) (*url.URL, error) {
			u, err := proxy(r)
			if err == nil && u != nil {
				return nil, errors.New("tlsrotate: Configure with a CA bundle does not support proxies; use tlsrotate.New")
			}
			return u, err
		}
	}
}

// verifyingDialer returns the DialTLSContext of Configure for t: it dials
// with t's dialer and handshakes with cfg, verifying the server itself.
func (s *Source) verifyingDialer(t *http.Transport, cfg *tls.Config, h2 bool) dialFunc {
	dial := t.DialContext
	if dial == nil {
		dial = (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	}
	fallback := cfg.RootCAs
	userVerify := cfg.VerifyConnection
	hsTimeout := t.TLSHandshakeTimeout
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		host, _, err := net.SplitHostPort(addr)
		if err != nil {
			return nil, fmt.Errorf("tlsrotate: dial %s: %w", addr, err)
		}
		raw, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		c := cfg.Clone()
		if c.ServerName == "" {
			c.ServerName = host
		}
		if c.NextProtos == nil && h2 {
			c.NextProtos = []string{"h2", "http/1.1"}
		}
		c.InsecureSkipVerify = true // VerifyConnection below does the full verification
		verify := s.verifyServer(host, fallback)
		c.VerifyConnection = func(cs tls.ConnectionState) error {
			if err := verify(cs); err != nil {
				return err
			}
			if userVerify != nil {
				return userVerify(cs)
			}
			return nil
		}
		if hsTimeout > 0 {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeoutCause(ctx, hsTimeout, errHandshakeTimeout)
			defer cancel()
		}
		tc := tls.Client(raw, c)
		if err := tc.HandshakeContext(ctx); err != nil {
			raw.Close()
			if context.Cause(ctx) == errHandshakeTimeout {
				return nil, &handshakeTimeoutError{limit: hsTimeout}
			}
			return nil, err
		}
		return tc, nil
	}
}

// verifyServer returns a VerifyConnection function that verifies the server
// against the roots current at the handshake (fallback when the snapshot has
// none) and the dialed host, failing closed.
func (s *Source) verifyServer(host string, fallback *x509.CertPool) func(tls.ConnectionState) error {
	return func(cs tls.ConnectionState) error {
		if host == "" {
			return errors.New("tlsrotate: no host name to verify the server certificate against")
		}
		if len(cs.PeerCertificates) == 0 {
			return errors.New("tlsrotate: server sent no certificate")
		}
		roots := fallback
		if snap := s.cur.Load(); snap.Roots != nil {
			roots = snap.Roots
		}
		opts := x509.VerifyOptions{
			Roots:         roots,
			Intermediates: poolOf(cs.PeerCertificates[1:]),
			DNSName:       host,
			CurrentTime:   s.cfg.now(),
			KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		}
		if _, err := cs.PeerCertificates[0].Verify(opts); err != nil {
			return &tls.CertificateVerificationError{UnverifiedCertificates: cs.PeerCertificates, Err: err}
		}
		return nil
	}
}

// errHandshakeTimeout is the cause of the handshake deadline Configure sets,
// to tell it from the caller's own.
var errHandshakeTimeout = errors.New("tlsrotate: handshake deadline")

// handshakeTimeoutError is a handshake that outlived the transport's
// TLSHandshakeTimeout under [Configure]. Like net/http's own, it is a timeout
// of phase tls_handshake; it also matches context.DeadlineExceeded and the
// errclass.ErrTimeout sentinel.
type handshakeTimeoutError struct{ limit time.Duration }

func (e *handshakeTimeoutError) Error() string {
	return fmt.Sprintf("tlsrotate: %s: no TLS handshake within %v", errclass.PhaseTLSHandshake, e.limit)
}

func (e *handshakeTimeoutError) Timeout() bool                { return true }
func (e *handshakeTimeoutError) TimeoutPhase() errclass.Phase { return errclass.PhaseTLSHandshake }
func (e *handshakeTimeoutError) Class() errclass.Class        { return errclass.Timeout }
func (e *handshakeTimeoutError) Is(target error) bool {
	return target == errclass.ErrTimeout || target == context.DeadlineExceeded
}
