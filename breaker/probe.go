package breaker

import "time"

// admitProbe admits a probe into the half-open generation st if a slot is
// free. retry is set when the circuit moved on meanwhile.
func (c *circuit) admitProbe(t *Transport, cfg *config, st uint64, at int64) (tk ticket, ok, retry bool) {
	c.mu.Lock()
	if c.st.Load() != st {
		c.mu.Unlock()
		return tk, false, true
	}
	if c.expire(cfg, st, at) {
		c.mu.Unlock()
		c.flush()
		return tk, false, true
	}
	if len(c.probing)+int(c.probes.requests)+fleetRequests(c.fleetProbes(st)) >= cfg.probes {
		// Update may have lowered the number of probes below those already
		// counted: decide now rather than wait forever.
		if to := c.judge(cfg); to != HalfOpen {
			c.set(cfg, st, to, at, c.probes.counts(cfg.probeBound()))
			c.mu.Unlock()
			c.flush()
			return tk, false, true
		}
		c.mu.Unlock()
		return tk, false, false
	}
	seq := c.flight.Add(1<<32 | 1)
	c.probing = append(c.probing, probe{id: seq >> 32, start: at, deadline: satAdd(at, cfg.probeDeadlineOf())})
	c.mu.Unlock()
	return ticket{st: st, seq: seq}, true, false
}

// expire fails the probes of the half-open generation st whose deadline has
// passed at time at, and moves the circuit on if that decides it. It reports
// whether the circuit left st. c.mu is held.
func (c *circuit) expire(cfg *config, st uint64, at int64) bool {
	expired := false
	for i := 0; i < len(c.probing); {
		p := c.probing[i]
		if at < p.deadline {
			i++
			continue
		}
		c.probing = append(c.probing[:i], c.probing[i+1:]...)
		c.addProbe(cfg, obs{latency: time.Duration(p.deadline - p.start), failed: true})
		expired = true
	}
	if !expired {
		return false
	}
	if to := c.judge(cfg); to != HalfOpen {
		c.set(cfg, st, to, at, c.probes.counts(cfg.probeBound()))
		return true
	}
	return false
}

// probeDone ends a probe of the half-open generation tk.st.
func (c *circuit) probeDone(t *Transport, tk ticket, o obs, counted bool) {
	cfg := t.cfg.Load()
	at := t.now()
	c.mu.Lock()
	if c.st.Load() != tk.st || !c.dropProbe(tk.seq>>32) {
		// A probe of an older generation, or one failed at its deadline.
		c.mu.Unlock()
		return
	}
	if counted {
		c.addProbe(cfg, o)
	}
	to := c.judge(cfg)
	if to == HalfOpen {
		c.mu.Unlock()
		return
	}
	c.set(cfg, tk.st, to, at, c.probes.counts(cfg.probeBound()))
	c.mu.Unlock()
	c.flush()
}

// dropProbe removes the probe id from those in flight and reports whether it
// was there. c.mu is held.
func (c *circuit) dropProbe(id uint64) bool {
	for i, p := range c.probing {
		if p.id == id {
			c.probing = append(c.probing[:i], c.probing[i+1:]...)
			return true
		}
	}
	return false
}

// addProbe counts a probe's outcome. c.mu is held.
func (c *circuit) addProbe(cfg *config, o obs) {
	bound := cfg.probeBound()
	c.probes.add(o, cfg.slowCall > 0 && o.latency > cfg.slowCall, bound > 0 && o.latency > bound)
}

// probeBound is the P99 the probes must meet: the recovery P99, when the P99
// condition is on.
func (c *config) probeBound() time.Duration {
	if c.p99 > 0 {
		return c.rec.p99
	}
	return 0
}

// judge returns the state a half-open circuit moves to after the probes
// counted so far (with a Store, those of the whole fleet): Open as soon as
// they break a recovery threshold however the remaining probes end; Closed
// once cfg.probes are counted and none is broken; HalfOpen while undecided.
// c.mu is held.
func (c *circuit) judge(cfg *config) State {
	p := c.allProbes(c.st.Load())
	n := max(p.requests, uint64(cfg.probes))
	switch {
	case cfg.rec.failRate.exceeded(p.failures, n),
		cfg.rec.concRate.exceeded(p.concFailures, n),
		p.over > n/100, // P99 above the recovery bound, counted
		cfg.slowCall > 0 && cfg.slowRate.exceeded(p.slow, n):
		return Open
	case p.requests >= uint64(cfg.probes):
		return Closed
	}
	return HalfOpen
}
