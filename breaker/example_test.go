package breaker_test

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/rtchain/chain"
	"github.com/rtchain/chain/breaker"
	"github.com/rtchain/chain/errclass"
)

func Example() {
	// A fake clock and a fake server that fails while down is true.
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	down := true
	base := chain.RoundTripperFunc(func(req *http.Request) (*http.Response, error) {
		status := http.StatusOK
		if down {
			status = http.StatusServiceUnavailable
		}
		return &http.Response{StatusCode: status, Body: http.NoBody, Request: req}, nil
	})

	var tr *breaker.Transport
	tr = breaker.New(base,
		breaker.WithMinRequests(4),
		breaker.WithOpenDuration(10*time.Second),
		breaker.WithHalfOpenProbes(2),
		breaker.WithClock(func() time.Time { return now }),
		breaker.WithOnStateChange(func(key string, from, to breaker.State) {
			c := tr.Counts(key)
			fmt.Printf("%s: %s -> %s (%d of %d failed)\n", key, from, to, c.Failures, c.Requests)
		}),
	)
	client := &http.Client{Transport: tr}

	get := func() {
		resp, err := client.Get("http://api.example/items")
		if err != nil {
			fmt.Println(errors.Is(err, breaker.ErrOpen), errclass.Classify(err), err)
			return
		}
		resp.Body.Close()
	}

	for range 4 {
		get() // four 503s trip the breaker
	}
	now = now.Add(2500 * time.Millisecond)
	get() // rejected without reaching the server

	down = false
	now = now.Add(10 * time.Second)
	get() // probe
	get() // probe
	fmt.Println(tr.State("api.example"))

	// Output:
	// api.example: closed -> open (4 of 4 failed)
	// true breaker_open Get "http://api.example/items": breaker: circuit open for host api.example, retry in 7.5s
	// api.example: open -> half-open (4 of 4 failed)
	// api.example: half-open -> closed (0 of 2 failed)
	// closed
}

// Drain a host by hand: ForceOpen rejects every call until Reset.
func ExampleTransport_ForceOpen() {
	base := chain.RoundTripperFunc(func(req *http.Request) (*http.Response, error) {
		return &http.Response{StatusCode: http.StatusOK, Body: http.NoBody, Request: req}, nil
	})
	tr := breaker.New(base)
	client := &http.Client{Transport: tr}

	tr.ForceOpen("API.example") // keys are normalised like request hosts
	_, err := client.Get("https://api.example:443/items")
	fmt.Println(tr.Keys(), tr.State("api.example"), errors.Is(err, breaker.ErrOpen))

	tr.Reset("api.example")
	resp, err := client.Get("https://api.example/items")
	if err == nil {
		resp.Body.Close()
		fmt.Println(tr.State("api.example"), resp.StatusCode)
	}
	// Output:
	// [api.example] open true
	// closed 200
}

// Count 429 as a failure too, on top of the default rule.
func ExampleWithOutcome() {
	count429 := breaker.WithOutcome(func(resp *http.Response, err error) breaker.Outcome {
		if err == nil && resp.StatusCode == http.StatusTooManyRequests {
			return breaker.Failure
		}
		return breaker.DefaultOutcome(resp, err)
	})
	base := chain.RoundTripperFunc(func(req *http.Request) (*http.Response, error) {
		return &http.Response{StatusCode: http.StatusTooManyRequests, Body: http.NoBody, Request: req}, nil
	})
	for _, opts := range [][]breaker.Option{nil, {count429}} {
		tr := breaker.New(base, opts...)
		for range 20 {
			req, _ := http.NewRequest(http.MethodGet, "http://api.example/", nil)
			if resp, err := tr.RoundTrip(req); err == nil {
				resp.Body.Close()
			}
		}
		fmt.Println(tr.State("api.example"))
	}
	// Output:
	// closed
	// open
}
