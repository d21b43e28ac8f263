package standard

import (
	"context"
	"fmt"
	"net/http"
	"sync"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/trace"

	"github.com/rtchain/chain/breaker"
	"github.com/rtchain/chain/errclass"
	"github.com/rtchain/chain/hedge"
	"github.com/rtchain/chain/retry"
	"github.com/rtchain/chain/timeouts"
	"github.com/rtchain/chain/tracing"
)

// instrumentationName names the meter of the Observer.
const instrumentationName = "github.com/rtchain/chain/standard"

// DefaultMaxAttributeValues is the default bound of [MaxAttributeValues].
const DefaultMaxAttributeValues = 64

// Attribute keys and names of the resilience metrics and span events. Their
// values are bounded: states and phases come from closed
// lists, breaker keys and retry reasons are limited by MaxAttributeValues.
const (
	retryReasonKey  = attribute.Key("chain.retry.reason")
	giveUpReasonKey = attribute.Key("chain.retry.give_up_reason")
	serverAddrKey   = attribute.Key("server.address")
	breakerKeyKey   = attribute.Key("chain.breaker.key")
	breakerFromKey  = attribute.Key("chain.breaker.from")
	breakerToKey    = attribute.Key("chain.breaker.to")
	retryAttemptKey = attribute.Key("chain.retry.attempt")
	retryBackoffKey = attribute.Key("chain.retry.backoff")
	otherValue      = "_OTHER"
	retryEventName  = "retry"
)

// Observer turns the events of the retry, hedge, limit, breaker and
// timeouts layers, which do not import OpenTelemetry, into metrics in this module's
// own chain.* namespace, never in http.* (the chain.tls.* metrics of a
// WithTLS source are read from the tlsrotate source and transport
// themselves, and the limit layer's gauges from the layer, see
// [ObserveLimit]):
//
//	name                       kind      unit          attributes
//	chain.retry.attempts       counter   {retry}       chain.retry.reason
//	chain.retry.give_ups       counter   {request}     chain.retry.give_up_reason
//	chain.hedge.sent           counter   {hedge}       none: hedges sent
//	chain.hedge.won            counter   {hedge}       none: hedges whose response came first
//	chain.limit.rejections     counter   {request}     server.address
//	chain.breaker.transitions  counter   {transition}  chain.breaker.key, chain.breaker.from, chain.breaker.to
//	chain.breaker.open         up-down   {breaker}     none: the number of open breakers
//	chain.breaker.rejections   counter   {request}     chain.breaker.key
//	chain.timeouts             counter   {timeout}     chain.timeout.phase
//
// Its methods have the signatures of the layers' hooks, so that they are
// given to them as they are; the Stack does this for its own layers, and a
// stack built by hand does it so:
//
//	obs := standard.NewObserver(mp)
//	retry.Middleware(retry.WithOnRetry(obs.OnRetry), retry.WithOnGiveUp(obs.OnGiveUp))
//	hedge.Middleware(hedge.WithOnHedge(obs.OnHedge))
//	limit.Middleware(limit.WithOnReject(obs.OnLimitReject))
//	breaker.Middleware(breaker.WithOnStateChange(obs.OnStateChange), breaker.WithOnReject(obs.OnReject))
//	timeouts.Middleware(timeouts.WithOnTimeout(obs.OnTimeout))
//
// Cardinality stays bounded: breaker keys and limit keys (one per host) and
// retry reasons are recorded as they are for the first [MaxAttributeValues]
// distinct values of each (64 by default) and as "_OTHER" after that;
// states, phases and give-up reasons outside their documented lists become
// "_OTHER". The OpenTelemetry API
// cannot drop a series, so a breaker evicted from its registry keeps its
// counters; the bound above is what keeps their number finite.
//
// The zero value is not usable; call [NewObserver]. A nil *Observer ignores
// every call. It is safe for concurrent use.
type Observer struct {
	retries     metric.Int64Counter
	giveUps     metric.Int64Counter
	hedges      metric.Int64Counter
	won         metric.Int64Counter
	limited     metric.Int64Counter
	transitions metric.Int64Counter
	open        metric.Int64UpDownCounter
	rejections  metric.Int64Counter
	timeouts    metric.Int64Counter

	keys      *bounded // breaker keys
	limitKeys *bounded // limit keys
	reasons   *bounded // retry reasons
}

// ObserverOption configures [NewObserver].
type ObserverOption func(*observerConfig)

type observerConfig struct {
	maxValues int
}

// MaxAttributeValues bounds the number of distinct values the Observer
// records for each attribute whose values come from outside the program:
// breaker keys (hosts) and retry reasons (status codes among them). Past
// the bound, new values are recorded as "_OTHER", so that a client that
// talks to many hosts cannot blow up the number of series. The default is
// [DefaultMaxAttributeValues] (64); n below 1 panics. Given twice, the last
// wins.
func MaxAttributeValues(n int) ObserverOption {
	if n < 1 {
		panic(fmt.Sprintf("standard: MaxAttributeValues(%d): need at least 1", n))
	}
	return func(c *observerConfig) { c.maxValues = n }
}

// NewObserver returns an Observer recording through the meter of mp. A nil
// mp records nothing (no global provider is used); the span events of
// OnRetry are still added to recording spans.
func NewObserver(mp metric.MeterProvider, opts ...ObserverOption) *Observer {
	c := observerConfig{maxValues: DefaultMaxAttributeValues}
	for _, o := range opts {
		if o != nil {
			o(&c)
		}
	}
	if mp == nil {
		mp = noop.NewMeterProvider()
	}
	m := mp.Meter(instrumentationName)
	o := &Observer{keys: newBounded(c.maxValues), limitKeys: newBounded(c.maxValues), reasons: newBounded(c.maxValues)}
	o.retries = counter(m, "chain.retry.attempts", "{retry}", "Attempts resent by the retry layer, by reason.")
	o.giveUps = counter(m, "chain.retry.give_ups", "{request}", "Requests that failed and that the retry layer stopped trying, by reason.")
	o.hedges = counter(m, "chain.hedge.sent", "{hedge}", "Hedges sent by the hedge layer.")
	o.won = counter(m, "chain.hedge.won", "{hedge}", "Hedges whose response came before every other attempt's.")
	o.limited = counter(m, "chain.limit.rejections", "{request}", "Attempts shed by the limit layer, by host.")
	o.transitions = counter(m, "chain.breaker.transitions", "{transition}", "Circuit breaker state changes.")
	o.rejections = counter(m, "chain.breaker.rejections", "{request}", "Requests rejected by an open circuit breaker.")
	o.timeouts = counter(m, "chain.timeouts", "{timeout}", "Timeouts, by phase.")
	var err error
	o.open, err = m.Int64UpDownCounter("chain.breaker.open", metric.WithUnit("{breaker}"),
		metric.WithDescription("Circuit breakers currently open."))
	handle(err)
	return o
}

func counter(m metric.Meter, name, unit, desc string) metric.Int64Counter {
	c, err := m.Int64Counter(name, metric.WithUnit(unit), metric.WithDescription(desc))
	handle(err)
	return c
}

// handle reports an instrument's creation error; the instrument is still
// usable (the API returns a no-op one).
func handle(err error) {
	if err != nil {
		otel.Handle(err)
	}
}

// OnRetry records that the retry layer is about to resend a request, by
// e.Reason (an errclass class name or a status code, "503"), and adds a
// "retry" event (attempt, backoff, reason) to the span on the request's
// context when that span is recording: the logical span of
// tracing.WithLogicalSpan, or the caller's span. It is a retry.WithOnRetry
// hook.
func (o *Observer) OnRetry(e retry.Event) {
	if o == nil {
		return
	}
	ctx := contextOf(e.Request)
	r := o.reasons.value(e.Reason)
	o.retries.Add(ctx, 1, metric.WithAttributes(retryReasonKey.String(r)))
	if span := trace.SpanFromContext(ctx); span.IsRecording() {
		span.AddEvent(retryEventName, trace.WithAttributes(retryAttemptKey.Int(e.Attempt),
			retryBackoffKey.Float64(e.Wait.Seconds()), retryReasonKey.String(r)))
	}
}

// OnGiveUp records a request that ended in a failure after the retry layer
// stopped trying, by g.Reason (a [retry.GiveUpReason]; a value outside
// their list is recorded as "_OTHER"). It is a retry.WithOnGiveUp hook.
func (o *Observer) OnGiveUp(g retry.GiveUp) {
	if o == nil {
		return
	}
	ctx := contextOf(g.Request)
	o.giveUps.Add(ctx, 1, metric.WithAttributes(giveUpReasonKey.String(giveUpName(g.Reason))))
}

// OnHedge records a hedge sent, or a hedge that won (e.Won). It is a
// hedge.WithOnHedge hook.
func (o *Observer) OnHedge(e hedge.Event) {
	if o == nil {
		return
	}
	ctx := contextOf(e.Request)
	if e.Won {
		o.won.Add(ctx, 1)
	} else {
		o.hedges.Add(ctx, 1)
	}
}

// OnLimitReject records an attempt that the limit layer shed for key (a
// host, by default). It is a limit.WithOnReject hook.
func (o *Observer) OnLimitReject(key string) {
	if o == nil {
		return
	}
	o.limited.Add(context.Background(), 1, metric.WithAttributes(serverAddrKey.String(o.limitKeys.value(key))))
}

// OnStateChange records a circuit breaker's change of state for key (a
// host, by default). It is a breaker.WithOnStateChange hook.
func (o *Observer) OnStateChange(key string, from, to breaker.State) {
	if o == nil {
		return
	}
	ctx := context.Background()
	o.transitions.Add(ctx, 1, metric.WithAttributes(breakerKeyKey.String(o.keys.value(key)),
		breakerFromKey.String(stateName(from)), breakerToKey.String(stateName(to))))
	switch {
	case to == breaker.Open && from != breaker.Open:
		o.open.Add(ctx, 1)
	case from == breaker.Open && to != breaker.Open:
		o.open.Add(ctx, -1)
	}
}

// OnReject records a request that the breaker for key rejected. It is a
// breaker.WithOnReject hook.
func (o *Observer) OnReject(key string) {
	if o == nil {
		return
	}
	o.rejections.Add(context.Background(), 1, metric.WithAttributes(breakerKeyKey.String(o.keys.value(key))))
}

// OnTimeout records a timeout of the timeouts layer, by phase. It is a
// timeouts.WithOnTimeout hook.
func (o *Observer) OnTimeout(req *http.Request, err *timeouts.Error) {
	if o == nil || err == nil {
		return
	}
	ctx := contextOf(req)
	o.timeouts.Add(ctx, 1, metric.WithAttributes(tracing.TimeoutPhaseKey.String(phaseName(err.Phase))))
}

// contextOf returns the context of the request of a hook's event, or the
// background context when the event has no request.
func contextOf(req *http.Request) context.Context {
	if req == nil {
		return context.Background()
	}
	return req.Context()
}

func stateName(s breaker.State) string {
	switch s {
	case breaker.Closed:
		return "closed"
	case breaker.Open:
		return "open"
	case breaker.HalfOpen:
		return "half_open"
	}
	return otherValue
}

func giveUpName(r retry.GiveUpReason) string {
	switch r {
	case retry.GiveUpAttempts, retry.GiveUpBudget, retry.GiveUpPolicy, retry.GiveUpNotReplayable,
		retry.GiveUpRetryAfterCap, retry.GiveUpDeadline, retry.GiveUpCanceled, retry.GiveUpBreakerOpen,
		retry.GiveUpLimited:
		return string(r)
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
