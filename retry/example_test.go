package retry_test

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/rtchain/chain"
	"github.com/rtchain/chain/retry"
)

// A server that is busy twice, then answers. The retry layer waits between
// attempts and hands back the final response; inner layers see the attempt
// number on the request's context.
func Example() {
	statuses := []int{503, 503, 200}
	calls := 0
	server := chain.RoundTripperFunc(func(r *http.Request) (*http.Response, error) {
		fmt.Printf("attempt %d: %d\n", retry.Attempt(r.Context()), statuses[calls])
		resp := &http.Response{StatusCode: statuses[calls], Body: io.NopCloser(strings.NewReader("")), Request: r}
		calls++
		return resp, nil
	})
	client := &http.Client{Transport: retry.New(server,
		retry.WithMaxAttempts(4),
		retry.WithBackoff(time.Millisecond, time.Second, retry.JitterNone),
		retry.WithOnRetry(func(e retry.Event) {
			fmt.Printf("retry %d in %v because of %s\n", e.Attempt, e.Wait, e.Reason)
		}),
	)}
	resp, err := client.Get("http://example.test/")
	if err != nil {
		fmt.Println(err)
		return
	}
	resp.Body.Close()
	fmt.Println("got", resp.StatusCode)
	// Output:
	// attempt 0: 503
	// retry 1 in 1ms because of 503
	// attempt 1: 503
	// retry 2 in 2ms because of 503
	// attempt 2: 200
	// got 200
}

// A custom policy adds one rule to the default: also retry 500 responses.
func ExampleWithPolicy() {
	policy := func(o retry.Outcome) bool {
		if o.Response != nil && o.Response.StatusCode == http.StatusInternalServerError {
			return o.Idempotent
		}
		return retry.DefaultPolicy(o)
	}
	calls := 0
	server := chain.RoundTripperFunc(func(r *http.Request) (*http.Response, error) {
		calls++
		return &http.Response{StatusCode: 500, Body: http.NoBody, Request: r}, nil
	})
	rt := retry.New(server, retry.WithPolicy(policy), retry.WithBackoff(time.Millisecond, time.Millisecond, retry.JitterNone))
	req, _ := http.NewRequest("GET", "http://example.test/", nil)
	resp, _ := rt.RoundTrip(req)
	resp.Body.Close()
	fmt.Println(resp.StatusCode, "after", calls, "attempts")
	// Output: 500 after 3 attempts
}

// One budget shared by every client of a service keeps retries to about a
// tenth of the traffic during an outage. (WithFloor(0) drops the per-second
// allowance so the count below does not depend on timing.)
func ExampleNewBudget() {
	budget := retry.NewBudget(retry.WithRatio(0.1), retry.WithFloor(0))
	down := chain.RoundTripperFunc(func(r *http.Request) (*http.Response, error) {
		return &http.Response{StatusCode: 503, Body: http.NoBody, Request: r}, nil
	})
	hits := 0
	counting := chain.RoundTripperFunc(func(r *http.Request) (*http.Response, error) {
		hits++
		return down(r)
	})
	a := retry.New(counting, retry.WithBudget(budget), retry.WithBackoff(time.Microsecond, time.Microsecond, retry.JitterNone))
	b := retry.New(counting, retry.WithBudget(budget), retry.WithBackoff(time.Microsecond, time.Microsecond, retry.JitterNone))
	for i := 0; i < 100; i++ {
		rt := a
		if i%2 == 1 {
			rt = b
		}
		req, _ := http.NewRequest("GET", "http://example.test/", nil)
		resp, _ := rt.RoundTrip(req)
		resp.Body.Close()
	}
	fmt.Println("requests: 100, server hits:", hits)
	// Output: requests: 100, server hits: 110
}

// Per-attempt preparation (go-retryablehttp's PrepareRetry): a layer below
// retry runs once per attempt, so it signs each attempt anew, here with a
// fresh token per attempt as a rotating bearer token or an AWS SigV4
// signature (which covers a timestamp) needs. The layer clones the request
// before setting the header: a RoundTripper never modifies its request.
func Example_signEachAttempt() {
	tokens := 0
	sign := func(next http.RoundTripper) http.RoundTripper {
		return chain.RoundTripperFunc(func(r *http.Request) (*http.Response, error) {
			tokens++ // a real signer would fetch or compute its credential here
			r = r.Clone(r.Context())
			r.Header.Set("Authorization", fmt.Sprintf("Bearer token-%d", tokens))
			fmt.Printf("signed attempt %d with token-%d\n", retry.Attempt(r.Context()), tokens)
			return next.RoundTrip(r)
		})
	}
	statuses := []int{503, 200}
	server := chain.RoundTripperFunc(func(r *http.Request) (*http.Response, error) {
		status := statuses[retry.Attempt(r.Context())]
		fmt.Printf("server got %q: %d\n", r.Header.Get("Authorization"), status)
		return &http.Response{StatusCode: status, Body: http.NoBody, Request: r}, nil
	})
	client := &http.Client{Transport: chain.Build(server,
		retry.Middleware(retry.WithBackoff(time.Millisecond, time.Millisecond, retry.JitterNone)),
		sign, // below retry: once per attempt
	)}
	resp, err := client.Get("http://example.test/")
	if err != nil {
		fmt.Println(err)
		return
	}
	resp.Body.Close()
	fmt.Println("got", resp.StatusCode)
	// Output:
	// signed attempt 0 with token-1
	// server got "Bearer token-1": 503
	// signed attempt 1 with token-2
	// server got "Bearer token-2": 200
	// got 200
}

// A give-up hook says why a request finally failed; *retry.Error carries
// the same reason when attempts ran out on errors.
func ExampleWithOnGiveUp() {
	server := chain.RoundTripperFunc(func(r *http.Request) (*http.Response, error) {
		return &http.Response{StatusCode: 429, Header: http.Header{"Retry-After": {"3600"}}, Body: http.NoBody, Request: r}, nil
	})
	rt := retry.New(server, retry.WithOnGiveUp(func(g retry.GiveUp) {
		fmt.Printf("gave up after %d attempt(s) on %d: %s\n", g.Attempts, g.StatusCode, g.Reason)
	}))
	req, _ := http.NewRequest("GET", "http://example.test/", nil)
	resp, _ := rt.RoundTrip(req)
	resp.Body.Close()
	// Output: gave up after 1 attempt(s) on 429: retry_after_cap
}
