package standard

import (
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	tracenoop "go.opentelemetry.io/otel/trace/noop"

	"github.com/rtchain/chain/tracing"
)

// telemetry returns the tracing options of the request id and spans layers:
// the caller's WithTracing options, then the providers and the logger of
// the Stack. A provider that was not given is a no-op one, never the global
// one: telemetry goes only where the caller pointed it. With a logger alone,
// the spans layer keeps only its log record (tracing.WithoutSpans).
func (c *config) telemetry() []tracing.Option {
	opts := append([]tracing.Option(nil), c.tracingOpts...)
	if c.tp != nil {
		opts = append(opts, tracing.WithTracerProvider(c.tp))
	} else {
		opts = append(opts, tracing.WithTracerProvider(tracenoop.NewTracerProvider()))
	}
	if c.mp != nil {
		opts = append(opts, tracing.WithMeterProvider(c.mp))
	} else {
		opts = append(opts, tracing.WithMeterProvider(metricnoop.NewMeterProvider()))
	}
	if c.tp == nil && c.mp == nil {
		opts = append(opts, tracing.WithoutSpans())
	}
	if c.logger != nil {
		opts = append(opts, tracing.WithLogger(c.logger))
	}
	return opts
}
