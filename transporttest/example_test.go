package transporttest_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"syscall"
	"time"

	"github.com/rtchain/chain/transporttest"
)

func ExampleSequence() {
	srv := transporttest.NewServer(transporttest.Sequence(
		transporttest.Reply{Status: 503, Header: http.Header{"Retry-After": {"1"}}},
		transporttest.Reply{Status: 503, Header: http.Header{"Retry-After": {"1"}}},
		transporttest.Reply{Status: 200, Body: "done"},
	))
	defer srv.Close()

	for range 4 {
		resp, err := srv.Client().Get(srv.URL + "/job")
		if err != nil {
			fmt.Println(err)
			return
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Printf("%d %q retry-after=%q\n", resp.StatusCode, body, resp.Header.Get("Retry-After"))
	}
	st := srv.Stats()
	fmt.Println("requests:", st.Requests, "connections:", st.Connections)
	// Output:
	// 503 "" retry-after="1"
	// 503 "" retry-after="1"
	// 200 "done" retry-after=""
	// 200 "done" retry-after=""
	// requests: 4 connections: 1
}

// A Reply with a Delay is a slow server: the header comes late.
func ExampleReply() {
	srv := transporttest.NewServer(transporttest.Reply{Delay: 5 * time.Second})
	defer srv.Close()

	tr := &http.Transport{ResponseHeaderTimeout: 50 * time.Millisecond}
	defer tr.CloseIdleConnections()
	_, err := (&http.Client{Transport: tr}).Get(srv.URL)
	fmt.Println(strings.Contains(fmt.Sprint(err), "timeout awaiting response headers"))
	// Output: true
}

func ExampleReply_trickle() {
	srv := transporttest.NewServer(transporttest.Reply{BodySize: 8, Trickle: 10 * time.Millisecond})
	defer srv.Close()

	resp, err := srv.Client().Get(srv.URL)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body) // takes 8 × 10ms
	fmt.Printf("%q %v\n", body, err)
	// Output: "abcdefgh" <nil>
}

// A Reply with a BodySize sends a huge or endless body without holding it
// in memory, for tests that discard error bodies with a bound.
func ExampleReply_bodySize() {
	srv := transporttest.NewServer(transporttest.Reply{Status: 503, BodySize: -1}) // endless
	defer srv.Close()

	resp, err := srv.Client().Get(srv.URL)
	if err != nil {
		fmt.Println(err)
		return
	}
	n, _ := io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // drain at most 64 KiB
	resp.Body.Close()
	fmt.Println(resp.StatusCode, resp.ContentLength, n)
	// Output: 503 -1 65536
}

// A Reply with ReadEvery reads the upload slowly.
func ExampleReply_readEvery() {
	srv := transporttest.NewServer(transporttest.Reply{Body: "ok", ReadChunk: 2, ReadEvery: 10 * time.Millisecond})
	defer srv.Close()

	resp, err := srv.Client().Post(srv.URL, "text/plain", strings.NewReader("abcdef")) // 3 reads
	if err != nil {
		fmt.Println(err)
		return
	}
	resp.Body.Close()
	fmt.Println(resp.StatusCode, srv.Stats().BodyBytes)
	// Output: 200 6
}

func ExampleReply_raw() {
	srv := transporttest.NewServer(transporttest.Reply{Raw: "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort"})
	defer srv.Close()

	resp, err := srv.Client().Get(srv.URL)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	fmt.Printf("%q %v\n", body, err)
	// Output: "short" unexpected EOF
}

// A Reply with Status 101 switches to an echo protocol.
func ExampleReply_upgrade() {
	srv := transporttest.NewServer(transporttest.Reply{Status: http.StatusSwitchingProtocols})
	defer srv.Close()

	req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", "echo")
	resp, err := srv.Client().Do(req)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer resp.Body.Close()
	rw := resp.Body.(io.ReadWriter) // the body of a 101 is writable
	rw.Write([]byte("ping"))
	buf := make([]byte, 4)
	io.ReadFull(rw, buf)
	fmt.Println(resp.StatusCode, string(buf))
	// Output: 101 ping
}

func ExampleFault_stall() {
	srv := transporttest.NewServer(transporttest.Reply{Body: "abcd", Fault: transporttest.Stall})
	defer srv.Close()

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
	resp, err := srv.Client().Do(req)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer resp.Body.Close()
	body := make([]byte, 4)
	io.ReadFull(resp.Body, body) // the body begins
	time.AfterFunc(50*time.Millisecond, cancel)
	_, err = resp.Body.Read(make([]byte, 1)) // and stalls, until the caller gives up
	fmt.Printf("%q, then: %v\n", body, errors.Is(err, context.Canceled))
	// Output: "abcd", then: true
}

func ExampleFault_resetMidBody() {
	srv := transporttest.NewServer(transporttest.Reply{BodySize: 4, Fault: transporttest.ResetMidBody})
	defer srv.Close()

	resp, err := srv.Client().Get(srv.URL)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	fmt.Println(resp.StatusCode, string(body), errors.Is(err, syscall.ECONNRESET))
	// Output: 200 abcd true
}

func ExampleFault_reset() {
	srv := transporttest.NewServer(transporttest.Reply{Fault: transporttest.Reset})
	defer srv.Close()

	_, err := srv.Client().Post(srv.URL, "text/plain", strings.NewReader("order #1"))
	fmt.Println(errors.Is(err, syscall.ECONNRESET), string(srv.Seen()[0].Body))
	// Output: true order #1
}

func ExampleFault_emptyReply() {
	srv := transporttest.NewServer(transporttest.Reply{Fault: transporttest.EmptyReply})
	defer srv.Close()

	_, err := srv.Client().Get(srv.URL)
	fmt.Println(errors.Is(err, io.EOF), srv.Stats().Requests)
	// Output: true 1
}

func ExampleFault_malformedChunked() {
	srv := transporttest.NewServer(transporttest.Reply{Fault: transporttest.MalformedChunked})
	defer srv.Close()

	resp, err := srv.Client().Get(srv.URL)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	fmt.Printf("%d %q %v\n", resp.StatusCode, body, err != nil)
	// Output: 200 "hello" true
}

func ExampleFault_staleKeepAlive() {
	srv := transporttest.NewServer(transporttest.Reply{Body: "ok", Fault: transporttest.StaleKeepAlive})
	defer srv.Close()
	c := srv.Client()

	for range 2 {
		resp, err := c.Get(srv.URL) // a GET is replayable: net/http retries it
		if err != nil {
			fmt.Println(err)
			return
		}
		io.Copy(io.Discard, resp.Body) // read to the end, so the connection is kept
		resp.Body.Close()
		fmt.Println(resp.StatusCode)
	}
	_, err := c.Post(srv.URL, "text/plain", strings.NewReader("x")) // a POST is not
	fmt.Println(errors.Is(err, io.EOF))
	st := srv.Stats()
	fmt.Println("requests:", st.Requests, "connections:", st.Connections)
	// Output:
	// 200
	// 200
	// true
	// requests: 4 connections: 2
}

func ExampleFault_blackhole() {
	srv := transporttest.NewServer(transporttest.Reply{Fault: transporttest.Blackhole})
	defer srv.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
	_, err := srv.Client().Do(req) // the server takes the connection and never reads it
	fmt.Println(errors.Is(err, context.DeadlineExceeded), srv.Stats().Requests)
	// Output: true 0
}

func ExampleFault_noRead() {
	srv := transporttest.NewServer(transporttest.Reply{Fault: transporttest.NoRead})
	defer srv.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	big := strings.NewReader(strings.Repeat("x", 32<<20)) // more than socket buffers hold
	req, _ := http.NewRequestWithContext(ctx, http.MethodPut, srv.URL, big)
	_, err := srv.Client().Do(req)
	fmt.Println(errors.Is(err, context.DeadlineExceeded), srv.Stats().BodyBytes)
	// Output: true 0
}

func ExampleFault_answerBeforeBody() {
	srv := transporttest.NewServer(transporttest.Reply{Status: http.StatusRequestEntityTooLarge, Fault: transporttest.AnswerBeforeBody})
	defer srv.Close()

	resp, err := srv.Client().Post(srv.URL, "text/plain", strings.NewReader("small body"))
	if err != nil {
		fmt.Println(err)
		return
	}
	resp.Body.Close()
	fmt.Println(resp.StatusCode, resp.Close, srv.Stats().BodyBytes)
	// Output: 413 true 0
}

func ExampleDeadAddr() {
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	_, err := (&http.Client{Transport: tr}).Get("http://" + transporttest.DeadAddr())
	fmt.Println(errors.Is(err, syscall.ECONNREFUSED))
	// Output: true
}

func ExampleNewScript() {
	script := transporttest.NewScript(
		transporttest.Step{Status: 503, Header: http.Header{"Retry-After": {"0"}}},
		transporttest.Step{Err: syscall.ECONNRESET},
		transporttest.Step{Status: 200, Body: "ok"},
	)
	client := &http.Client{Transport: script}

	for range 3 {
		resp, err := client.Get("http://api.example/items")
		if err != nil {
			fmt.Println("error:", errors.Is(err, syscall.ECONNRESET))
			continue
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Printf("%d %q\n", resp.StatusCode, body)
	}
	fmt.Println("calls:", script.Calls(), "bodies open:", script.BodiesOpen())
	// Output:
	// 503 ""
	// error: true
	// 200 "ok"
	// calls: 3 bodies open: 0
}
