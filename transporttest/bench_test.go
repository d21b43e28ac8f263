package transporttest_test

import (
	"io"
	"net/http"
	"testing"

	"github.com/rtchain/chain/transporttest"
)

// BenchmarkScript measures one scripted round trip with its body read and
// closed: the cost a Script adds to a unit test of a RoundTripper layer.
func BenchmarkScript(b *testing.B) {
	s := transporttest.NewScript(transporttest.Step{Status: 200, Header: http.Header{"X": {"y"}}, Body: "ok"})
	req, _ := http.NewRequest(http.MethodGet, "http://example.test/", nil)
	b.ReportAllocs()
	for b.Loop() {
		resp, err := s.RoundTrip(req)
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
}

// BenchmarkSequence measures a loopback keep-alive round trip to a
// recording server, for comparison with a bare httptest server.
func BenchmarkSequence(b *testing.B) {
	srv := transporttest.NewServer(transporttest.Reply{Body: "ok"})
	defer srv.Close()
	c := srv.Client()
	b.ReportAllocs()
	for b.Loop() {
		resp, err := c.Get(srv.URL)
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
}
