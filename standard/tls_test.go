package standard_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/rtchain/chain"
	"github.com/rtchain/chain/breaker"
	"github.com/rtchain/chain/errclass"
	"github.com/rtchain/chain/standard"
	"github.com/rtchain/chain/tlsrotate"
	"github.com/rtchain/chain/transporttest"
)

// fileSource writes a client pair of ca (and ca's certificate as the CA
// bundle when withCA) to a directory and returns a file source on it.
func fileSource(t *testing.T, ca *transporttest.CA, withCA bool, opts ...tlsrotate.Option) (*tlsrotate.Source, string) {
	t.Helper()
	dir := t.TempDir()
	require.NoError(t, transporttest.WritePair(dir, ca.IssueClient("client", time.Hour)))
	if withCA {
		caFile := filepath.Join(dir, transporttest.CAFileName)
		require.NoError(t, os.WriteFile(caFile, ca.CertPEM, 0o600))
		opts = append(opts, tlsrotate.WithCAFile(caFile))
	}
	src, err := tlsrotate.NewFileSource(filepath.Join(dir, transporttest.CertFileName),
		filepath.Join(dir, transporttest.KeyFileName), opts...)
	require.NoError(t, err)
	t.Cleanup(func() { src.Close() })
	return src, dir
}

// mtlsServer starts a TLS server with a certificate of ca that requires a
// client certificate of ca, closed at the end of the test; a nil h answers
// with the serial of the client certificate.
func mtlsServer(t *testing.T, ca *transporttest.CA, h http.Handler) *transporttest.Server {
	t.Helper()
	if h == nil {
		h = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, clientSerial(r)) })
	}
	s := transporttest.NewUnstartedServer(h)
	s.TLS = &tls.Config{Certificates: []tls.Certificate{ca.IssueServer().Certificate},
		ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: ca.Pool()}
	s.StartTLS()
	t.Cleanup(s.Close)
	return s
}

// clientSerial returns the serial of the client certificate of r's
// connection.
func clientSerial(r *http.Request) string {
	if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
		return ""
	}
	return r.TLS.PeerCertificates[0].SerialNumber.String()
}

// body does req on rt and returns the body of its answer.
func body(t *testing.T, rt http.RoundTripper, url string) string {
	t.Helper()
	resp, err := rt.RoundTrip(mustGet(t, url))
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return string(b)
}

// TestWithTLS sends requests through the whole stack with a client
// certificate from a tlsrotate file source; after a rotation, new requests
// present the new certificate and none fails.
func TestWithTLS(t *testing.T) {
	t.Parallel()
	ca := transporttest.NewCA("test-ca")
	srv := mtlsServer(t, ca, nil)
	src, dir := fileSource(t, ca, true)

	s := standard.New(standard.WithTLS(src))
	defer s.CloseIdleConnections()
	require.NotNil(t, s.Base())
	require.Same(t, s.Base(), chain.Base(s), "Base is what chain.Base reaches: the template")
	require.Equal(t, src.Current().Serial(), body(t, s, srv.URL))

	second := ca.IssueClient("client", time.Hour)
	require.NoError(t, transporttest.WritePair(dir, second))
	require.NoError(t, src.Reload())
	require.Equal(t, second.Serial(), body(t, s, srv.URL), "the new certificate after rotation")
}

// TestBaseUnderWithTLSKeepsClientCertificate is the mTLS trap: under
// WithTLS, TLS settings made through Base(), even a whole new
// TLSClientConfig, are kept, and the client certificate is still presented
// (before, the server answered "certificate required").
func TestBaseUnderWithTLSKeepsClientCertificate(t *testing.T) {
	t.Parallel()
	ca := transporttest.NewCA("test-ca")
	srv := mtlsServer(t, ca, nil)
	src, dir := fileSource(t, ca, false) // no CA bundle: the roots come from Base()

	s := standard.New(standard.WithTLS(src))
	defer s.CloseIdleConnections()
	s.Base().TLSClientConfig = &tls.Config{RootCAs: ca.Pool(), MinVersion: tls.VersionTLS13}
	resp, err := s.RoundTrip(mustGet(t, srv.URL))
	require.NoError(t, err, "the client certificate is presented")
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	assert.Equal(t, src.Current().Serial(), string(b))
	assert.Equal(t, uint16(tls.VersionTLS13), resp.TLS.Version, "the settings made through Base apply")

	second := ca.IssueClient("client", time.Hour)
	require.NoError(t, transporttest.WritePair(dir, second))
	require.NoError(t, src.Reload())
	assert.Equal(t, second.Serial(), body(t, s, srv.URL), "and keep applying after a rotation")
}

// provider hands out a client certificate; the source asks it only hourly.
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

// renewalStack is a standard stack with WithTLS on an hourly source, a
// breaker that opens at the first counted failure, and metrics.
func renewalStack(t *testing.T, ca *transporttest.CA) (*standard.Stack, *provider, *sdkmetric.ManualReader) {
	t.Helper()
	prov := &provider{pair: ca.IssueClient("client", time.Hour)}
	src, err := tlsrotate.NewFuncSource(prov.load, tlsrotate.WithPollInterval(time.Hour), tlsrotate.WithName("svc"))
	require.NoError(t, err)
	t.Cleanup(func() { src.Close() })
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	t.Cleanup(func() { mp.Shutdown(context.Background()) })
	s := standard.New(standard.WithTLS(src), standard.WithMeterProvider(mp),
		standard.WithBreaker(breaker.WithMinRequests(2), breaker.WithFailureRate(0.3)))
	s.Base().TLSClientConfig = &tls.Config{RootCAs: ca.Pool()}
	t.Cleanup(s.CloseIdleConnections)
	return s, prov, reader
}

// TestWithTLSRenewsInsteadOfOpeningTheBreaker: the server moves to a new
// client CA while the source's provider already has a certificate of it but
// would not be asked for an hour. The first request fails with a bad
// certificate, the next succeeds on a renewed connection, the breaker stays
// closed and the renewal counter moves.
func TestWithTLSRenewsInsteadOfOpeningTheBreaker(t *testing.T) {
	t.Parallel()
	ca := transporttest.NewCA("ca")
	srv := mtlsServer(t, ca, nil)
	s, prov, reader := renewalStack(t, ca)
	host := srv.URL[len("https://"):]
	require.NotEmpty(t, body(t, s, srv.URL))

	newCA := transporttest.NewCA("new-ca")
	next := newCA.IssueClient("client", time.Hour)
	prov.set(next)
	srv.UpdateTLS(func(c *tls.Config) { c.ClientCAs = newCA.Pool() })
	srv.CloseClientConnections()

	_, err := s.RoundTrip(mustGet(t, srv.URL))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "remote error: tls: ")
	assert.True(t, errclass.Neutral(err), "the renewal's failure is neutral through the whole stack: %v", err)
	assert.Equal(t, errclass.TLS, errclass.Classify(err))
	assert.Equal(t, breaker.Closed, s.Breaker().State(host))

	assert.Equal(t, next.Serial(), body(t, s, srv.URL), "the next request succeeds on a renewed connection")
	assert.Equal(t, breaker.Closed, s.Breaker().State(host))
	assert.EqualValues(t, 1, s.TLS().Stats().Renewals[tlsrotate.TriggerHandshake])
	m := collect(t, reader)
	assert.EqualValues(t, 1, m.value(t, "chain.tls.renewals", tlsTrigger("handshake")))
	assert.EqualValues(t, 1, m.value(t, "chain.tls.reloads", tlsOutcome("updated")))
}

// TestWithTLSOpensTheBreakerWhenMaterialStaysWrong: when the re-read brings
// nothing better, the fresh connection fails the same way, that failure
// counts, and the breaker opens.
func TestWithTLSOpensTheBreakerWhenMaterialStaysWrong(t *testing.T) {
	t.Parallel()
	ca := transporttest.NewCA("ca")
	srv := mtlsServer(t, ca, nil)
	s, _, _ := renewalStack(t, ca)
	host := srv.URL[len("https://"):]
	require.NotEmpty(t, body(t, s, srv.URL))
	srv.UpdateTLS(func(c *tls.Config) { c.ClientCAs = transporttest.NewCA("new-ca").Pool() })
	srv.CloseClientConnections()

	_, err := s.RoundTrip(mustGet(t, srv.URL))
	require.Error(t, err)
	assert.True(t, errclass.Neutral(err), "the first failure starts a renewal")
	assert.Equal(t, breaker.Closed, s.Breaker().State(host))
	_, err = s.RoundTrip(mustGet(t, srv.URL))
	require.Error(t, err)
	assert.False(t, errclass.Neutral(err), "the fresh generation failed too: %v", err)
	assert.Equal(t, breaker.Open, s.Breaker().State(host), "the problem is real")
	_, err = s.RoundTrip(mustGet(t, srv.URL))
	var open *breaker.OpenError
	assert.True(t, errors.As(err, &open), "got %v", err)
}

// TestTLSMetrics reads the chain.tls.* metrics through an SDK ManualReader.
func TestTLSMetrics(t *testing.T) {
	t.Parallel()
	ca := transporttest.NewCA("test-ca")
	srv := mtlsServer(t, ca, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, clientSerial(r)+"\n")
		w.(http.Flusher).Flush()
		if r.URL.Path == "/hang" {
			<-r.Context().Done()
		}
	}))
	defer srv.Close()
	src, dir := fileSource(t, ca, true, tlsrotate.WithName("svc"), tlsrotate.WithFSNotify(false), tlsrotate.WithPollInterval(time.Hour))
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer mp.Shutdown(context.Background())
	s := standard.New(standard.WithTLS(src), standard.WithMeterProvider(mp))
	defer s.CloseIdleConnections()

	resp, err := s.RoundTrip(mustGet(t, srv.URL+"/hang"))
	require.NoError(t, err)
	_, err = bufio.NewReader(resp.Body).ReadString('\n')
	require.NoError(t, err)
	require.NoError(t, src.Reload(), "unchanged")
	require.NoError(t, transporttest.WritePair(dir, ca.IssueClient("client", time.Hour)))
	require.NoError(t, src.Reload(), "updated")
	require.NoError(t, os.WriteFile(filepath.Join(dir, transporttest.CertFileName), []byte("garbage"), 0o600))
	require.Error(t, src.Reload(), "rejected")
	body(t, s, srv.URL) // moves to the new generation; the hanging one drains

	m := collect(t, reader)
	validity := m.value(t, "chain.tls.validity", attribute.String("chain.tls.role", "outbound"))
	assert.InDelta(t, time.Hour.Seconds(), validity, 120)
	assert.EqualValues(t, src.Current().Leaf.NotAfter.Unix(), m.value(t, "chain.tls.not_after", attribute.KeyValue{}))
	assert.InDelta(t, time.Now().Unix(), m.value(t, "chain.tls.last_reload", attribute.KeyValue{}), 60)
	assert.EqualValues(t, 1, m.value(t, "chain.tls.rotations", attribute.KeyValue{}))
	assert.EqualValues(t, 1, m.value(t, "chain.tls.reloads", tlsOutcome("updated")))
	assert.EqualValues(t, 1, m.value(t, "chain.tls.reloads", tlsOutcome("unchanged")))
	assert.EqualValues(t, 1, m.value(t, "chain.tls.reloads", tlsOutcome("rejected")))
	assert.EqualValues(t, 1, m.value(t, "chain.tls.rejections", attribute.String("chain.tls.reason", "parse_error")))
	assert.EqualValues(t, 1, m.value(t, "chain.tls.renewals", tlsTrigger("rotation")))
	assert.EqualValues(t, 1, m.value(t, "chain.tls.connections.stale", attribute.KeyValue{}), "the hanging body's connection drains")
	assert.Equal(t, "svc", m.source, "every series names its source")

	resp.Body.Close()
	assert.Eventually(t, func() bool {
		return collect(t, reader).value(t, "chain.tls.connections.stale", attribute.KeyValue{}) == 0
	}, 5*time.Second, 10*time.Millisecond, "drained once the body is closed")
}

func tlsTrigger(v string) attribute.KeyValue { return attribute.String("chain.tls.trigger", v) }
func tlsOutcome(v string) attribute.KeyValue { return attribute.String("chain.tls.outcome", v) }

// tlsPoints are the data points of one collection.
type tlsPoints struct {
	rm     metricdata.ResourceMetrics
	source string // the chain.tls.source seen on every point ("" if they differ)
}

func collect(t *testing.T, r *sdkmetric.ManualReader) *tlsPoints {
	t.Helper()
	p := &tlsPoints{}
	require.NoError(t, r.Collect(context.Background(), &p.rm))
	return p
}

// value returns the sum of the points of the metric name whose attributes
// include attr (every point when attr is empty), failing when there is none.
func (p *tlsPoints) value(t *testing.T, name string, attr attribute.KeyValue) float64 {
	t.Helper()
	var total float64
	found := false
	add := func(set attribute.Set, v float64) {
		if attr.Key != "" {
			if got, ok := set.Value(attr.Key); !ok || got != attr.Value {
				return
			}
		}
		src, _ := set.Value("chain.tls.source")
		if p.source == "" {
			p.source = src.AsString()
		}
		found = true
		total += v
	}
	for _, sm := range p.rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name != name {
				continue
			}
			switch d := m.Data.(type) {
			case metricdata.Sum[int64]:
				for _, dp := range d.DataPoints {
					add(dp.Attributes, float64(dp.Value))
				}
			case metricdata.Gauge[int64]:
				for _, dp := range d.DataPoints {
					add(dp.Attributes, float64(dp.Value))
				}
			case metricdata.Gauge[float64]:
				for _, dp := range d.DataPoints {
					add(dp.Attributes, dp.Value)
				}
			default:
				t.Fatalf("metric %s is %T", name, m.Data)
			}
		}
	}
	require.True(t, found, "no point of %s with %v", name, attr)
	return total
}
