package hedge_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"sync"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rtchain/chain/errclass"
	"github.com/rtchain/chain/hedge"
	"github.com/rtchain/chain/internal/record"
	"github.com/rtchain/chain/retry"
)

const ms = time.Millisecond

// reset is a connection reset, as the net package reports it.
var reset = &net.OpError{Op: "read", Net: "tcp", Err: os.NewSyscallError("read", syscall.ECONNRESET)}

// roundTrip sends req through rt and reports how long it took on the
// bubble's clock.
func roundTrip(rt http.RoundTripper, req *http.Request) (*http.Response, time.Duration, error) {
	start := time.Now()
	resp, err := rt.RoundTrip(req)
	return resp, time.Since(start), err
}

func TestHedgeSentAfterDelayWins(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		next := steps(step{delay: 100 * ms}, step{delay: 5 * ms})
		var ev events
		rt := hedge.New(next, hedge.WithDelay(10*ms), hedge.WithOnHedge(ev.hook))
		resp, took, err := roundTrip(rt, get(t.Context()))
		require.NoError(t, err)
		assert.Equal(t, 15*ms, took, "the hedge's answer, sent at 10ms and answered 5ms later")
		calls := next.seen()
		require.Len(t, calls, 2)
		require.NoError(t, calls[1].ctx.Err(), "the winner's context lives while its body is read")
		assert.Equal(t, "call 1", readAll(t, resp))
		assert.ErrorIs(t, calls[1].ctx.Err(), context.Canceled, "and is released once the body is read")
		synctest.Wait()

		calls = next.seen()
		require.Len(t, calls, 2)
		assert.False(t, calls[0].hedge, "the first attempt is not marked as a hedge")
		assert.True(t, calls[1].hedge, "the hedge's context is marked")
		assert.Equal(t, 10*ms, calls[1].at)
		assert.ErrorIs(t, calls[0].ctx.Err(), context.Canceled, "the loser was cancelled")
		assert.EqualError(t, calls[0].err, "hedge: another attempt answered first")
		assert.Equal(t, 15*ms, calls[0].endAt, "the loser was cancelled when the winner arrived")
		assert.Equal(t, []string{"sent 1 at 10ms", "won 1 at 10ms"}, ev.list())
	})
}

func TestNoHedgeWhenTheFirstAnswersInTime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		next := steps(step{delay: 9 * ms})
		var ev events
		rt := hedge.New(next, hedge.WithDelay(10*ms), hedge.WithOnHedge(ev.hook))
		resp, took, err := roundTrip(rt, get(t.Context()))
		require.NoError(t, err)
		assert.Equal(t, 9*ms, took)
		time.Sleep(time.Second)
		synctest.Wait()
		require.Len(t, next.seen(), 1, "no hedge, however long we wait")
		body := next.seen()[0].resp
		assert.Zero(t, body.reads.Load(), "the winner's body is not read before the caller reads it")
		ctx := next.seen()[0].ctx
		require.NoError(t, ctx.Err(), "the first attempt's context lives while its body is read")
		assert.Equal(t, "call 0", readAll(t, resp))
		assert.ErrorIs(t, ctx.Err(), context.Canceled, "and is released once the body is read")
		assert.True(t, body.closed.Load())
		assert.Empty(t, ev.list())
	})
}

func TestFirstAttemptWinsAfterTheHedgeIsSent(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		next := steps(step{delay: 12 * ms}, step{delay: 50 * ms})
		var ev events
		rt := hedge.New(next, hedge.WithDelay(10*ms), hedge.WithOnHedge(ev.hook))
		resp, took, err := roundTrip(rt, get(t.Context()))
		require.NoError(t, err)
		assert.Equal(t, 12*ms, took)
		assert.Equal(t, "call 0", readAll(t, resp))
		synctest.Wait()
		calls := next.seen()
		require.Len(t, calls, 2)
		assert.EqualError(t, calls[1].err, "hedge: another attempt answered first")
		assert.Equal(t, 12*ms, calls[1].endAt, "the hedge was cancelled when the first attempt answered")
		assert.Equal(t, []string{"sent 1 at 10ms"}, ev.list(), "no win for the hedge")
	})
}

func TestLosersBodiesAreClosed(t *testing.T) {
	t.Run("first attempt answers after the hedge won", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			next := steps(step{delay: 30 * ms, deaf: true}, step{delay: 5 * ms})
			rt := hedge.New(next, hedge.WithDelay(10*ms))
			resp, took, err := roundTrip(rt, get(t.Context()))
			require.NoError(t, err)
			assert.Equal(t, 30*ms, took, "the caller waits for the first attempt, which ignored its cancellation")
			calls := next.seen()
			require.Len(t, calls, 2)
			require.NotNil(t, calls[0].resp)
			assert.True(t, calls[0].resp.closed.Load(), "the loser's body was closed")
			assert.Zero(t, calls[0].resp.reads.Load(), "and not read")
			assert.False(t, calls[1].resp.closed.Load(), "the winner's body is the caller's to close")
			assert.Equal(t, "call 1", readAll(t, resp))
			assert.True(t, calls[1].resp.closed.Load())
		})
	})
	t.Run("hedge answers after the first attempt won", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			next := steps(step{delay: 12 * ms}, step{delay: 20 * ms, deaf: true})
			rt := hedge.New(next, hedge.WithDelay(10*ms))
			resp, took, err := roundTrip(rt, get(t.Context()))
			require.NoError(t, err)
			assert.Equal(t, 12*ms, took)
			time.Sleep(time.Second)
			synctest.Wait()
			calls := next.seen()
			require.Len(t, calls, 2)
			require.NotNil(t, calls[1].resp, "the hedge answered after it lost")
			assert.True(t, calls[1].resp.closed.Load(), "the loser's body was closed")
			assert.Equal(t, "call 0", readAll(t, resp))
		})
	})
}

func TestBudget(t *testing.T) {
	t.Run("exhausted: no hedge", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			next := steps(step{delay: 100 * ms}, step{delay: 5 * ms})
			b := &budget{}
			rt := hedge.New(next, hedge.WithDelay(10*ms), hedge.WithBudget(b))
			resp, took, err := roundTrip(rt, get(t.Context()))
			require.NoError(t, err)
			assert.Equal(t, 100*ms, took, "no hedge: the first attempt's answer")
			assert.Equal(t, "call 0", readAll(t, resp))
			assert.Len(t, next.seen(), 1)
			assert.Equal(t, int32(1), b.asked.Load(), "the budget was asked when the hedge was due")
		})
	})
	t.Run("one token per hedge", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			next := newFake(func(*call) step { return step{delay: 100 * ms} })
			b := &budget{}
			b.tokens.Store(3)
			rt := hedge.New(next, hedge.WithDelay(10*ms), hedge.WithMaxHedges(5), hedge.WithBudget(b))
			resp, _, err := roundTrip(rt, get(t.Context()))
			require.NoError(t, err)
			readAll(t, resp)
			assert.Len(t, next.seen(), 4, "the first attempt and three hedges, one per token")
		})
	})
	t.Run("shared with retry", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			// No floor: tokens come only from requests, 0.5 per request.
			rb := retry.NewBudget(retry.WithRatio(0.5), retry.WithFloor(0))
			next := newFake(func(c *call) step {
				if c.n == 2 { // the hedge of the second request
					return step{delay: time.Millisecond}
				}
				return step{delay: 100 * ms}
			})
			rt := retry.New(hedge.New(next, hedge.WithDelay(10*ms), hedge.WithBudget(rb)), retry.WithBudget(rb))
			for range 2 {
				resp, err := rt.RoundTrip(get(t.Context()))
				require.NoError(t, err)
				readAll(t, resp)
			}
			// Request 1 deposits 0.5 token: no hedge. Request 2 makes it 1:
			// one hedge. Request 3 finds none again.
			assert.Len(t, next.seen(), 3)
			resp, took, err := roundTrip(rt, get(t.Context()))
			require.NoError(t, err)
			readAll(t, resp)
			assert.Equal(t, 100*ms, took, "no token left, no hedge")
			assert.Len(t, next.seen(), 4)
		})
	})
}

func TestErrorWhileAnotherAttemptIsInFlight(t *testing.T) {
	t.Run("first attempt fails, hedge answers", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			next := steps(step{delay: 12 * ms, err: reset}, step{delay: 10 * ms})
			rt := hedge.New(next, hedge.WithDelay(10*ms))
			resp, took, err := roundTrip(rt, get(t.Context()))
			require.NoError(t, err)
			assert.Equal(t, 20*ms, took)
			assert.Equal(t, "call 1", readAll(t, resp))
		})
	})
	t.Run("hedge fails, first attempt answers", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			next := steps(step{delay: 30 * ms}, step{delay: 2 * ms, err: reset})
			rt := hedge.New(next, hedge.WithDelay(10*ms))
			resp, took, err := roundTrip(rt, get(t.Context()))
			require.NoError(t, err)
			assert.Equal(t, 30*ms, took)
			assert.Equal(t, "call 0", readAll(t, resp))
		})
	})
	t.Run("all fail: the last error", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			last := &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}
			next := steps(step{delay: 12 * ms, err: reset}, step{delay: 4 * ms, err: last})
			rt := hedge.New(next, hedge.WithDelay(10*ms))
			resp, took, err := roundTrip(rt, get(t.Context()))
			require.Error(t, err)
			assert.Nil(t, resp)
			assert.Equal(t, 14*ms, took)
			assert.ErrorIs(t, err, syscall.ECONNREFUSED)
			assert.ErrorIs(t, err, errclass.ErrNetwork)
			assert.Equal(t, errclass.Refused, errclass.Classify(err))
		})
	})
	t.Run("first attempt fails before the delay: no hedge", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			next := steps(step{delay: 5 * ms, err: reset}, step{delay: 1 * ms})
			rt := hedge.New(next, hedge.WithDelay(10*ms))
			_, took, err := roundTrip(rt, get(t.Context()))
			require.ErrorIs(t, err, syscall.ECONNRESET)
			assert.ErrorIs(t, err, errclass.ErrNetwork)
			assert.Equal(t, 5*ms, took, "the error is returned at once: retrying is the retry layer's job")
			time.Sleep(time.Second)
			synctest.Wait()
			assert.Len(t, next.seen(), 1)
		})
	})
}

func TestMaxHedges(t *testing.T) {
	for _, n := range []int{1, 3} {
		t.Run(fmt.Sprintf("at most %d", n), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				next := newFake(func(*call) step { return step{delay: 100 * ms} })
				opts := []hedge.Option{hedge.WithDelay(10 * ms)}
				if n > 1 {
					opts = append(opts, hedge.WithMaxHedges(n))
				}
				resp, took, err := roundTrip(hedge.New(next, opts...), get(t.Context()))
				require.NoError(t, err)
				readAll(t, resp)
				assert.Equal(t, 100*ms, took)
				assert.Len(t, next.seen(), 1+n, "one hedge per delay, %d at most", n)
			})
		})
	}
	synctest.Test(t, func(t *testing.T) {
		next := steps(step{delay: time.Second}, step{delay: time.Second}, step{delay: 5 * ms})
		var ev events
		rt := hedge.New(next, hedge.WithDelay(10*ms), hedge.WithMaxHedges(2), hedge.WithOnHedge(ev.hook))
		resp, took, err := roundTrip(rt, get(t.Context()))
		require.NoError(t, err)
		assert.Equal(t, 25*ms, took)
		assert.Equal(t, "call 2", readAll(t, resp))
		time.Sleep(time.Second)
		synctest.Wait()
		calls := next.seen()
		require.Len(t, calls, 3, "two hedges at most")
		assert.Equal(t, []time.Duration{0, 10 * ms, 20 * ms}, []time.Duration{calls[0].at, calls[1].at, calls[2].at})
		assert.Equal(t, 25*ms, calls[0].endAt, "first attempt cancelled")
		assert.Equal(t, 25*ms, calls[1].endAt, "first hedge cancelled")
		assert.Equal(t, []string{"sent 1 at 10ms", "sent 2 at 20ms", "won 2 at 20ms"}, ev.list())
	})
}

func TestWinReportedBeforeReturn(t *testing.T) {
	// A hook that takes 5ms delays the caller: the win is reported before
	// the caller gets the response.
	synctest.Test(t, func(t *testing.T) {
		next := steps(step{delay: 100 * ms}, step{delay: 5 * ms})
		slowHook := hedge.WithOnHedge(func(e hedge.Event) {
			if e.Won {
				time.Sleep(5 * ms)
			}
		})
		resp, took, err := roundTrip(hedge.New(next, hedge.WithDelay(10*ms), slowHook), get(t.Context()))
		require.NoError(t, err)
		readAll(t, resp)
		assert.Equal(t, 20*ms, took)
	})
}

func TestCallerCancelEndsTheRace(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		next := newFake(func(*call) step { return step{delay: time.Second} })
		rt := hedge.New(next, hedge.WithDelay(10*ms))
		ctx, cancel := context.WithCancel(t.Context())
		time.AfterFunc(15*ms, cancel)
		_, took, err := roundTrip(rt, get(ctx))
		require.ErrorIs(t, err, context.Canceled)
		assert.Equal(t, errclass.Canceled, errclass.Classify(err))
		assert.Equal(t, 15*ms, took)
		synctest.Wait()
		for _, c := range next.seen() {
			assert.Equal(t, 15*ms, c.endAt, "call %d ended with the caller's context", c.n)
		}
	})
}

func TestNextThatNeverWatchesTheContextIsNotHedged(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		next := steps(step{delay: 100 * ms, blind: true}, step{delay: 1 * ms})
		rt := hedge.New(next, hedge.WithDelay(10*ms))
		resp, took, err := roundTrip(rt, get(t.Context()))
		require.NoError(t, err)
		readAll(t, resp)
		assert.Equal(t, 100*ms, took)
		assert.Len(t, next.seen(), 1, "a hedge could not have freed the caller")
	})
}

func TestHooksAddUp(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		next := steps(step{delay: 100 * ms}, step{delay: 1 * ms})
		var (
			mu  sync.Mutex
			got []string
		)
		add := func(s string) func(hedge.Event) {
			return func(hedge.Event) {
				mu.Lock()
				got = append(got, s)
				mu.Unlock()
			}
		}
		rt := hedge.New(next, hedge.WithDelay(10*ms), hedge.WithOnHedge(add("a")), hedge.WithOnHedge(nil), hedge.WithOnHedge(add("b")))
		resp, _, err := roundTrip(rt, get(t.Context()))
		require.NoError(t, err)
		readAll(t, resp)
		synctest.Wait()
		mu.Lock()
		defer mu.Unlock()
		assert.Equal(t, []string{"a", "b", "a", "b"}, got, "both hooks, in order, for the hedge sent and won")
	})
}

func TestHedgeCountsAsAnAttempt(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		next := steps(step{delay: 100 * ms}, step{delay: 1 * ms})
		rt := hedge.New(next, hedge.WithDelay(10*ms))
		rec := &record.Record{}
		resp, _, err := roundTrip(rt, get(record.With(t.Context(), rec)))
		require.NoError(t, err)
		readAll(t, resp)
		assert.Equal(t, 1, rec.Attempts(), "the hedge was counted (the first attempt is the retry layer's to count)")
	})
}
