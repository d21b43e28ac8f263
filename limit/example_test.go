package limit_test

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/rtchain/chain"
	"github.com/rtchain/chain/errclass"
	"github.com/rtchain/chain/limit"
	"github.com/rtchain/chain/retry"
)

// upstream is a fake server that answers at once with a short body.
var upstream = chain.RoundTripperFunc(func(req *http.Request) (*http.Response, error) {
	return &http.Response{StatusCode: http.StatusOK, Status: "200 OK",
		Body: io.NopCloser(strings.NewReader("ok")), Request: req}, nil
})

// A fixed limit of one request in flight per host: the second request is
// shed while the first one's body is open, without reaching the server.
func ExampleWithMaxInFlight() {
	client := &http.Client{Transport: limit.New(upstream, limit.WithMaxInFlight(1))}

	first, _ := client.Get("http://api.example/a") // holds the slot until its body ends
	_, err := client.Get("http://api.example/b")
	var le *limit.Error
	fmt.Println(errors.As(err, &le), errclass.Classify(err), le.Key, le.Limit)
	fmt.Println(err)

	first.Body.Close() // frees the slot
	second, err := client.Get("http://api.example/b")
	fmt.Println(second.Status, err)
	second.Body.Close()
	// Output:
	// true limited api.example 1
	// Get "http://api.example/b": limit: api.example: limit of 1 in flight reached; not sent
	// 200 OK <nil>
}

// With WithMaxWait, a request over the limit waits for a slot instead of
// being shed at once.
func ExampleWithMaxWait() {
	rt := limit.New(upstream, limit.WithMaxInFlight(1), limit.WithMaxWait(time.Minute))
	client := &http.Client{Transport: rt}

	first, _ := client.Get("http://api.example/a")
	time.AfterFunc(10*time.Millisecond, func() { first.Body.Close() })
	second, err := client.Get("http://api.example/b") // waits until first's body is closed
	fmt.Println(second.Status, err)
	second.Body.Close()
	// Output:
	// 200 OK <nil>
}

// The default limit is adaptive; Stats shows what a key has learned and
// holds, and hooks report rejections and limit changes.
func ExampleNew() {
	rt := limit.New(upstream,
		limit.WithOnReject(func(key string) { fmt.Println("shed a request to", key) }),
		limit.WithOnLimitChange(func(key string, from, to int) { fmt.Println(key, from, "->", to) }),
	)
	resp, _ := (&http.Client{Transport: rt}).Get("http://api.example/a")
	s := rt.Stats("api.example")
	fmt.Printf("limit %d, in flight %d\n", s.Limit, s.InFlight)
	resp.Body.Close()
	fmt.Println(rt.Keys(), rt.Stats("api.example").InFlight)
	// Output:
	// limit 20, in flight 1
	// [api.example] 0
}

// In a stack the limit goes below retry, so that each attempt takes a slot;
// a shed attempt goes back up and is not retried.
func ExampleMiddleware() {
	calls := 0
	counting := chain.RoundTripperFunc(func(req *http.Request) (*http.Response, error) {
		calls++
		return upstream.RoundTrip(req)
	})
	client := &http.Client{Transport: chain.Build(counting,
		retry.Middleware(retry.WithMaxAttempts(3)),
		limit.Middleware(limit.WithMaxInFlight(1)),
	)}

	first, _ := client.Get("http://api.example/a")
	_, err := client.Get("http://api.example/b")
	fmt.Println(errclass.Classify(err), calls)
	first.Body.Close()
	// Output:
	// limited 1
}
