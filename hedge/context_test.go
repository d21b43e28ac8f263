package hedge_test

import (
	"context"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rtchain/chain/hedge"
	"github.com/rtchain/chain/internal/attempt"
)

// callerContexts are the two kinds of caller context, which the first
// attempt's context handles in two ways: one that can never end (that of
// http.NewRequest) and one that can.
var callerContexts = []struct {
	name string
	ctx  func(t *testing.T) context.Context
}{
	{"background", func(*testing.T) context.Context { return context.Background() }},
	{"cancellable", func(t *testing.T) context.Context { return t.Context() }},
}

// deriving is a next layer that, as *http.Transport does, runs the attempt
// under a context derived from the request's, until the response body is
// closed, and records the cause that derived context ended with.
type deriving struct {
	next  http.RoundTripper
	mu    sync.Mutex
	cause []error // by call
}

func (d *deriving) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx, cancel := context.WithCancelCause(req.Context())
	d.mu.Lock()
	n := len(d.cause)
	d.cause = append(d.cause, nil)
	d.mu.Unlock()
	context.AfterFunc(ctx, func() {
		d.mu.Lock()
		defer d.mu.Unlock()
		d.cause[n] = context.Cause(ctx)
	})
	resp, err := d.next.RoundTrip(req.WithContext(ctx))
	if err != nil {
		cancel(err)
		return nil, err
	}
	resp.Body = cancelAtClose{resp.Body, cancel}
	return resp, nil
}

// cancelAtClose is a response body that cancels its attempt's context when
// closed.
type cancelAtClose struct {
	io.ReadCloser
	cancel context.CancelCauseFunc
}

func (b cancelAtClose) Close() error {
	b.cancel(nil)
	return b.ReadCloser.Close()
}

func (d *deriving) causes() []error {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]error(nil), d.cause...)
}

func TestLoserContextEndsWithItsCause(t *testing.T) {
	for _, cc := range callerContexts {
		t.Run(cc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				fake := steps(step{delay: 100 * ms}, step{delay: 5 * ms})
				next := &deriving{next: fake}
				rt := hedge.New(next, hedge.WithDelay(10*ms))
				resp, took, err := roundTrip(rt, get(cc.ctx(t)))
				require.NoError(t, err)
				assert.Equal(t, 15*ms, took)
				assert.Equal(t, "call 1", readAll(t, resp))
				synctest.Wait()
				calls := fake.seen()
				require.Len(t, calls, 2)
				assert.EqualError(t, calls[0].err, "hedge: another attempt answered first",
					"the cause reaches the context the layer below derived")
				assert.Equal(t, 15*ms, calls[0].endAt)
				causes := next.causes()
				require.Len(t, causes, 2)
				assert.EqualError(t, causes[0], "hedge: another attempt answered first")
			})
		})
	}
}

func TestFirstAttemptContext(t *testing.T) {
	for _, cc := range callerContexts {
		t.Run(cc.name+"/hedge wins", func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				type key struct{}
				fake := steps(step{delay: 100 * ms}, step{delay: 5 * ms})
				rt := hedge.New(fake, hedge.WithDelay(10*ms))
				caller := context.WithValue(cc.ctx(t), key{}, "v")
				resp, _, err := roundTrip(rt, get(caller))
				require.NoError(t, err)
				synctest.Wait()
				first := fake.seen()[0].ctx
				assert.ErrorIs(t, first.Err(), context.Canceled, "the loser's context ended")
				assert.EqualError(t, context.Cause(first), "hedge: another attempt answered first")
				assert.Equal(t, "v", first.Value(key{}), "and still holds the caller's values")
				_, hasDeadline := first.Deadline()
				assert.False(t, hasDeadline)
				readAll(t, resp)
			})
		})
		t.Run(cc.name+"/first wins", func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				type key struct{}
				fake := steps(step{delay: 5 * ms})
				rt := hedge.New(fake, hedge.WithDelay(10*ms))
				caller, cancel := context.WithTimeout(context.WithValue(cc.ctx(t), key{}, "v"), time.Hour)
				defer cancel()
				resp, _, err := roundTrip(rt, get(caller))
				require.NoError(t, err)
				first := fake.seen()[0].ctx
				assert.Equal(t, "v", first.Value(key{}))
				dl, ok := first.Deadline()
				assert.True(t, ok)
				assert.Equal(t, time.Hour-5*ms, time.Until(dl), "the caller's deadline")

				var ran, stoppedRan atomic.Bool
				context.AfterFunc(first, func() { ran.Store(true) })
				stop := context.AfterFunc(first, func() { stoppedRan.Store(true) })
				derived, cancelDerived := context.WithCancel(first)
				defer cancelDerived()
				assert.True(t, stop(), "stopped before the context ended")
				synctest.Wait()
				require.NoError(t, first.Err(), "the first attempt's context lives while its body is read")
				require.NoError(t, derived.Err())
				assert.False(t, ran.Load())

				_, err = io.ReadAll(resp.Body)
				require.NoError(t, err)
				synctest.Wait()
				assert.ErrorIs(t, first.Err(), context.Canceled, "released at the end of the body")
				assert.ErrorIs(t, derived.Err(), context.Canceled, "and so is a context derived from it")
				assert.True(t, ran.Load(), "a function registered with AfterFunc ran")
				assert.False(t, stoppedRan.Load(), "a stopped one did not")
				resp.Body.Close()
				assert.NoError(t, caller.Err(), "the caller's context is the caller's")
			})
		})
	}
}

// TestCallerEndEndsTheFirstAttempt: the caller's cancellation reaches the
// first attempt, and a context derived from it, with the caller's cause.
func TestCallerEndEndsTheFirstAttempt(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fake := steps(step{delay: time.Hour})
		next := &deriving{next: fake}
		rt := hedge.New(next, hedge.WithDelay(10*ms), hedge.WithMaxHedges(1))
		ctx, cancel := context.WithCancelCause(t.Context())
		bye := &stopError{}
		time.AfterFunc(3*ms, func() { cancel(bye) })
		_, took, err := roundTrip(rt, get(ctx))
		assert.ErrorIs(t, err, bye)
		assert.Equal(t, 3*ms, took)
		synctest.Wait()
		causes := next.causes()
		require.Len(t, causes, 1, "no hedge: the caller left before the delay")
		assert.ErrorIs(t, causes[0], bye)
	})
}

type stopError struct{}

func (*stopError) Error() string { return "caller left" }

// switching is a next layer whose own next can be changed between requests.
type switching struct {
	mu  sync.Mutex
	cur http.RoundTripper
}

func (s *switching) set(rt http.RoundTripper) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cur = rt
}

func (s *switching) RoundTrip(req *http.Request) (*http.Response, error) {
	s.mu.Lock()
	cur := s.cur
	s.mu.Unlock()
	return cur.RoundTrip(req)
}

// slowUnlessHedge is a real-time next layer whose first attempt answers only when
// its context ends, and whose hedges answer at once.
type slowUnlessHedge struct{}

func (slowUnlessHedge) RoundTrip(req *http.Request) (*http.Response, error) {
	if !attempt.Hedge(req.Context()) {
		<-req.Context().Done()
		return nil, context.Cause(req.Context())
	}
	return &http.Response{StatusCode: 200, Body: http.NoBody, Request: req}, nil
}

// TestTransportInsideAndOutsideBubbles: one Transport serves requests outside
// any testing/synctest bubble, inside one, and outside again. Its hedge
// timers are pooled; a timer made outside would run on the real clock inside
// a bubble, and one made inside may not be touched outside it.
func TestTransportInsideAndOutsideBubbles(t *testing.T) {
	next := &switching{cur: instant{watch: true}}
	rt := hedge.New(next, hedge.WithDelay(10*ms))
	outside := func() {
		t.Helper()
		next.set(instant{watch: true})
		for range 50 {
			resp, err := rt.RoundTrip(get(context.Background()))
			require.NoError(t, err)
			resp.Body.Close()
		}
		next.set(slowUnlessHedge{})
		start := time.Now()
		resp, err := rt.RoundTrip(get(context.Background()))
		require.NoError(t, err, "the hedge, on a real timer, won")
		resp.Body.Close()
		assert.Less(t, time.Since(start), 10*time.Second)
	}
	outside()
	for range 3 {
		synctest.Test(t, func(t *testing.T) {
			for _, ctx := range []context.Context{context.Background(), t.Context()} {
				next.set(steps(step{delay: 100 * ms}, step{delay: 5 * ms}))
				resp, took, err := roundTrip(rt, get(ctx))
				require.NoError(t, err)
				assert.Equal(t, 15*ms, took, "the hedge fired on the bubble's clock")
				resp.Body.Close()
			}
		})
		outside()
	}
}
