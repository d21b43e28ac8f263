package tracing

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"go.opentelemetry.io/otel/codes"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/rtchain/chain/errclass"
	"github.com/rtchain/chain/internal/body"
	"github.com/rtchain/chain/internal/redact"
)

// ending is the end of a logical request, which happens once, whichever of
// the response body's end and the caller's context's end comes first.
type ending struct {
	mu     sync.Mutex  // held while finish runs; guards ended
	ended  bool        // finish ran
	stop   func() bool // stops the context.AfterFunc, or nil
	status int         // the final response's status, 0 when none
}

// await arranges for the end of the logical request (its span and its
// summary) and returns the response to hand to the caller: at once on an
// error, or for a response without a body to wait for (http.NoBody, a 101
// whose connection is handed over); else when the response body reaches
// EOF, fails or is closed, or when the caller's context ends first.
func (l *logical) await(resp *http.Response, err error) *http.Response {
	if err != nil {
		l.finish(err)
		return nil
	}
	l.end.status = resp.StatusCode
	if resp.Body == nil {
		resp.Body = http.NoBody
	}
	if resp.Body == http.NoBody || resp.StatusCode == http.StatusSwitchingProtocols {
		l.finish(nil)
		return resp
	}
	resp.Body = body.Wrap(resp.Body, l.bodyDone)
	if l.Context.Done() != nil {
		l.end.stop = context.AfterFunc(l.Context, l.contextDone)
	}
	return resp
}

func (l *logical) bodyDone(err error) {
	if err == io.EOF {
		err = nil
	}
	if l.end.stop != nil {
		l.end.stop()
	}
	l.finish(err)
}

// contextDone ends the request when the caller's context ends before the
// response body did. It does not touch l.end.stop, which await may still be
// setting.
func (l *logical) contextDone() { l.finish(l.Context.Err()) }

// finish ends the logical span and writes the summary, once. The loser of a
// race between the body's end and the context's waits until the winner is
// done (see attemptState.finish).
func (l *logical) finish(err error) {
	l.end.mu.Lock()
	defer l.end.mu.Unlock()
	if l.end.ended {
		return
	}
	l.end.ended = true
	now := time.Now()
	errType, failed := errorType(l.Context, l.end.status, err, false)
	if l.span != nil {
		if failed {
			l.span.SetAttributes(semconv.ErrorTypeKey.String(errType))
			l.span.SetStatus(codes.Error, "")
		}
		l.span.End(trace.WithTimestamp(now))
	}
	if l.t.logger != nil {
		l.summary(now, err, errType, failed)
	}
}

// summary writes the one record of the logical request.
func (l *logical) summary(now time.Time, err error, errType string, failed bool) {
	t, ctx := l.t, l.Context
	attempts := max(l.rec.Attempts(), 1)
	level := t.summaryLevel(err, failed, attempts)
	if !t.logger.Enabled(ctx, level) {
		return
	}
	phase := errclass.PhaseNone
	if errType == errclass.Timeout.String() {
		phase = errclass.PhaseOf(err)
	}
	attrs := make([]slog.Attr, 0, 13)
	attrs = append(attrs,
		slog.String("method", l.orig.Method),
		slog.String("url", redact.URL(l.orig.URL)),
		slog.Int("status", l.end.status),
		slog.Int("attempts", attempts),
		slog.Duration("duration", now.Sub(l.start)),
	)
	attrs = appendOutcome(attrs, l.orig, t.redact, err, errType, failed, phase)
	if reason := l.rec.Reason(); reason != "" {
		attrs = append(attrs, slog.String("give_up", reason))
	}
	attrs = append(attrs, slog.String("request_id", l.id))
	sc := trace.SpanContextFromContext(ctx)
	if l.span != nil {
		sc = l.span.SpanContext()
	}
	attrs = appendTrace(attrs, sc)
	t.logger.LogAttrs(ctx, level, "http request", attrs...)
}

// summaryLevel returns the level of a summary: Error when the request
// finally failed, Warn when a breaker or a limiter rejected it without
// sending it, Info when the caller cancelled it, and the levels of
// WithSummaryLevels when it succeeded (Debug at once, Info after retries).
func (t *RequestIDTransport) summaryLevel(err error, failed bool, attempts int) slog.Level {
	switch {
	case failed:
		switch errclass.Classify(err) {
		case errclass.BreakerOpen, errclass.Limited:
			return slog.LevelWarn
		}
		return slog.LevelError
	case err != nil:
		return slog.LevelInfo
	case attempts > 1:
		return t.retriedLevel
	}
	return t.okLevel
}
