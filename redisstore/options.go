package redisstore

import (
	"fmt"
	"log/slog"
	"slices"
	"time"
)

// Option configures a [Store] made by [New]. Options apply in order; a
// setting given twice keeps the last, except WithOnDegraded hooks, which
// add up. An invalid value panics in New, naming the option.
type Option func(*config)

type config struct {
	prefix     string
	interval   time.Duration
	timeout    time.Duration
	ttl        time.Duration
	logger     *slog.Logger
	onDegraded []func(err error)
}

// Defaults, as documented on each option.
const (
	defaultPrefix   = "chain:"
	defaultInterval = 100 * time.Millisecond
	defaultTimeout  = 500 * time.Millisecond
	defaultTTL      = 10 * time.Minute
)

func defaults() config {
	return config{
		prefix:   defaultPrefix,
		interval: defaultInterval,
		timeout:  defaultTimeout,
		ttl:      defaultTTL,
		logger:   slog.New(slog.DiscardHandler),
	}
}

// WithPrefix sets the prefix of every Redis key the store writes (default
// "chain:"), so that several services, or several fleets with different
// settings, can share one Redis. Under Redis Cluster, give a prefix with a
// hash tag ("{orders}:") so that a store's keys share one slot. Processes
// share state only when their prefixes are equal.
func WithPrefix(p string) Option {
	return func(c *config) { c.prefix = p }
}

// WithInterval sets how often the store exchanges state with Redis
// (default 100 ms; at least 1 ms). A transition in one process reaches the
// others within about two intervals plus two round trips (its push, their
// pull): 250 ms with the defaults on a local network. Each round is one
// round trip for every breaker key with calls or not closed and every
// fleet budget, plus one more when the fleet holds keys open that a
// process has not caught up with.
func WithInterval(d time.Duration) Option {
	return func(c *config) {
		if d < time.Millisecond {
			panic(fmt.Sprintf("redisstore: WithInterval(%v): need at least 1ms", d))
		}
		c.interval = d
	}
}

// WithTimeout bounds each round trip to Redis (default 500 ms; must be
// positive). A round that times out counts as a failure: fleet mode is
// degraded until a round succeeds. Requests never wait for it.
func WithTimeout(d time.Duration) Option {
	return func(c *config) {
		if d <= 0 {
			panic(fmt.Sprintf("redisstore: WithTimeout(%v): need a positive duration", d))
		}
		c.timeout = d
	}
}

// WithTTL sets how long a key the fleet no longer uses is kept in Redis
// (default 10 minutes; at least 1 s). Every round that touches a key
// renews it. A key that expired while a process still holds state for it
// is written again by that process's next round.
func WithTTL(d time.Duration) Option {
	return func(c *config) {
		if d < time.Second {
			panic(fmt.Sprintf("redisstore: WithTTL(%v): need at least 1s", d))
		}
		c.ttl = d
	}
}

// WithLogger sets the logger for fleet mode turning degraded (a warning
// with the error) and back (info), and for bad data found in Redis and
// ignored (a warning naming the key). The default is silent; a nil l means
// the default.
func WithLogger(l *slog.Logger) Option {
	return func(c *config) {
		if l == nil {
			l = slog.New(slog.DiscardHandler)
		}
		c.logger = l
	}
}

// WithOnDegraded adds a hook called from the store's goroutine when fleet
// mode turns degraded (Redis unreachable, slow past WithTimeout, or
// failing; err says why) and when it recovers (err is nil). While
// degraded, breakers and budgets work locally. Given several times, every
// hook runs, in order. A nil f is ignored. It must not block for long.
func WithOnDegraded(f func(err error)) Option {
	return func(c *config) {
		if f != nil {
			c.onDegraded = append(slices.Clip(c.onDegraded), f)
		}
	}
}
