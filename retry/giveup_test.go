package retry_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rtchain/chain/errclass"
	"github.com/rtchain/chain/internal/record"
	"github.com/rtchain/chain/retry"
)

// breakerlike is a circuit breaker's rejection, as the breaker package
// makes them (this package cannot import it): class BreakerOpen, and a
// pause when it relays a server's Retry-After.
type breakerlike struct{ pause time.Duration }

func (e *breakerlike) Error() string            { return "breaker: circuit open" }
func (e *breakerlike) Class() errclass.Class    { return errclass.BreakerOpen }
func (e *breakerlike) PausedFor() time.Duration { return e.pause }

// limitedErr is a limiter's rejection.
type limitedErr struct{}

func (limitedErr) Error() string         { return "limit: shed" }
func (limitedErr) Class() errclass.Class { return errclass.Limited }

// bodyErr is the caller's own request body failing, as the timeouts layer
// marks it.
type bodyErr struct{}

func (bodyErr) Error() string         { return "timeouts: request_body: read failed" }
func (bodyErr) Class() errclass.Class { return errclass.RequestBody }

// Issue 14.8: every give-up has a reason, in the hook, in *retry.Error and
// in the logical request's record; a success calls no give-up hook.
func TestGiveUpReasons(t *testing.T) {
	t.Parallel()
	ra := func(v string) http.Header { return http.Header{"Retry-After": {v}} }
	spent := retry.WithBudget(retry.NewBudget(retry.WithRatio(0), retry.WithFloor(0)))
	tests := []struct {
		name     string
		steps    []step
		method   string
		body     func() (io.Reader, bool) // body, replayable
		opts     []retry.Option
		deadline time.Duration
		want     retry.GiveUpReason
		attempts int // calls to the next layer
		sent     int // in the record
		status   int // the status returned, 0 for an error
	}{
		{name: "attempts", steps: []step{{status: 503}}, want: retry.GiveUpAttempts, attempts: 3, sent: 3, status: 503},
		{name: "attempts on errors", steps: []step{{err: errReset}}, want: retry.GiveUpAttempts, attempts: 3, sent: 3},
		{name: "one attempt allowed", steps: []step{{status: 503}}, opts: []retry.Option{retry.WithMaxAttempts(1)}, want: retry.GiveUpAttempts, attempts: 1, sent: 1, status: 503},
		{name: "budget", steps: []step{{status: 503}}, opts: []retry.Option{spent}, want: retry.GiveUpBudget, attempts: 1, sent: 1, status: 503},
		{name: "policy on status", steps: []step{{status: 404}}, want: retry.GiveUpPolicy, attempts: 1, sent: 1, status: 404},
		{name: "policy on last attempt", steps: []step{{status: 503}, {status: 404}}, opts: []retry.Option{retry.WithMaxAttempts(2)}, want: retry.GiveUpPolicy, attempts: 2, sent: 2, status: 404},
		{name: "policy on POST reset", steps: []step{{err: errReset}}, method: "POST", want: retry.GiveUpPolicy, attempts: 1, sent: 1},
		{name: "not replayable", steps: []step{{status: 503}}, method: "POST",
			body: func() (io.Reader, bool) { return io.MultiReader(strings.NewReader("x")), false }, want: retry.GiveUpNotReplayable, attempts: 1, sent: 1, status: 503},
		{name: "retry-after cap", steps: []step{{status: 429, header: ra("3600")}}, want: retry.GiveUpRetryAfterCap, attempts: 1, sent: 1, status: 429},
		{name: "deadline", steps: []step{{status: 503, header: ra("5")}}, deadline: time.Second, want: retry.GiveUpDeadline, attempts: 1, sent: 1, status: 503},
		{name: "breaker open", steps: []step{{status: 503}, {err: &breakerlike{}}}, want: retry.GiveUpBreakerOpen, attempts: 2, sent: 1, status: 503},
		{name: "breaker open first", steps: []step{{err: &breakerlike{}}}, want: retry.GiveUpBreakerOpen, attempts: 1, sent: 0},
		{name: "limited", steps: []step{{err: errReset}, {err: limitedErr{}}}, want: retry.GiveUpLimited, attempts: 2, sent: 1},
		{name: "pause over the cap", steps: []step{{status: 503}, {err: &breakerlike{pause: time.Hour}}}, want: retry.GiveUpRetryAfterCap, attempts: 2, sent: 1, status: 503},
		{name: "request body", steps: []step{{err: bodyErr{}}}, want: retry.GiveUpPolicy, attempts: 1, sent: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				s := newScript(tt.steps...)
				ctx := t.Context()
				if tt.deadline > 0 {
					var cancel context.CancelFunc
					ctx, cancel = context.WithTimeout(ctx, tt.deadline)
					defer cancel()
				}
				rec := &record.Record{}
				ctx = record.With(ctx, rec)
				method, body := "GET", io.Reader(nil)
				if tt.method != "" {
					method, body = tt.method, strings.NewReader("payload")
				}
				if tt.body != nil {
					body, _ = tt.body()
				}
				req, err := http.NewRequestWithContext(ctx, method, "http://example.test/", body)
				require.NoError(t, err)
				req.Header.Set("Idempotency-Key", "k")
				if tt.method == "POST" && tt.want == retry.GiveUpPolicy {
					req.Header.Del("Idempotency-Key")
				}
				var got []retry.GiveUp
				opts := append([]retry.Option{retry.WithOnGiveUp(func(g retry.GiveUp) { got = append(got, g) })}, tt.opts...)
				resp, err := retry.New(s, opts...).RoundTrip(req)
				require.Len(t, got, 1, "one give-up")
				g := got[0]
				assert.Equal(t, tt.want, g.Reason)
				assert.Equal(t, tt.attempts, g.Attempts)
				assert.Equal(t, tt.attempts, s.calls())
				assert.True(t, g.Request == req)
				assert.Equal(t, tt.want, retry.GiveUpReason(rec.Reason()), "the record's reason")
				assert.Equal(t, tt.sent, rec.Attempts(), "attempts sent, in the record")
				if tt.status != 0 {
					require.NoError(t, err)
					assert.Equal(t, tt.status, resp.StatusCode)
					assert.Equal(t, tt.status, g.StatusCode)
					assert.Equal(t, errclass.Status, g.Class)
					resp.Body.Close()
					return
				}
				require.Error(t, err)
				assert.Equal(t, err, g.Err, "the hook sees the error returned")
				assert.Equal(t, errclass.Classify(err), g.Class)
				var re *retry.Error
				if tt.attempts > 1 {
					require.ErrorAs(t, err, &re)
					assert.Equal(t, tt.want, re.Reason)
					assert.Contains(t, err.Error(), "("+string(tt.want)+")")
				}
			})
		})
	}
}

func TestNoGiveUpOnSuccess(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		s := newScript(step{status: 503}, step{status: 200})
		rec := &record.Record{}
		req := get(t).WithContext(record.With(t.Context(), rec))
		called := false
		resp, err := retry.New(s, retry.WithOnGiveUp(func(retry.GiveUp) { called = true })).RoundTrip(req)
		require.NoError(t, err)
		resp.Body.Close()
		assert.False(t, called)
		assert.Empty(t, rec.Reason())
		assert.Equal(t, 2, rec.Attempts())
	})
}

func TestGiveUpCanceledDuringWait(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		time.AfterFunc(time.Second, cancel)
		s := newScript(step{status: 503})
		var retries []retry.Event
		var got []retry.GiveUp
		rt := retry.New(s, retry.WithBackoff(5*time.Second, 5*time.Second, retry.JitterNone),
			retry.WithOnRetry(func(e retry.Event) { retries = append(retries, e) }),
			retry.WithOnGiveUp(func(g retry.GiveUp) { got = append(got, g) }))
		_, err := rt.RoundTrip(get(t).WithContext(ctx))
		require.Error(t, err)
		assert.Empty(t, retries, "WithOnRetry fires only before a retry that is sent")
		require.Len(t, got, 1)
		assert.Equal(t, retry.GiveUpCanceled, got[0].Reason)
		assert.Equal(t, errclass.Canceled, got[0].Class)
	})
}

// Issue 14.2: hooks add up, in the order given.
func TestHooksAddUp(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		s := newScript(step{status: 503}, step{status: 404})
		var order []string
		rt := retry.New(s,
			retry.WithOnRetry(func(retry.Event) { order = append(order, "retry 1") }),
			retry.WithOnGiveUp(func(retry.GiveUp) { order = append(order, "give-up 1") }),
			retry.WithOnRetry(nil),
			retry.WithOnRetry(func(retry.Event) { order = append(order, "retry 2") }),
			retry.WithOnGiveUp(func(retry.GiveUp) { order = append(order, "give-up 2") }),
		)
		resp, err := rt.RoundTrip(get(t))
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, []string{"retry 1", "retry 2", "give-up 1", "give-up 2"}, order)
	})
}

// Issue 14.1: every error returned matches its class's sentinel and still
// reaches the cause, with or without retries.
func TestErrorsMatchSentinels(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		method   string
		err      error
		sentinel error
		attempts int
	}{
		{"refused after retries", "GET", errRefused, errclass.ErrNetwork, 3},
		{"reset, POST not retried", "POST", errReset, errclass.ErrNetwork, 1},
		{"timeout after retries", "GET", phaseTimeout{errclass.PhaseResponseHeader}, errclass.ErrTimeout, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				s := newScript(step{err: tt.err})
				req, err := http.NewRequest(tt.method, "http://example.test/", nil)
				require.NoError(t, err)
				_, err = retry.New(s).RoundTrip(req)
				assert.Equal(t, tt.attempts, s.calls())
				assert.ErrorIs(t, err, tt.sentinel)
				assert.ErrorIs(t, err, tt.err, "the cause is still reached")
				assert.True(t, strings.HasSuffix(err.Error(), tt.err.Error()), "the cause's text: %v", err)
			})
		})
	}
}

// Issue 15.9: a retry refused below gives back the server's last answer,
// with its Retry-After and body, not the refusal.
func TestRefusalReturnsLastResponse(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		s := newScript(step{status: 429, header: http.Header{"Retry-After": {"1"}}, body: "slow down"}, step{err: &breakerlike{}})
		var got []retry.GiveUp
		resp, err := retry.New(s, retry.WithOnGiveUp(func(g retry.GiveUp) { got = append(got, g) })).RoundTrip(get(t))
		require.NoError(t, err, "the 429, not breaker_open")
		assert.Equal(t, 429, resp.StatusCode)
		assert.Equal(t, "1", resp.Header.Get("Retry-After"))
		b, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		assert.Equal(t, "slow down", string(b), "its body, as the server sent it")
		resp.Body.Close()
		assert.Equal(t, 2, s.calls())
		require.Len(t, got, 1)
		assert.Equal(t, retry.GiveUpBreakerOpen, got[0].Reason)
		assert.Equal(t, 429, got[0].StatusCode)
		assert.Equal(t, s.opened.Load(), s.closed.Load(), "the server's own body was closed (a copy goes back)")
	})
}

// A discarded body longer than the drain's bound comes back, when returned
// after a refusal, as its first 64 KiB and an error that says so: never cut
// silently.
func TestRefusalAfterLongBody(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		long := strings.Repeat("x", 100<<10)
		s := newScript(step{status: 503, body: long}, step{err: limitedErr{}})
		resp, err := retry.New(s).RoundTrip(get(t))
		require.NoError(t, err)
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		assert.Len(t, b, 64<<10)
		require.Error(t, err)
		assert.Contains(t, err.Error(), "retry: response body cut")
	})
}

// Issue 12.7: a refusal that relays a pause is waited out like the
// Retry-After it came from, then the request is sent.
func TestRefusalWithPauseWaitsAndSends(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		steps []step
		want  time.Duration
	}{
		{"first attempt refused", []step{{err: &breakerlike{pause: 700 * time.Millisecond}}, {status: 200}}, 700 * time.Millisecond},
		{"retry refused", []step{{status: 503, header: http.Header{"Retry-After": {"1"}}}, {err: &breakerlike{pause: 500 * time.Millisecond}}, {status: 200}}, 1500 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				s := newScript(tt.steps...)
				budget := retry.NewBudget(retry.WithRatio(1), retry.WithFloor(0)) // one token per request
				var events []retry.Event
				rt := retry.New(s, noSpread, retry.WithBudget(budget), retry.WithOnRetry(func(e retry.Event) { events = append(events, e) }))
				start := time.Now()
				resp, err := rt.RoundTrip(get(t))
				require.NoError(t, err)
				resp.Body.Close()
				assert.Equal(t, 200, resp.StatusCode)
				assert.Equal(t, tt.want, time.Since(start))
				assert.Equal(t, "breaker_open", events[len(events)-1].Reason)
				assert.Equal(t, len(tt.steps), s.calls())
				assert.Equal(t, len(tt.steps) == 2, budget.Withdraw(), "the resend after a pause took no token")
			})
		})
	}
}

func TestRefusalPauseBeyondDeadline(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		defer cancel()
		s := newScript(step{status: 503, body: "busy"}, step{err: &breakerlike{pause: 2 * time.Second}}, step{status: 200})
		var reason retry.GiveUpReason
		rt := retry.New(s, noJitter, retry.WithOnGiveUp(func(g retry.GiveUp) { reason = g.Reason }))
		resp, err := rt.RoundTrip(get(t).WithContext(ctx))
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, 503, resp.StatusCode)
		assert.Equal(t, retry.GiveUpDeadline, reason)
		assert.Equal(t, 2, s.calls())
	})
}

// Issue 11.5: a retry is not started when less than the least time of an
// attempt would be left; the first attempt is always sent.
func TestMinAttemptTime(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		opts  []retry.Option
		calls int
	}{
		{"default 10 ms", nil, 1},
		{"zero", []retry.Option{retry.WithMinAttemptTime(0)}, 2},
		{"2 ms", []retry.Option{retry.WithMinAttemptTime(2 * time.Millisecond)}, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				ctx, cancel := context.WithTimeout(t.Context(), time.Second)
				defer cancel()
				s := newScript(step{status: 503}, step{status: 200})
				opts := append([]retry.Option{retry.WithBackoff(995*time.Millisecond, time.Second, retry.JitterNone)}, tt.opts...)
				resp, err := retry.New(s, opts...).RoundTrip(get(t).WithContext(ctx))
				require.NoError(t, err)
				resp.Body.Close()
				assert.Equal(t, tt.calls, s.calls())
			})
		})
	}
	assert.PanicsWithValue(t, "retry: WithMinAttemptTime(-1ms): need a duration ≥ 0", func() { retry.WithMinAttemptTime(-time.Millisecond) })
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithTimeout(t.Context(), time.Millisecond)
		defer cancel()
		s := newScript(step{status: 200})
		resp, err := retry.New(s).RoundTrip(get(t).WithContext(ctx))
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, 1, s.calls(), "the first attempt is sent even with less than the minimum left")
	})
}

// Issue 11.7: the caller's own body failing, and a limiter's shedding, are
// never retried by default.
func TestRequestBodyAndLimitedNotRetried(t *testing.T) {
	t.Parallel()
	for _, e := range []error{bodyErr{}, limitedErr{}} {
		t.Run(errclass.Classify(e).String(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				s := newScript(step{err: e}, step{status: 200})
				_, err := retry.New(s, retry.WithMaxAttempts(5)).RoundTrip(get(t))
				assert.ErrorIs(t, err, e)
				assert.Equal(t, 1, s.calls())
				assert.False(t, retry.DefaultPolicy(retry.Outcome{Err: e, Idempotent: true}), "DefaultPolicy says no")
			})
		})
	}
}

// Issue 16.8: the outcome is classified once and carried to the policy.
func TestOutcomeCarriesClassification(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		s := newScript(step{err: errRefused}, step{err: phaseTimeout{errclass.PhaseResponseHeader}}, step{status: 200})
		var got []retry.Outcome
		p := func(o retry.Outcome) bool { got = append(got, o); return retry.DefaultPolicy(o) }
		resp, err := retry.New(s, retry.WithPolicy(p)).RoundTrip(get(t))
		require.NoError(t, err)
		resp.Body.Close()
		require.Len(t, got, 3)
		assert.Equal(t, errclass.Refused, got[0].Class)
		assert.True(t, got[0].Unsent)
		assert.Equal(t, errclass.Timeout, got[1].Class)
		assert.Equal(t, errclass.PhaseResponseHeader, got[1].Phase)
		assert.False(t, got[1].Unsent)
		assert.Equal(t, 1, got[1].Timeouts)
		assert.Equal(t, errclass.OK, got[2].Class)
	})
}
