package standard_test

import (
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/rtchain/chain/breaker"
	"github.com/rtchain/chain/errclass"
	"github.com/rtchain/chain/standard"
	"github.com/rtchain/chain/timeouts"
	"github.com/rtchain/chain/transporttest"
)

// A client with the whole stack: the 503 is retried after the server's
// Retry-After, and the caller gets the 200.
func Example() {
	srv := transporttest.NewSequence(
		transporttest.Reply{Status: http.StatusServiceUnavailable, Header: http.Header{"Retry-After": {"0"}}},
		transporttest.Reply{Body: "hello"},
	)
	defer srv.Close()

	client := standard.Client()
	defer client.CloseIdleConnections()
	resp, err := client.Get(srv.URL)
	if err != nil {
		fmt.Println(err)
		return
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	fmt.Println(resp.Status, string(body), "after", srv.Requests(), "attempts")
	// Output: 200 OK hello after 2 attempts
}

// The pieces of a stack stay reachable: here the breaker of a failing host
// opens, and the next call is rejected without reaching the network.
func ExampleStack_Breaker() {
	script := transporttest.NewScript(transporttest.Step{Status: http.StatusInternalServerError})
	s := standard.New(
		standard.WithBase(script),
		standard.WithBreaker(breaker.WithMinRequests(3)),
	)
	client := &http.Client{Transport: s}
	for range 4 {
		resp, err := client.Get("http://api.example/")
		if err != nil {
			fmt.Println("error class:", errclass.Classify(err))
			continue
		}
		resp.Body.Close()
		fmt.Println("status:", resp.StatusCode)
	}
	fmt.Println("breaker:", s.Breaker().State("api.example"), "calls sent:", script.Calls())
	// Output:
	// status: 500
	// status: 500
	// status: 500
	// error class: breaker_open
	// breaker: open calls sent: 3
}

// Each layer takes its own package's options; here a short header bound
// (D1: the stack always has one) makes a silent server fail fast, with the
// phase in the error.
func ExampleWithTimeouts() {
	srv := transporttest.NewSlowHeader(time.Minute)
	defer srv.Close()
	client := standard.Client(standard.WithTimeouts(timeouts.WithResponseHeader(50 * time.Millisecond)))
	defer client.CloseIdleConnections()
	_, err := client.Get(srv.URL)
	fmt.Println(errclass.Classify(err), errclass.PhaseOf(err))
	// Output: timeout response_header
}
