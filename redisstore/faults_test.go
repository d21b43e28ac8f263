package redisstore_test

import (
	"context"
	"github.com/rtchain/chain/redisstore/internal/redistest"
	"net/http"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/rtchain/chain/breaker"
	"github.com/rtchain/chain/redisstore"
	"github.com/rtchain/chain/retry"
)

// load sends requests from each member to h until stop is closed, at most
// 2000 each, and records the errors and the slowest call.
type load struct {
	wg      sync.WaitGroup
	stop    chan struct{}
	errs    atomic.Int64
	calls   atomic.Int64
	slowest atomic.Int64
}

func startLoad(t *testing.T, h *host, ms ...*member) *load {
	l := &load{stop: make(chan struct{})}
	for _, m := range ms {
		l.wg.Go(func() {
			for range 2000 {
				select {
				case <-l.stop:
					return
				default:
				}
				start := time.Now()
				if err := m.get(t, h); err != nil {
					l.errs.Add(1)
				}
				l.calls.Add(1)
				if d := int64(time.Since(start)); d > l.slowest.Load() {
					l.slowest.Store(d)
				}
				time.Sleep(5 * time.Millisecond)
			}
		})
	}
	return l
}

func (l *load) end() { close(l.stop); l.wg.Wait() }

// degradedHook records the hook's calls.
type degradedHook struct {
	mu   sync.Mutex
	errs []error
}

func (d *degradedHook) hook(err error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.errs = append(d.errs, err)
}

func (d *degradedHook) calls() []error {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]error(nil), d.errs...)
}

func TestRedisFaults(t *testing.T) {
	// Redis killed, frozen (slow: it answers nothing for longer than the
	// store's timeout) or flushed mid-run: no request fails or waits
	// because of the store, local breakers still trip, fleet mode says it
	// is degraded, and state re-syncs when Redis is back.
	faults := []struct {
		name         string
		break_, mend func(r *redistest.Server)
		degrades     bool
	}{
		{"killed", (*redistest.Server).Kill, (*redistest.Server).Restart, true},
		{"frozen", (*redistest.Server).Pause, (*redistest.Server).Resume, true},
		{"flushed", func(r *redistest.Server) {
			c := r.Client(t)
			require.NoError(t, c.FlushAll(context.Background()).Err())
		}, func(*redistest.Server) {}, false},
	}
	for _, f := range faults {
		t.Run(f.name, func(t *testing.T) {
			r := redistest.Start(t)
			healthy := newHost(t, http.StatusOK)
			failing := newHost(t, http.StatusInternalServerError)
			var hook degradedHook
			logs := &logBuffer{}
			sopts := []redisstore.Option{
				redisstore.WithTimeout(time.Second),
				redisstore.WithOnDegraded(hook.hook),
				redisstore.WithLogger(logs.logger()),
			}
			a := newMember(t, r.Client(t), sopts)
			b := newMember(t, r.Client(t), sopts)
			l := startLoad(t, healthy, a, b)
			time.Sleep(300 * time.Millisecond)

			f.break_(r)
			if f.degrades {
				waitFor(t, staleness, "fleet mode degraded", func() bool { return a.store.Degraded() && b.store.Degraded() })
				time.Sleep(1500 * time.Millisecond) // rounds time out meanwhile
			}
			a.trip(t, failing) // the local breaker trips alone
			f.mend(r)

			took := waitFor(t, 2*staleness, "the second stack learns the trip", func() bool {
				return b.breaker().State(failing.key()) == breaker.Open
			})
			t.Logf("re-synced %v after Redis was back", took)
			l.end()

			assert.Zero(t, l.errs.Load(), "requests failed during the fault")
			assert.Less(t, time.Duration(l.slowest.Load()), time.Second,
				"a request waited (the store's timeout is 1s); %d calls", l.calls.Load())
			assert.False(t, a.store.Degraded())
			if f.degrades {
				calls := hook.calls()
				require.GreaterOrEqual(t, len(calls), 4, "each store: degraded, then recovered")
				assert.Error(t, calls[0])
				assert.NoError(t, calls[len(calls)-1])
				assert.Contains(t, logs.String(), "fleet mode degraded")
				assert.Contains(t, logs.String(), "fleet mode recovered")
			}
		})
	}
}

func TestGarbageIgnored(t *testing.T) {
	// Bad data in the store's keys is logged, ignored and overwritten; the
	// fleet goes on working.
	r := redistest.Start(t)
	h := newHost(t, http.StatusInternalServerError)
	other := newHost(t, http.StatusInternalServerError)
	ctx := context.Background()
	c := r.Client(t)
	rec := "chain:b:" + h.key()
	require.NoError(t, c.Set(ctx, rec, "junk", 0).Err())
	require.NoError(t, c.Set(ctx, "chain:open", "junk", 0).Err())
	require.NoError(t, c.HSet(ctx, "chain:b:"+other.key(), "e", "x", "g", "banana", "s", "7", "u", "?").Err())
	require.NoError(t, c.LPush(ctx, "chain:r:", "junk").Err())

	logs := &logBuffer{}
	sopts := []redisstore.Option{redisstore.WithLogger(logs.logger())}
	a := newMember(t, r.Client(t), sopts)
	b := newMember(t, r.Client(t), sopts)
	budget := retry.NewBudget(retry.WithStore(a.store))

	a.trip(t, h)
	a.trip(t, other)
	for _, key := range []string{h.key(), other.key()} {
		waitFor(t, staleness, "second stack sees "+key+" open", func() bool {
			return b.breaker().State(key) == breaker.Open
		})
	}

	// Garbage written over a live record: a bad state and a bad bucket.
	require.NoError(t, c.HSet(ctx, rec, "g", "-5", "u", "abc", "p", "x", "b:f1.2", "zz,1").Err())
	time.Sleep(500 * time.Millisecond)
	assert.Equal(t, breaker.Open, a.breaker().State(h.key()))
	assert.Equal(t, breaker.Open, b.breaker().State(h.key()))
	g, err := c.HGet(ctx, rec, "g").Result()
	require.NoError(t, err)
	assert.NotEqual(t, "-5", g, "the bad state was overwritten")

	out := logs.String()
	for _, want := range []string{"replaced a string", "replaced an open set that was a string", "replaced a bad state", "replaced a list", "replaced a bad pause"} {
		assert.Contains(t, out, want)
	}
	assert.False(t, a.store.Degraded())
	runtime.KeepAlive(budget) // shared weakly: keep it until its rounds ran
}

func TestCloseLeavesNothing(t *testing.T) {
	// The store's goroutine ends with Close; breakers and budgets go on
	// locally; nothing leaks.
	r := redistest.Start(t)
	h := newHost(t, http.StatusInternalServerError)
	c := r.Client(t)
	s := redisstore.New(c)
	br := breaker.New(nil, fleetOpts(s)...)
	budget := retry.NewBudget(retry.WithStore(s), retry.WithFloor(1))
	time.Sleep(250 * time.Millisecond) // a few rounds
	require.NoError(t, s.Close())
	require.NoError(t, s.Close(), "Close is idempotent")

	client := &http.Client{Transport: br}
	defer client.CloseIdleConnections()
	for range 10 {
		resp, err := client.Get(h.url)
		if err == nil {
			resp.Body.Close()
		}
	}
	assert.Equal(t, breaker.Open, br.State(h.key()), "the breaker trips locally after Close")
	assert.True(t, budget.Withdraw(), "the budget works locally after Close")
	client.CloseIdleConnections()
	goleak.VerifyNone(t, goleak.IgnoreCurrent())
}
