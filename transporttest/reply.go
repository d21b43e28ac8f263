package transporttest

import (
	"fmt"
	"net/http"
	"sync/atomic"
	"time"
)

// A Reply is an [http.Handler] that answers every request with one response
// or one failure shape, for [NewServer] (or for any http.Server). Its zero
// value answers 200 with an empty body.
//
// A Reply plays, in order: it reads the request body (all of it, unless
// ReadEvery, NoRead or AnswerBeforeBody say otherwise) and waits Delay;
// then it either fails in place of a response (Reset, EmptyReply,
// MalformedChunked, Raw) or sends the status, the header and the body
// (Trickle apart), ending with a Stall or a ResetMidBody if Fault says so.
// Every wait ends early, with the connection closed (the stream reset, over
// HTTP/2) and no further response, when the client goes away or the
// [Server] is closed.
//
// Its fields are read-only once it is given to a server: a Reply and its
// Header may serve many requests at once.
type Reply struct {
	// Status is the status code; 0 means 200. A Status of 101 makes the
	// Reply switch protocols: to a request with "Connection: Upgrade" and an
	// Upgrade header it answers 101 Switching Protocols (echoing the Upgrade
	// value), then echoes every byte it receives on the connection back to
	// the client until either side closes it; it answers other requests 400.
	// With the Go client the 101 response's Body is an io.ReadWriteCloser.
	// Upgrades are HTTP/1.1 only.
	Status int
	// Header is added to the response (for example Retry-After). The server
	// sets Content-Length from the body unless Header sets it.
	Header http.Header
	// Body is the response body.
	Body string
	// BodySize, when not 0, replaces Body with a generated body (the
	// lower-case alphabet, repeated) of BodySize bytes, produced as it is
	// written, so that a 1 GiB error body costs no memory. A negative
	// BodySize sends an endless chunked body. The server stops writing it
	// when Close is called, even if the client has stopped reading.
	BodySize int64
	// Delay is how long the server waits, once it has read the request, before
	// it sends the response header: a slow server, for header timeouts.
	Delay time.Duration
	// Trickle, when positive, sends the body one byte at a time, waiting
	// Trickle before each byte, so that a body of n bytes takes n×Trickle:
	// a stream that never stops moving, which no idle bound may cut.
	Trickle time.Duration
	// ReadEvery, when positive, makes the server read the request body
	// slowly, ReadChunk bytes at a time (1 when ReadChunk is 0), waiting
	// ReadEvery after each read: an upload that keeps moving, slowly.
	ReadEvery time.Duration
	// ReadChunk is the size of each slow read; see ReadEvery. It must not
	// be negative.
	ReadChunk int
	// Raw, when not empty, is written to the connection as the whole
	// response, byte for byte, before the connection is closed: a malformed
	// status line or header, a body shorter than its Content-Length, a bad
	// chunk. Status, Header and the body fields are then unused. It is
	// HTTP/1.1 only (over HTTP/2 the stream is reset).
	Raw string
	// Fault is the failure the Reply plays; the zero value, NoFault, plays
	// none. See [Fault] for each.
	Fault Fault
}

// A Fault is a failure a [Reply] plays in place of, or partway through, its
// response. What a Go client (net/http) sees is given with, in parentheses,
// the class errclass.Classify gives its error.
type Fault int

const (
	// NoFault answers normally.
	NoFault Fault = iota
	// Stall sends the status, the header and the body, announcing in
	// Content-Length 1 MiB more than that, then nothing until the client
	// goes away or the server is closed: the body read blocks (Timeout,
	// once a timeout or the context ends it). With no body the stall comes
	// right after the header.
	Stall
	// ResetMidBody sends the status, the header and the body, announcing in
	// Content-Length twice that (at least 1), then resets the connection
	// (TCP RST): the body read fails with "connection reset by peer"
	// (Reset). Over HTTP/2, where a handler cannot take the connection, it
	// resets the stream.
	ResetMidBody
	// Reset reads the request and resets the connection (TCP RST) without
	// answering: "connection reset by peer" after the request may have been
	// processed (Reset). Over HTTP/2 it resets the stream.
	Reset
	// EmptyReply reads the request and closes the connection without a byte
	// of response: io.EOF, or "server closed connection" on a reused
	// connection (Reset). Over HTTP/2 it resets the stream.
	EmptyReply
	// MalformedChunked answers 200 with a chunked body whose first chunk is
	// "hello" and whose next chunk-size line is invalid, then closes the
	// connection: the header arrives and the body read fails (Protocol).
	// HTTP/1.1 only (over HTTP/2 the stream is reset).
	MalformedChunked
	// StaleKeepAlive answers the first request on each connection and keeps
	// the connection alive, then closes it without answering as soon as the
	// next request arrives on it (after reading that request), as a server
	// whose idle timeout fires just as the client reuses the connection.
	// net/http retries such a request on a new connection by itself when it
	// is replayable (GET, HEAD, OPTIONS, TRACE, or an Idempotency-Key
	// header, with GetBody for a body); others fail with io.EOF. It needs a
	// [Server] of this package to tell connections apart; under another
	// server it answers every request.
	StaleKeepAlive
	// Blackhole accepts connections and never reads from them nor writes to
	// them until the server is closed, not even a TLS handshake: only the
	// client's own timeouts or context end its wait (Timeout; phase
	// tls_handshake for a TLS handshake timeout). It takes this shape when
	// the Reply is the server's whole handler; in a [Sequence] or under
	// another server it takes the connection once the request header has
	// arrived, and then does nothing.
	Blackhole
	// NoRead reads the request header but never the body, and never answers,
	// until the client goes away or the server is closed: an upload stall. A
	// client sending a body larger than the socket buffers blocks in its
	// write (Timeout).
	NoRead
	// AnswerBeforeBody answers (say 413 or 503) as soon as the request
	// header has arrived, with "Connection: close", without reading the
	// body, and closes the connection: the client gets the response, or an
	// error from its body write if the close reaches it first, and must not
	// reuse the body it sent.
	AnswerBeforeBody

	lastFault = AnswerBeforeBody
)

// check panics, naming the field, if rp cannot be served.
func (rp *Reply) check() {
	switch {
	case rp == nil:
		panic("transporttest: nil *Reply")
	case rp.Status != 0 && (rp.Status < 100 || rp.Status > 999):
		panic(fmt.Sprintf("transporttest: Reply{Status: %d}: need 0 or a code from 100 to 999", rp.Status))
	case rp.ReadChunk < 0:
		panic(fmt.Sprintf("transporttest: Reply{ReadChunk: %d}: need at least 0", rp.ReadChunk))
	case rp.Fault < NoFault || rp.Fault > lastFault:
		panic(fmt.Sprintf("transporttest: Reply{Fault: %d}: not a Fault", int(rp.Fault)))
	}
}

// isBlackhole reports whether h is a Reply playing Blackhole.
func isBlackhole(h http.Handler) bool {
	switch rp := h.(type) {
	case Reply:
		return rp.Fault == Blackhole
	case *Reply:
		return rp != nil && rp.Fault == Blackhole
	}
	return false
}

// Sequence returns a handler that answers the n-th request it receives
// with replies[n], and every request after the last reply with the last one;
// with no replies it answers 200 with an empty body. It is the fixture for
// status sequences such as 503, 503, 200 and for Retry-After. The replies
// and their headers are copied. It panics if a reply has an invalid field.
func Sequence(replies ...Reply) http.Handler {
	replies = append([]Reply(nil), replies...)
	for i := range replies {
		replies[i].check()
		replies[i].Header = replies[i].Header.Clone()
	}
	if len(replies) == 0 {
		replies = []Reply{{}}
	}
	var next atomic.Int64
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		i := int(next.Add(1) - 1)
		replies[min(i, len(replies)-1)].ServeHTTP(w, r)
	})
}

// ServeHTTP plays the Reply for one request.
func (rp Reply) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case rp.Fault == Blackhole:
		holdConn(w, r)
		return
	case rp.Status == http.StatusSwitchingProtocols:
		upgradeEcho(w, r)
		return
	}
	switch {
	case rp.Fault == NoRead:
		block(r)
	case rp.Fault == AnswerBeforeBody:
		w.Header().Set("Connection", "close")
	case rp.ReadEvery > 0:
		readSlowly(r, max(rp.ReadChunk, 1), rp.ReadEvery)
	default:
		drain(r)
	}
	if rp.Fault == StaleKeepAlive {
		if ex := exchangeOf(r); ex != nil && ex.connSeq > 1 {
			hangUp(w)
			return
		}
	}
	pause(r, rp.Delay)
	switch {
	case rp.Fault == EmptyReply:
		hangUp(w)
	case rp.Fault == Reset:
		resetConn(w)
	case rp.Fault == MalformedChunked:
		writeRaw(w, malformedChunked)
	case rp.Raw != "":
		writeRaw(w, rp.Raw)
	default:
		rp.respond(w, r)
	}
}
