package breaker

import "time"

// Settings is the configuration in force in a [Transport], as
// [Transport.Settings] reports it, for display: a stack's configuration
// table, a probe's report. Rates are shares in [0, 1]; a zero rate or
// duration is a condition turned off.
type Settings struct {
	FailureWindow, LatencyWindow, ConcurrencyWindow time.Duration

	MinRequests           int
	FailureRate           float64
	P99                   time.Duration
	SlowCall              time.Duration // 0: off
	SlowCallRate          float64
	ConcurrentFailureRate float64

	OpenDuration   time.Duration
	ProbeDeadline  time.Duration
	HalfOpenProbes int

	// The thresholds a half-open breaker must meet to close (WithRecovery,
	// or the defaults lowered to tighter trip thresholds).
	RecoveryFailureRate           float64
	RecoveryP99                   time.Duration
	RecoveryConcurrentFailureRate float64

	RetryAfter time.Duration // the longest pause for a Retry-After; 0: off
	MaxKeys    int
}

// Settings returns the settings in force, defaults filled in; after
// [Transport.Update], the updated ones.
func (t *Transport) Settings() Settings {
	c := t.cfg.Load()
	return Settings{
		FailureWindow:                 c.windows[dimFailure],
		LatencyWindow:                 c.windows[dimLatency],
		ConcurrencyWindow:             c.windows[dimConcurrency],
		MinRequests:                   c.minRequests,
		FailureRate:                   c.failRate.float(),
		P99:                           c.p99,
		SlowCall:                      c.slowCall,
		SlowCallRate:                  c.slowRate.float(),
		ConcurrentFailureRate:         c.concRate.float(),
		OpenDuration:                  c.openDuration,
		ProbeDeadline:                 time.Duration(c.probeDeadlineOf()),
		HalfOpenProbes:                c.probes,
		RecoveryFailureRate:           c.rec.failRate.float(),
		RecoveryP99:                   c.rec.p99,
		RecoveryConcurrentFailureRate: c.rec.concRate.float(),
		RetryAfter:                    c.retryAfterMax,
		MaxKeys:                       c.maxKeys,
	}
}
