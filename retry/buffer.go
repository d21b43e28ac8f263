package retry

import (
	"bytes"
	"io"
	"sync"
)

// teeBody is the request body of a first attempt under [WithBufferBody]:
// it reads from the caller's body and keeps a copy of the bytes read, up to
// max. The transport below may still read it after RoundTrip returned (it
// writes the body on its own goroutine), hence the mutex.
type teeBody struct {
	rc   io.ReadCloser
	max  int64
	size int64 // the request's ContentLength; ≤ 0 when unknown

	mu   sync.Mutex // guards buf, over and eof
	buf  []byte
	over bool // the body is longer than max: buf is dropped
	eof  bool
}

func newTeeBody(rc io.ReadCloser, max, size int64) *teeBody {
	t := &teeBody{rc: rc, max: max, size: size}
	if size > 0 && size <= max {
		t.buf = make([]byte, 0, size)
	}
	return t
}

func (t *teeBody) Read(p []byte) (int, error) {
	n, err := t.rc.Read(p)
	t.mu.Lock()
	defer t.mu.Unlock()
	switch {
	case t.over:
	case int64(len(t.buf))+int64(n) > t.max:
		t.over, t.buf = true, nil
	default:
		t.buf = append(t.buf, p[:n]...)
	}
	if err == io.EOF {
		t.eof = true
	}
	return n, err
}

func (t *teeBody) Close() error { return t.rc.Close() }

// copied returns the whole body, and false when the copy does not hold it
// all: too long, or not sent to its end (the declared length, or EOF).
func (t *teeBody) copied() ([]byte, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.over || !(t.eof || t.size > 0 && int64(len(t.buf)) == t.size) {
		return nil, false
	}
	return t.buf[:len(t.buf):len(t.buf)], true
}

// replayBody returns a GetBody over b.
func replayBody(b []byte) func() (io.ReadCloser, error) {
	return func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
}
