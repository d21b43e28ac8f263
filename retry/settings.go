package retry

import "time"

// Settings is the configuration of a [Transport], as [Transport.Settings]
// reports it, for display: a stack's configuration table, a probe's report.
type Settings struct {
	MaxAttempts    int
	BackoffBase    time.Duration
	BackoffMax     time.Duration
	Jitter         Jitter
	RetryAfterCap  time.Duration
	MinAttemptTime time.Duration
	NonIdempotent  bool
	AttemptHeader  string // "" when off
	BufferBody     int64  // 0 when off
	CustomPolicy   bool   // WithPolicy gave a policy (not nil)

	// Budget says where retries take their tokens: "shared" (one Budget,
	// [WithBudget]), "per_key" ([WithKeyedBudget], or the default) or
	// "off". Ratio and Floor are that budget's (each key's, per key).
	Budget       string
	Ratio, Floor float64
}

// Settings returns the Transport's configuration, defaults filled in.
func (t *Transport) Settings() Settings {
	c := &t.cfg
	s := Settings{
		MaxAttempts:    c.maxAttempts,
		BackoffBase:    c.backoff.base,
		BackoffMax:     c.backoff.cap,
		Jitter:         c.backoff.jitter,
		RetryAfterCap:  c.retryAfterCap,
		MinAttemptTime: c.minAttempt,
		NonIdempotent:  c.nonIdempotent,
		AttemptHeader:  c.header,
		BufferBody:     c.bufferBody,
		CustomPolicy:   c.customPolicy,
		Budget:         "off",
	}
	var b *Budget
	switch {
	case c.budget != nil:
		s.Budget, b = "shared", c.budget
	case c.keyed != nil:
		s.Budget, b = "per_key", c.keyed.overflow
	}
	if b != nil {
		s.Ratio, s.Floor = b.ratio, b.floor
	}
	return s
}
