package tracing_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/rtchain/chain/tracing"
)

func keys(kvs []attribute.KeyValue) []string {
	var out []string
	for _, kv := range kvs {
		out = append(out, string(kv.Key))
	}
	sort.Strings(out)
	return out
}

// TestAttributeKeys pins the exact attribute keys of an attempt span and of
// its measurement (semantic conventions v1.43 keys, plus chain.*).
func TestAttributeKeys(t *testing.T) {
	r := newRig(t)
	srv, _ := recordingServer(t, 200, 503)
	rt := tracing.NewRequestID(tracing.New(srv.Client().Transport, r.opts()...))
	for range 2 {
		resp := get(t, context.Background(), rt, srv.URL+"/a?b=c")
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
	}
	spans := r.spans.Ended()
	require.Len(t, spans, 2)
	common := []string{"chain.request.id", "http.request.method", "http.response.status_code",
		"network.peer.address", "network.peer.port", "network.protocol.version",
		"server.address", "server.port", "url.full"}
	assert.Equal(t, common, keys(spans[0].Attributes()))
	assert.Equal(t, sortCopy(append([]string{"error.type"}, common...)), keys(spans[1].Attributes()))
	assert.Equal(t, trace.SpanKindClient, spans[0].SpanKind())
	u, _ := spanAttr(spans[0], "url.full")
	assert.Equal(t, srv.URL+"/a?b=REDACTED", u.AsString())

	points := r.histogram(t)
	require.Len(t, points, 2)
	for _, p := range points {
		got := keys(p.Attributes.ToSlice())
		want := []string{"http.request.method", "http.response.status_code", "network.protocol.name",
			"network.protocol.version", "server.address", "server.port"}
		if p.Attributes.HasValue("error.type") {
			want = sortCopy(append(want, "error.type"))
		}
		assert.Equal(t, want, got)
	}
}

func sortCopy(s []string) []string {
	out := append([]string(nil), s...)
	sort.Strings(out)
	return out
}

func TestConcurrentUse(t *testing.T) {
	r := newRig(t)
	srv, _ := recordingServer(t, 503, 200)
	rt := stack(r, srv.Client().Transport)
	ctx, parent := r.tp.Tracer("test").Start(context.Background(), "parent")
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			for range 10 {
				req, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
				if !assert.NoError(t, err) {
					return
				}
				resp, err := rt.RoundTrip(req)
				if assert.NoError(t, err) {
					_, _ = io.Copy(io.Discard, resp.Body)
					_ = resp.Body.Close()
				}
			}
		})
	}
	wg.Wait()
	parent.End()
	var client int
	for _, s := range r.spans.Ended() {
		if s.SpanKind() == trace.SpanKindClient {
			client++
		}
	}
	assert.GreaterOrEqual(t, client, 200)
	assert.Equal(t, client, len(r.logRecords(t)), "one log record per span")
	var count uint64
	for _, p := range r.histogram(t) {
		count += p.Count
	}
	assert.Equal(t, uint64(client), count, "one measurement per span")
}

func TestProtocolVersionHTTP2(t *testing.T) {
	r := newRig(t)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "ok")
	}))
	srv.EnableHTTP2 = true
	srv.StartTLS()
	defer srv.Close()
	resp := get(t, context.Background(), tracing.New(srv.Client().Transport, r.opts()...), srv.URL)
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	require.Equal(t, 2, resp.ProtoMajor)
	spans := r.spans.Ended()
	require.Len(t, spans, 1)
	v, _ := spanAttr(spans[0], "network.protocol.version")
	assert.Equal(t, "2", v.AsString())
	port, _ := spanAttr(spans[0], "server.port")
	assert.Positive(t, port.AsInt64())
}
