package errclass_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/rtchain/chain/errclass"
)

// rawServer is a loopback TCP server whose connections are handled by a
// function: the shapes of failure net/http cannot be asked for.
type rawServer struct {
	ln    net.Listener
	wg    sync.WaitGroup
	mu    sync.Mutex // guards conns
	conns map[net.Conn]bool
}

// newRawServer starts a server on 127.0.0.1 that runs handle for each
// connection; it is closed at the end of the test, its connections too, and
// its goroutines are waited for.
func newRawServer(t *testing.T, handle func(c net.Conn)) *rawServer {
	t.Helper()
	return newRawServerOn(t, nil, handle)
}

// newRawServerOn is newRawServer with TLS when cfg is not nil.
func newRawServerOn(t *testing.T, cfg *tls.Config, handle func(c net.Conn)) *rawServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	if cfg != nil {
		ln = tls.NewListener(ln, cfg)
	}
	s := &rawServer{ln: ln, conns: map[net.Conn]bool{}}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.mu.Lock()
			s.conns[c] = true
			s.mu.Unlock()
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				defer c.Close()
				handle(c)
			}()
		}
	}()
	t.Cleanup(s.close)
	return s
}

func (s *rawServer) addr() string { return s.ln.Addr().String() }

func (s *rawServer) close() {
	s.ln.Close()
	s.mu.Lock()
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
}

// readRequest reads one request's header and body from c.
func readRequest(c net.Conn) bool {
	req, err := http.ReadRequest(bufio.NewReader(c))
	if err != nil {
		return false
	}
	io.Copy(io.Discard, req.Body)
	return true
}

// hold blocks until the peer or the server closes c.
func hold(c net.Conn) { io.Copy(io.Discard, c) }

// newTransport returns a transport of its own, whose idle connections are
// closed at the end of the test.
func newTransport(t *testing.T, configure func(*http.Transport)) *http.Transport {
	t.Helper()
	tr := &http.Transport{DisableKeepAlives: false, ForceAttemptHTTP2: false}
	if configure != nil {
		configure(tr)
	}
	t.Cleanup(tr.CloseIdleConnections)
	return tr
}

// get sends a GET to url through c, with a 10 s bound, and reads the whole
// response body; it returns the error of the round trip or of the body.
func get(t *testing.T, c *http.Client, url string) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	return fetch(t, c, newRequest(t, ctx, http.MethodGet, url, nil))
}

func newRequest(t *testing.T, ctx context.Context, method, url string, body io.Reader) *http.Request {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, method, url, body)
	if err != nil {
		t.Fatalf("new request: %v", err)
	}
	return req
}

// fetch sends req through c and reads the whole response body; it returns
// the error of the round trip or of the body.
func fetch(t *testing.T, c *http.Client, req *http.Request) error {
	t.Helper()
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, err = io.Copy(io.Discard, resp.Body)
	return err
}

// check asserts the class, phase and Unsent verdict of a real error, as it
// came and wrapped again the ways callers wrap it.
func check(t *testing.T, err error, class errclass.Class, phase errclass.Phase, unsent bool) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want class %v", class)
	}
	t.Logf("error: %v", err)
	for _, w := range wrappings {
		e := w.wrap(err)
		if got := errclass.Classify(e); got != class {
			t.Errorf("%s: Classify = %v, want %v (%T: %v)", w.name, got, class, err, err)
		}
		if got := errclass.PhaseOf(e); got != phase {
			t.Errorf("%s: PhaseOf = %q, want %q", w.name, got, phase)
		}
		if got := errclass.Unsent(e); got != unsent {
			t.Errorf("%s: Unsent = %v, want %v", w.name, got, unsent)
		}
	}
}
