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
