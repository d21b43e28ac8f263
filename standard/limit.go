package standard

import (
	"context"
	"errors"
	"runtime"
	"weak"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/metric"

	"github.com/rtchain/chain/limit"
)

// ObserveLimit records the limit and the requests in flight of every key of
// t as gauges, through mp's meter; [New] calls it when both WithLimit and
// WithMeterProvider are given. Use it directly for a limit.Transport
// stacked by hand (its rejections are the Observer's OnLimitReject hook).
//
//	name                     kind   unit         attributes
//	chain.limit.limit        gauge  {request}    server.address: the key's current limit
//	chain.limit.in_flight    gauge  {request}    server.address: the key's requests in flight
//
// The gauges are observed at collection time from [limit.Transport.Keys] and
// [limit.Transport.Stats], so there are at most as many series as the keys
// the limit keeps (limit.WithMaxKeys, 1024 by default), and a key the limit
// dropped stops being reported. The registration holds t weakly and ends by
// itself once t is garbage, or by its Unregister. A nil mp records nothing.
func ObserveLimit(mp metric.MeterProvider, t *limit.Transport) (metric.Registration, error) {
	if mp == nil || t == nil {
		return noRegistration{}, nil
	}
	m := mp.Meter(meterName)
	lim, err1 := m.Int64ObservableGauge("chain.limit.limit", metric.WithUnit("{request}"),
		metric.WithDescription("Current limit of requests in flight, by host."))
	inFlight, err2 := m.Int64ObservableGauge("chain.limit.in_flight", metric.WithUnit("{request}"),
		metric.WithDescription("Requests in flight under the limit, by host."))
	if err := errors.Join(err1, err2); err != nil {
		return noRegistration{}, err
	}
	return observeWeak(m, t, func(o metric.Observer, t *limit.Transport) {
		for _, k := range t.Keys() {
			st := t.Stats(k)
			at := metric.WithAttributes(serverAddrKey.String(k))
			o.ObserveInt64(lim, int64(st.Limit), at)
			o.ObserveInt64(inFlight, int64(st.InFlight), at)
		}
	}, lim, inFlight)
}

// observeLimit is ObserveLimit for New, which has no error to return.
func observeLimit(mp metric.MeterProvider, t *limit.Transport) {
	if _, err := ObserveLimit(mp, t); err != nil {
		otel.Handle(err) // as the SDK does for its own instrument errors
	}
}

// observeWeak registers observe(o, t) as the callback of ins on m, holding t
// weakly: the registration ends by itself once t is garbage.
func observeWeak[T any](m metric.Meter, t *T, observe func(metric.Observer, *T), ins ...metric.Observable) (metric.Registration, error) {
	w := weak.Make(t)
	reg, err := m.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		if t := w.Value(); t != nil {
			observe(o, t)
		}
		return nil
	}, ins...)
	if err != nil {
		return noRegistration{}, err
	}
	runtime.AddCleanup(t, func(r metric.Registration) { r.Unregister() }, reg)
	return reg, nil
}
