package limit

import (
	"io"
	"net/http"
	"sync/atomic"

	"github.com/rtchain/chain/internal/body"
)

// slot is a response body that holds its key's slot until it ends: the first
// Read that returns an error (io.EOF included), or Close, releases the slot,
// exactly once, before Close is passed on. It is one allocation (two for a
// 101 body, which keeps its Write method): the body wrapper, the slot and
// its place in the host's list of handed-out bodies are the same value.
type slot struct {
	rc    io.ReadCloser
	h     *host
	done  <-chan struct{} // the request context's Done; nil when it cannot end
	ended atomic.Bool

	prev, next *slot // in h.held, guarded by h.mu; linked only when done != nil
	linked     bool
}

func (s *slot) Read(p []byte) (int, error) {
	n, err := s.rc.Read(p)
	if err != nil {
		s.end()
	}
	return n, err
}

func (s *slot) Close() error {
	s.end()
	return s.rc.Close()
}

func (s *slot) end() {
	if s.ended.CompareAndSwap(false, true) {
		s.h.release(s)
	}
}

// newSlot wraps rc, the body of a response of status code on key h, so that
// it holds its slot until it ends. The caller links the slot into h.held when
// done is not nil.
func newSlot(rc io.ReadCloser, code int, h *host, done <-chan struct{}) (io.ReadCloser, *slot) {
	s := &slot{rc: rc, h: h, done: done}
	if code == http.StatusSwitchingProtocols {
		// The body is also the connection's writing end: keep io.Writer.
		return body.KeepWriter(s, rc), s
	}
	return s, s
}

// slotList is the list of a host's handed-out bodies whose request context
// can end, oldest first. Its owner guards it.
type slotList struct {
	head, tail *slot
}

// push appends s.
func (l *slotList) push(s *slot) {
	s.prev, s.next, s.linked = l.tail, nil, true
	if l.tail != nil {
		l.tail.next = s
	} else {
		l.head = s
	}
	l.tail = s
}

// remove takes s out of the list if it is there.
func (l *slotList) remove(s *slot) {
	if s == nil || !s.linked {
		return
	}
	if s.prev != nil {
		s.prev.next = s.next
	} else {
		l.head = s.next
	}
	if s.next != nil {
		s.next.prev = s.prev
	} else {
		l.tail = s.prev
	}
	s.prev, s.next, s.linked = nil, nil, false
}
