package bench

import (
	"net/http"
	"strings"
	"testing"

	"github.com/rtchain/chain/breaker"
)

// instantBase answers at once: with http.NoBody, or with a fresh two-byte
// body per call (whose allocations the nethttp row shows, to subtract).
func instantBase(withBody bool) http.RoundTripper {
	noBody := &http.Response{StatusCode: http.StatusOK, Body: http.NoBody}
	return rtFunc(func(*http.Request) (*http.Response, error) {
		if !withBody {
			return noBody, nil
		}
		return &http.Response{StatusCode: http.StatusOK, Body: &plainBody{r: strings.NewReader("ok")}}, nil
	})
}

// plainBody is a response body with only Read and Close, like net/http's
// (io.Copy cannot take a shortcut through it).
type plainBody struct{ r *strings.Reader }

func (b *plainBody) Read(p []byte) (int, error) { return b.r.Read(p) }
func (b *plainBody) Close() error               { return nil }

// breakerClosedContenders are the breakers compared on their closed path,
// each with its own defaults.
var breakerClosedContenders = []Contender{
	Plain,
	{Name: "chain-breaker", Wrap: func(base http.RoundTripper, _ Config) http.RoundTripper { return breaker.New(base) }},
	{Name: "gobreaker", Wrap: GoBreaker},
}

// BenchmarkBreakerClosed compares the closed path of chain's breaker with
// gobreaker v2's over a transport that answers at once, one caller and
// parallel callers. Without a body the outcome is decided at the headers;
// with one, chain's breaker waits for the body's end (a read error there is
// a failure) and allocates the body's wrapper, while gobreaker counts at the
// headers and never sees a body that fails.
func BenchmarkBreakerClosed(b *testing.B) {
	for _, body := range []struct {
		name string
		on   bool
	}{{"nobody", false}, {"body", true}} {
		for _, c := range breakerClosedContenders {
			rt := c.Wrap(instantBase(body.on), Config{})
			req, err := http.NewRequest(http.MethodGet, "http://a.test/", nil)
			if err != nil {
				b.Fatal(err)
			}
			b.Run(body.name+"/"+c.Name, func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if _, err := roundTrip(rt, req); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run(body.name+"/"+c.Name+"/parallel", func(b *testing.B) {
				b.ReportAllocs()
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						if _, err := roundTrip(rt, req); err != nil {
							b.Error(err)
							return
						}
					}
				})
			})
		}
	}
}
