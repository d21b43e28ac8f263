package transporttest

import (
	"context"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
)

// NewUpgradeEcho returns a started server that switches protocols: to a
// request with "Connection: Upgrade" and an Upgrade header it answers
// 101 Switching Protocols (echoing the Upgrade value), and from then on
// echoes every byte it receives on the connection back to the client, until
// the client closes it or the server is closed. The echoed bytes count in
// [Server.BodyBytes]. Other requests get 400.
//
// With the Go client the 101 response's Body is an io.ReadWriteCloser:
// write to it and read the echo back, and close it when done: the request's
// context no longer governs the upgraded connection, so a read waiting for
// an echo of nothing blocks until the body or the server is closed. It is the fixture for checking that
// RoundTripper layers keep that io.Writer. It speaks HTTP/1.1 only.
func NewUpgradeEcho() *Server {
	s := NewUnstartedUpgradeEcho()
	s.Start()
	return s
}

// NewUnstartedUpgradeEcho is like [NewUpgradeEcho] but does not start the
// server.
func NewUnstartedUpgradeEcho() *Server {
	var s *Server
	s = NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		proto := r.Header.Get("Upgrade")
		if proto == "" || !headerHasToken(r.Header, "Connection", "upgrade") || r.ProtoMajor != 1 {
			writeReply(w, Reply{Status: http.StatusBadRequest, Body: "transporttest: expected an HTTP/1.1 Upgrade request\n"})
			return
		}
		c, buf, err := http.NewResponseController(w).Hijack()
		if err != nil {
			panic(http.ErrAbortHandler)
		}
		defer c.Close()
		stop := context.AfterFunc(s.ctx, func() { c.Close() })
		defer stop()
		if err := writeRaw(buf, "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: "+proto+"\r\n\r\n"); err != nil {
			return
		}
		// Count before echoing, so a client that has read the echo sees it counted.
		io.Copy(c, countingReader{r: buf.Reader, n: &s.bodyBytes})
	}))
	return s
}

// countingReader adds what it reads to n.
type countingReader struct {
	r io.Reader
	n *atomic.Int64
}

func (cr countingReader) Read(p []byte) (int, error) {
	n, err := cr.r.Read(p)
	cr.n.Add(int64(n))
	return n, err
}

// headerHasToken reports whether the comma-separated header name contains
// token, ignoring case.
func headerHasToken(h http.Header, name, token string) bool {
	for _, v := range h.Values(name) {
		for f := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(f), token) {
				return true
			}
		}
	}
	return false
}
