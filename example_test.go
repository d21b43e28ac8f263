package chain_test

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/rtchain/chain"
)

// tag returns a middleware that records its name on the way in and out.
func tag(name string, trail *[]string) chain.Middleware {
	return func(next http.RoundTripper) http.RoundTripper {
		return chain.RoundTripperFunc(func(req *http.Request) (*http.Response, error) {
			*trail = append(*trail, name+" in")
			resp, err := next.RoundTrip(req)
			*trail = append(*trail, name+" out")
			return resp, err
		})
	}
}

// The first middleware given to Build is the outermost.
func ExampleBuild() {
	var trail []string
	base := chain.RoundTripperFunc(func(req *http.Request) (*http.Response, error) {
		trail = append(trail, "base")
		return &http.Response{StatusCode: http.StatusOK, Body: http.NoBody, Request: req}, nil
	})
	client := &http.Client{Transport: chain.Build(base, tag("outer", &trail), nil, tag("inner", &trail))}

	resp, err := client.Get("http://example.test/")
	if err != nil {
		fmt.Println(err)
		return
	}
	resp.Body.Close()
	fmt.Println(strings.Join(trail, " → "))
	// Output: outer in → inner in → base → inner out → outer out
}

type wrapper struct{ next http.RoundTripper }

func (w wrapper) RoundTrip(req *http.Request) (*http.Response, error) { return w.next.RoundTrip(req) }
func (w wrapper) Unwrap() http.RoundTripper                           { return w.next }

// Base reaches the transport at the bottom of a stack through Unwrap.
func ExampleBase() {
	base := &http.Transport{MaxIdleConnsPerHost: 32}
	rt := chain.Build(base, func(next http.RoundTripper) http.RoundTripper { return wrapper{next} })

	if t, ok := chain.Base(rt).(*http.Transport); ok {
		fmt.Println(t.MaxIdleConnsPerHost)
	}
	// Output: 32
}
