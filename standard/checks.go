package standard

import (
	"fmt"
	"time"

	"github.com/rtchain/chain/timeouts"
)

// timeoutOptions returns the options of the per-attempt timeouts layer and
// of the stack's own base transport: the stack's defaults, then the
// caller's.
func (c *config) timeoutOptions() []timeouts.Option {
	return append([]timeouts.Option{
		timeouts.WithResponseHeader(c.defaultHeader()),
		timeouts.WithBodyIdle(DefaultBodyIdle),
	}, c.timeoutOpts...)
}

// defaultHeader returns the response header bound the stack sets under the
// caller's options: DefaultResponseHeader, or 0 (none) when a bound of the
// caller's that covers the header wait (an attempt bound, the total) is not
// above it, so that the default could never fire.
func (c *config) defaultHeader() time.Duration {
	own := timeouts.SettingsOf(c.timeoutOpts...)
	if own.Attempt > 0 && own.Attempt <= DefaultResponseHeader ||
		c.on(LayerTotal) && c.total <= DefaultResponseHeader {
		return 0
	}
	return DefaultResponseHeader
}

// check returns the error for which New panics: WithTLS over a base that is
// not an *http.Transport, or a bound of the stack that could never fire,
// because another one always fires first (an attempt bound above the total,
// a response header bound above the attempt bound), naming both settings.
// Bounds of layers the caller replaced are not known, and not checked.
func (c *config) check() error {
	if c.tls != nil {
		if err := tlsBase(c.base); err != nil {
			return err
		}
	}
	if !c.on(LayerTimeouts) {
		return nil
	}
	t := timeouts.SettingsOf(c.timeoutOptions()...)
	switch {
	case c.on(LayerTotal) && t.Attempt > c.total:
		return fmt.Errorf("standard: timeouts.WithAttempt(%v) is above WithTotal(%v): "+
			"the total always ends the request first, so the attempt bound could never fire", t.Attempt, c.total)
	case t.Attempt > 0 && t.ResponseHeader > t.Attempt:
		return fmt.Errorf("standard: timeouts.WithResponseHeader(%v) is above timeouts.WithAttempt(%v): "+
			"the attempt bound always ends the wait first, so the header bound could never fire", t.ResponseHeader, t.Attempt)
	}
	return nil
}

// notes returns the sentences of Config's Notes: the settings in v that can
// never take effect alongside the others.
func (v *values) notes(c *config) []string {
	var out []string
	note := func(format string, args ...any) { out = append(out, fmt.Sprintf(format, args...)) }
	a, total := v.attempt, time.Duration(0)
	if c.on(LayerTotal) {
		total = v.total
	}
	if c.on(LayerTimeouts) {
		if a.Attempt > 0 && a.ResponseHeader == a.Attempt {
			note("timeouts.WithResponseHeader(%v) equals timeouts.WithAttempt(%v): the attempt bound starts first "+
				"and always fires first, so the header bound never fires", a.ResponseHeader, a.Attempt)
		}
		if total > 0 && a.Attempt == total {
			note("timeouts.WithAttempt(%v) equals WithTotal(%v): the total starts first and always fires first, "+
				"so the attempt bound never fires", a.Attempt, total)
		}
		if total > 0 && a.ResponseHeader >= total && (a.Attempt == 0 || a.Attempt > a.ResponseHeader) {
			note("timeouts.WithResponseHeader(%v) is not below WithTotal(%v): the total always fires first, "+
				"so the header bound never fires", a.ResponseHeader, total)
		}
	}
	v.breakerNotes(c, note)
	if c.on(LayerLimit) && total > 0 && v.limit.MaxWait >= total {
		note("limit.WithMaxWait(%v) is not below WithTotal(%v): a request waiting for a slot reaches its total first",
			v.limit.MaxWait, total)
	}
	if c.on(LayerRetry) && total > 0 && v.retry.RetryAfterCap >= total {
		note("retry.WithRetryAfterCap(%v) is not below WithTotal(%v): a Retry-After too long to wait ends "+
			"the request at its deadline first, so the cap never decides", v.retry.RetryAfterCap, total)
	}
	return out
}

// breakerNotes notes the breaker's latency conditions that can never fire:
// those above the longest an attempt can wait for its header. The
// per-attempt bounds fire at most an eighth of their limit late (see the
// timeouts package); the total fires on time.
func (v *values) breakerNotes(c *config, note func(string, ...any)) {
	if !c.on(LayerBreaker) {
		return
	}
	var longest time.Duration
	var by string
	consider := func(d time.Duration, name string) {
		if d > 0 && (longest == 0 || d < longest) {
			longest, by = d, name
		}
	}
	if c.on(LayerTimeouts) {
		consider(v.attempt.ResponseHeader+v.attempt.ResponseHeader/8, fmt.Sprintf("timeouts.WithResponseHeader(%v)", v.attempt.ResponseHeader))
		consider(v.attempt.Attempt+v.attempt.Attempt/8, fmt.Sprintf("timeouts.WithAttempt(%v)", v.attempt.Attempt))
	}
	if c.on(LayerTotal) {
		consider(v.total, fmt.Sprintf("WithTotal(%v)", v.total))
	}
	b := v.breaker
	if longest == 0 {
		return
	}
	if b.P99 >= longest {
		note("breaker.WithP99(%v) never fires: no attempt waits longer than %v for its header (%s); "+
			"a slower one times out and counts as a failure", b.P99, longest, by)
	}
	if b.SlowCall >= longest {
		note("breaker.WithSlowCall(%v, %v) never fires: no attempt waits longer than %v for its header (%s); "+
			"a slower one times out and counts as a failure", b.SlowCall, rate(b.SlowCallRate), longest, by)
	}
}
