package standard_test

import (
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rtchain/chain/limit"
	"github.com/rtchain/chain/standard"
	"github.com/rtchain/chain/transporttest"
)

// documented is the order of the layers of DESIGN.md's picture: request id,
// total, retry, hedge (opt-in), limit (opt-in), breaker, spans, timeouts,
// then the base.
var documented = []string{"request_id", "total", "retry", "hedge", "limit", "breaker", "spans", "timeouts"}

// layers are the Layer constants, in the documented order.
var layers = []standard.Layer{standard.LayerRequestID, standard.LayerTotal, standard.LayerRetry,
	standard.LayerHedge, standard.LayerLimit, standard.LayerBreaker, standard.LayerSpans, standard.LayerTimeouts}

// mark is a middleware that notes its name when a request passes, and
// unwraps to its next layer.
type mark struct {
	name  string
	trail *[]string
	next  http.RoundTripper
}

func (m *mark) RoundTrip(r *http.Request) (*http.Response, error) {
	*m.trail = append(*m.trail, m.name)
	return m.next.RoundTrip(r)
}

func (m *mark) Unwrap() http.RoundTripper { return m.next }

func marker(name string, trail *[]string) func(http.RoundTripper) http.RoundTripper {
	return func(next http.RoundTripper) http.RoundTripper { return &mark{name: name, trail: trail, next: next} }
}

// TestOrderOfSlots: with every place set by WithLayer, a request passes the
// places in the documented order.
func TestOrderOfSlots(t *testing.T) {
	t.Parallel()
	var names []string
	for _, l := range layers {
		names = append(names, l.String())
	}
	require.Equal(t, documented, names, "the Layer constants")

	var trail []string
	opts := []standard.Option{standard.WithBase(transporttest.NewScript(transporttest.Step{}))}
	for _, l := range layers {
		opts = append(opts, standard.WithLayer(l, marker(l.String(), &trail)))
	}
	resp, err := standard.New(opts...).RoundTrip(mustGet(t, "http://svc.test/"))
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, documented, trail)
}

// TestOrderOfDefaultStack walks the stack New builds with every opt-in
// layer on from top to bottom.
func TestOrderOfDefaultStack(t *testing.T) {
	t.Parallel()
	tel := newTelemetry(t)
	s := standard.New(append(tel.options(), standard.WithTotal(time.Minute), standard.WithHedge(), standard.WithLimit())...)
	defer s.CloseIdleConnections()
	kinds := map[string]string{
		"*tracing.RequestIDTransport": "request_id", "*timeouts.total": "total", "*retry.Transport": "retry",
		"*hedge.Transport": "hedge", "*limit.Transport": "limit", "*breaker.Transport": "breaker",
		"*tracing.Transport": "spans", "*timeouts.Transport": "timeouts", "*http.Transport": "base",
	}
	var got []string
	for rt := s.Unwrap(); rt != nil; {
		name := fmt.Sprintf("%T", rt)
		if kind, ok := kinds[name]; ok {
			got = append(got, kind)
		} else {
			require.True(t, strings.HasPrefix(name, "*standard.swap[") || name == "*hedge.split", "unexpected layer %s", name)
		}
		u, ok := rt.(interface{ Unwrap() http.RoundTripper })
		if !ok {
			break
		}
		rt = u.Unwrap()
	}
	assert.Equal(t, append(documented, "base"), got)

	var states []string
	for _, l := range s.Config().Layers {
		states = append(states, l.Name+"="+l.State)
	}
	assert.Equal(t, []string{"request_id=on", "total=on", "retry=on", "hedge=on", "limit=on",
		"breaker=on", "spans=on", "timeouts=on", "base=timeouts.NewTransport"}, states, "Config lists them in order")
}

// TestOrderOfPackageDoc: the package documentation lists the layers in the
// documented order.
func TestOrderOfPackageDoc(t *testing.T) {
	t.Parallel()
	src, err := os.ReadFile("doc.go")
	require.NoError(t, err)
	_, section, ok := strings.Cut(string(src), "// # The layers, outermost first")
	require.True(t, ok)
	section, _, _ = strings.Cut(section, "// # Defaults")
	names := map[string]string{"tracing.RequestID": "request_id", "timeouts.Total": "total", "tracing.Spans": "spans"}
	var got []string
	for _, line := range strings.Split(section, "\n") {
		rest, ok := strings.CutPrefix(line, "//\t")
		if !ok || rest == "" || rest[0] == ' ' {
			continue // not the first line of an entry
		}
		name, _, _ := strings.Cut(rest, " ")
		if n, ok := names[name]; ok {
			name = n
		}
		got = append(got, name)
	}
	assert.Equal(t, append(documented, "tlsrotate", "base"), got)
}

// TestWithLimitBelowRetryAboveBreaker: an attempt the limit sheds goes back
// to retry, which does not retry it, and the breaker, below, never sees
// it.
func TestWithLimitBelowRetryAboveBreaker(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	entered := make(chan struct{}, 1)
	base := rtFunc(func(r *http.Request) (*http.Response, error) {
		entered <- struct{}{}
		<-release
		return &http.Response{StatusCode: http.StatusOK, Body: http.NoBody, Request: r}, nil
	})
	s := standard.New(standard.WithBase(base), fast, standard.WithLimit(limit.WithMaxInFlight(1)))
	require.NotNil(t, s.Limit())
	done := make(chan error, 1)
	go func() {
		resp, err := s.RoundTrip(mustGet(t, "http://svc.test/"))
		if err == nil {
			resp.Body.Close()
		}
		done <- err
	}()
	<-entered
	_, err := s.RoundTrip(mustGet(t, "http://svc.test/"))
	var le *limit.Error
	require.ErrorAs(t, err, &le, "shed at once, not retried")
	assert.Equal(t, 1, s.Limit().Stats("svc.test").InFlight)
	close(release)
	require.NoError(t, <-done)
	assert.Len(t, entered, 0, "the base was called once")
	assert.Equal(t, 1, s.Breaker().Window("svc.test").Requests, "the breaker counted the call sent, and only it")
	assert.Nil(t, standard.New().Limit(), "no limit layer without WithLimit")
}
