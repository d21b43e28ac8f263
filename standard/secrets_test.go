package standard_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/rtchain/chain/errclass"
	"github.com/rtchain/chain/standard"
	"github.com/rtchain/chain/tracing"
	"github.com/rtchain/chain/transporttest"
)

// TestNoSecretAnywhere plants an Authorization header, a cookie, user
// info with a percent-encoded password and query values (one of 3
// characters) in requests through the whole stack, telemetry on: a retried
// 503, a refused connection, a success. None reaches a span, a span event, a
// metric, a log record or errclass.Redact(err).Error().
func TestNoSecretAnywhere(t *testing.T) {
	t.Parallel()
	secrets := []string{"SECRET", "Zq7", "p%40ss", "p@ss"}
	srv := transporttest.NewServer(transporttest.Sequence(transporttest.Reply{Status: http.StatusServiceUnavailable}, transporttest.Reply{Body: "ok"}))
	defer srv.Close()
	u, err := url.Parse(srv.URL)
	require.NoError(t, err)
	tel := newTelemetry(t)
	var logs logBuffer
	c := standard.Client(append(tel.options(), fast, standard.WithLogger(newLogger(&logs)),
		standard.WithTracing(tracing.WithLogicalSpan(), tracing.WithPhaseEvents()))...)
	defer c.CloseIdleConnections()

	var redacted []string
	for _, host := range []string{u.Host, transporttest.DeadAddr()} {
		target := "http://user-SECRETU:p%40ss%2FSECRETP@" + host + "/p?token=SECRETQ&k=Zq7"
		req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, target, nil)
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer SECRETA")
		req.Header.Set("Cookie", "sid=SECRETC")
		resp, err := c.Do(req)
		if err != nil {
			require.True(t, errors.Is(err, errclass.ErrNetwork))
			raw := err.Error()
			require.Contains(t, raw, "SECRETQ", "net/http prints the query: the test would prove nothing")
			redacted = append(redacted, errclass.Redact(err).Error())
			continue
		}
		resp.Body.Close()
	}
	require.Len(t, redacted, 1, "the refused request's error")

	var recorded []string
	for _, s := range tel.spans.GetSpans() {
		recorded = append(recorded, s.Name, s.Status.Description)
		for _, kv := range s.Attributes {
			recorded = append(recorded, string(kv.Key)+"="+kv.Value.String())
		}
		for _, e := range s.Events {
			recorded = append(recorded, e.Name)
			for _, kv := range e.Attributes {
				recorded = append(recorded, string(kv.Key)+"="+kv.Value.String())
			}
		}
	}
	var rm metricdata.ResourceMetrics
	require.NoError(t, tel.reader.Collect(context.Background(), &rm))
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			for _, set := range attributeSets(m) {
				recorded = append(recorded, m.Name+" "+set.Encoded(attribute.DefaultEncoder()))
			}
		}
	}
	recorded = append(recorded, logs.String())
	recorded = append(recorded, redacted...)
	all := strings.Join(recorded, "\n")
	require.Contains(t, all, "REDACTED", "nothing was redacted: the scan saw nothing")
	require.Contains(t, all, "chain.retry.attempts", "the retry metric was scanned")
	require.Contains(t, all, `"msg":"http request"`, "the summaries were scanned")
	for _, s := range secrets {
		assert.NotContains(t, all, s, "a secret was recorded:\n%s", all)
	}
}

func attributeSets(m metricdata.Metrics) []attribute.Set {
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
	return sets
}
