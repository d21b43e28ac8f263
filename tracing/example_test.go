package tracing_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/rtchain/chain"
	"github.com/rtchain/chain/tracing"
)

// The request id goes outside the retry layer and the spans inside it: a
// request answered 503, 503, 200 makes three attempt spans that share one
// request id.
func Example() {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) < 3 {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		fmt.Printf("server: %s traceparent=%t\n", r.Header.Get("X-Request-Id"), r.Header.Get("Traceparent") != "")
	}))
	defer srv.Close()

	spans := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
	defer tp.Shutdown(context.Background())

	rt := chain.Build(srv.Client().Transport,
		tracing.RequestID(tracing.WithIDGenerator(func() string { return "req-1" })),
		func(next http.RoundTripper) http.RoundTripper { return retryLoop{next: next, max: 3} }, // stands in for retry.Middleware()
		tracing.Spans(tracing.WithTracerProvider(tp)),
	)
	resp, err := (&http.Client{Transport: rt}).Get(srv.URL)
	if err != nil {
		fmt.Println(err)
		return
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()

	for _, s := range spans.Ended() {
		resend := "-"
		for _, kv := range s.Attributes() {
			if kv.Key == "http.request.resend_count" {
				resend = kv.Value.String()
			}
		}
		fmt.Printf("span %s %s resend_count=%s\n", s.Name(), s.SpanKind(), resend)
	}
	// Output:
	// server: req-1 traceparent=true
	// server: req-1 traceparent=true
	// server: req-1 traceparent=true
	// span GET client resend_count=-
	// span GET client resend_count=1
	// span GET client resend_count=2
}

// Spans names its spans "{method} {url.template}" with a formatter, and
// sends the trace context only to the hosts a filter allows.
func ExampleWithPropagationFilter() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Printf("server: %s traceparent=%t\n", r.URL.Path, r.Header.Get("Traceparent") != "")
	}))
	defer srv.Close()
	spans := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
	defer tp.Shutdown(context.Background())

	own := func(r *http.Request) bool { return r.URL.Hostname() == "127.0.0.1" }
	rt := tracing.New(srv.Client().Transport, tracing.WithTracerProvider(tp),
		tracing.WithPropagationFilter(own),
		tracing.WithSpanNameFormatter(func(r *http.Request) string {
			if strings.HasPrefix(r.URL.Path, "/users/") {
				return r.Method + " /users/{id}"
			}
			return ""
		}))
	client := &http.Client{Transport: rt}
	port := srv.URL[strings.LastIndex(srv.URL, ":"):]
	for _, u := range []string{srv.URL + "/users/42", "http://localhost" + port + "/elsewhere"} {
		resp, err := client.Get(u)
		if err != nil {
			fmt.Println(err)
			return
		}
		resp.Body.Close()
	}
	for _, s := range spans.Ended() {
		fmt.Println("span", s.Name())
	}
	// Output:
	// server: /users/42 traceparent=true
	// server: /elsewhere traceparent=false
	// span GET /users/{id}
	// span GET
}
