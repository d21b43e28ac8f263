package errclass_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"syscall"

	"github.com/rtchain/chain/errclass"
)

func ExampleClassify() {
	// Errors as http.Client returns them: inside a *url.Error, often
	// wrapped again by the caller.
	refused := &url.Error{Op: "Get", URL: "http://127.0.0.1:1/", Err: &net.OpError{
		Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED),
	}}
	canceled := &url.Error{Op: "Get", URL: "http://example.test/", Err: context.Canceled}
	notFound := fmt.Errorf("fetch user: %w", &url.Error{Op: "Get", URL: "http://nowhere.test/",
		Err: &net.OpError{Op: "dial", Net: "tcp", Err: &net.DNSError{Err: "no such host", Name: "nowhere.test", IsNotFound: true}}})

	for _, err := range []error{nil, refused, canceled, notFound, io.ErrUnexpectedEOF} {
		fmt.Printf("%-8s unsent=%v\n", errclass.Classify(err), errclass.Unsent(err))
	}
	// Output:
	// ok       unsent=false
	// refused  unsent=true
	// canceled unsent=false
	// dns      unsent=true
	// reset    unsent=false
}

func ExamplePhaseOf() {
	// What net/http's Transport.ResponseHeaderTimeout produces, as the
	// caller of http.Client sees it.
	hdr := &url.Error{Op: "Get", URL: "http://example.test/", Err: headerTimeout{}}
	fmt.Println(errclass.Classify(hdr), errclass.PhaseOf(hdr))
	fmt.Println(errclass.PhaseOf(context.DeadlineExceeded) == errclass.PhaseNone)
	// Output:
	// timeout response_header
	// true
}

// headerTimeout stands for net/http's unexported timeout error.
type headerTimeout struct{}

func (headerTimeout) Error() string   { return "net/http: timeout awaiting response headers" }
func (headerTimeout) Timeout() bool   { return true }
func (headerTimeout) Temporary() bool { return true }

func ExampleFromResponse() {
	// A response as http.Client.Do returns it.
	u, _ := url.Parse("https://alice:hunter2@api.example.test/v1/items?token=s3cr3t&page=2")
	resp := &http.Response{
		StatusCode: http.StatusServiceUnavailable,
		Status:     "503 Service Unavailable",
		Header:     http.Header{"Retry-After": {"30"}, "Set-Cookie": {"session=abc"}},
		Body:       io.NopCloser(strings.NewReader(`{"error":"overloaded"}`)),
		Request:    &http.Request{Method: http.MethodGet, URL: u},
	}

	err := errclass.FromResponse(resp, nil)
	fmt.Println(err)
	fmt.Println(errors.Is(err, errclass.ErrHTTPStatus), errclass.Classify(err))

	var se *errclass.StatusError
	if errors.As(err, &se) {
		fmt.Println(se.StatusCode, se.Header.Get("Retry-After"), se.Header.Get("Set-Cookie"))
		fmt.Println(string(se.Body))
	}
	// Output:
	// errclass: GET https://REDACTED@api.example.test/v1/items?token=REDACTED&page=REDACTED: 503 Service Unavailable
	// true status
	// 503 30 REDACTED
	// {"error":"overloaded"}
}

// A type of the caller's declares its class and matches the sentinel of
// that class.
type quotaError struct{}

func (quotaError) Error() string                { return "quota: exhausted" }
func (quotaError) Class() errclass.Class        { return errclass.Timeout }
func (quotaError) TimeoutPhase() errclass.Phase { return errclass.PhaseTotal }
func (e quotaError) Is(target error) bool {
	return target != nil && target == e.Class().Sentinel()
}

func ExampleClass_Sentinel() {
	err := fmt.Errorf("sync: %w", quotaError{})
	fmt.Println(errclass.Classify(err), errclass.PhaseOf(err), errors.Is(err, errclass.ErrTimeout))
	// Output:
	// timeout total true
}

// An error as http.Client returns it prints the request's URL, user name
// and query included; Redact gives the text to log, with the same class and
// sentinel.
func ExampleRedact() {
	err := &url.Error{Op: "Get", URL: "https://svc:***@api.example/v1/items?token=s3cr3t&page=2",
		Err: &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}}
	safe := errclass.Redact(err)
	fmt.Println(safe)
	fmt.Println(errclass.Classify(safe), errors.Is(safe, errclass.ErrNetwork), errors.Is(safe, syscall.ECONNREFUSED))
	// Output:
	// Get "https://REDACTED@api.example/v1/items?token=REDACTED&page=REDACTED": dial tcp: connect: connection refused
	// refused true true
}
