package hedge_test

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rtchain/chain"
	"github.com/rtchain/chain/hedge"
	"github.com/rtchain/chain/retry"
)

// slowFirst is a fake server whose first request hangs until it is
// cancelled (or for a minute) and whose other requests answer at once.
func slowFirst() http.RoundTripper {
	var calls atomic.Int32
	return chain.RoundTripperFunc(func(r *http.Request) (*http.Response, error) {
		if calls.Add(1) == 1 {
			select {
			case <-r.Context().Done():
				return nil, r.Context().Err()
			case <-time.After(time.Minute):
			}
		}
		return &http.Response{StatusCode: 200, Body: io.NopCloser(strings.NewReader("fast answer")), Request: r}, nil
	})
}

// The first attempt hangs; 20 ms later a hedge goes out, answers, and wins.
// The hung attempt is cancelled.
func Example() {
	rt := hedge.New(slowFirst(),
		hedge.WithDelay(20*time.Millisecond),
		hedge.WithOnHedge(func(e hedge.Event) {
			if e.Won {
				fmt.Printf("hedge %d won\n", e.Hedge)
			} else {
				fmt.Printf("hedge %d sent\n", e.Hedge)
			}
		}),
	)
	client := &http.Client{Transport: rt}
	resp, err := client.Get("http://api.example/items")
	if err != nil {
		fmt.Println(err)
		return
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	fmt.Println(string(b))
	// Output:
	// hedge 1 sent
	// hedge 1 won
	// fast answer
}

// In a stack, hedge goes below retry and shares its budget, so that retries
// and hedges together stay within the budget's ratio. Here the budget has no
// per-second floor and earns half a token per request: of four requests
// whose first attempt hangs, two are hedged.
func ExampleWithBudget() {
	budget := retry.NewBudget(retry.WithRatio(0.5), retry.WithFloor(0))
	var seen sync.Map
	server := chain.RoundTripperFunc(func(r *http.Request) (*http.Response, error) {
		if _, again := seen.LoadOrStore(r.URL.String(), true); !again { // a first attempt hangs
			select {
			case <-r.Context().Done():
				return nil, r.Context().Err()
			case <-time.After(200 * time.Millisecond):
			}
		}
		return &http.Response{StatusCode: 200, Body: http.NoBody, Request: r}, nil
	})
	var hedges atomic.Int32
	rt := chain.Build(server,
		retry.Middleware(retry.WithBudget(budget)),
		hedge.Middleware(hedge.WithDelay(20*time.Millisecond), hedge.WithBudget(budget),
			hedge.WithOnHedge(func(e hedge.Event) {
				if !e.Won {
					hedges.Add(1)
				}
			})),
	)
	for i := range 4 {
		req, _ := http.NewRequest("GET", fmt.Sprintf("http://api.example/items/%d", i), nil)
		resp, err := rt.RoundTrip(req)
		if err != nil {
			fmt.Println(err)
			return
		}
		resp.Body.Close()
	}
	fmt.Println("requests: 4, hedges:", hedges.Load())
	// Output: requests: 4, hedges: 2
}

// Over HTTP/2 every request to a host shares one connection; Split at the
// bottom of a stack gives hedges a pool of their own. Layers in between see
// hedges as any other attempt.
func ExampleSplit() {
	pool := func(name string, answer bool) http.RoundTripper {
		return chain.RoundTripperFunc(func(r *http.Request) (*http.Response, error) {
			fmt.Println("attempt over the", name, "pool")
			if !answer {
				<-r.Context().Done()
				return nil, r.Context().Err()
			}
			return &http.Response{StatusCode: 200, Body: http.NoBody, Request: r}, nil
		})
	}
	bottom := hedge.Split(pool("primary", false), pool("hedges'", true))
	rt := chain.Build(bottom, hedge.Middleware(hedge.WithDelay(10*time.Millisecond)))
	req, _ := http.NewRequest("GET", "http://api.example/items", nil)
	resp, err := rt.RoundTrip(req)
	if err != nil {
		fmt.Println(err)
		return
	}
	resp.Body.Close()
	fmt.Println(resp.StatusCode)
	// Output:
	// attempt over the primary pool
	// attempt over the hedges' pool
	// 200
}
