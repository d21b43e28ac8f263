package timeouts

import (
	"context"
	"net/http"
	"sync"
)

// ctxState is the part of a hand-written context.Context that the per-attempt
// exchange and Total's request share: Done, Err and AfterFunc over a parent.
// The embedding type adds Deadline and Value, and is itself the context given
// to the next RoundTripper; it also holds the request copy that carries it,
// so that one allocation holds the request's state, its context and the
// request next gets.
//
// # Why not context.WithDeadlineCause
//
// BenchmarkContext (internal_test.go) runs the same round trip through this
// context and through the standard library's (a WithDeadlineCause context
// for the attempt, an AfterFunc timer for the header bound started from
// httptrace.WithClientTrace's WroteRequest, a body wrapper that releases
// both), over a transport that answers at once but, as net/http does, asks
// the context for Done and for its trace. Measured on the 2-core machine of
// bench/README.md, loaded (the times are indicative only; same run):
//
//	hand-written context, answers the trace key    6 allocs   784 B   ~1.9 µs
//	WithDeadlineCause + WithClientTrace + timer   12 allocs  1088 B   ~4.5 µs
//
// The hand-written context pays: it needs no timer of its own (the bounds
// share a pooled one), makes Done only when someone asks, and makes the
// trace only when next asks for it (see traceState). Over a transport that
// does not look at its context it costs 1 allocation of 480 B (the state
// with the request copy).
//
// Once the context is done, Done is closed and Err returns the error of its
// end (see end). The parent's end is propagated with context.AfterFunc, set up
// lazily by the first call to Done; contexts derived from this one are told
// through AfterFunc, so that the context package starts no goroutine for
// them.
type ctxState struct {
	req *http.Request // the caller's, read only: its context is the parent

	mu         sync.Mutex    // guards the fields below, and those of the embedding type
	done       chan struct{} // made on the first Done call
	funcs      []afterFunc   // registered by the context package (AfterFunc)
	stopParent func() bool   // stops the watch of parent.Done
	nextFunc   uint32
	end        end // why the context is done; notDone until then
}

// end is why a ctxState is done: a byte rather than the error, which Err
// derives from it, so that the state of a request stays small.
type end uint8

const (
	notDone  end = iota
	canceled     // the request finished: context.Canceled
	deadline     // a bound fired: context.DeadlineExceeded
	byParent     // the parent is done: its own error
)

// parent returns the context this one is derived from: the caller's.
func (s *ctxState) parent() context.Context { return s.req.Context() }

type afterFunc struct {
	id uint32
	f  func()
}

// closedChan is the Done channel of a context that was done before anyone
// asked for it.
var closedChan = func() chan struct{} {
	c := make(chan struct{})
	close(c)
	return c
}()

// Done returns a channel closed when the context is done: the bound fired,
// the parent is done, or the request finished.
func (s *ctxState) Done() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.done == nil {
		if s.end != notDone {
			s.done = closedChan
		} else {
			s.done = make(chan struct{})
			if s.parent().Done() != nil {
				s.stopParent = context.AfterFunc(s.parent(), s.onParentDone)
			}
		}
	}
	return s.done
}

func (s *ctxState) onParentDone() {
	s.mu.Lock()
	funcs := s.cancelLocked(byParent)
	s.mu.Unlock()
	runAll(funcs)
}

// Err returns nil until the context is done, then its error; the parent's
// error as soon as the parent is done.
func (s *ctxState) Err() error {
	s.mu.Lock()
	e := s.end
	s.mu.Unlock()
	switch e {
	case canceled:
		return context.Canceled
	case deadline:
		return context.DeadlineExceeded
	}
	return s.parent().Err() // nil while it is not done; once done, it stays so
}

// AfterFunc lets the context package propagate this context's end to the
// contexts derived from it without a goroutine each. f runs once, on the
// goroutine that ends the context, outside s.mu; when the context is already
// done, f runs on a new goroutine, as context.AfterFunc does.
func (s *ctxState) AfterFunc(f func()) func() bool {
	s.mu.Lock()
	if s.end != notDone {
		s.mu.Unlock()
		go f()
		return func() bool { return false }
	}
	s.nextFunc++
	id := s.nextFunc
	s.funcs = append(s.funcs, afterFunc{id, f})
	s.mu.Unlock()
	return func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		for i, a := range s.funcs {
			if a.id == id {
				s.funcs = append(s.funcs[:i], s.funcs[i+1:]...)
				return true
			}
		}
		return false
	}
}

// cancelLocked ends the context for the reason e and returns the functions
// to run outside the lock. Called with s.mu held.
func (s *ctxState) cancelLocked(e end) []afterFunc {
	if s.end != notDone {
		return nil
	}
	s.end = e
	if s.done == nil {
		s.done = closedChan
	} else {
		close(s.done)
	}
	funcs := s.funcs
	s.funcs = nil
	return funcs
}

// cancel ends the context for the reason e, stops watching the parent and
// runs the functions derived contexts registered.
func (s *ctxState) cancel(e end) {
	s.mu.Lock()
	f := s.finalLocked(e)
	s.mu.Unlock()
	f.run()
}

// final is what remains to do, outside the lock, once the context is done:
// run the functions derived contexts registered, stop watching the parent.
type final struct {
	funcs []afterFunc
	stop  func() bool
}

// finalLocked ends the context for the reason e (unless it is done
// already) and returns what remains to do. Called with s.mu held.
func (s *ctxState) finalLocked(e end) final {
	f := final{funcs: s.cancelLocked(e), stop: s.stopParent}
	s.stopParent = nil
	return f
}

func (f final) run() {
	runAll(f.funcs)
	if f.stop != nil {
		f.stop()
	}
}

func runAll(funcs []afterFunc) {
	for _, a := range funcs {
		a.f()
	}
}
