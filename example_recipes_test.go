package chain_test

// The recipes of the README's "Recipes" section. Each ```go block there is
// the body of one function of this file (or of another Example of the
// repository), verbatim; TestReadmeRecipes fails when they drift apart.

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/rtchain/chain/breaker"
	"github.com/rtchain/chain/errclass"
	"github.com/rtchain/chain/retry"
	"github.com/rtchain/chain/standard"
	"github.com/rtchain/chain/timeouts"
	"github.com/rtchain/chain/tlsrotate"
	"github.com/rtchain/chain/transporttest"
)

// A 4xx or 5xx arrives with a nil error: FromResponse turns it into an
// error, and the error tells its class, its phase and a text safe to log.
func Example_handlingResponses() {
	api := transporttest.NewScript( // a fake API: overloaded three times, then silent
		transporttest.Step{Status: 503, Body: `{"error":"overloaded"}`},
		transporttest.Step{Status: 503, Body: `{"error":"overloaded"}`},
		transporttest.Step{Status: 503, Body: `{"error":"overloaded"}`},
		transporttest.Step{Delay: time.Hour},
	)
	client := standard.Client(standard.WithBase(api),
		standard.WithTimeouts(timeouts.WithResponseHeader(20*time.Millisecond)))

	for range 2 {
		resp, err := client.Get("https://api.example/v1/items?token=s3cr3t")
		if err = errclass.FromResponse(resp, err); err != nil { // closes the body of a 4xx/5xx
			switch errclass.Classify(err) {
			case errclass.Status:
				var se *errclass.StatusError
				errors.As(err, &se)
				fmt.Println("status", se.StatusCode, string(se.Body))
			case errclass.Timeout:
				fmt.Println("timeout in phase", errclass.PhaseOf(err))
			}
			fmt.Println("log:", errclass.Redact(err)) // no token in the text
			continue
		}
		resp.Body.Close()
	}
	// Output:
	// status 503 {"error":"overloaded"}
	// log: errclass: GET https://api.example/v1/items?token=REDACTED: 503 Service Unavailable
	// timeout in phase response_header
	// log: Get "https://api.example/v1/items?token=REDACTED": retry: gave up after 2 attempts (policy): timeouts: response_header: no response header within 20ms
}

// WithTracerProvider gives one client span per attempt, WithMeterProvider
// the duration metric and the chain.* metrics, WithLogger one summary
// record per request (and one record per attempt, Debug when it succeeds).
func Example_openTelemetry() {
	spans := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
	defer tp.Shutdown(context.Background())
	metrics := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(metrics))
	defer mp.Shutdown(context.Background())
	logger := slog.New(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == "time" || a.Key == "duration" || strings.HasSuffix(a.Key, "_id") {
				return slog.Attr{} // they change from run to run
			}
			return a
		},
	}))

	api := transporttest.NewScript(transporttest.Step{Status: 503}, transporttest.Step{Body: "ok"})
	client := standard.Client(standard.WithBase(api),
		standard.WithTracerProvider(tp), standard.WithMeterProvider(mp), standard.WithLogger(logger))
	resp, err := client.Get("https://api.example/v1/items?token=s3cr3t")
	if err != nil {
		fmt.Println(err)
		return
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()

	fmt.Println("spans:", len(spans.Ended()))
	var rm metricdata.ResourceMetrics
	metrics.Collect(context.Background(), &rm)
	var names []string
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			names = append(names, m.Name)
		}
	}
	slices.Sort(names)
	fmt.Println("metrics:", names)
	// Output:
	// level=WARN msg="tracing: the global OpenTelemetry propagator is the no-op default; injecting W3C TraceContext and Baggage"
	// level=WARN msg="http attempt" method=GET url="https://api.example/v1/items?token=REDACTED" status=503 attempt=0 error_type=503
	// level=INFO msg="http request" method=GET url="https://api.example/v1/items?token=REDACTED" status=200 attempts=2
	// spans: 2
	// metrics: [chain.retry.attempts http.client.request.duration]
}

// Settings from outside the program (a file, a flag, a control plane) are
// applied at run time, all or none; a bad value is an error, never a panic.
func Example_hotReload() {
	s := standard.New()
	defer s.CloseIdleConnections()

	err := s.Update(
		standard.WithBreaker( // the relaxed rule of the breaker package's doc
			breaker.WithFailureRate(0.25),
			breaker.WithConcurrentFailureRate(0.35),
			breaker.WithRecovery(0.2, 800*time.Millisecond, 0.2),
		),
		standard.WithRetry(retry.WithMaxAttempts(4)),
	)
	fmt.Println("update:", err)
	fmt.Println(s.Breaker().Update(breaker.WithFailureRate(1.5))) // a bad value: refused
	fmt.Println(s.Breaker().Update(breaker.WithFailureRate(0.1))) // a contradiction: refused

	for _, l := range s.Config().Layers { // fmt.Print(s.Config()) prints the whole table
		for _, st := range l.Settings {
			if st.Value != st.Default {
				fmt.Printf("%s: %s = %s (default %s)\n", l.Name, st.Option, st.Value, st.Default)
			}
		}
	}
	// Output:
	// update: <nil>
	// breaker: WithFailureRate(1.5): need a rate in [0, 1]
	// breaker: WithRecovery(0.2, 800ms, 0.2) conflicts with WithFailureRate(0.1): a recovery failure rate of 0.2 is looser than the trip rate 0.1
	// retry: retry.WithMaxAttempts = 4 (default 3)
	// breaker: breaker.WithFailureRate = 0.25 (default 0.05)
	// breaker: breaker.WithConcurrentFailureRate = 0.35 (default 0.15)
	// breaker: breaker.WithRecovery = 0.2, 800ms, 0.2 (default 0.01, 800ms, 0.03)
}

// A client certificate on disk, rewritten by a secret agent: the stack
// presents the new one from the next request on, and no request fails.
func Example_mtlsRotation() {
	ca := transporttest.NewCA("ca")
	srv := transporttest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, r.TLS.PeerCertificates[0].Subject.CommonName) // who connected
	}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{ca.IssueServer().Certificate},
		ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: ca.Pool()}
	srv.StartTLS()
	defer srv.Close()
	dir, _ := os.MkdirTemp("", "certs")
	defer os.RemoveAll(dir)
	transporttest.WritePair(dir, ca.IssueClient("svc-1", time.Hour))
	transporttest.WriteFileAtomic(filepath.Join(dir, "ca.crt"), ca.CertPEM)

	src, err := tlsrotate.NewFileSource(filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key"),
		tlsrotate.WithCAFile(filepath.Join(dir, "ca.crt")))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer src.Close()
	client := standard.Client(standard.WithTLS(src))
	defer client.CloseIdleConnections()
	get := func() {
		resp, err := client.Get(srv.URL)
		if err != nil {
			fmt.Println(errclass.Classify(err), errclass.Neutral(err))
			return
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		fmt.Println("server saw", string(b))
	}

	get()
	// The agent writes a new pair; the watcher sees it within ~100 ms, Reload at once.
	transporttest.WritePair(dir, ca.IssueClient("svc-2", time.Hour))
	src.Reload()
	get()
	// Output:
	// server saw svc-1
	// server saw svc-2
}

// An SDK that wants an *http.Transport: configure the one at the bottom
// through Base (or bring your own with WithBase), hand the SDK a client,
// and turn the SDK's own retries off, or they multiply chain's.
func Example_sdkTransport() {
	srv := transporttest.NewServer(transporttest.Reply{Status: http.StatusServiceUnavailable})
	defer srv.Close()
	s := standard.New(standard.WithRetry(retry.WithBackoff(time.Millisecond, time.Millisecond, retry.JitterNone)))
	defer s.CloseIdleConnections()
	s.Base().MaxConnsPerHost = 64 // Proxy, TLSClientConfig...: set them here, before the first request
	client := &http.Client{Transport: s}

	_, ok := client.Transport.(*http.Transport)
	fmt.Println("client.Transport is an *http.Transport:", ok) // so an SDK's SetProxy does nothing

	sdkGet := func(retries int) { // an SDK's own retry loop, as resty's SetRetryCount(retries)
		for range 1 + retries {
			resp, err := client.Get(srv.URL)
			if err == nil {
				resp.Body.Close()
			}
		}
	}
	sdkGet(2)
	fmt.Println("server hits, SDK retries on:", srv.Stats().Requests)
	sdkGet(0)
	fmt.Println("server hits, SDK retries off:", srv.Stats().Requests-9)
	// Output:
	// client.Transport is an *http.Transport: false
	// server hits, SDK retries on: 9
	// server hits, SDK retries off: 3
}

// A unit test of a client against a fake server, in a testing/synctest
// bubble: the server listens on a MemListener, so its one-minute silences
// pass on the bubble's fake clock, in no real time.
func TestGivesUpOnSilentServer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := transporttest.NewUnstartedServer(transporttest.Sequence(
			transporttest.Reply{Status: 503, Header: http.Header{"Retry-After": {"2"}}},
			transporttest.Reply{Delay: time.Minute}, // then silent, every time
		))
		srv.Listener = transporttest.NewMemListener()
		srv.Start()
		defer srv.Close()
		client := standard.Client(standard.WithBase(srv.Client().Transport))

		start := time.Now()
		_, err := client.Get(srv.URL)
		if errclass.PhaseOf(err) != errclass.PhaseResponseHeader {
			t.Fatalf("got %v, want a response header timeout", err)
		}
		if n := srv.Stats().Requests; n != 3 {
			t.Errorf("the server got %d requests, want 3 attempts", n)
		}
		t.Logf("gave up after %v on the fake clock", time.Since(start)) // 2 s + 2 × 10 s + backoff
	})
}
