package standard

import (
	"fmt"
	"slices"
	"strings"

	"github.com/rtchain/chain/timeouts"
)

// Update changes the settings of the retry, per-attempt timeouts and
// breaker layers at run time: opts are WithRetry, WithTimeouts and
// WithBreaker options, applied after those given before (to New and to
// earlier Updates), so that the last value of a setting wins and hooks add
// up.
//
// It is atomic: either every change applies or none does. Update returns an
// error and changes nothing when an option is invalid (the breaker's own
// checks), when the result has a bound that could never fire (New's checks,
// see [New]), when an option is not one of the three or concerns a layer
// the stack did not build, or when a timeouts option changes a bound of the
// base transport's connections (DNS, connect, TLS handshake), which are
// fixed at New (a timeouts.WithResolver or WithDialer is not seen, and
// ignored).
//
// Breakers keep their state and their windows, and the retry budget its
// tokens. A request in flight finishes with the settings it started with;
// the next one takes the new ones. Update is safe for concurrent use with
// every other method; Updates are serialised.
func (s *Stack) Update(opts ...Option) error {
	u := newConfig(opts)
	if err := u.runtimeOnly(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.builds(&u); err != nil {
		return err
	}
	next := s.c
	next.retryOpts = append(slices.Clip(next.retryOpts), u.retryOpts...)
	next.timeoutOpts = append(slices.Clip(next.timeoutOpts), u.timeoutOpts...)
	next.breakerOpts = append(slices.Clip(next.breakerOpts), u.breakerOpts...)
	if err := next.check(); err != nil {
		return fmt.Errorf("standard: Update: %s", strings.TrimPrefix(err.Error(), "standard: "))
	}
	if err := s.c.sameBase(&next); err != nil {
		return err
	}
	var r, t bool
	rt, tt := s.retry.load(), s.timeouts.load()
	if r = len(u.retryOpts) > 0; r {
		rt = s.retry.rebuild(&next)
	}
	if t = len(u.timeoutOpts) > 0; t {
		tt = s.timeouts.rebuild(&next)
	}
	if len(u.breakerOpts) > 0 {
		if err := s.breaker.Update(u.breakerOpts...); err != nil {
			return fmt.Errorf("standard: Update: %w", err)
		}
	}
	if r {
		s.retry.put(rt)
	}
	if t {
		s.timeouts.put(tt)
	}
	s.c = next
	return nil
}

// runtimeOnly returns an error naming the options of u that Update cannot
// apply.
func (u *config) runtimeOnly() error {
	var bad []string
	for _, o := range []struct {
		name string
		set  bool
	}{
		{"WithBase", u.base != nil}, {"WithTLS", u.tls != nil}, {"WithTotal", u.total != 0},
		{"WithHedge", u.hedge}, {"WithLimit", u.limit}, {"WithTracing", len(u.tracingOpts) > 0},
		{"WithTracerProvider", u.tp != nil}, {"WithMeterProvider", u.mp != nil}, {"WithLogger", u.logger != nil},
	} {
		if o.set {
			bad = append(bad, o.name)
		}
	}
	for l, sl := range u.slots {
		if sl.set {
			bad = append(bad, fmt.Sprintf("WithLayer(%v)", Layer(l)))
		}
	}
	if len(bad) > 0 {
		return fmt.Errorf("standard: Update: %s cannot change at run time (only WithRetry, WithTimeouts and WithBreaker can)",
			strings.Join(bad, ", "))
	}
	return nil
}

// builds returns an error when u has options for a layer the stack did not
// build.
func (s *Stack) builds(u *config) error {
	for _, o := range []struct {
		name string
		opts bool
		l    Layer
	}{
		{"WithRetry", len(u.retryOpts) > 0, LayerRetry},
		{"WithTimeouts", len(u.timeoutOpts) > 0, LayerTimeouts},
		{"WithBreaker", len(u.breakerOpts) > 0, LayerBreaker},
	} {
		if o.opts && !s.c.on(o.l) {
			return fmt.Errorf("standard: Update: %s: the stack has no %v layer of its own (it was %s)", o.name, o.l, s.c.state(o.l))
		}
	}
	return nil
}

// sameBase returns an error when next changes a bound of the connections of
// the stack's own base transport, which c made.
func (c *config) sameBase(next *config) error {
	if c.base != nil {
		return nil // WithBase: the timeouts options do not reach the base
	}
	was := timeouts.SettingsOf(c.timeoutOptions()...)
	now := timeouts.SettingsOf(next.timeoutOptions()...)
	for _, b := range []struct {
		option   string
		was, now any
	}{
		{"timeouts.WithDNS", was.DNS, now.DNS},
		{"timeouts.WithConnect", was.Connect, now.Connect},
		{"timeouts.WithTLSHandshake", was.TLSHandshake, now.TLSHandshake},
	} {
		if b.was != b.now {
			return fmt.Errorf("standard: Update: %s(%v): the base transport's connections keep the bound of New (%v)",
				b.option, b.now, b.was)
		}
	}
	return nil
}
