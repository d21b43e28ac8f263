package tracing_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/rtchain/chain/errclass"
	"github.com/rtchain/chain/tracing"
)

// TestNoSecretAnywhere sends secrets through every path (success, status
// error, transport error, body error, timeout, retry events) and scans every
// span, event, status, metric attribute and log line for them.
func TestNoSecretAnywhere(t *testing.T) {
	r := newRig(t)
	// User info, a percent-encoded password (p@ss/SECRETP), long query
	// values and a 3-character one.
	const target = "http://user-SECRETU:p%40ss%2FSECRETP@127.0.0.1:1/p?token=SECRETQ1&sig=a%2FSECRETQ2&k=Zq7"
	leak := func(req *http.Request) string {
		pass, _ := req.URL.User.Password()
		return fmt.Sprintf("upstream %s said no to %q (cookie %q, proxy %q, key %q); url %s; k=%s, value %q; password %s or %s",
			req.Method, req.Header.Get("Authorization"), req.Header.Get("Cookie"),
			req.Header.Get("Proxy-Authorization"), req.Header.Get("X-Api-Key"), req.URL.String(),
			req.URL.Query().Get("k"), req.URL.Query().Get("k"), pass, url.QueryEscape(pass))
	}
	base := rtFunc(func(req *http.Request) (*http.Response, error) {
		switch req.URL.Path {
		case "/status":
			h := http.Header{"Set-Cookie": {"sid=SECRETSC"}}
			return &http.Response{StatusCode: 503, Header: h, Body: io.NopCloser(strings.NewReader(leak(req))), Request: req}, nil
		case "/error":
			return nil, errors.New(leak(req))
		case "/timeout":
			return nil, fmt.Errorf("%s: %w", leak(req), timeoutError{errclass.PhaseResponseHeader})
		case "/body":
			return &http.Response{StatusCode: 200, Body: io.NopCloser(errReader{errors.New(leak(req))}), Request: req}, nil
		}
		return &http.Response{StatusCode: 200, Body: io.NopCloser(strings.NewReader("ok")), Request: req}, nil
	})
	rt := tracing.NewRequestID(retryLoop{next: tracing.New(base, r.opts(tracing.WithRedactHeaders("x-api-key"), tracing.WithPhaseEvents())...), max: 2},
		tracing.WithLogger(r.logger), tracing.WithLogicalSpan(), tracing.WithTracerProvider(r.tp), tracing.WithRedactHeaders("x-api-key"))
	for _, path := range []string{"/ok", "/status", "/error", "/timeout", "/body"} {
		ctx, parent := r.tp.Tracer("test").Start(context.Background(), "parent")
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.Replace(target, "/p", path, 1), nil)
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer SECRETA")
		req.Header.Set("Cookie", "sid=SECRETC; other=SECRETC2")
		req.Header.Set("Proxy-Authorization", "Basic SECRETPA")
		req.Header.Set("X-Api-Key", "SECRETK")
		resp, err := rt.RoundTrip(req)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
		}
		parent.End()
	}

	var recorded []string
	for _, s := range r.spans.Ended() {
		recorded = append(recorded, s.Name(), s.Status().Description)
		for _, kv := range s.Attributes() {
			recorded = append(recorded, string(kv.Key)+"="+kv.Value.String())
		}
		for _, e := range s.Events() {
			recorded = append(recorded, e.Name)
			for _, kv := range e.Attributes {
				recorded = append(recorded, string(kv.Key)+"="+kv.Value.String())
			}
		}
	}
	for _, sm := range r.metrics(t).ScopeMetrics {
		for _, m := range sm.Metrics {
			recorded = append(recorded, metricAttrs(m)...)
		}
	}
	recorded = append(recorded, r.logText())
	all := strings.Join(recorded, "\n")
	require.Contains(t, all, "REDACTED", "nothing was redacted: the scan saw nothing")
	require.Contains(t, all, "upstream GET said no", "error texts were not recorded: the scan saw nothing")
	for _, secret := range []string{"SECRET", "Zq7", "p%40ss", "p@ss"} {
		assert.NotContains(t, all, secret, "a secret was recorded:\n%s", all)
	}
	assert.Len(t, r.summaries(t), 5, "the summaries were scanned too")
}

func metricAttrs(m metricdata.Metrics) []string {
	var sets []attribute.Set
	switch d := m.Data.(type) {
	case metricdata.Histogram[float64]:
		for _, p := range d.DataPoints {
			sets = append(sets, p.Attributes)
		}
	case metricdata.Sum[int64]:
		for _, p := range d.DataPoints {
			sets = append(sets, p.Attributes)
		}
	case metricdata.Gauge[int64]:
		for _, p := range d.DataPoints {
			sets = append(sets, p.Attributes)
		}
	}
	var out []string
	for _, s := range sets {
		out = append(out, m.Name+" "+s.Encoded(attribute.DefaultEncoder()))
	}
	return out
}
