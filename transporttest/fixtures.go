package transporttest

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// A Reply is one response of a [NewSequence] server.
type Reply struct {
	// Status is the status code; 0 means 200.
	Status int
	// Header is added to the response (for example Retry-After). The server
	// sets Content-Length from Body unless Header sets it.
	Header http.Header
	// Body is the response body.
	Body string
	// BodySize, when not 0, replaces Body with a generated body (the
	// lower-case alphabet, repeated) of BodySize bytes, sent with that
	// Content-Length and produced as it is written, so that a 1 GiB error
	// body costs no memory. A negative BodySize sends an endless chunked
	// body, until the client goes away or the server is closed. Either way
	// the server stops writing when Close is called, even if the client has
	// stopped reading.
	BodySize int64
}

// NewSequence returns a started server that answers the n-th request with
// replies[n], and every request after the last reply with the last one; with
// no replies it answers 200 with an empty body. Each request's body is read
// in full before the reply is sent. It is the fixture for status sequences
// such as 503, 503, 200 and for Retry-After.
func NewSequence(replies ...Reply) *Server {
	s := NewUnstartedSequence(replies...)
	s.Start()
	return s
}

// NewUnstartedSequence is like [NewSequence] but does not start the server.
func NewUnstartedSequence(replies ...Reply) *Server {
	replies = append([]Reply(nil), replies...)
	for i := range replies {
		replies[i].Header = replies[i].Header.Clone()
	}
	var next atomic.Int64
	var s *Server
	s = NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		drain(r)
		i := int(next.Add(1) - 1)
		if len(replies) == 0 {
			w.Header().Set("Content-Length", "0")
			return
		}
		rp := replies[min(i, len(replies)-1)]
		if rp.BodySize != 0 {
			s.writeGenerated(w, r, rp)
			return
		}
		writeReply(w, rp)
	}))
	return s
}

// writeReply sends rp, with its Body.
func writeReply(w http.ResponseWriter, rp Reply) {
	writeHeader(w, rp, int64(len(rp.Body)))
	io.WriteString(w, rp.Body)
}

// writeHeader sends rp's status and header, with a Content-Length of size
// unless the header has one or size is negative.
func writeHeader(w http.ResponseWriter, rp Reply, size int64) {
	h := w.Header()
	for k, v := range rp.Header {
		h[k] = append([]string(nil), v...)
	}
	if h.Get("Content-Length") == "" && size >= 0 {
		h.Set("Content-Length", strconv.FormatInt(size, 10))
	}
	status := rp.Status
	if status == 0 {
		status = http.StatusOK
	}
	w.WriteHeader(status)
}

// writeGenerated sends rp with a generated body of rp.BodySize bytes
// (endless when negative), stopping when the client goes away or the server
// is closed, even in the middle of a write the client does not read.
func (s *Server) writeGenerated(w http.ResponseWriter, r *http.Request, rp Reply) {
	writeHeader(w, rp, rp.BodySize)
	release := s.abortWritesOnClose(w)
	defer release()
	chunk := patternBytes(0, 26*1260) // about 32 KiB of whole alphabets
	for sent := int64(0); rp.BodySize < 0 || sent < rp.BodySize; {
		if s.ctx.Err() != nil || r.Context().Err() != nil {
			panic(http.ErrAbortHandler)
		}
		p := chunk
		if rp.BodySize > 0 && int64(len(p)) > rp.BodySize-sent {
			p = p[:rp.BodySize-sent]
		}
		n, err := w.Write(p)
		if err != nil {
			panic(http.ErrAbortHandler)
		}
		sent += int64(n)
	}
}

// abortWritesOnClose makes the handler's blocked and later writes fail once
// Close starts, by setting a write deadline in the past. The returned
// release must be called before the handler returns; after it, w is never
// touched.
func (s *Server) abortWritesOnClose(w http.ResponseWriter) (release func()) {
	rc := http.NewResponseController(w)
	var mu sync.Mutex // guards done, and orders the abort before release
	done := false
	stop := context.AfterFunc(s.ctx, func() {
		mu.Lock()
		defer mu.Unlock()
		if !done {
			rc.SetWriteDeadline(time.Unix(1, 0))
		}
	})
	return func() {
		stop()
		mu.Lock()
		done = true
		mu.Unlock()
	}
}

// drain reads the request body to its end, so that it is recorded and the
// server notices when the client goes away.
func drain(r *http.Request) {
	io.Copy(io.Discard, r.Body)
}

// slowHeaderBody is what a slow-header server finally answers.
const slowHeaderBody = "slow\n"

// NewSlowHeader returns a started server that reads each request, then waits
// d before it sends the response header (200, body "slow\n"). The wait ends
// early, without a response, when the client goes away or the server is
// closed. Use it to test response-header timeouts.
func NewSlowHeader(d time.Duration) *Server {
	s := NewUnstartedSlowHeader(d)
	s.Start()
	return s
}

// NewUnstartedSlowHeader is like [NewSlowHeader] but does not start the
// server.
func NewUnstartedSlowHeader(d time.Duration) *Server {
	var s *Server
	s = NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		drain(r)
		s.wait(r, d)
		writeReply(w, Reply{Body: slowHeaderBody})
	}))
	return s
}

// pattern returns byte i of the bodies the streaming fixtures send: the
// lower-case alphabet, repeated.
func pattern(i int) byte { return byte('a' + i%26) }

func patternBytes(from, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = pattern(from + i)
	}
	return b
}

// NewTrickle returns a started server that answers 200 at once with a
// Content-Length of total, then sends the body one byte at a time, one byte
// every interval (the first after one interval), so a body of total bytes
// takes total×every. The body is the lower-case alphabet, repeated. Use it to
// check that an idle bound never cuts a stream that keeps delivering.
func NewTrickle(every time.Duration, total int) *Server {
	s := NewUnstartedTrickle(every, total)
	s.Start()
	return s
}

// NewUnstartedTrickle is like [NewTrickle] but does not start the server.
func NewUnstartedTrickle(every time.Duration, total int) *Server {
	var s *Server
	s = NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		drain(r)
		rc := http.NewResponseController(w)
		w.Header().Set("Content-Length", strconv.Itoa(total))
		w.WriteHeader(http.StatusOK)
		rc.Flush()
		for i := range total {
			s.wait(r, every)
			if _, err := w.Write([]byte{pattern(i)}); err != nil {
				return
			}
			rc.Flush()
		}
	}))
	return s
}

// stallLength is how many bytes more than it sends a stalling server
// announces in Content-Length.
const stallLength = 1 << 20

// NewStall returns a started server that answers 200 with a Content-Length
// 1 MiB larger than afterBytes, sends afterBytes bytes of body at once (the
// lower-case alphabet, repeated), then sends nothing more until the client
// goes away or the server is closed. With afterBytes 0 the stall comes right
// after the header. Use it to test body-idle timeouts.
func NewStall(afterBytes int) *Server {
	s := NewUnstartedStall(afterBytes)
	s.Start()
	return s
}

// NewUnstartedStall is like [NewStall] but does not start the server.
func NewUnstartedStall(afterBytes int) *Server {
	var s *Server
	s = NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		drain(r)
		w.Header().Set("Content-Length", strconv.Itoa(afterBytes+stallLength))
		w.WriteHeader(http.StatusOK)
		w.Write(patternBytes(0, afterBytes))
		http.NewResponseController(w).Flush()
		s.block(r)
	}))
	return s
}

// NewResetMidBody returns a started server that answers 200 with a
// Content-Length twice afterBytes (at least 1), sends afterBytes bytes of
// body, then resets the connection (TCP RST). Over HTTP/2, where a handler
// cannot take the connection, it resets the stream instead. The client's
// body read fails with "connection reset by peer" (or a stream error).
func NewResetMidBody(afterBytes int) *Server {
	s := NewUnstartedResetMidBody(afterBytes)
	s.Start()
	return s
}

// NewUnstartedResetMidBody is like [NewResetMidBody] but does not start the
// server.
func NewUnstartedResetMidBody(afterBytes int) *Server {
	return NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		drain(r)
		w.Header().Set("Content-Length", strconv.Itoa(max(2*afterBytes, 1)))
		w.WriteHeader(http.StatusOK)
		w.Write(patternBytes(0, afterBytes))
		rc := http.NewResponseController(w)
		rc.Flush()
		c, _, err := rc.Hijack()
		if err != nil { // HTTP/2: reset the stream
			panic(http.ErrAbortHandler)
		}
		reset(c)
	}))
}

// NewEmptyReply returns a started server that reads each request in full and
// then closes the connection without sending a byte of response. Over
// HTTP/1.1 the client fails with an EOF ("server closed connection" on a
// reused connection); over HTTP/2 the stream is reset.
func NewEmptyReply() *Server {
	s := NewUnstartedEmptyReply()
	s.Start()
	return s
}

// NewUnstartedEmptyReply is like [NewEmptyReply] but does not start the
// server.
func NewUnstartedEmptyReply() *Server {
	return NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		drain(r)
		hangUp(w)
	}))
}

// hangUp closes the connection under w without a response (resets the
// stream over HTTP/2).
func hangUp(w http.ResponseWriter) {
	c, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	c.Close()
}

// NewReset returns a started server that reads each request in full and then
// resets the connection (TCP RST) without answering. The client fails with
// "connection reset by peer" after its request was sent: the ambiguous case
// where the server may have processed the request. Over HTTP/2 the stream
// is reset instead.
func NewReset() *Server {
	s := NewUnstartedReset()
	s.Start()
	return s
}

// NewUnstartedReset is like [NewReset] but does not start the server.
func NewUnstartedReset() *Server {
	return NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		drain(r)
		c, _, err := http.NewResponseController(w).Hijack()
		if err != nil {
			panic(http.ErrAbortHandler)
		}
		reset(c)
	}))
}

// NewRawReply returns a started server that reads each request in full,
// writes raw to the connection as the whole response, byte for byte, and
// closes the connection. Use it for responses net/http would never send:
// a malformed status line or header, a body shorter than its
// Content-Length, a bad chunk. It speaks HTTP/1.1 only (over HTTP/2 the
// stream is reset).
func NewRawReply(raw string) *Server {
	s := NewUnstartedRawReply(raw)
	s.Start()
	return s
}

// NewUnstartedRawReply is like [NewRawReply] but does not start the server.
func NewUnstartedRawReply(raw string) *Server {
	return NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		drain(r)
		c, buf, err := http.NewResponseController(w).Hijack()
		if err != nil {
			panic(http.ErrAbortHandler)
		}
		defer c.Close()
		writeRaw(buf, raw)
	}))
}

// malformedChunked is a response whose chunked body has an invalid chunk
// size line after a first good chunk.
const malformedChunked = "HTTP/1.1 200 OK\r\n" +
	"Content-Type: text/plain\r\n" +
	"Transfer-Encoding: chunked\r\n" +
	"\r\n" +
	"5\r\nhello\r\n" +
	"zz\r\nbroken\r\n"

// NewMalformedChunked returns a started server that answers each request with
// a 200 whose chunked body is malformed: a first chunk "hello", then an
// invalid chunk size line, then the connection is closed. The client gets
// the header and fails while reading the body. It speaks HTTP/1.1 only (over
// HTTP/2 the stream is reset).
func NewMalformedChunked() *Server {
	s := NewUnstartedMalformedChunked()
	s.Start()
	return s
}

// NewUnstartedMalformedChunked is like [NewMalformedChunked] but does not
// start the server.
func NewUnstartedMalformedChunked() *Server {
	return NewUnstartedRawReply(malformedChunked)
}

// NewStaleKeepAlive returns a started server that answers the first request
// on each connection with 200 "ok" and keeps the connection alive, then
// closes that connection without answering as soon as the next request
// arrives on it (after reading that request in full), as a server whose idle
// timeout fires just as the client reuses the connection. The Go transport
// retries such a request on a new connection by itself when the request is
// replayable (GET, HEAD, OPTIONS, TRACE, or an Idempotency-Key header, with a
// GetBody for a body); other requests fail. The server's counters show the
// extra request and connection.
func NewStaleKeepAlive() *Server {
	s := NewUnstartedStaleKeepAlive()
	s.Start()
	return s
}

// NewUnstartedStaleKeepAlive is like [NewStaleKeepAlive] but does not start
// the server.
func NewUnstartedStaleKeepAlive() *Server {
	var mu sync.Mutex
	served := make(map[int]bool) // connection ids that have had their answer
	return NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		drain(r)
		id := ConnID(r)
		mu.Lock()
		stale := served[id]
		served[id] = true
		mu.Unlock()
		if stale {
			hangUp(w)
			return
		}
		writeReply(w, Reply{Body: "ok"})
	}))
}

// writeRaw writes a raw HTTP/1.1 response on a hijacked connection.
func writeRaw(buf *bufio.ReadWriter, s string) error {
	if _, err := buf.WriteString(s); err != nil {
		return err
	}
	return buf.Flush()
}
