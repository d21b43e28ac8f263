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

func ExampleNewSequence() {
	srv := transporttest.NewSequence(
		transporttest.Reply{Status: 503, Header: http.Header{"Retry-After": {"1"}}},
		transporttest.Reply{Status: 503, Header: http.Header{"Retry-After": {"1"}}},
		transporttest.Reply{Status: 200, Body: "done"},
	)
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
	fmt.Println("requests:", srv.Requests(), "connections:", srv.Connections())
	// Output:
	// 503 "" retry-after="1"
	// 503 "" retry-after="1"
	// 200 "done" retry-after=""
	// 200 "done" retry-after=""
	// requests: 4 connections: 1
}

func ExampleNewSlowHeader() {
	srv := transporttest.NewSlowHeader(5 * time.Second)
	defer srv.Close()

	tr := &http.Transport{ResponseHeaderTimeout: 50 * time.Millisecond}
	defer tr.CloseIdleConnections()
	_, err := (&http.Client{Transport: tr}).Get(srv.URL)
	fmt.Println(strings.Contains(fmt.Sprint(err), "timeout awaiting response headers"))
	// Output: true
}

func ExampleNewTrickle() {
	srv := transporttest.NewTrickle(10*time.Millisecond, 8)
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

func ExampleNewStall() {
	srv := transporttest.NewStall(4)
	defer srv.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
	resp, err := srv.Client().Do(req)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	fmt.Printf("%q, then: %v\n", body, errors.Is(err, context.DeadlineExceeded))
	// Output: "abcd", then: true
}

func ExampleNewResetMidBody() {
	srv := transporttest.NewResetMidBody(4)
	defer srv.Close()

	resp, err := srv.Client().Get(srv.URL)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer resp.Body.Close()
	_, err = io.ReadAll(resp.Body)
	fmt.Println(resp.StatusCode, errors.Is(err, syscall.ECONNRESET))
	// Output: 200 true
}

func ExampleNewEmptyReply() {
	srv := transporttest.NewEmptyReply()
	defer srv.Close()

	_, err := srv.Client().Get(srv.URL)
	fmt.Println(errors.Is(err, io.EOF), srv.Requests())
	// Output: true 1
}

func ExampleNewMalformedChunked() {
	srv := transporttest.NewMalformedChunked()
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

func ExampleNewStaleKeepAlive() {
	srv := transporttest.NewStaleKeepAlive()
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
	fmt.Println("requests:", srv.Requests(), "connections:", srv.Connections())
	// Output:
	// 200
	// 200
	// true
	// requests: 4 connections: 2
}

func ExampleNewBlackhole() {
	srv := transporttest.NewBlackhole()
	defer srv.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
	_, err := srv.Client().Do(req)
	fmt.Println(errors.Is(err, context.DeadlineExceeded), srv.Connections(), srv.Requests())
	// Output: true 1 0
}

func ExampleNewNoRead() {
	srv := transporttest.NewNoRead()
	defer srv.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	big := strings.NewReader(strings.Repeat("x", 32<<20)) // more than socket buffers hold
	req, _ := http.NewRequestWithContext(ctx, http.MethodPut, srv.URL, big)
	_, err := srv.Client().Do(req)
	fmt.Println(errors.Is(err, context.DeadlineExceeded), srv.BodyBytes())
	// Output: true 0
}

func ExampleNewSlowReader() {
	srv := transporttest.NewSlowReader(2, 10*time.Millisecond)
	defer srv.Close()

	resp, err := srv.Client().Post(srv.URL, "text/plain", strings.NewReader("abcdef")) // 3 reads
	if err != nil {
		fmt.Println(err)
		return
	}
	resp.Body.Close()
	fmt.Println(resp.StatusCode, srv.BodyBytes())
	// Output: 200 6
}

func ExampleNewAnswerBeforeBody() {
	srv := transporttest.NewAnswerBeforeBody(http.StatusRequestEntityTooLarge)
	defer srv.Close()

	resp, err := srv.Client().Post(srv.URL, "text/plain", strings.NewReader("small body"))
	if err != nil {
		fmt.Println(err)
		return
	}
	resp.Body.Close()
	fmt.Println(resp.StatusCode, resp.Close, srv.BodyBytes())
	// Output: 413 true 0
}

func ExampleNewUpgradeEcho() {
	srv := transporttest.NewUpgradeEcho()
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

func ExampleNewHTTP2() {
	srv := transporttest.NewHTTP2(transporttest.Reply{Body: "over h2"})
	defer srv.Close()

	resp, err := srv.Client().Get(srv.URL)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	fmt.Println(resp.Proto, string(body), srv.Seen()[0].Proto)
	// Output: HTTP/2.0 over h2 HTTP/2.0
}

func ExampleServer_Freeze() {
	srv := transporttest.NewHTTP2()
	defer srv.Close()
	tr := srv.Client().Transport.(*http.Transport).Clone()
	tr.HTTP2 = &http.HTTP2Config{SendPingTimeout: 50 * time.Millisecond, PingTimeout: 50 * time.Millisecond}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr}

	resp, err := c.Get(srv.URL) // opens the connection
	if err != nil {
		fmt.Println(err)
		return
	}
	resp.Body.Close()

	srv.Freeze() // the connection goes dead
	_, err = c.Get(srv.URL)
	fmt.Println("dead connection detected:", err != nil)

	resp, err = c.Get(srv.URL) // a new connection
	if err != nil {
		fmt.Println(err)
		return
	}
	resp.Body.Close()
	fmt.Println(resp.StatusCode, "connections:", srv.Connections())
	// Output:
	// dead connection detected: true
	// 200 connections: 2
}

func ExampleNewGoAway() {
	srv := transporttest.NewGoAway(2)
	defer srv.Close()

	for range 4 {
		resp, err := srv.Client().Get(srv.URL)
		if err != nil {
			fmt.Println(err)
			return
		}
		resp.Body.Close()
	}
	fmt.Println("requests:", srv.Requests(), "connections:", srv.Connections())
	// Output: requests: 4 connections: 2
}

func ExampleDeadAddr() {
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	_, err := (&http.Client{Transport: tr}).Get("http://" + transporttest.DeadAddr())
	fmt.Println(errors.Is(err, syscall.ECONNREFUSED))
	// Output: true
}

func ExampleNewServer() {
	srv := transporttest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "connection %d", transporttest.ConnID(r))
	}))
	defer srv.Close()

	for range 2 {
		resp, err := srv.Client().Get(srv.URL)
		if err != nil {
			fmt.Println(err)
			return
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Println(string(body))
	}
	seen := srv.Seen()
	fmt.Println("same connection:", seen[0].ConnID == seen[1].ConnID)
	// Output:
	// connection 1
	// connection 1
	// same connection: true
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

func ExampleNewReset() {
	srv := transporttest.NewReset()
	defer srv.Close()

	_, err := srv.Client().Post(srv.URL, "text/plain", strings.NewReader("order #1"))
	fmt.Println(errors.Is(err, syscall.ECONNRESET), string(srv.Seen()[0].Body))
	// Output: true order #1
}

func ExampleNewRawReply() {
	srv := transporttest.NewRawReply("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort")
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

// Any fixture runs over TLS and HTTP/2: take its NewUnstarted… form, set
// EnableHTTP2 and call StartTLS.
func ExampleServer_StartTLS() {
	srv := transporttest.NewUnstartedSlowHeader(5 * time.Second)
	srv.EnableHTTP2 = true
	srv.StartTLS()
	defer srv.Close()

	tr := srv.Client().Transport.(*http.Transport).Clone() // trusts the server
	tr.ResponseHeaderTimeout = 50 * time.Millisecond
	defer tr.CloseIdleConnections()
	_, err := (&http.Client{Transport: tr}).Get(srv.URL)
	fmt.Println(strings.HasPrefix(srv.URL, "https://"), err != nil, srv.Seen()[0].Proto)
	// Output: true true HTTP/2.0
}

// A Reply with a BodySize sends a huge or endless body without holding it
// in memory, for tests that discard error bodies with a bound.
func ExampleReply_bodySize() {
	srv := transporttest.NewSequence(transporttest.Reply{Status: 503, BodySize: -1}) // endless
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
