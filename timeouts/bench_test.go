package timeouts_test

import (
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/rtchain/chain/timeouts"
	"github.com/rtchain/chain/transporttest"
)

// floorState is the size of an exchange: its own 176 bytes and the request
// copy.
type floorState struct {
	_   [22]*int
	req http.Request
}

var floor *floorState

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
// only the layer above it (single goroutine only). With askDone it asks the
// request's context for Done, as net/http does.
func instant(askDone bool) http.RoundTripper {
	resp := &http.Response{StatusCode: 200, Header: http.Header{}, ContentLength: 1}
	body := &instantBody{}
	return rtFunc(func(r *http.Request) (*http.Response, error) {
		if askDone {
			_ = r.Context().Done()
		}
		body.done = false
		resp.Body = body
		resp.Request = r
		return resp, nil
	})
}

func roundTrip(rt http.RoundTripper, req *http.Request, buf []byte) error {
	resp, err := rt.RoundTrip(req)
	if err != nil {
		return err
	}
	for {
		if _, err := resp.Body.Read(buf); err != nil {
			if err != io.EOF {
				return err
			}
			break
		}
	}
	return resp.Body.Close()
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
		if err := roundTrip(rt, req, buf); err != nil {
			b.Fatal(err)
		}
	}
}

var benchOpts = []timeouts.Option{timeouts.WithResponseHeader(3 * time.Second), timeouts.WithBodyIdle(30 * time.Second)}

// BenchmarkMiddleware: the cost New adds, with the header and body idle
// bounds on, over a transport that answers at once ("bare" is the baseline),
// and over a real loopback server for reference.
func BenchmarkMiddleware(b *testing.B) {
	b.Run("instant/bare", func(b *testing.B) { roundTrips(b, instant(false), "http://example.test/") })
	b.Run("instant/middleware", func(b *testing.B) {
		roundTrips(b, timeouts.New(instant(false), benchOpts...), "http://example.test/")
	})
	// The floor: the allocation any such middleware makes (its state and
	// the request copy that carries its context, together), with nothing
	// else.
	b.Run("instant/alloc-floor", func(b *testing.B) {
		req, _ := http.NewRequest(http.MethodGet, "http://example.test/", nil)
		ctx := req.Context()
		b.ReportAllocs()
		for b.Loop() {
			floor = new(floorState)
			floor.req = *req.WithContext(ctx)
		}
	})

	srv := transporttest.NewServer(transporttest.Reply{Body: "x"})
	defer srv.Close()
	tr := timeouts.NewTransport()
	tr.Proxy = nil
	defer tr.CloseIdleConnections()
	b.Run("loopback/bare", func(b *testing.B) { roundTrips(b, tr, srv.URL) })
	b.Run("loopback/middleware", func(b *testing.B) { roundTrips(b, timeouts.New(tr, benchOpts...), srv.URL) })
}

// BenchmarkTotal: the cost Total adds over a transport that answers at
// once and asks for Done (as net/http does).
func BenchmarkTotal(b *testing.B) {
	b.Run("instant/bare", func(b *testing.B) { roundTrips(b, instant(true), "http://example.test/") })
	b.Run("instant/total", func(b *testing.B) {
		roundTrips(b, timeouts.Total(time.Minute)(instant(true)), "http://example.test/")
	})
}

// New costs at most 1 allocation per round trip (its state, which holds the
// request copy) and Total at most 2 (the same, and the Done channel that
// instant asks for); AllocsPerRun rounds down the rare timer a sync.Pool
// drops. Round 1 had 2 and 3 (the request copies were allocations of their
// own).
func TestAllocations(t *testing.T) {
	req, _ := http.NewRequest(http.MethodGet, "http://example.test/", nil)
	buf := make([]byte, 512)
	for _, tc := range []struct {
		name string
		rt   http.RoundTripper
		max  float64
	}{
		{"New", timeouts.New(instant(false), benchOpts...), 1},
		{"Total", timeouts.Total(time.Minute)(instant(true)), 2},
	} {
		allocs := testing.AllocsPerRun(1000, func() {
			if err := roundTrip(tc.rt, req, buf); err != nil {
				t.Fatal(err)
			}
		})
		assert.LessOrEqual(t, allocs, tc.max, tc.name)
	}
}
