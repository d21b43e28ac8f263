package tracing

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/rtchain/chain/errclass"
	"github.com/rtchain/chain/internal/attempt"
	"github.com/rtchain/chain/internal/redact"
)

// attemptState is what one attempt needs until its end.
type attemptState struct {
	t          *Transport
	start      time.Time
	req        *http.Request   // the caller's request, read only
	parent     context.Context // the caller's context
	span       trace.Span      // nil with WithoutSpans
	body       *requestBody    // the request body wrapper, or nil
	stop       func() bool     // stops the context.AfterFunc, or nil
	endMu      sync.Mutex      // held while finish runs; guards ended
	ended      bool            // finish ran
	resend     int
	status     int
	protoMajor int
	protoMinor int
}

// bodyDone is the response body's end hook.
func (a *attemptState) bodyDone(err error) {
	if err == io.EOF {
		err = nil
	}
	if a.stop != nil {
		a.stop()
	}
	a.finish(err)
}

// contextDone ends the attempt when the request's context ends before the
// response body did. It does not touch a.stop, which RoundTrip may still be
// setting.
func (a *attemptState) contextDone() { a.finish(a.parent.Err()) }

// finish ends the attempt, once: err is the transport error, the response
// body's read error or the context's error, and nil when the exchange
// completed or the body was closed early. The span end and the duration
// measurement share one timestamp, and the span's start is the metric's.
//
// The body's end and the context's end may race (the context's hook runs on
// a goroutine of its own). The loser waits, under endMu, until the winner has
// ended the span and recorded the metric, so that when a caller's Read or
// Close returns, the attempt is over. Only those two paths take endMu.
func (a *attemptState) finish(err error) {
	a.endMu.Lock()
	defer a.endMu.Unlock()
	if a.ended {
		return
	}
	a.ended = true
	now := time.Now()
	t := a.t
	errType, failed := errorType(a.parent, a.status, err, a.body != nil && a.body.failed.Load())
	phase := errclass.PhaseNone
	if errType == errclass.Timeout.String() {
		phase = errclass.PhaseOf(err)
	}
	if a.span != nil {
		a.endSpan(now, err, errType, failed, phase)
		if t.duration.Enabled(a.parent) {
			t.duration.Record(a.parent, now.Sub(a.start).Seconds(), metric.WithAttributes(a.metricAttrs(errType)...))
		}
	}
	if t.logger != nil {
		a.log(now, err, errType, failed, phase)
	}
}

// endSpan sets the outcome on the span and ends it at now.
func (a *attemptState) endSpan(now time.Time, err error, errType string, failed bool, phase errclass.Phase) {
	if !a.span.IsRecording() {
		a.span.End() // nothing to time: spare the option's allocation
		return
	}
	attrs := make([]attribute.KeyValue, 0, 4)
	if a.status > 0 {
		attrs = append(attrs, semconv.HTTPResponseStatusCode(a.status))
	}
	if v := protoVersion(a.protoMajor, a.protoMinor); v != "" {
		attrs = append(attrs, semconv.NetworkProtocolVersion(v))
	}
	if failed {
		attrs = append(attrs, semconv.ErrorTypeKey.String(errType))
	}
	if phase != errclass.PhaseNone {
		attrs = append(attrs, TimeoutPhaseKey.String(string(phase)))
	}
	a.span.SetAttributes(attrs...)
	if failed {
		desc := ""
		if err != nil {
			desc = redact.Text(err.Error(), a.req, a.t.redact)
		}
		a.span.SetStatus(codes.Error, desc)
	}
	a.span.End(trace.WithTimestamp(now))
}

// log writes the attempt's record. Its level: Info when the attempt
// succeeded, Warn when it failed, Error when it failed and no attempt can
// follow (retry's last, or the deadline has passed). When RequestID writes
// a summary of the whole request above, that summary has the final word:
// the attempts step down to Debug and Warn.
func (a *attemptState) log(now time.Time, err error, errType string, failed bool, phase errclass.Phase) {
	ctx := a.parent
	summarised := summarised(ctx)
	level := slog.LevelInfo
	switch {
	case failed && !summarised && (attempt.Last(ctx) || errors.Is(ctx.Err(), context.DeadlineExceeded)):
		level = slog.LevelError
	case failed:
		level = slog.LevelWarn
	case summarised:
		level = slog.LevelDebug
	}
	if !a.t.logger.Enabled(ctx, level) {
		return
	}
	attrs := make([]slog.Attr, 0, 13)
	attrs = append(attrs,
		slog.String("method", a.req.Method),
		slog.String("url", redact.URL(a.req.URL)),
		slog.Int("status", a.status),
		slog.Duration("duration", now.Sub(a.start)),
		slog.Int("attempt", attempt.From(ctx)),
	)
	if a.resend > 0 {
		attrs = append(attrs, slog.Int("resend_count", a.resend))
	}
	if attempt.Hedge(ctx) {
		attrs = append(attrs, slog.Bool("hedge", true))
	}
	attrs = appendOutcome(attrs, a.req, a.t.redact, err, errType, failed, phase)
	if id := RequestIDFrom(ctx); id != "" {
		attrs = append(attrs, slog.String("request_id", id))
	}
	sc := trace.SpanContextFromContext(ctx)
	if a.span != nil {
		sc = a.span.SpanContext()
	}
	attrs = appendTrace(attrs, sc)
	a.t.logger.LogAttrs(ctx, level, "http attempt", attrs...)
}

// appendOutcome appends the failure fields of a log record: error_type (the
// one name of the failure, as on spans and metrics), phase for timeouts, and
// the error's text with req's secrets removed.
func appendOutcome(attrs []slog.Attr, req *http.Request, extra []string, err error, errType string, failed bool, phase errclass.Phase) []slog.Attr {
	if failed {
		attrs = append(attrs, slog.String("error_type", errType))
	}
	if phase != errclass.PhaseNone {
		attrs = append(attrs, slog.String("phase", string(phase)))
	}
	if err != nil {
		attrs = append(attrs, slog.String("error", redact.Text(err.Error(), req, extra)))
	}
	return attrs
}

// appendTrace appends the trace and span ids of sc, when it is valid.
func appendTrace(attrs []slog.Attr, sc trace.SpanContext) []slog.Attr {
	if !sc.IsValid() {
		return attrs
	}
	return append(attrs, slog.String("trace_id", sc.TraceID().String()), slog.String("span_id", sc.SpanID().String()))
}

// requestAttrs returns the span attributes known before sending.
func (a *attemptState) requestAttrs() []attribute.KeyValue {
	req := a.req
	attrs := make([]attribute.KeyValue, 0, 8)
	m := knownMethod(req.Method)
	attrs = append(attrs, semconv.HTTPRequestMethodKey.String(m))
	if m != req.Method {
		attrs = append(attrs, semconv.HTTPRequestMethodOriginal(req.Method))
	}
	if req.URL != nil {
		attrs = append(attrs, semconv.ServerAddress(req.URL.Hostname()))
		if p := serverPort(req.URL.Scheme, req.URL.Port()); p > 0 {
			attrs = append(attrs, semconv.ServerPort(p))
		}
		attrs = append(attrs, semconv.URLFull(redact.URL(req.URL)))
	}
	if a.resend > 0 {
		attrs = append(attrs, semconv.HTTPRequestResendCount(a.resend))
	}
	if id := RequestIDFrom(a.parent); id != "" {
		attrs = append(attrs, RequestIDKey.String(id))
	}
	if attempt.Hedge(a.parent) {
		attrs = append(attrs, HedgeKey.Bool(true))
	}
	return attrs
}

// metricAttrs returns the attributes of the duration measurement: only
// bounded values (the method is normalised, no path, no full URL), and at
// most the series WithMaxSeries allows.
func (a *attemptState) metricAttrs(errType string) []attribute.KeyValue {
	req := a.req
	s := series{
		method:  knownMethod(req.Method),
		status:  a.status,
		proto:   protoVersion(a.protoMajor, a.protoMinor),
		errType: errType,
	}
	if req.URL != nil {
		s.host = req.URL.Hostname()
		s.port = serverPort(req.URL.Scheme, req.URL.Port())
	}
	var extra []attribute.KeyValue
	for _, f := range a.t.metricAttrs {
		extra = append(extra, f(req)...)
	}
	s.extra = encodeExtra(extra)
	return a.t.series.admit(s).attributes(extra)
}

// requestBody notes whether reading the request body failed, so that the
// attempt's error.type can say request_body.
type requestBody struct {
	io.ReadCloser
	failed atomic.Bool
}

func (b *requestBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err != nil && err != io.EOF {
		b.failed.Store(true)
	}
	return n, err
}

// resendCount returns the attempt number on req's context plus the number of
// redirect hops that led to req.
func resendCount(req *http.Request) int {
	n := attempt.From(req.Context())
	for r, hops := req.Response, 0; r != nil && hops < 100; hops++ {
		n++
		if r.Request == nil {
			break
		}
		r = r.Request.Response
	}
	return n
}
