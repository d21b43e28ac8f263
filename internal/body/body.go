// Package body wraps response bodies so that work which must finish at the end
// of a stream (releasing an attempt's context, ending a span, reporting an
// outcome) runs exactly once.
package body

import (
	"io"
	"sync/atomic"
)

// Wrap returns a ReadCloser that reads from rc and calls done exactly once, the
// first time one of these happens:
//
//   - a Read returns io.EOF: done(io.EOF);
//   - a Read returns another error: done(err);
//   - Close is called before either: done(nil), before rc.Close is called.
//
// When rc also implements io.Writer (the body of a 101 Switching Protocols
// response), the returned value does too, so upgraded connections keep working
// through every layer. A nil rc is returned as it is and done is not called.
//
// The wrapper is as safe for concurrent use as rc itself; done never runs twice.
func Wrap(rc io.ReadCloser, done func(error)) io.ReadCloser {
	if rc == nil {
		return nil
	}
	return KeepWriter(&readCloser{rc: rc, done: done}, rc)
}

// KeepWriter returns wrapper, a wrapper of the response body orig, with
// orig's Write method when orig has one: the body of a 101 Switching
// Protocols response is also the connection's writing end, and net/http's
// users assert it to io.ReadWriteCloser. Writes go to orig directly. When
// orig has no Write method, wrapper itself is returned. This is the one 101
// wrapper of the module: every layer that wraps response bodies passes its
// wrapper through it.
func KeepWriter(wrapper, orig io.ReadCloser) io.ReadCloser {
	if w, ok := orig.(io.Writer); ok {
		return &readWriteCloser{ReadCloser: wrapper, w: w}
	}
	return wrapper
}

type readCloser struct {
	rc       io.ReadCloser
	done     func(error)
	finished atomic.Bool
}

func (b *readCloser) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	if err != nil {
		b.finish(err)
	}
	return n, err
}

func (b *readCloser) Close() error {
	b.finish(nil)
	return b.rc.Close()
}

func (b *readCloser) finish(err error) {
	if b.finished.CompareAndSwap(false, true) {
		b.done(err)
	}
}

// readWriteCloser is a body wrapper that keeps its body's io.Writer.
type readWriteCloser struct {
	io.ReadCloser
	w io.Writer
}

func (b *readWriteCloser) Write(p []byte) (int, error) { return b.w.Write(p) }
