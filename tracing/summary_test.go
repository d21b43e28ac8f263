package tracing_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rtchain/chain/errclass"
	"github.com/rtchain/chain/internal/record"
	"github.com/rtchain/chain/tracing"
)

// summaryStack builds RequestID (with the rig's logger) → a retry stand-in
// of max attempts → Spans → base.
func summaryStack(r *rig, base http.RoundTripper, max int, opts ...tracing.Option) http.RoundTripper {
	return tracing.NewRequestID(retryLoop{next: tracing.New(base, r.opts()...), max: max},
		append([]tracing.Option{tracing.WithLogger(r.logger)}, opts...)...)
}

func statuses(codes ...int) http.RoundTripper {
	n := 0
	return rtFunc(func(req *http.Request) (*http.Response, error) {
		code := codes[min(n, len(codes)-1)]
		n++
		return &http.Response{StatusCode: code, Body: io.NopCloser(strings.NewReader("body")), Request: req}, nil
	})
}

func levels(recs []map[string]any) []string {
	var out []string
	for _, r := range recs {
		out = append(out, r["level"].(string))
	}
	return out
}

// TestSummaryFailedAfterRetries: a request that finally failed after
// retries is summarised once, at ERROR, with its attempts and the reason
// retry gave up; its attempts step down to WARN.
func TestSummaryFailedAfterRetries(t *testing.T) {
	r := newRig(t)
	rt := summaryStack(r, statuses(503), 3)
	resp := get(t, context.Background(), rt, "http://api.example/v1?token=SECRETQ")
	_, _ = io.Copy(io.Discard, resp.Body)
	require.NoError(t, resp.Body.Close())

	sums := r.summaries(t)
	require.Len(t, sums, 1)
	s := sums[0]
	assert.Equal(t, "ERROR", s["level"])
	assert.Equal(t, float64(3), s["attempts"])
	assert.Equal(t, "attempts", s["give_up"])
	assert.Equal(t, "503", s["error_type"])
	assert.Equal(t, float64(503), s["status"])
	assert.Equal(t, "http://api.example/v1?token=REDACTED", s["url"])
	assert.NotEmpty(t, s["request_id"])
	assert.NotContains(t, s, "error_class", "one name for one failure")
	assert.Equal(t, []string{"WARN", "WARN", "WARN"}, levels(r.logRecords(t)), "the summary has the final word")
}

// TestSummaryHeaderTimeoutRetried: a header timeout retried once fails on
// both attempts, neither of which retry marks as last: the summary still
// says ERROR, with the class and the phase.
func TestSummaryHeaderTimeoutRetried(t *testing.T) {
	r := newRig(t)
	fail := rtFunc(func(*http.Request) (*http.Response, error) {
		return nil, timeoutError{errclass.PhaseResponseHeader}
	})
	req, err := http.NewRequest(http.MethodGet, "http://api.example/", nil)
	require.NoError(t, err)
	_, err = summaryStack(r, fail, 2).RoundTrip(req)
	require.Error(t, err)
	sums := r.summaries(t)
	require.Len(t, sums, 1)
	assert.Equal(t, "ERROR", sums[0]["level"])
	assert.Equal(t, "timeout", sums[0]["error_type"])
	assert.Equal(t, "response_header", sums[0]["phase"])
	assert.Equal(t, float64(2), sums[0]["attempts"])
}

func TestSummaryLevels(t *testing.T) {
	breakerOpen := rtFunc(func(*http.Request) (*http.Response, error) { return nil, classError(errclass.BreakerOpen) })
	limited := rtFunc(func(*http.Request) (*http.Response, error) { return nil, classError(errclass.Limited) })
	for _, tc := range []struct {
		name     string
		base     http.RoundTripper
		max      int
		opts     []tracing.Option
		level    string
		attempts float64
	}{
		{"ok at once", statuses(200), 3, nil, "DEBUG", 1},
		{"ok after retries", statuses(503, 200), 3, nil, "INFO", 2},
		{"configured levels", statuses(503, 200), 3, []tracing.Option{tracing.WithSummaryLevels(slog.LevelInfo, slog.LevelWarn)}, "WARN", 2},
		{"configured ok", statuses(200), 3, []tracing.Option{tracing.WithSummaryLevels(slog.LevelInfo, slog.LevelWarn)}, "INFO", 1},
		{"client error", statuses(404), 3, nil, "ERROR", 1},
		{"breaker rejection", breakerOpen, 1, nil, "WARN", 1},
		{"limiter rejection", limited, 1, nil, "WARN", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t)
			req, err := http.NewRequest(http.MethodGet, "http://api.example/", nil)
			require.NoError(t, err)
			resp, err := summaryStack(r, tc.base, tc.max, tc.opts...).RoundTrip(req)
			if err == nil {
				require.NoError(t, resp.Body.Close())
			}
			sums := r.summaries(t)
			require.Len(t, sums, 1)
			assert.Equal(t, tc.level, sums[0]["level"])
			assert.Equal(t, tc.attempts, sums[0]["attempts"])
		})
	}
}

// TestSummaryReasonFromRecord: the give-up reason is the one the layers
// below wrote in the request's record, as retry does for a POST with an
// Idempotency-Key whose body cannot be sent again.
func TestSummaryReasonFromRecord(t *testing.T) {
	r := newRig(t)
	notReplayable := rtFunc(func(req *http.Request) (*http.Response, error) {
		rec := record.From(req.Context())
		rec.Attempt()
		if req.Body != nil && req.GetBody == nil {
			rec.GiveUp("not_replayable")
			req.Body.Close()
		}
		return &http.Response{StatusCode: 503, Body: http.NoBody, Request: req}, nil
	})
	rt := tracing.NewRequestID(notReplayable, tracing.WithLogger(r.logger))
	req, err := http.NewRequest(http.MethodPost, "http://api.example/orders", io.NopCloser(strings.NewReader("order")))
	require.NoError(t, err)
	req.Header.Set("Idempotency-Key", "k-1")
	resp, err := rt.RoundTrip(req)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	sums := r.summaries(t)
	require.Len(t, sums, 1)
	assert.Equal(t, "not_replayable", sums[0]["give_up"])
	assert.Equal(t, "ERROR", sums[0]["level"])
}

// TestSummaryAtBodyEnd: the summary waits for the response body, and a
// body that fails is the request's outcome.
func TestSummaryAtBodyEnd(t *testing.T) {
	r := newRig(t)
	base := rtFunc(func(req *http.Request) (*http.Response, error) {
		return &http.Response{StatusCode: 200, Body: io.NopCloser(errReader{io.ErrUnexpectedEOF}), Request: req}, nil
	})
	resp := get(t, context.Background(), summaryStack(r, base, 1), "http://api.example/")
	assert.Empty(t, r.summaries(t), "written before the body ended")
	_, err := io.ReadAll(resp.Body)
	require.ErrorIs(t, err, io.ErrUnexpectedEOF)
	require.NoError(t, resp.Body.Close())
	sums := r.summaries(t)
	require.Len(t, sums, 1)
	assert.Equal(t, "ERROR", sums[0]["level"])
	assert.Equal(t, "reset", sums[0]["error_type"])
}

// TestSummaryCallerCancel: the caller's own cancellation is no failure.
func TestSummaryCallerCancel(t *testing.T) {
	r := newRig(t)
	ctx, cancel := context.WithCancel(context.Background())
	base := rtFunc(func(req *http.Request) (*http.Response, error) {
		cancel()
		return nil, req.Context().Err()
	})
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://api.example/", nil)
	require.NoError(t, err)
	_, err = summaryStack(r, base, 1).RoundTrip(req)
	require.ErrorIs(t, err, context.Canceled)
	sums := r.summaries(t)
	require.Len(t, sums, 1)
	assert.Equal(t, "INFO", sums[0]["level"])
	assert.NotContains(t, sums[0], "error_type")
}

// TestOneSummaryWhenNested: a second RequestID inside the first one keeps
// the id and writes no summary of its own.
func TestOneSummaryWhenNested(t *testing.T) {
	r := newRig(t)
	var ids []string
	base := rtFunc(func(req *http.Request) (*http.Response, error) {
		ids = append(ids, req.Header.Get(tracing.DefaultHeader), tracing.RequestIDFrom(req.Context()))
		return &http.Response{StatusCode: 200, Body: http.NoBody, Request: req}, nil
	})
	inner := tracing.NewRequestID(base, tracing.WithLogger(r.logger))
	outer := tracing.NewRequestID(inner, tracing.WithLogger(r.logger), tracing.WithHeader("X-Other"))
	req, err := http.NewRequest(http.MethodGet, "http://api.example/", nil)
	require.NoError(t, err)
	_, err = outer.RoundTrip(req)
	require.NoError(t, err)
	require.Len(t, ids, 2)
	assert.Equal(t, ids[0], ids[1], "the inner layer sets the outer's id in its header")
	assert.Len(t, r.summaries(t), 1)
}

// classError is an error that declares its class, as the breaker's and the
// limiter's rejections do.
type classError errclass.Class

func (e classError) Error() string         { return "rejected: " + errclass.Class(e).String() }
func (e classError) Class() errclass.Class { return errclass.Class(e) }
