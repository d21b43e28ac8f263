package tlsrotate_test

import (
	"context"
	"crypto/x509"
	"errors"
	"net"
	"net/http"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rtchain/chain/errclass"
	"github.com/rtchain/chain/tlsrotate"
	"github.com/rtchain/chain/transporttest"
)

// provider is a certificate provider that a source polls only hourly: what
// it hands out changes long before the source asks again.
type provider struct {
	mu   sync.Mutex
	pair *transporttest.Pair
}

func (p *provider) set(pair *transporttest.Pair) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.pair = pair
}

func (p *provider) load(context.Context) (*tlsrotate.Material, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return &tlsrotate.Material{CertPEM: p.pair.CertPEM, KeyPEM: p.pair.KeyPEM}, nil
}

// hourlySource returns a function source on a provider that hands out
// first, polled every hour.
func hourlySource(t *testing.T, first *transporttest.Pair) (*tlsrotate.Source, *provider) {
	t.Helper()
	p := &provider{pair: first}
	src, err := tlsrotate.NewFuncSource(p.load, tlsrotate.WithPollInterval(time.Hour))
	require.NoError(t, err)
	t.Cleanup(func() { src.Close() })
	return src, p
}

// switchingServer is a memServer of ca whose client CA is about to change.
func switchingServer(t *testing.T, ca *transporttest.CA) (*memServer, *http.Client, *tlsrotate.Transport, *provider) {
	t.Helper()
	srv := newMemServer(t, ca, false, nil)
	src, prov := hourlySource(t, ca.IssueClient("client", time.Hour))
	tr := tlsrotate.New(srv.base(ca), src)
	t.Cleanup(tr.CloseIdleConnections)
	return srv, &http.Client{Transport: tr}, tr, prov
}

// handshakeError returns err's *HandshakeError, failing the test without one.
func handshakeError(t *testing.T, err error) *tlsrotate.HandshakeError {
	t.Helper()
	require.Error(t, err)
	he, ok := errors.AsType[*tlsrotate.HandshakeError](err)
	require.True(t, ok, "got %T %v, want a *tlsrotate.HandshakeError", err, err)
	return he
}

// TestRenewalWhenServerSwitchesClientCA is the renewal design's case: the
// server moves to a new client CA while the source's provider already holds
// a certificate of that CA, but the source would not ask for it for an
// hour. The first request fails with a bad certificate, as a neutral error
// (no breaker counts it); the renewal re-reads the source at once, and the
// next request succeeds on a new connection with the new certificate.
func TestRenewalWhenServerSwitchesClientCA(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		ca := transporttest.NewCA("ca")
		srv, c, tr, prov := switchingServer(t, ca)
		first := tr.Source().Current().Serial()
		require.Equal(t, first, serial(t, c, memURL))

		newCA := transporttest.NewCA("new-ca")
		next := newCA.IssueClient("client", time.Hour)
		prov.set(next)
		srv.setClientCAs(newCA)
		srv.closeClientConnections()

		_, err := trySerial(c, memURL)
		he := handshakeError(t, err)
		assert.True(t, he.Renewing)
		assert.True(t, errclass.Neutral(err), "a breaker must not count it: %v", err)
		assert.Equal(t, errclass.TLS, errclass.Classify(err))
		assert.ErrorIs(t, err, errclass.ErrNetwork)
		assert.True(t, errclass.Unsent(err))
		op, ok := errors.AsType[*net.OpError](err)
		require.True(t, ok, "the cause is still reachable: %v", err)
		assert.Equal(t, "remote error", op.Op)
		assert.Contains(t, err.Error(), "tlsrotate: handshake failed (renewing connections): ")
		assert.Contains(t, err.Error(), "remote error: tls: ")

		assert.Equal(t, next.Serial(), serial(t, c, memURL), "the next request handshakes afresh with the renewed certificate")
		assert.EqualValues(t, 1, tr.Stats().Renewals[tlsrotate.TriggerHandshake])
		assert.EqualValues(t, 1, tr.Source().Stats().Updated, "the renewal re-read the source")
	})
}

// TestRenewalWhenMaterialStaysWrong: when the re-read brings nothing better,
// the fresh generation fails the same way and its failures count: the
// problem is real. Once a request succeeds again, a later rejection starts a
// renewal again.
func TestRenewalWhenMaterialStaysWrong(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		ca := transporttest.NewCA("ca")
		srv, c, tr, _ := switchingServer(t, ca)
		serial(t, c, memURL)
		srv.setClientCAs(transporttest.NewCA("new-ca"))
		srv.closeClientConnections()

		_, err := trySerial(c, memURL)
		assert.True(t, handshakeError(t, err).Renewing, "the first failure starts a renewal")
		for i := range 3 {
			_, err = trySerial(c, memURL)
			he := handshakeError(t, err)
			assert.False(t, he.Renewing, "failure %d of the fresh generation", i+2)
			assert.False(t, errclass.Neutral(err), "failure %d counts for a breaker", i+2)
			assert.Equal(t, errclass.TLS, errclass.Classify(err))
			assert.Contains(t, err.Error(), "tlsrotate: handshake failed: ")
		}
		assert.EqualValues(t, 1, tr.Stats().Renewals[tlsrotate.TriggerHandshake], "no renewal while the fresh generation fails")

		srv.setClientCAs(ca)
		serial(t, c, memURL)
		srv.setClientCAs(transporttest.NewCA("third-ca"))
		srv.closeClientConnections()
		_, err = trySerial(c, memURL)
		assert.True(t, handshakeError(t, err).Renewing, "after a success, a new rejection renews again")
		assert.EqualValues(t, 2, tr.Stats().Renewals[tlsrotate.TriggerHandshake])
	})
}

// TestRenewalRule: with many good connection attempts in the last 10
// seconds, one failure is below the 15 % share and counts; the third in a
// row renews. With no attempt in the window, the first failure is above it.
func TestRenewalRule(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		ca := transporttest.NewCA("ca")
		srv, c, tr, prov := switchingServer(t, ca)
		for range 20 {
			serial(t, c, memURL)
			c.CloseIdleConnections() // each request a connection attempt
		}
		newCA := transporttest.NewCA("new-ca")
		next := newCA.IssueClient("client", time.Hour)
		prov.set(next)
		srv.setClientCAs(newCA)
		for i := range 2 {
			_, err := trySerial(c, memURL)
			assert.False(t, handshakeError(t, err).Renewing, "failure %d: %d of %d attempts, in a row %d", i+1, i+1, 21+i, i+1)
		}
		_, err := trySerial(c, memURL)
		assert.True(t, handshakeError(t, err).Renewing, "the third failure in a row renews")
		assert.Equal(t, next.Serial(), serial(t, c, memURL))

		// The share alone: a minute on, the window is empty.
		time.Sleep(time.Minute)
		third := transporttest.NewCA("third-ca")
		prov.set(third.IssueClient("client", time.Hour))
		srv.setClientCAs(third)
		srv.closeClientConnections()
		_, err = trySerial(c, memURL)
		assert.True(t, handshakeError(t, err).Renewing, "one failure of one attempt is above 15 %%")
		assert.EqualValues(t, 2, tr.Stats().Renewals[tlsrotate.TriggerHandshake])
	})
}

// TestRenewalWhenServerMovesToANewCA: the client verifies servers with the
// source's CA bundle. The server moves to a certificate of a new CA; the
// bundle on disk already trusts it, but the watcher has not said so. The
// unknown authority starts a renewal whose re-read brings the new bundle.
func TestRenewalWhenServerMovesToANewCA(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		b := newBubble(t, false)
		caFile := b.dir + "/" + transporttest.CAFileName
		require.NoError(t, transporttest.WriteFileAtomic(caFile, b.ca.CertPEM))
		src, err := tlsrotate.NewFileSource(b.dir+"/"+transporttest.CertFileName, b.dir+"/"+transporttest.KeyFileName,
			tlsrotate.WithCAFile(caFile), tlsrotate.WithIssuerCAFile(caFile), tlsrotate.WithFSNotify(false), tlsrotate.WithPollInterval(time.Hour))
		require.NoError(t, err)
		defer src.Close()
		tr := tlsrotate.New(&http.Transport{DialContext: b.srv.ml.DialContext}, src)
		defer tr.CloseIdleConnections()
		c := &http.Client{Transport: tr}
		serial(t, c, memURL)

		newCA := transporttest.NewCA("new-ca")
		require.NoError(t, transporttest.WriteFileAtomic(caFile, append(append([]byte{}, b.ca.CertPEM...), newCA.CertPEM...)))
		b.srv.cert = newCA.IssueServer().Certificate
		b.srv.setClientCAs(b.ca)
		b.srv.closeClientConnections()

		_, err = trySerial(c, memURL)
		assert.True(t, handshakeError(t, err).Renewing)
		_, ok := errors.AsType[x509.UnknownAuthorityError](err)
		assert.True(t, ok, "got %v", err)
		_, err = trySerial(c, memURL)
		assert.NoError(t, err, "the re-read bundle trusts the server")
		assert.EqualValues(t, 2, src.Current().Generation)
	})
}

// TestHandshakeTimeoutStartsARenewal: a server that accepts connections and
// never answers the handshake. The timeout keeps its class, phase and
// sentinel, and is neutral while the renewal runs.
func TestHandshakeTimeoutStartsARenewal(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		ca := transporttest.NewCA("ca")
		ml := transporttest.NewMemListener()
		defer ml.Close()
		go silentServer(ml)
		src, _ := hourlySource(t, ca.IssueClient("client", time.Hour))
		tr := tlsrotate.New(&http.Transport{DialContext: ml.DialContext, TLSHandshakeTimeout: 2 * time.Second}, src)
		defer tr.CloseIdleConnections()
		req, err := http.NewRequest(http.MethodPost, memURL, http.NoBody)
		require.NoError(t, err)
		start := time.Now()
		_, err = tr.RoundTrip(req)
		assert.Equal(t, 2*time.Second, time.Since(start))
		he := handshakeError(t, err)
		assert.True(t, he.Renewing)
		assert.True(t, he.Timeout())
		assert.Equal(t, errclass.Timeout, errclass.Classify(err))
		assert.Equal(t, errclass.PhaseTLSHandshake, errclass.PhaseOf(err))
		assert.True(t, errclass.Unsent(err), "a POST that was never sent may be resent")
		assert.ErrorIs(t, err, errclass.ErrTimeout)
		assert.True(t, errclass.Neutral(err))
		assert.EqualValues(t, 1, tr.Stats().Renewals[tlsrotate.TriggerHandshake])
	})
}

// silentServer accepts connections on l and never writes to them, until l
// is closed; then it closes them.
func silentServer(l net.Listener) {
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for {
		c, err := l.Accept()
		if err != nil {
			return
		}
		conns = append(conns, c)
	}
}
