package tracing

import (
	"context"
	"sync"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/rtchain/chain/errclass"
)

// defaultMaxKeys is the default of WithMaxKeys.
const defaultMaxKeys = 64

// Attribute keys and names of the resilience metrics and span events. Their
// values are bounded: states, phases and rejection reasons come from closed
// lists, breaker keys and retry reasons are limited by WithMaxKeys.
const (
	retryReasonKey    = attribute.Key("chain.retry.reason")
	breakerKeyKey     = attribute.Key("chain.breaker.key")
	breakerFromKey    = attribute.Key("chain.breaker.from")
	breakerToKey      = attribute.Key("chain.breaker.to")
	certReasonKey     = attribute.Key("chain.tls.reason")
	retryAttemptKey   = attribute.Key("chain.retry.attempt")
	retryBackoffKey   = attribute.Key("chain.retry.backoff")
	certNotAfterKey   = attribute.Key("chain.tls.not_after")
	certGenerationKey = attribute.Key("chain.tls.generation")
	certOldSerialKey  = attribute.Key("chain.tls.old_serial")
	certNewSerialKey  = attribute.Key("chain.tls.new_serial")
	otherValue        = "_OTHER"
	retryEventName    = "retry"
	rotatedEventName  = "credentials.rotated"
)

// Observer turns the events of the other concern packages (retry, breaker,
// timeouts, tlsrotate), which do not import OpenTelemetry, into metrics in
// this library's own chain.* namespace, never in http.* (O-11):
//
//	name                       kind      unit          attributes
//	chain.retry.attempts       counter   {retry}       chain.retry.reason
//	chain.breaker.transitions  counter   {transition}  chain.breaker.key, chain.breaker.from, chain.breaker.to
//	chain.breaker.open         up-down   {breaker}     none: the number of open breakers
//	chain.breaker.rejections   counter   {request}     chain.breaker.key
//	chain.timeouts             counter   {timeout}     chain.timeout.phase
//	chain.tls.rotations        counter   {rotation}    none
//	chain.tls.not_after        gauge     s             none: Unix time the current certificate expires
//	chain.tls.rejections       counter   {rejection}   chain.tls.reason
//
// Its methods take plain values, so that a caller wires them into the other
// packages' hooks with small closures (the standard package does this):
//
//	retry.WithOnRetry(func(e retry.Event) {
//		obs.Retry(e.Request.Context(), e.Attempt, e.Wait, e.Reason)
//	})
//	breaker.WithOnStateChange(func(key string, from, to breaker.State) {
//		obs.BreakerTransition(key, from.String(), to.String())
//	})
//	breaker.WithOnReject(obs.BreakerRejection)
//	timeouts.WithOnTimeout(func(req *http.Request, err *timeouts.Error) {
//		obs.Timeout(req.Context(), err.Phase)
//	})
//	tlsrotate.WithOnRotate(func(r tlsrotate.Rotation) {
//		obs.CertRotated(context.Background(), r.Generation, r.OldSerial, r.NewSerial, r.NotAfter)
//	})
//	tlsrotate.WithOnError(func(err error) {
//		var re *tlsrotate.RejectError
//		if errors.As(err, &re) {
//			obs.CertRejected(string(re.Reason))
//		}
//	})
//
// Cardinality stays bounded: breaker keys
// (one per host) and retry reasons are recorded as they are for the first
// WithMaxKeys distinct values (64 by default) and as "_OTHER" after that;
// states, phases and rejection reasons outside their documented lists become
// "_OTHER". The OpenTelemetry API cannot drop a series, so a breaker evicted
// from its registry keeps its counters; the bound above is what keeps their
// number finite.
//
// The zero value is not usable; call [NewObserver]. A nil *Observer ignores
// every call. It is safe for concurrent use.
type Observer struct {
	retries     metric.Int64Counter
	transitions metric.Int64Counter
	open        metric.Int64UpDownCounter
	rejections  metric.Int64Counter
	timeouts    metric.Int64Counter
	rotations   metric.Int64Counter
	notAfter    metric.Int64Gauge
	certRejects metric.Int64Counter

	keys    *bounded // breaker keys
	reasons *bounded // retry reasons
}

// NewObserver returns an Observer recording through the meter of
// [WithMeterProvider] (the global provider by default). WithMaxKeys bounds the
// distinct breaker keys and retry reasons; other options are ignored.
func NewObserver(opts ...Option) *Observer {
	c := newConfig(opts)
	m := c.mp.Meter(instrumentationName)
	o := &Observer{keys: newBounded(c.maxKeys), reasons: newBounded(c.maxKeys)}
	var errs [8]error
	o.retries, errs[0] = m.Int64Counter("chain.retry.attempts", metric.WithUnit("{retry}"),
		metric.WithDescription("Attempts resent by the retry layer, by reason."))
	o.transitions, errs[1] = m.Int64Counter("chain.breaker.transitions", metric.WithUnit("{transition}"),
		metric.WithDescription("Circuit breaker state changes."))
	o.open, errs[2] = m.Int64UpDownCounter("chain.breaker.open", metric.WithUnit("{breaker}"),
		metric.WithDescription("Circuit breakers currently open."))
	o.rejections, errs[3] = m.Int64Counter("chain.breaker.rejections", metric.WithUnit("{request}"),
		metric.WithDescription("Requests rejected by an open circuit breaker."))
	o.timeouts, errs[4] = m.Int64Counter("chain.timeouts", metric.WithUnit("{timeout}"),
		metric.WithDescription("Timeouts, by phase."))
	o.rotations, errs[5] = m.Int64Counter("chain.tls.rotations", metric.WithUnit("{rotation}"),
		metric.WithDescription("Client certificate rotations."))
	o.notAfter, errs[6] = m.Int64Gauge("chain.tls.not_after", metric.WithUnit("s"),
		metric.WithDescription("Unix time at which the current client certificate expires."))
	o.certRejects, errs[7] = m.Int64Counter("chain.tls.rejections", metric.WithUnit("{rejection}"),
		metric.WithDescription("Rejected certificate material, by reason."))
	for _, err := range errs {
		if err != nil {
			otel.Handle(err) // the instrument is still usable: the API returns a no-op one
		}
	}
	return o
}

// Retry records that the retry layer is about to resend a request: attempt is
// the number of the attempt to come (1 for the first resend), wait the backoff
// before it, reason a short fixed name such as "503" or "reset" (an errclass
// class name or a status code, as retry's Event.Reason; never an error
// text). It adds a "retry" event to the span on ctx when that span is
// recording (the caller's span, since retry sits above the attempt spans).
func (o *Observer) Retry(ctx context.Context, attempt int, wait time.Duration, reason string) {
	if o == nil {
		return
	}
	r := o.reasons.value(reason)
	o.retries.Add(ctx, 1, metric.WithAttributes(retryReasonKey.String(r)))
	if span := trace.SpanFromContext(ctx); span.IsRecording() {
		span.AddEvent(retryEventName, trace.WithAttributes(retryAttemptKey.Int(attempt),
			retryBackoffKey.Float64(wait.Seconds()), retryReasonKey.String(r)))
	}
}

// BreakerTransition records a circuit breaker's change of state for key (for
// example a host). from and to are state names: "closed", "open" and
// "half-open" (or "half_open"); others are recorded as "_OTHER".
func (o *Observer) BreakerTransition(key, from, to string) {
	if o == nil {
		return
	}
	from, to = breakerState(from), breakerState(to)
	ctx := context.Background()
	o.transitions.Add(ctx, 1, metric.WithAttributes(breakerKeyKey.String(o.keys.value(key)),
		breakerFromKey.String(from), breakerToKey.String(to)))
	switch {
	case to == "open" && from != "open":
		o.open.Add(ctx, 1)
	case from == "open" && to != "open":
		o.open.Add(ctx, -1)
	}
}

// BreakerRejection records a request that an open breaker for key rejected.
func (o *Observer) BreakerRejection(key string) {
	if o == nil {
		return
	}
	o.rejections.Add(context.Background(), 1, metric.WithAttributes(breakerKeyKey.String(o.keys.value(key))))
}

// Timeout records a timeout that fired in phase; an unknown phase is recorded
// as "_OTHER".
func (o *Observer) Timeout(ctx context.Context, phase errclass.Phase) {
	if o == nil {
		return
	}
	o.timeouts.Add(ctx, 1, metric.WithAttributes(TimeoutPhaseKey.String(phaseName(phase))))
}

// CertRotated records that a new client certificate, valid until notAfter,
// became current as generation gen of the credential, replacing the
// certificate with serial number oldSerial by the one with newSerial. It adds
// a "credentials.rotated" event (generation, serials, not_after) to the span
// on ctx when that span is recording. Serial numbers go to the event only,
// never to a metric; no key material is taken at all.
func (o *Observer) CertRotated(ctx context.Context, gen uint64, oldSerial, newSerial string, notAfter time.Time) {
	if o == nil {
		return
	}
	o.rotations.Add(ctx, 1)
	o.notAfter.Record(ctx, notAfter.Unix())
	if span := trace.SpanFromContext(ctx); span.IsRecording() {
		span.AddEvent(rotatedEventName, trace.WithAttributes(certGenerationKey.Int64(int64(gen)),
			certOldSerialKey.String(oldSerial), certNewSerialKey.String(newSerial),
			certNotAfterKey.Int64(notAfter.Unix())))
	}
}

// CertRejected records certificate material that failed validation. reason is
// one of read_error, parse_error, key_mismatch, expired, not_yet_valid,
// chain_invalid; any other is recorded as "_OTHER".
func (o *Observer) CertRejected(reason string) {
	if o == nil {
		return
	}
	switch reason {
	case "read_error", "parse_error", "key_mismatch", "expired", "not_yet_valid", "chain_invalid":
	default:
		reason = otherValue
	}
	o.certRejects.Add(context.Background(), 1, metric.WithAttributes(certReasonKey.String(reason)))
}

func breakerState(s string) string {
	switch s {
	case "closed", "open":
		return s
	case "half-open", "half_open", "halfopen", "half open":
		return "half_open"
	}
	return otherValue
}

func phaseName(p errclass.Phase) string {
	switch p {
	case errclass.PhaseDNS, errclass.PhaseConnect, errclass.PhaseTLSHandshake, errclass.PhaseWriteIdle,
		errclass.PhaseResponseHeader, errclass.PhaseBodyIdle, errclass.PhaseAttempt, errclass.PhaseTotal:
		return string(p)
	}
	return otherValue
}

// bounded passes through the first max distinct values it sees and maps every
// later new value to "_OTHER".
type bounded struct {
	max  int
	mu   sync.RWMutex        // guards seen
	seen map[string]struct{} // the values passed through
}

func newBounded(max int) *bounded {
	return &bounded{max: max, seen: make(map[string]struct{})}
}

func (b *bounded) value(v string) string {
	b.mu.RLock()
	_, ok := b.seen[v]
	b.mu.RUnlock()
	if ok {
		return v
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, ok := b.seen[v]; ok {
		return v
	}
	if len(b.seen) >= b.max {
		return otherValue
	}
	b.seen[v] = struct{}{}
	return v
}
