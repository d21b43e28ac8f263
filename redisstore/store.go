// Package redisstore shares circuit breaker state and retry budgets between
// the processes of a service (a fleet) through Redis, so that they learn
// together that a host is down: one process trips, and the others reject
// calls to that host within a few hundred milliseconds, without sending
// them; the probes of any process close it for all; and the retry budget's
// ratio holds for the fleet, whatever the number of processes.
//
//	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"})
//	fleet := redisstore.New(rdb)
//	defer fleet.Close()
//	rt := breaker.New(next, breaker.WithStore(fleet))
//	budget := retry.NewBudget(retry.WithStore(fleet))
//
// # What is shared
//
// Per breaker key: its state and generation (a transition in any process
// is adopted by the others; a write from an older generation never undoes
// a newer one), when it turns half-open, a server's Retry-After pause, and
// each window's bucket counts, which add up across processes, so every
// process judges the fleet's windows. Half-open probes are counted for the
// fleet. Per budget: one token bucket that every process deposits into and
// is granted retries from.
//
// # Off the request path
//
// The store owns one goroutine, started by [New] and stopped by
// [Store.Close]. Every interval ([WithInterval], 100 ms) it exchanges what
// changed with Redis in one round trip: one Lua script per key, run
// atomically, in one pipeline. Requests never wait for Redis: each process
// decides from its own state. When Redis is unreachable, slow or flushed,
// breakers and budgets go on alone, [Store.Degraded] reports it, the
// [WithOnDegraded] hooks and the [WithLogger] logger say so, and state is
// pushed again when Redis returns. Bad data in the store's keys (a wrong
// type, garbage) is logged, ignored and overwritten; it never panics.
//
// A short-lived process (a job, a CLI, a function) calls [Store.Sync] once
// before its first request, so that it rejects the keys the fleet holds
// open from the start, and [Store.Close] at its end, which pushes its last
// outcomes: what it saw counts for the fleet, though it never fills a
// window of its own.
//
// Keys expire ([WithTTL], 10 minutes after their last use) and carry a
// prefix ([WithPrefix]) so that several services can share one Redis.
package redisstore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rtchain/chain/breaker"
	"github.com/rtchain/chain/retry"
)

// Store shares breakers ([breaker.WithStore]) and retry budgets
// ([retry.WithStore]) through Redis. It is safe for concurrent use.
type Store struct {
	client redis.UniversalClient
	cfg    config
	id     string // names this store in the epochs of the records it creates
	rounds uint64 // rounds run; used only by the loop

	roundMu sync.Mutex // one round at a time: the loop's, Sync's and Close's

	mu       sync.Mutex // guards breakers, budgets and closed
	breakers []*breaker.Replica
	budgets  []*retry.BudgetShare
	closed   bool

	degraded atomic.Bool
	stop     context.CancelFunc
	done     chan struct{}
}

var (
	_ breaker.Store = (*Store)(nil)
	_ retry.Store   = (*Store)(nil)
)

// New returns a Store that syncs through client, and starts its
// goroutine; [Store.Close] stops it. The client stays the caller's: Close
// does not close it. An invalid option panics, naming it. New does not
// contact Redis: a store that cannot reach it starts degraded.
func New(client redis.UniversalClient, opts ...Option) *Store {
	if client == nil {
		panic("redisstore: New(nil): need a client")
	}
	cfg := defaults()
	for _, o := range opts {
		if o != nil {
			o(&cfg)
		}
	}
	var id [6]byte
	rand.Read(id[:])
	ctx, stop := context.WithCancel(context.Background())
	s := &Store{client: client, cfg: cfg, id: hex.EncodeToString(id[:]), stop: stop, done: make(chan struct{})}
	go s.loop(ctx)
	return s
}

// ShareBreaker implements [breaker.Store]: [breaker.WithStore] calls it.
func (s *Store) ShareBreaker(r *breaker.Replica) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.closed {
		s.breakers = append(s.breakers, r)
	}
}

// ShareBudget implements [retry.Store]: [retry.WithStore] calls it.
func (s *Store) ShareBudget(b *retry.BudgetShare) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.closed {
		s.budgets = append(s.budgets, b)
	}
}

// Degraded reports whether the last round failed to reach Redis: breakers
// and budgets then work locally. Feed it to a gauge to watch fleet mode.
func (s *Store) Degraded() bool { return s.degraded.Load() }

// Sync runs a round now, between the store's own: it pushes what changed
// and adopts what the fleet holds. A short-lived process (a job, a CLI)
// calls it once before its first request, so that it rejects the keys the
// fleet holds open from the start. It returns an error when Redis could
// not be reached within the store's timeout (or ctx's). It is safe for
// concurrent use; rounds run one at a time.
func (s *Store) Sync(ctx context.Context) error {
	s.roundMu.Lock()
	defer s.roundMu.Unlock()
	return s.round(ctx)
}

// Close stops the store's goroutine, waiting for a round in flight to end,
// runs a last round (within the store's timeout) so that the outcomes of a
// short-lived process reach the fleet, and forgets the breakers and budgets
// it shared: they go on locally (a budget as a local one). It does not
// close the Redis client. Close is idempotent and returns nil.
func (s *Store) Close() error {
	s.mu.Lock()
	closed := s.closed
	s.closed = true
	s.mu.Unlock()
	s.stop()
	<-s.done
	if !closed {
		s.Sync(context.Background())
	}
	s.mu.Lock()
	budgets := s.budgets
	s.breakers, s.budgets = nil, nil
	s.mu.Unlock()
	for _, b := range budgets {
		b.Settle(0, errClosed)
	}
	return nil
}

var errClosed = errors.New("redisstore: store closed")

// loop runs a round every interval until ctx ends. A round runs to its
// end (bounded by the store's timeout) even when ctx ends meanwhile: a
// round cut short would take the outcomes it collected with it, and
// Close's last round would find nothing left to push.
func (s *Store) loop(ctx context.Context) {
	defer close(s.done)
	tick := time.NewTicker(s.cfg.interval)
	defer tick.Stop()
	for {
		if ctx.Err() != nil { // closed before this round began: Close runs the last
			return
		}
		s.roundMu.Lock()
		s.round(context.WithoutCancel(ctx))
		s.roundMu.Unlock()
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// round exchanges the state of every shared breaker and budget once, and
// returns what kept it from reaching Redis. s.roundMu is held.
func (s *Store) round(ctx context.Context) error {
	s.mu.Lock()
	breakers, budgets := slices.Clone(s.breakers), slices.Clone(s.budgets)
	s.mu.Unlock()
	if len(breakers)+len(budgets) == 0 {
		return nil
	}
	s.rounds++
	now := time.Now()

	var calls []*call
	var keep, goneBreakers []*breaker.Replica
	var pushes [][]*call
	for _, r := range breakers {
		entries, ok := r.Collect()
		if !ok {
			goneBreakers = append(goneBreakers, r)
			continue
		}
		keep = append(keep, r)
		cs := s.breakerCalls(entries, now)
		pushes = append(pushes, cs)
		calls = append(calls, cs...)
	}
	var open *redis.ZSliceCmd
	var shares, goneBudgets []*retry.BudgetShare
	var takes []*call
	for _, b := range budgets {
		r, ok := b.Pending()
		if !ok {
			goneBudgets = append(goneBudgets, b)
			continue
		}
		shares = append(shares, b)
		c := s.budgetCall(r)
		takes = append(takes, c)
		calls = append(calls, c)
	}
	s.forget(goneBreakers, goneBudgets)

	err := s.timed(ctx, func(ctx context.Context) error {
		return s.exec(ctx, calls, func(p redis.Pipeliner) {
			if len(keep) > 0 {
				open = p.ZRangeWithScores(ctx, s.cfg.prefix+"open", 0, -1)
			}
		})
	})
	s.health(err)
	for i, b := range shares {
		b.Settle(s.granted(takes[i], err))
	}
	if err != nil {
		return err
	}
	for i, r := range keep {
		r.Merge(s.entries(pushes[i]))
	}
	return s.catchUp(ctx, keep, open, now)
}

// catchUp exchanges the keys the fleet holds open that a breaker lags
// behind: a second round trip, only when there are some.
func (s *Store) catchUp(ctx context.Context, breakers []*breaker.Replica, open *redis.ZSliceCmd, now time.Time) error {
	if open == nil || len(open.Val()) == 0 {
		return nil
	}
	gens := make(map[string]uint64, len(open.Val()))
	for _, z := range open.Val() {
		key, ok := z.Member.(string)
		if !ok || z.Score < 0 || z.Score >= 1<<40 {
			s.cfg.logger.Warn("redisstore: ignored a bad member of the open set", "key", s.cfg.prefix+"open")
			continue
		}
		gens[key] = uint64(z.Score)
	}
	var calls []*call
	var pushes [][]*call
	for _, r := range breakers {
		cs := s.breakerCalls(r.Behind(gens), now)
		pushes = append(pushes, cs)
		calls = append(calls, cs...)
	}
	if len(calls) == 0 {
		return nil
	}
	if err := s.timed(ctx, func(ctx context.Context) error { return s.exec(ctx, calls, nil) }); err != nil {
		s.health(err)
		return err
	}
	for i, r := range breakers {
		r.Merge(s.entries(pushes[i]))
	}
	return nil
}

// timed runs f under the round's timeout. Not every client gives up when
// its context ends (go-redis needs ContextTimeoutEnabled), so f runs on
// its own goroutine: past the timeout, fleet mode is degraded at once, and
// the round then waits for f and counts as failed, whatever f returns.
func (s *Store) timed(ctx context.Context, f func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.timeout)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- f(ctx) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		err := fmt.Errorf("redisstore: no answer within %v: %w", s.cfg.timeout, context.Cause(ctx))
		s.health(err)
		<-done
		return err
	}
}

// forget drops the breakers and budgets that are gone.
func (s *Store) forget(breakers []*breaker.Replica, budgets []*retry.BudgetShare) {
	if len(breakers)+len(budgets) == 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.breakers = slices.DeleteFunc(s.breakers, func(r *breaker.Replica) bool { return slices.Contains(breakers, r) })
	s.budgets = slices.DeleteFunc(s.budgets, func(b *retry.BudgetShare) bool { return slices.Contains(budgets, b) })
}

// health records the outcome of a round: a failure that is not Redis
// answering (unreachable, timed out) degrades fleet mode until a round
// succeeds.
func (s *Store) health(err error) {
	if err != nil && !isReply(err) {
		if !s.degraded.Swap(true) {
			s.cfg.logger.Warn("redisstore: fleet mode degraded: breakers and budgets work locally", "err", err)
			for _, f := range s.cfg.onDegraded {
				f(err)
			}
		}
		return
	}
	if s.degraded.Swap(false) {
		s.cfg.logger.Info("redisstore: fleet mode recovered")
		for _, f := range s.cfg.onDegraded {
			f(nil)
		}
	}
}

// isReply reports whether err is an answer of Redis (a script's error),
// not a failure to reach it.
func isReply(err error) bool {
	var re redis.Error
	return errors.As(err, &re) && !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled)
}

// epoch names a record this round may create.
func (s *Store) epoch() string { return s.id + "." + strconv.FormatUint(s.rounds, 36) }
