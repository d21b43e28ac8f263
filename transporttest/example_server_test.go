package transporttest_test

import (
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/rtchain/chain/transporttest"
)

// Any handler of your own is recorded the same way; Seen tells which
// connection each request came on.
func ExampleNewServer() {
	srv := transporttest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "hello")
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
	fmt.Println("connection:", seen[0].ConnID, "same connection:", seen[0].ConnID == seen[1].ConnID)
	// Output:
	// hello
	// hello
	// connection: 1 same connection: true
}

// Any Reply runs over TLS and HTTP/2: make the server unstarted, set
// EnableHTTP2 and call StartTLS.
func ExampleServer_StartTLS() {
	srv := transporttest.NewUnstartedServer(transporttest.Reply{Delay: 5 * time.Second})
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

func ExampleServer_EnableHTTP2() {
	srv := transporttest.NewUnstartedServer(transporttest.Reply{Body: "over h2"})
	srv.EnableHTTP2 = true
	srv.StartTLS()
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

func ExampleServer_GoAwayAfter() {
	srv := transporttest.NewUnstartedServer(transporttest.Reply{})
	srv.GoAwayAfter = 2
	srv.EnableHTTP2 = true
	srv.StartTLS()
	defer srv.Close()

	for range 4 {
		resp, err := srv.Client().Get(srv.URL)
		if err != nil {
			fmt.Println(err)
			return
		}
		resp.Body.Close()
	}
	st := srv.Stats()
	fmt.Println("requests:", st.Requests, "connections:", st.Connections)
	// Output: requests: 4 connections: 2
}

func ExampleServer_Freeze() {
	srv := transporttest.NewUnstartedServer(transporttest.Reply{})
	srv.EnableHTTP2 = true
	srv.StartTLS()
	defer srv.Close()
	tr := srv.Client().Transport.(*http.Transport).Clone()
	tr.HTTP2 = &http.HTTP2Config{SendPingTimeout: 100 * time.Millisecond, PingTimeout: 100 * time.Millisecond}
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
	fmt.Println(resp.StatusCode, "connections:", srv.Stats().Connections)
	// Output:
	// dead connection detected: true
	// 200 connections: 2
}

// A mutual-TLS server whose accepted client CAs change while it runs, and
// which tells who connected.
func ExampleServer_UpdateTLS() {
	ca := transporttest.NewCA("example-ca")
	srv := transporttest.NewUnstartedServer(transporttest.Reply{Body: "hello"})
	srv.TLS = &tls.Config{
		Certificates: []tls.Certificate{ca.IssueServer().Certificate},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    ca.Pool(),
	}
	srv.StartTLS()
	defer srv.Close()

	pair := ca.IssueClient("alice", time.Hour)
	tr := srv.Client().Transport.(*http.Transport).Clone() // trusts the server
	tr.TLSClientConfig.Certificates = []tls.Certificate{pair.Certificate}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}

	resp, err := client.Get(srv.URL)
	if err != nil {
		fmt.Println(err)
		return
	}
	resp.Body.Close()
	peer := srv.Seen()[0].TLS.PeerCertificates[0]
	fmt.Println("client seen:", peer.Subject.CommonName, peer.SerialNumber.String() == pair.Serial())

	srv.UpdateTLS(func(c *tls.Config) { c.ClientCAs = transporttest.NewCA("other-ca").Pool() })
	tr.CloseIdleConnections() // the next request makes a new handshake
	_, err = client.Get(srv.URL)
	fmt.Println("refused after the update:", err != nil)
	// Output:
	// client seen: alice true
	// refused after the update: true
}
