package standard

import (
	"errors"
	"fmt"
	"net/http"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/rtchain/chain/tlsrotate"
)

// meterName is the instrumentation scope of the chain.tls.* metrics.
const meterName = "github.com/rtchain/chain/standard"

// Attribute keys of the chain.tls.* metrics. Their values are bounded: one
// per source, and closed lists for the rest.
const (
	tlsSourceKey  = attribute.Key("chain.tls.source")
	tlsRoleKey    = attribute.Key("chain.tls.role")
	tlsOutcomeKey = attribute.Key("chain.tls.outcome")
	tlsReasonKey  = attribute.Key("chain.tls.reason")
	tlsTriggerKey = attribute.Key("chain.tls.trigger")
)

// newTLS puts the tlsrotate transport for src on base, which must be an
// *http.Transport: its template.
func newTLS(base http.RoundTripper, src *tlsrotate.Source) *tlsrotate.Transport {
	if err := tlsBase(base); err != nil {
		panic(err.Error())
	}
	return tlsrotate.New(base.(*http.Transport), src)
}

// tlsBase returns an error when base cannot be the template of WithTLS.
func tlsBase(base http.RoundTripper) error {
	if _, ok := base.(*http.Transport); !ok && base != nil {
		return fmt.Errorf("standard: WithTLS needs an *http.Transport at the bottom of the stack; WithBase gave %T", base)
	}
	return nil
}

// TLS returns the tlsrotate transport at the bottom of the stack, for its
// Stats and LiveConnections; nil without WithTLS.
func (s *Stack) TLS() *tlsrotate.Transport { return s.tls }

// observeTLS is ObserveTLS for New, which has no error to return.
func observeTLS(mp metric.MeterProvider, t *tlsrotate.Transport) {
	if _, err := ObserveTLS(mp, t); err != nil {
		otel.Handle(err) // as the SDK does for its own instrument errors
	}
}

// ObserveTLS records what t and its source do as chain.tls.* metrics through
// mp's meter; [New] calls it when both WithTLS and WithMeterProvider are
// given. Use it directly for a tlsrotate.Transport stacked by hand.
//
//	name                          kind              unit          attributes
//	chain.tls.validity            gauge             s             chain.tls.source, chain.tls.role ("outbound"): time left before the client certificate expires
//	chain.tls.not_after           gauge             s             chain.tls.source: Unix time the client certificate expires
//	chain.tls.last_reload         gauge             s             chain.tls.source: Unix time of the last load that ended with valid material
//	chain.tls.rotations           counter           {rotation}    chain.tls.source
//	chain.tls.reloads             counter           {reload}      chain.tls.source, chain.tls.outcome (updated, unchanged, rejected)
//	chain.tls.rejections          counter           {rejection}   chain.tls.source, chain.tls.reason (tlsrotate.Reason)
//	chain.tls.renewals            counter           {renewal}     chain.tls.source, chain.tls.trigger (tlsrotate.Trigger): generations of connections retired
//	chain.tls.connections.stale   gauge             {connection}  chain.tls.source: open connections of retired generations
//
// The instruments are observed at collection time from [tlsrotate.Source.Stats]
// and [tlsrotate.Transport.Stats]; the registration holds t weakly and ends
// by itself once t is garbage, or by its Unregister. A nil mp records
// nothing. Two transports on one source report the source's series twice;
// give each source its own name (tlsrotate.WithName) to tell them apart.
func ObserveTLS(mp metric.MeterProvider, t *tlsrotate.Transport) (metric.Registration, error) {
	if mp == nil || t == nil {
		return noRegistration{}, nil
	}
	m := mp.Meter(meterName)
	var ins tlsInstruments
	if err := ins.init(m); err != nil {
		return noRegistration{}, err
	}
	return observeWeak(m, t, ins.observe, ins.list()...)
}

type noRegistration struct{ metric.Registration }

func (noRegistration) Unregister() error { return nil }

// tlsInstruments are the chain.tls.* instruments.
type tlsInstruments struct {
	validity   metric.Float64ObservableGauge
	notAfter   metric.Int64ObservableGauge
	lastReload metric.Int64ObservableGauge
	rotations  metric.Int64ObservableCounter
	reloads    metric.Int64ObservableCounter
	rejections metric.Int64ObservableCounter
	renewals   metric.Int64ObservableCounter
	stale      metric.Int64ObservableGauge
}

func (ins *tlsInstruments) init(m metric.Meter) error {
	var errs [8]error
	ins.validity, errs[0] = m.Float64ObservableGauge("chain.tls.validity", metric.WithUnit("s"),
		metric.WithDescription("Time left before the client certificate expires."))
	ins.notAfter, errs[1] = m.Int64ObservableGauge("chain.tls.not_after", metric.WithUnit("s"),
		metric.WithDescription("Unix time at which the current client certificate expires."))
	ins.lastReload, errs[2] = m.Int64ObservableGauge("chain.tls.last_reload", metric.WithUnit("s"),
		metric.WithDescription("Unix time of the last load of the certificate source that ended with valid material."))
	ins.rotations, errs[3] = m.Int64ObservableCounter("chain.tls.rotations", metric.WithUnit("{rotation}"),
		metric.WithDescription("Client certificate rotations."))
	ins.reloads, errs[4] = m.Int64ObservableCounter("chain.tls.reloads", metric.WithUnit("{reload}"),
		metric.WithDescription("Reloads of the certificate source, by outcome."))
	ins.rejections, errs[5] = m.Int64ObservableCounter("chain.tls.rejections", metric.WithUnit("{rejection}"),
		metric.WithDescription("Rejected certificate material, by reason."))
	ins.renewals, errs[6] = m.Int64ObservableCounter("chain.tls.renewals", metric.WithUnit("{renewal}"),
		metric.WithDescription("Generations of connections retired and replaced by new ones, by trigger."))
	ins.stale, errs[7] = m.Int64ObservableGauge("chain.tls.connections.stale", metric.WithUnit("{connection}"),
		metric.WithDescription("Open connections of retired generations, still draining."))
	return errors.Join(errs[:]...)
}

func (ins *tlsInstruments) list() []metric.Observable {
	return []metric.Observable{ins.validity, ins.notAfter, ins.lastReload, ins.rotations,
		ins.reloads, ins.rejections, ins.renewals, ins.stale}
}

// observe reports t's and its source's figures.
func (ins *tlsInstruments) observe(o metric.Observer, t *tlsrotate.Transport) {
	src := t.Source()
	source := tlsSourceKey.String(src.Name())
	at := metric.WithAttributes(source)
	ss, ts := src.Stats(), t.Stats()
	o.ObserveFloat64(ins.validity, src.ExpiresIn().Seconds(), metric.WithAttributes(source, tlsRoleKey.String("outbound")))
	o.ObserveInt64(ins.notAfter, src.Current().Leaf.NotAfter.Unix(), at)
	if !ss.LastReload.IsZero() {
		o.ObserveInt64(ins.lastReload, ss.LastReload.Unix(), at)
	}
	o.ObserveInt64(ins.rotations, int64(ss.Updated), at)
	for outcome, n := range map[string]uint64{"updated": ss.Updated, "unchanged": ss.Unchanged, "rejected": ss.Rejected} {
		o.ObserveInt64(ins.reloads, int64(n), metric.WithAttributes(source, tlsOutcomeKey.String(outcome)))
	}
	for reason, n := range ss.Rejections {
		o.ObserveInt64(ins.rejections, int64(n), metric.WithAttributes(source, tlsReasonKey.String(string(reason))))
	}
	for trigger, n := range ts.Renewals {
		o.ObserveInt64(ins.renewals, int64(n), metric.WithAttributes(source, tlsTriggerKey.String(string(trigger))))
	}
	o.ObserveInt64(ins.stale, int64(ts.Stale), at)
}
