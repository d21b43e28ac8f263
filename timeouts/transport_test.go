package timeouts_test

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rtchain/chain/errclass"
	"github.com/rtchain/chain/timeouts"
	"github.com/rtchain/chain/transporttest"
)

// The connections of NewTransport, used alone or under New, on fake time.

// requireTyped checks what NewTransport alone guarantees for a timeout that
// net/http wraps in its own error (the response header over HTTP/1): the
// *Error and its phase are found, and the sentinels match.
func requireTyped(t *testing.T, err error, phase errclass.Phase) *timeouts.Error {
	t.Helper()
	require.Error(t, err)
	var te *timeouts.Error
	require.ErrorAs(t, err, &te, "got %v", err)
	assert.Equal(t, phase, te.Phase)
	assert.ErrorIs(t, err, errclass.ErrTimeout)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Equal(t, errclass.Timeout, errclass.Classify(err))
	assert.Equal(t, phase, errclass.PhaseOf(err))
	return te
}

// Item 2: NewTransport alone bounds the response header on HTTP/1, over
// cleartext and TLS, with a typed error.
func TestNewTransportAloneHeader(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		start func(*testing.T, *transporttest.Server) *transporttest.Server
	}{
		{"cleartext", func(t *testing.T, s *transporttest.Server) *transporttest.Server { return inMemory(t, s, false) }},
		{"tls", inMemoryTLS},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				srv := tc.start(t, transporttest.NewUnstartedServer(transporttest.Reply{Delay: time.Minute}))
				c := &http.Client{Transport: memBase(t, srv, timeouts.WithResponseHeader(200*ms))}
				var err error
				took := elapsed(func() { _, err = get(t, nil, c, srv.URL) })
				te := requireTyped(t, err, errclass.PhaseResponseHeader)
				assert.Equal(t, 200*ms, te.Limit)
				assert.Equal(t, 200*ms, took)
				assert.Contains(t, err.Error(), "timeouts: response_header: no response header within 200ms")
			})
		})
	}
}

// Item 2: the TLS handshake bound of NewTransport alone is typed, over TLS
// 1.3 and 1.2.
func TestNewTransportAloneTLSHandshake(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		srv := inMemoryTLS(t, transporttest.NewUnstartedServer(transporttest.Reply{Fault: transporttest.Blackhole}))
		c := &http.Client{Transport: memBase(t, srv, timeouts.WithTLSHandshake(300*ms))}
		var err error
		took := elapsed(func() { _, err = get(t, nil, c, srv.URL) })
		te := requireTimeout(t, err, errclass.PhaseTLSHandshake)
		assert.Equal(t, 300*ms, te.Limit)
		assert.Equal(t, 300*ms, took)
		assert.True(t, errclass.Unsent(err))
	})
}

// The end of the handshake is found in TLS 1.3 and 1.2: the handshake bound
// does not go on running into the response (the header bound fires, not
// the handshake's), and a connection that sits idle in the pool for longer
// than either bound is neither cut nor reported.
func TestNewTransportHandshakeEnds(t *testing.T) {
	t.Parallel()
	for _, v := range []uint16{tls.VersionTLS13, tls.VersionTLS12} {
		t.Run(tls.VersionName(v), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					if r.URL.Path == "/slow" {
						select {
						case <-r.Context().Done():
						case <-time.After(time.Minute):
						}
						return
					}
					io.WriteString(w, "ok")
				})
				srv := transporttest.NewUnstartedServer(h)
				srv.TLS = &tls.Config{MaxVersion: v}
				inMemoryTLS(t, srv)
				c := &http.Client{Transport: memBase(t, srv, timeouts.WithTLSHandshake(time.Second),
					timeouts.WithResponseHeader(3*time.Second))}
				for range 2 {
					resp, err := get(t, nil, c, srv.URL)
					require.NoError(t, err)
					b, _ := io.ReadAll(resp.Body)
					resp.Body.Close()
					assert.Equal(t, "ok", string(b))
					assert.Equal(t, v, resp.TLS.Version)
					time.Sleep(10 * time.Second)
				}
				assert.Equal(t, 1, srv.Stats().Connections, "the idle connection survived")
				_, err := get(t, nil, c, srv.URL+"/slow")
				te := requireTyped(t, err, errclass.PhaseResponseHeader)
				assert.Equal(t, 3*time.Second, te.Limit)
			})
		})
	}
}

// Over HTTP/2 the connections leave the header bound alone (a connection
// carries many streams): a stream whose body pauses for longer than the
// header bound, while the client writes to the connection (window updates),
// is not cut. If net/http's HTTP/2 client stopped setting write deadlines,
// the connection would take it for HTTP/1 and this would fail.
func TestNewTransportH2NotCut(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			chunk := make([]byte, 64<<10)
			for range 8 {
				w.Write(chunk)
				w.(http.Flusher).Flush()
				time.Sleep(500 * ms)
			}
		})
		srv := inMemory(t, transporttest.NewUnstartedServer(h), true)
		c := &http.Client{Transport: memBase(t, srv, timeouts.WithResponseHeader(200*ms))}
		resp, err := get(t, nil, c, srv.URL)
		require.NoError(t, err)
		defer resp.Body.Close()
		assert.Equal(t, 2, resp.ProtoMajor)
		n, err := io.Copy(io.Discard, resp.Body)
		require.NoError(t, err)
		assert.Equal(t, int64(8*64<<10), n)
	})
}

// Item 2, one enforcer per bound: under New, the connection leaves the
// header bound to the exchange, whichever bound is shorter; with New's
// header bound off, the connection's applies.
func TestHeaderBoundEnforcedOnce(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name          string
		conn, layer   time.Duration
		want          time.Duration
		fromTransport bool
	}{
		{"layer shorter", 5 * time.Second, 200 * ms, 200 * ms, false},
		{"layer longer", 200 * ms, 2 * time.Second, 2 * time.Second, false},
		{"layer off", 200 * ms, 0, 200 * ms, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				srv := inMemoryTLS(t, transporttest.NewUnstartedServer(transporttest.Reply{Delay: time.Minute}))
				b := memBase(t, srv, timeouts.WithResponseHeader(tc.conn))
				c := &http.Client{Transport: timeouts.New(b, timeouts.WithResponseHeader(tc.layer))}
				var err error
				took := elapsed(func() { _, err = get(t, nil, c, srv.URL) })
				te := requireTimeout(t, err, errclass.PhaseResponseHeader)
				assert.Equal(t, tc.want, te.Limit)
				assert.GreaterOrEqual(t, took, tc.want)
				assert.LessOrEqual(t, took, tc.want+tc.want/8)
				assert.Equal(t, tc.fromTransport, te.Unwrap() != nil, "the connection's error has a cause: %v", err)
				// The next request, on a new connection, without the layer:
				// the connection bounds it again.
				if tc.conn < time.Second {
					_, err = get(t, nil, &http.Client{Transport: b}, srv.URL)
					te = requireTyped(t, err, errclass.PhaseResponseHeader)
					assert.Equal(t, tc.conn, te.Limit)
				}
			})
		})
	}
}

// T-2: the handshake bound frees the connection slot even though the caller
// gave up first: with one connection per host, a later request dials anew.
func TestHandshakeBoundFreesSlot(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		srv := inMemoryTLS(t, transporttest.NewUnstartedServer(transporttest.Reply{Fault: transporttest.Blackhole}))
		b := memBase(t, srv, timeouts.WithTLSHandshake(300*ms))
		b.MaxConnsPerHost = 1
		c := &http.Client{Transport: timeouts.New(b)}
		for range 2 {
			ctx, cancel := context.WithTimeout(context.Background(), 100*ms)
			_, err := get(t, ctx, c, srv.URL)
			cancel()
			requireCallerDeadline(t, err)
			time.Sleep(400 * ms) // the background handshake ends by 300ms
		}
		assert.Equal(t, 2, srv.Stats().Connections, "the second request dialed")
	})
}

// T-3: a resolver that never answers fails with Phase dns.
func TestDNSHang(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		c := &http.Client{Transport: timeouts.NewTransport(timeouts.WithDNS(200*ms), timeouts.WithResolver(hangingResolver{}))}
		var err error
		took := elapsed(func() { _, err = get(t, nil, c, "http://never.invalid:8080/") })
		te := requireTimeout(t, err, errclass.PhaseDNS)
		assert.Equal(t, 200*ms, te.Limit)
		assert.Equal(t, 200*ms, took)
		var op *net.OpError
		assert.ErrorAs(t, err, &op, "the dial error is kept")
	})
}

// hangingResolver never answers.
type hangingResolver struct{}

func (hangingResolver) LookupNetIP(ctx context.Context, _, _ string) ([]netip.Addr, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}

// fixedResolver answers every name with its addresses.
type fixedResolver []netip.Addr

func (r fixedResolver) LookupNetIP(context.Context, string, string) ([]netip.Addr, error) {
	return r, nil
}

// Item 6, Happy Eyeballs: the first address (IPv4) never answers; the
// second (IPv6) is raced after the fallback delay and connects, long before
// the connect bound. With the race off, the connect bound runs out first.
func TestHappyEyeballs(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		fallback time.Duration
		want     time.Duration
	}{
		{"default", 0, 300 * ms},
		{"50ms", 50 * ms, 50 * ms},
		{"off", -1, 2 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				srv := inMemory(t, transporttest.NewUnstartedServer(transporttest.Reply{Body: "ok"}), false)
				ml := srv.Listener.(*transporttest.MemListener)
				var mu sync.Mutex
				var dialed []string
				raw := func(ctx context.Context, network, addr string) (net.Conn, error) {
					mu.Lock()
					dialed = append(dialed, addr)
					mu.Unlock()
					if addr == "192.0.2.1:80" { // blackholed: only the connect bound ends it
						ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
						defer cancel()
						<-ctx.Done()
						return nil, &net.OpError{Op: "dial", Net: network, Err: ctx.Err()}
					}
					return ml.DialContext(ctx, network, addr)
				}
				b := timeouts.NewTransportDialing(raw, timeouts.WithConnect(2*time.Second),
					timeouts.WithResolver(fixedResolver{netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("::1")}),
					timeouts.WithDialer(&net.Dialer{FallbackDelay: tc.fallback}))
				defer b.CloseIdleConnections()
				var err error
				var resp *http.Response
				took := elapsed(func() { resp, err = get(t, nil, &http.Client{Transport: b}, "http://example.test/") })
				require.NoError(t, err)
				resp.Body.Close()
				assert.Equal(t, tc.want, took)
				mu.Lock()
				defer mu.Unlock()
				assert.Equal(t, []string{"192.0.2.1:80", "[::1]:80"}, dialed)
			})
		})
	}
}

// The dialer: IP literals skip resolution; a refused connection keeps its
// class and matches ErrNetwork; a name that does not exist is DNS, not a
// timeout; an empty answer is an error.
func TestDialerErrors(t *testing.T) {
	t.Parallel()
	addr := transporttest.DeadAddr()
	tr := timeouts.NewTransport()
	_, err := tr.DialContext(context.Background(), "tcp", addr)
	require.Error(t, err)
	assert.Equal(t, errclass.Refused, errclass.Classify(err))
	assert.ErrorIs(t, err, errclass.ErrNetwork)
	assert.True(t, errclass.Unsent(err))

	noSuch := &net.Resolver{PreferGo: true, Dial: func(context.Context, string, string) (net.Conn, error) {
		return nil, errors.New("no dns here")
	}}
	tr = timeouts.NewTransport(timeouts.WithResolver(noSuch))
	_, err = tr.DialContext(context.Background(), "tcp", "nothing.invalid:80")
	require.Error(t, err)
	var te *timeouts.Error
	assert.False(t, errors.As(err, &te), "not a timeout: %v", err)
	var dnsErr *net.DNSError
	assert.ErrorAs(t, err, &dnsErr)

	tr = timeouts.NewTransport(timeouts.WithResolver(fixedResolver{}))
	_, err = tr.DialContext(context.Background(), "tcp", "empty.test:80")
	assert.ErrorAs(t, err, &dnsErr)
	tr = timeouts.NewTransport(timeouts.WithResolver(fixedResolver{netip.MustParseAddr("::1")}))
	_, err = tr.DialContext(context.Background(), "tcp4", "v6only.test:80")
	assert.ErrorContains(t, err, "no suitable address")

	_, err = tr.DialContext(context.Background(), "tcp", "no-port")
	assert.Error(t, err)
}
