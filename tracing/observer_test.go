package tracing_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/rtchain/chain/errclass"
	"github.com/rtchain/chain/tracing"
)

// sums returns, per metric name, the value of each series keyed by its
// encoded attributes.
func sums(t *testing.T, r *rig) map[string]map[string]int64 {
	t.Helper()
	out := map[string]map[string]int64{}
	for _, sm := range r.metrics(t).ScopeMetrics {
		for _, m := range sm.Metrics {
			series := map[string]int64{}
			switch d := m.Data.(type) {
			case metricdata.Sum[int64]:
				for _, p := range d.DataPoints {
					series[p.Attributes.Encoded(attribute.DefaultEncoder())] = p.Value
				}
			case metricdata.Gauge[int64]:
				for _, p := range d.DataPoints {
					series[p.Attributes.Encoded(attribute.DefaultEncoder())] = p.Value
				}
			default:
				continue
			}
			out[m.Name] = series
		}
	}
	return out
}

func TestObserver(t *testing.T) {
	r := newRig(t)
	o := tracing.NewObserver(tracing.WithMeterProvider(r.mp), tracing.WithMaxKeys(10))
	ctx := context.Background()
	for i := range 100 {
		key := fmt.Sprintf("host-%d.example", i)
		o.BreakerTransition(key, "closed", "open")
		o.BreakerRejection(key)
		if i%2 == 0 {
			o.BreakerTransition(key, "open", "half-open")
		}
	}
	o.Retry(ctx, 1, time.Second, "status_503")
	o.Retry(ctx, 2, time.Second, "status_503")
	o.Retry(ctx, 1, time.Second, "reset")
	o.Timeout(ctx, errclass.PhaseBodyIdle)
	o.Timeout(ctx, errclass.Phase("made up"))
	notAfter := time.Unix(2000000000, 0)
	spanCtx, span := r.tp.Tracer("test").Start(ctx, "logical")
	o.CertRotated(spanCtx, 3, "1001", "1002", notAfter)
	span.End()
	ended := r.spans.Ended()
	require.Len(t, ended, 1)
	require.Len(t, ended[0].Events(), 1)
	ev := ended[0].Events()[0]
	assert.Equal(t, "credentials.rotated", ev.Name)
	assert.Equal(t, []string{"chain.tls.generation=3", "chain.tls.old_serial=1001", "chain.tls.new_serial=1002",
		"chain.tls.not_after=2000000000"}, emit(ev.Attributes))
	o.CertRejected("key_mismatch")
	o.CertRejected("/etc/secret/path: permission denied")

	got := sums(t, r)
	trans := got["chain.breaker.transitions"]
	keys := map[string]bool{}
	for enc := range trans {
		for _, kv := range decode(enc) {
			if kv[0] == "chain.breaker.key" {
				keys[kv[1]] = true
			}
		}
	}
	assert.Len(t, keys, 11, "10 keys and _OTHER")
	assert.True(t, keys["_OTHER"])
	var total int64
	for _, v := range trans {
		total += v
	}
	assert.Equal(t, int64(150), total)
	assert.Len(t, got["chain.breaker.rejections"], 11)
	assert.Equal(t, map[string]int64{"": 50}, got["chain.breaker.open"])
	assert.Equal(t, map[string]int64{"chain.retry.reason=status_503": 2, "chain.retry.reason=reset": 1}, got["chain.retry.attempts"])
	assert.Equal(t, map[string]int64{"chain.timeout.phase=body_idle": 1, "chain.timeout.phase=_OTHER": 1}, got["chain.timeouts"])
	assert.Equal(t, map[string]int64{"": 1}, got["chain.tls.rotations"])
	assert.Equal(t, map[string]int64{"": 2000000000}, got["chain.tls.not_after"])
	assert.Equal(t, map[string]int64{"chain.tls.reason=key_mismatch": 1, "chain.tls.reason=_OTHER": 1}, got["chain.tls.rejections"])
	for name := range got {
		assert.NotContains(t, name, "http.", "resilience metric in the http namespace")
	}
}

func TestNilObserver(t *testing.T) {
	var o *tracing.Observer
	require.NotPanics(t, func() {
		o.Retry(context.Background(), 1, 0, "x")
		o.BreakerTransition("k", "closed", "open")
		o.BreakerRejection("k")
		o.Timeout(context.Background(), errclass.PhaseTotal)
		o.CertRotated(context.Background(), 1, "1", "2", time.Now())
		o.CertRejected("expired")
	})
}

// decode splits an encoded attribute set "k1=v1,k2=v2".
func decode(enc string) [][2]string {
	var out [][2]string
	for _, part := range strings.Split(enc, ",") {
		if k, v, ok := strings.Cut(part, "="); ok {
			out = append(out, [2]string{k, v})
		}
	}
	return out
}

func emit(kvs []attribute.KeyValue) []string {
	var out []string
	for _, kv := range kvs {
		out = append(out, string(kv.Key)+"="+kv.Value.String())
	}
	return out
}
