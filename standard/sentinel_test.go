package standard_test

import (
	"context"
	"crypto/x509"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rtchain/chain/errclass"
	"github.com/rtchain/chain/standard"
	"github.com/rtchain/chain/timeouts"
	"github.com/rtchain/chain/transporttest"
)

// TestSentinelsThroughClient: the errors of standard.Client() match the
// sentinel of their class and still reach their cause, for a refused
// connection, a reset, an unknown CA, a name that does not resolve and a
// header timeout.
func TestSentinelsThroughClient(t *testing.T) {
	t.Parallel()
	reset := transporttest.NewServer(transporttest.Reply{Fault: transporttest.Reset})
	defer reset.Close()
	tlsSrv := httptest.NewUnstartedServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	tlsSrv.Config.ErrorLog = log.New(io.Discard, "", 0) // the handshake failure is the point
	tlsSrv.StartTLS()
	defer tlsSrv.Close()
	slow := transporttest.NewServer(transporttest.Reply{Delay: time.Minute})
	defer slow.Close()
	dns := newNXDomain(t)

	tests := []struct {
		name     string
		url      string
		sentinel error
		cause    func(error) bool
	}{
		{"refused", "http://" + transporttest.DeadAddr(), errclass.ErrNetwork,
			func(err error) bool { return errors.Is(err, syscall.ECONNREFUSED) }},
		{"reset", reset.URL, errclass.ErrNetwork,
			func(err error) bool { return errors.Is(err, syscall.ECONNRESET) }},
		{"unknown CA", tlsSrv.URL, errclass.ErrNetwork,
			func(err error) bool { _, ok := errors.AsType[x509.UnknownAuthorityError](err); return ok }},
		{"dns", "http://no-such-host.invalid/", errclass.ErrNetwork,
			func(err error) bool { de, ok := errors.AsType[*net.DNSError](err); return ok && de.IsNotFound }},
		{"header timeout", slow.URL, errclass.ErrTimeout,
			func(err error) bool { return errors.Is(err, context.DeadlineExceeded) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := standard.Client(fast, standard.WithTimeouts(
				timeouts.WithResponseHeader(200*time.Millisecond), timeouts.WithResolver(dns)))
			defer c.CloseIdleConnections()
			_, err := c.Get(tt.url)
			require.Error(t, err)
			require.ErrorIs(t, err, tt.sentinel, "%v", err)
			require.True(t, tt.cause(err), "the cause is lost: %v", err)
			for _, other := range []error{errclass.ErrNetwork, errclass.ErrTimeout, errclass.ErrHTTPStatus} {
				if other != tt.sentinel {
					require.NotErrorIs(t, err, other)
				}
			}
			require.Equal(t, errclass.Classify(err).Sentinel(), tt.sentinel)
		})
	}
}

// newNXDomain returns a resolver whose DNS server, on loopback, answers
// every question with NXDOMAIN (the name does not exist).
func newNXDomain(t *testing.T) *net.Resolver {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	require.NoError(t, err)
	done := make(chan struct{})
	t.Cleanup(func() { pc.Close(); <-done })
	go func() {
		defer close(done)
		buf := make([]byte, 1500)
		for {
			n, addr, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			if msg := nxdomain(buf[:n]); msg != nil {
				pc.WriteTo(msg, addr)
			}
		}
	}()
	return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "udp", pc.LocalAddr().String())
	}}
}

// nxdomain turns a DNS query into its NXDOMAIN answer: the header with QR,
// RA and rcode 3 set and no record, and the question (RFC 1035, 4.1).
func nxdomain(q []byte) []byte {
	if len(q) < 12 {
		return nil
	}
	end := 12
	for end < len(q) && q[end] != 0 { // the question's name, label by label
		end += int(q[end]) + 1
	}
	end += 5 // the name's final zero, QTYPE and QCLASS
	if end > len(q) {
		return nil
	}
	msg := append([]byte(nil), q[:end]...)
	msg[2] |= 0x80              // QR: a response
	msg[3] = msg[3]&0x70 | 0x83 // RA, rcode 3: NXDOMAIN
	msg[4], msg[5] = 0, 1       // one question
	clear(msg[6:12])            // no answer, authority or additional record
	return msg
}
