package transporttest

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"strings"
)

// The faults below take the connection from net/http (Hijack), which only
// HTTP/1.x allows; over HTTP/2 they reset the stream instead, by aborting
// the handler.

// takeConn hijacks the connection under w, or aborts the handler when it
// cannot be taken (HTTP/2).
func takeConn(w http.ResponseWriter) (net.Conn, *bufio.ReadWriter) {
	c, buf, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	return c, buf
}

// hangUp closes the connection under w without a response.
func hangUp(w http.ResponseWriter) {
	c, _ := takeConn(w)
	c.Close()
}

// resetConn resets the connection under w (TCP RST) without a further
// byte.
func resetConn(w http.ResponseWriter) {
	c, _ := takeConn(w)
	reset(c)
}

// malformedChunked is a response whose chunked body has an invalid chunk
// size line after a first good chunk.
const malformedChunked = "HTTP/1.1 200 OK\r\n" +
	"Content-Type: text/plain\r\n" +
	"Transfer-Encoding: chunked\r\n" +
	"\r\n" +
	"5\r\nhello\r\n" +
	"zz\r\nbroken\r\n"

// writeRaw writes raw as the whole response on the connection under w,
// then closes the connection.
func writeRaw(w http.ResponseWriter, raw string) {
	c, buf := takeConn(w)
	defer c.Close()
	if _, err := buf.WriteString(raw); err == nil {
		buf.Flush()
	}
}

// holdConn takes the connection under w and neither reads nor writes it
// until r's context ends (the server is closing); over HTTP/2 it blocks the
// stream the same way.
func holdConn(w http.ResponseWriter, r *http.Request) {
	c, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		block(r)
	}
	defer c.Close()
	<-r.Context().Done()
}

// upgradeEcho switches an HTTP/1.1 Upgrade request to a raw echo of every
// byte the client sends, counted as request-body bytes, until either side
// closes the connection or r's context ends.
func upgradeEcho(w http.ResponseWriter, r *http.Request) {
	proto := r.Header.Get("Upgrade")
	if proto == "" || !headerHasToken(r.Header, "Connection", "upgrade") || r.ProtoMajor != 1 {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusBadRequest)
		io.WriteString(w, "transporttest: expected an HTTP/1.1 Upgrade request\n")
		return
	}
	c, buf := takeConn(w)
	defer c.Close()
	stop := context.AfterFunc(r.Context(), func() { c.Close() })
	defer stop()
	if _, err := buf.WriteString("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: " + proto + "\r\n\r\n"); err != nil {
		return
	}
	if buf.Flush() != nil {
		return
	}
	var in io.Reader = buf.Reader
	if ex := exchangeOf(r); ex != nil {
		in = countingReader{r: in, s: ex.s}
	}
	// Count before echoing, so a client that has read the echo sees it counted.
	io.Copy(c, in)
}

// countingReader adds what it reads to a server's body bytes.
type countingReader struct {
	r io.Reader
	s *Server
}

func (cr countingReader) Read(p []byte) (int, error) {
	n, err := cr.r.Read(p)
	cr.s.bodyBytes.Add(int64(n))
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
