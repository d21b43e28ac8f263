package standard_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/rtchain/chain/breaker"
	"github.com/rtchain/chain/errclass"
	"github.com/rtchain/chain/retry"
	"github.com/rtchain/chain/standard"
	"github.com/rtchain/chain/timeouts"
	"github.com/rtchain/chain/transporttest"
)

// A client with the whole stack: the 503 is retried after the server's
// Retry-After, and the caller gets the 200.
func Example() {
	srv := transporttest.NewServer(transporttest.Sequence(
		transporttest.Reply{Status: http.StatusServiceUnavailable, Header: http.Header{"Retry-After": {"0"}}},
		transporttest.Reply{Body: "hello"},
	))
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
	fmt.Println(resp.Status, string(body), "after", srv.Stats().Requests, "attempts")
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
	srv := transporttest.NewServer(transporttest.Reply{Delay: time.Minute})
	defer srv.Close()
	client := standard.Client(standard.WithTimeouts(timeouts.WithResponseHeader(50 * time.Millisecond)))
	defer client.CloseIdleConnections()
	_, err := client.Get(srv.URL)
	fmt.Println(errclass.Classify(err), errclass.PhaseOf(err))
	// Output: timeout response_header
}

// Config shows what a set of options gives, with the notes on the settings
// that can never take effect: here a breaker P99 bound that no attempt can
// reach, since the header bound ends every slower wait first.
func ExampleStack_Config() {
	s := standard.New(standard.WithTimeouts(timeouts.WithResponseHeader(time.Second)))
	defer s.CloseIdleConnections()
	cfg := s.Config()
	for _, l := range cfg.Layers {
		for _, st := range l.Settings {
			if st.Value != st.Default {
				fmt.Printf("%s: %s = %s (default %s)\n", l.Name, st.Option, st.Value, st.Default)
			}
		}
	}
	fmt.Println(cfg.Notes[0])
	// Output:
	// timeouts: timeouts.WithResponseHeader = 1s (default 10s)
	// breaker.WithP99(2s) never fires: no attempt waits longer than 1.125s for its header (timeouts.WithResponseHeader(1s)); a slower one times out and counts as a failure
}

// Update changes settings at run time; the breakers keep their state.
func ExampleStack_Update() {
	script := transporttest.NewScript(transporttest.Step{Status: http.StatusServiceUnavailable})
	s := standard.New(standard.WithBase(script),
		standard.WithRetry(retry.WithMaxAttempts(2), retry.WithBackoff(time.Millisecond, time.Millisecond, retry.JitterNone)))
	send := func() {
		resp, err := s.RoundTrip(httptest.NewRequest(http.MethodGet, "http://api.example/", nil))
		if err == nil {
			resp.Body.Close()
		}
	}
	send()
	fmt.Println("attempts:", script.Calls())
	if err := s.Update(standard.WithRetry(retry.WithMaxAttempts(3))); err != nil {
		fmt.Println(err)
	}
	send()
	fmt.Println("attempts:", script.Calls()-2)
	fmt.Println(s.Update(standard.WithTotal(time.Second)))
	// Output:
	// attempts: 2
	// attempts: 3
	// standard: Update: WithTotal cannot change at run time (only WithRetry, WithTimeouts and WithBreaker can)
}
