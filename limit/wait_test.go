package limit_test

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rtchain/chain/errclass"
	"github.com/rtchain/chain/limit"
)

// outcome is what one RoundTrip returned, and when (on the bubble's clock).
type outcome struct {
	resp *http.Response
	err  error
	at   time.Duration
}

// goGet sends a GET with ctx on its own goroutine and reports its outcome.
func goGet(t *testing.T, rt http.RoundTripper, ctx context.Context, start time.Time) <-chan outcome {
	ch := make(chan outcome, 1)
	req := newReq(t, ctx, "http://a.test/")
	go func() {
		resp, err := rt.RoundTrip(req)
		ch <- outcome{resp, err, time.Since(start)}
	}()
	return ch
}

// Without WithMaxWait a request over the limit is rejected at once.
func TestNoWaitByDefault(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rt := limit.New(&fake{}, limit.WithMaxInFlight(1))
		held := mustHold(t, rt, "http://a.test/")
		start := time.Now()
		_, err := get(t, rt, "http://a.test/")
		assert.True(t, isLimited(err))
		assert.Zero(t, time.Since(start))
		drain(held)
	})
}

// A waiting request gets the slot the moment it frees.
func TestWaitGetsFreedSlot(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rt := limit.New(&fake{}, limit.WithMaxInFlight(1), limit.WithMaxWait(50*time.Millisecond))
		held := mustHold(t, rt, "http://a.test/")
		start := time.Now()
		ch := goGet(t, rt, context.Background(), start)
		synctest.Wait()
		assert.Equal(t, 1, rt.Stats("a.test").Waiting)
		time.Sleep(30 * time.Millisecond)
		drain(held)
		o := <-ch
		require.NoError(t, o.err)
		assert.Equal(t, 30*time.Millisecond, o.at)
		assert.Equal(t, limit.Stats{Limit: 1, InFlight: 1}, rt.Stats("a.test"))
		drain(o.resp)
	})
}

// A wait that runs out is a rejection that says how long it waited.
func TestWaitRunsOut(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rejections := 0
		next := &fake{}
		rt := limit.New(next, limit.WithMaxInFlight(1), limit.WithMaxWait(50*time.Millisecond),
			limit.WithOnReject(func(string) { rejections++ }))
		held := mustHold(t, rt, "http://a.test/")
		start := time.Now()
		o := <-goGet(t, rt, context.Background(), start)
		assert.Equal(t, 50*time.Millisecond, o.at)
		var le *limit.Error
		require.ErrorAs(t, o.err, &le)
		assert.Equal(t, limit.Error{Key: "a.test", Limit: 1, Waited: 50 * time.Millisecond}, *le)
		assert.Equal(t, "limit: a.test: limit of 1 in flight reached, no slot within 50ms; not sent", o.err.Error())
		assert.Equal(t, 1, rejections)
		assert.Equal(t, int64(1), next.calls.Load())
		assert.Zero(t, rt.Stats("a.test").Waiting)
		drain(held)
	})
}

// A wait ends when the request's context is cancelled or its deadline
// passes, with the context's error; neither is a rejection.
func TestWaitHonoursContext(t *testing.T) {
	for _, tc := range []struct {
		name string
		ctx  func() (context.Context, context.CancelFunc)
		want error
	}{
		{"cancel", func() (context.Context, context.CancelFunc) {
			ctx, cancel := context.WithCancel(context.Background())
			time.AfterFunc(10*time.Millisecond, cancel)
			return ctx, cancel
		}, context.Canceled},
		{"deadline", func() (context.Context, context.CancelFunc) {
			return context.WithTimeout(context.Background(), 10*time.Millisecond)
		}, context.DeadlineExceeded},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				rejections := 0
				rt := limit.New(&fake{}, limit.WithMaxInFlight(1), limit.WithMaxWait(time.Second),
					limit.WithOnReject(func(string) { rejections++ }))
				held := mustHold(t, rt, "http://a.test/")
				ctx, cancel := tc.ctx()
				defer cancel()
				body := &closeCounter{}
				req, err := http.NewRequestWithContext(ctx, http.MethodPut, "http://a.test/", body)
				require.NoError(t, err)
				start := time.Now()
				resp, err := rt.RoundTrip(req)
				assert.Nil(t, resp)
				assert.Equal(t, 10*time.Millisecond, time.Since(start))
				assert.True(t, errors.Is(err, tc.want), "got %v", err)
				assert.False(t, isLimited(err))
				assert.Zero(t, rejections)
				assert.Equal(t, int32(1), body.closes.Load())
				assert.Equal(t, limit.Stats{Limit: 1, InFlight: 1}, rt.Stats("a.test"))
				drain(held)
				assert.Zero(t, rt.Stats("a.test").InFlight)
			})
		})
	}
}

// A deadline that ends the wait matches errclass.ErrTimeout too.
func TestWaitDeadlineClass(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rt := limit.New(&fake{}, limit.WithMaxInFlight(1), limit.WithMaxWait(time.Second))
		held := mustHold(t, rt, "http://a.test/")
		ctx, cancel := context.WithTimeout(context.Background(), time.Millisecond)
		defer cancel()
		_, err := rt.RoundTrip(newReq(t, ctx, "http://a.test/"))
		assert.ErrorIs(t, err, errclass.ErrTimeout)
		assert.ErrorIs(t, err, context.DeadlineExceeded)
		drain(held)
	})
}

// Waiters get slots in arrival order, and one that gave up is skipped.
func TestWaitFIFO(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rt := limit.New(&fake{}, limit.WithMaxInFlight(1), limit.WithMaxWait(time.Second))
		held := mustHold(t, rt, "http://a.test/")
		start := time.Now()
		first := goGet(t, rt, context.Background(), start)
		synctest.Wait()
		ctx, cancel := context.WithCancel(context.Background())
		quitter := goGet(t, rt, ctx, start)
		synctest.Wait()
		third := goGet(t, rt, context.Background(), start)
		synctest.Wait()
		assert.Equal(t, 3, rt.Stats("a.test").Waiting)
		cancel()
		o := <-quitter
		assert.ErrorIs(t, o.err, context.Canceled)
		assert.Equal(t, 2, rt.Stats("a.test").Waiting)

		time.Sleep(10 * time.Millisecond)
		drain(held)
		o = <-first
		require.NoError(t, o.err)
		assert.Equal(t, 10*time.Millisecond, o.at)
		select {
		case <-third:
			t.Fatal("the third waiter got in while the first holds the slot")
		default:
		}
		time.Sleep(10 * time.Millisecond)
		drain(o.resp)
		o = <-third
		require.NoError(t, o.err)
		assert.Equal(t, 20*time.Millisecond, o.at)
		drain(o.resp)
		assert.Equal(t, limit.Stats{Limit: 1}, rt.Stats("a.test"))
	})
}

// A new request does not jump the queue: while others wait, it waits too.
func TestNoBargingPastWaiters(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rt := limit.New(&fake{}, limit.WithMaxInFlight(1), limit.WithMaxWait(time.Second))
		held := mustHold(t, rt, "http://a.test/")
		start := time.Now()
		first := goGet(t, rt, context.Background(), start)
		synctest.Wait()
		drain(held) // the slot goes to first, not to whoever asks next
		late := goGet(t, rt, context.Background(), start)
		synctest.Wait()
		assert.Equal(t, 1, rt.Stats("a.test").Waiting)
		o := <-first
		require.NoError(t, o.err)
		drain(o.resp)
		o = <-late
		require.NoError(t, o.err)
		drain(o.resp)
	})
}

func TestOptionPanics(t *testing.T) {
	for name, f := range map[string]func(){
		"limit: WithMaxInFlight(0): need at least 1":    func() { limit.WithMaxInFlight(0) },
		"limit: WithMaxWait(-1ns): need a duration ≥ 0": func() { limit.WithMaxWait(-1) },
		"limit: WithMaxKeys(0): need at least 1":        func() { limit.WithMaxKeys(0) },
		"limit: WithKey(nil): need a function":          func() { limit.WithKey(nil) },
	} {
		assert.PanicsWithValue(t, name, f)
	}
}
