package transporttest

import (
	"io"
	"net/http"
	"time"
)

// NewNoRead returns a started server that reads each request's header but
// never reads its body and never answers, until the client goes away or the
// server is closed: an upload stall. A client sending a body larger than the
// socket buffers blocks in its write. Use it to test write-idle (upload)
// timeouts.
func NewNoRead() *Server {
	s := NewUnstartedNoRead()
	s.Start()
	return s
}

// NewUnstartedNoRead is like [NewNoRead] but does not start the server.
func NewUnstartedNoRead() *Server {
	var s *Server
	s = NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.block(r)
	}))
	return s
}

// NewSlowReader returns a started server that reads each request body chunk
// bytes at a time, waiting every between reads, and answers 200 with the body
// "ok" once it has read the whole body. It stops reading, without an answer,
// when the client goes away or the server is closed. Use it to check that a
// write-idle bound does not cut an upload that keeps moving.
func NewSlowReader(chunk int, every time.Duration) *Server {
	s := NewUnstartedSlowReader(chunk, every)
	s.Start()
	return s
}

// NewUnstartedSlowReader is like [NewSlowReader] but does not start the
// server. It panics if chunk is less than 1.
func NewUnstartedSlowReader(chunk int, every time.Duration) *Server {
	if chunk < 1 {
		panic("transporttest: NewSlowReader: chunk must be at least 1")
	}
	var s *Server
	s = NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		buf := make([]byte, chunk)
		for {
			if _, err := io.ReadFull(r.Body, buf); err != nil {
				if err == io.EOF || err == io.ErrUnexpectedEOF {
					break
				}
				return
			}
			s.wait(r, every)
		}
		writeReply(w, Reply{Body: "ok"})
	}))
	return s
}

// NewAnswerBeforeBody returns a started server that answers each request
// with status (and "Connection: close") as soon as the request header has
// arrived, without reading the body, and then closes the connection. A
// client uploading a large body gets the response, or an error from its body
// write (broken pipe or reset) if the close reaches it first; the body it
// had handed over can never be reused for a retry.
func NewAnswerBeforeBody(status int) *Server {
	s := NewUnstartedAnswerBeforeBody(status)
	s.Start()
	return s
}

// NewUnstartedAnswerBeforeBody is like [NewAnswerBeforeBody] but does not
// start the server.
func NewUnstartedAnswerBeforeBody(status int) *Server {
	return NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Connection", "close")
		writeReply(w, Reply{Status: status, Body: http.StatusText(status)})
	}))
}
