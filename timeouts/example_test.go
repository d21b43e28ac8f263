package timeouts_test

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/rtchain/chain/errclass"
	"github.com/rtchain/chain/timeouts"
	"github.com/rtchain/chain/transporttest"
)

// A server that takes too long to answer: the error names the phase and the
// bound.
func Example() {
	srv := transporttest.NewServer(transporttest.Reply{Delay: 5 * time.Second})
	defer srv.Close()

	opts := []timeouts.Option{timeouts.WithResponseHeader(100 * time.Millisecond)}
	base := timeouts.NewTransport(opts...)
	defer base.CloseIdleConnections()
	client := &http.Client{Transport: timeouts.New(base, opts...)}

	_, err := client.Get(srv.URL)
	var te *timeouts.Error
	if errors.As(err, &te) {
		fmt.Println(te)
		fmt.Println(te.Phase, te.Limit)
	}
	fmt.Println(errors.Is(err, errclass.ErrTimeout), errclass.Classify(err))
	// Output:
	// timeouts: response_header: no response header within 100ms
	// response_header 100ms
	// true timeout
}

// NewTransport used alone bounds the response header on its HTTP/1
// connections; net/http wraps the connection's error in its own, and
// errors.As finds it.
func ExampleNewTransport() {
	srv := transporttest.NewServer(transporttest.Reply{Delay: 5 * time.Second})
	defer srv.Close()

	base := timeouts.NewTransport(timeouts.WithResponseHeader(100 * time.Millisecond))
	defer base.CloseIdleConnections()
	client := &http.Client{Transport: base}

	_, err := client.Get(srv.URL)
	var te *timeouts.Error
	fmt.Println(errors.As(err, &te), te.Phase, te.Limit)
	fmt.Println(errclass.PhaseOf(err), errors.Is(err, errclass.ErrTimeout))
	// Output:
	// true response_header 100ms
	// response_header true
}

// A stream that keeps delivering bytes is never cut by the body idle bound,
// however long it runs; one that stops is.
func ExampleWithBodyIdle() {
	trickle := transporttest.NewServer(transporttest.Reply{BodySize: 10, Trickle: 20 * time.Millisecond}) // 200ms in all
	defer trickle.Close()
	stall := transporttest.NewServer(transporttest.Reply{BodySize: 5, Fault: transporttest.Stall})
	defer stall.Close()

	base := timeouts.NewTransport()
	defer base.CloseIdleConnections()
	client := &http.Client{Transport: timeouts.New(base, timeouts.WithBodyIdle(300*time.Millisecond))}

	for _, url := range []string{trickle.URL, stall.URL} {
		resp, err := client.Get(url)
		if err != nil {
			fmt.Println(err)
			continue
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Printf("%q %v\n", b, err)
	}
	// Output:
	// "abcdefghij" <nil>
	// "abcde" timeouts: body_idle: no response body byte received for 300ms
}

// Total goes outermost, above the retry layer; the per-attempt middleware
// goes below it and gets the smaller of its attempt bound and the time left.
// The total error wraps the last error of the layers below.
func ExampleTotal() {
	srv := transporttest.NewServer(transporttest.Reply{Delay: 5 * time.Second})
	defer srv.Close()

	base := timeouts.NewTransport()
	defer base.CloseIdleConnections()
	perAttempt := timeouts.New(base, timeouts.WithAttempt(time.Second))
	// A retry layer (retry.Middleware) would sit here, between the two.
	client := &http.Client{Transport: timeouts.Total(150 * time.Millisecond)(perAttempt)}

	_, err := client.Get(srv.URL)
	var te *timeouts.Error
	errors.As(err, &te)
	fmt.Println(errclass.PhaseOf(err), te.Limit)
	fmt.Println(errors.Unwrap(te) != nil)
	// Output:
	// total 150ms
	// true
}
