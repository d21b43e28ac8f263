package standard_test

import (
	"net/http"
	"testing"

	"github.com/rtchain/chain/standard"
)

// instant answers every request at once with an empty 200, without network.
type instant struct{}

func (instant) RoundTrip(req *http.Request) (*http.Response, error) {
	return &http.Response{StatusCode: http.StatusOK, Header: http.Header{}, Body: http.NoBody, Request: req}, nil
}

// BenchmarkStack is the cost of the whole standard stack (tracing off) over
// a transport that answers at once; bench/ compares it with the peers.
func BenchmarkStack(b *testing.B) {
	for _, bc := range []struct {
		name string
		rt   http.RoundTripper
	}{
		{"base", instant{}},
		{"standard", standard.New(standard.WithBase(instant{}))},
	} {
		b.Run(bc.name, func(b *testing.B) {
			req, _ := http.NewRequest(http.MethodGet, "http://127.0.0.1:1/", nil)
			b.ReportAllocs()
			for b.Loop() {
				resp, err := bc.rt.RoundTrip(req)
				if err != nil {
					b.Fatal(err)
				}
				resp.Body.Close()
			}
		})
	}
}
