package timeouts_test

import (
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/rtchain/chain/timeouts"
	"github.com/rtchain/chain/transporttest"
)

var (
	floorState *[26]*int
	floorReq   *http.Request
)

// instantBody is a one-byte body, reset by instant for every round trip.
type instantBody struct{ done bool }

func (b *instantBody) Read(p []byte) (int, error) {
	if b.done {
		return 0, io.EOF
	}
	b.done = true
	p[0] = 'x'
	return 1, nil
}

func (b *instantBody) Close() error { return nil }

// instant answers at once, reusing one response, so the benchmark measures
// only the layer above it (single goroutine only).
func instant() http.RoundTripper {
	resp := &http.Response{StatusCode: 200, Header: http.Header{}, ContentLength: 1}
	body := &instantBody{}
	return rtFunc(func(r *http.Request) (*http.Response, error) {
		body.done = false
		resp.Body = body
		resp.Request = r
		return resp, nil
	})
}

func roundTrips(b *testing.B, rt http.RoundTripper, url string) {
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		b.Fatal(err)
	}
	buf := make([]byte, 512)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		resp, err := rt.RoundTrip(req)
		if err != nil {
			b.Fatal(err)
		}
		for {
			if _, err := resp.Body.Read(buf); err != nil {
				if err != io.EOF {
					b.Fatal(err)
				}
				break
			}
		}
		resp.Body.Close()
	}
}

// BenchmarkMiddleware: the cost the middleware adds, with the header and
// body idle bounds on, over a transport that answers at once ("bare" is the
// baseline), and over a real loopback server for reference.
func BenchmarkMiddleware(b *testing.B) {
	opts := []timeouts.Option{timeouts.WithResponseHeader(3 * time.Second), timeouts.WithBodyIdle(30 * time.Second)}
	b.Run("instant/bare", func(b *testing.B) { roundTrips(b, instant(), "http://example.test/") })
	b.Run("instant/middleware", func(b *testing.B) {
		roundTrips(b, timeouts.New(instant(), opts...), "http://example.test/")
	})

	// The floor: the two allocations any such middleware makes (the
	// request copy that carries its context, and a 208-byte state), with
	// nothing else. On a loaded machine this alone exceeds 250ns.
	b.Run("instant/alloc-floor", func(b *testing.B) {
		req, _ := http.NewRequest(http.MethodGet, "http://example.test/", nil)
		ctx := req.Context()
		b.ReportAllocs()
		for b.Loop() {
			floorState = new([26]*int)
			floorReq = req.WithContext(ctx)
		}
	})

	srv := transporttest.NewSequence(transporttest.Reply{Body: "x"})
	defer srv.Close()
	tr := timeouts.NewTransport()
	tr.Proxy = nil
	defer tr.CloseIdleConnections()
	b.Run("loopback/bare", func(b *testing.B) { roundTrips(b, tr, srv.URL) })
	b.Run("loopback/middleware", func(b *testing.B) { roundTrips(b, timeouts.New(tr, opts...), srv.URL) })
}
