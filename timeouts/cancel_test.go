package timeouts_test

import (
	"context"
	"io"
	"net/http"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rtchain/chain/timeouts"
	"github.com/rtchain/chain/transporttest"
)

// T-14: the caller's cancellation in each phase stays context.Canceled, and
// the caller's own earlier deadline stays the caller's error. (The connect
// phase needs the kernel: see TestCallerCancelConnect.)
func TestCallerCancelEachPhase(t *testing.T) {
	t.Parallel()
	for _, tc := range callerCancelCases() {
		if tc.after == 0 {
			tc.after = 100 * ms
		}
		t.Run(tc.name+"/cancel", func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				timer := time.AfterFunc(tc.after, cancel)
				defer timer.Stop()
				requireCanceled(t, tc.do(t, ctx))
				time.Sleep(2 * time.Minute) // dials go on detached from the request, within their bounds
			})
		})
		t.Run(tc.name+"/deadline", func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				ctx, cancel := context.WithTimeout(context.Background(), tc.after)
				defer cancel()
				requireCallerDeadline(t, tc.do(t, ctx))
				time.Sleep(2 * time.Minute)
			})
		})
	}
}

type phaseCase struct {
	name  string
	do    func(t *testing.T, ctx context.Context) error // one exchange with ctx
	after time.Duration                                 // when the caller gives up; 100ms when 0
}

// callerCancelCases are exchanges stuck in each phase under long bounds of
// this package; the caller gives up after 100ms (1s in the body phases, to
// let the response come first).
func callerCancelCases() []phaseCase {
	long := []timeouts.Option{
		timeouts.WithDNS(time.Minute), timeouts.WithConnect(time.Minute),
		timeouts.WithTLSHandshake(time.Minute), timeouts.WithResponseHeader(time.Minute),
		timeouts.WithBodyIdle(time.Minute), timeouts.WithWriteIdle(time.Minute),
		timeouts.WithAttempt(time.Minute),
	}
	bodyOf := func(h2 bool) func(t *testing.T, ctx context.Context) error {
		return func(t *testing.T, ctx context.Context) error {
			srv := inMemory(t, transporttest.NewUnstartedServer(transporttest.Reply{BodySize: 10, Fault: transporttest.Stall}), h2)
			resp, err := get(t, ctx, memClient(t, srv, long...), srv.URL)
			require.NoError(t, err)
			defer resp.Body.Close()
			_, err = io.Copy(io.Discard, resp.Body)
			return err
		}
	}
	headerOf := func(h2 bool) func(t *testing.T, ctx context.Context) error {
		return func(t *testing.T, ctx context.Context) error {
			srv := inMemory(t, transporttest.NewUnstartedServer(transporttest.Reply{Delay: time.Hour}), h2)
			_, err := get(t, ctx, memClient(t, srv, long...), srv.URL)
			return err
		}
	}
	return []phaseCase{
		{"dns", func(t *testing.T, ctx context.Context) error {
			b := timeouts.NewTransport(append(long, timeouts.WithResolver(hangingResolver{}))...)
			_, err := get(t, ctx, &http.Client{Transport: timeouts.New(b, long...)}, "http://never.invalid:8080/")
			return err
		}, 0},
		{"tls_handshake", func(t *testing.T, ctx context.Context) error {
			srv := inMemoryTLS(t, transporttest.NewUnstartedServer(transporttest.Reply{Fault: transporttest.Blackhole}))
			_, err := get(t, ctx, memClient(t, srv, long...), srv.URL)
			return err
		}, 0},
		{"response_header", headerOf(false), 0},
		{"response_header_h2", headerOf(true), 0},
		{"body_idle", bodyOf(false), time.Second},
		{"body_idle_h2", bodyOf(true), time.Second},
		{"write_idle", func(t *testing.T, ctx context.Context) error {
			srv := inMemory(t, transporttest.NewUnstartedServer(transporttest.Reply{Fault: transporttest.NoRead}), false)
			body := newUpload(64 << 20)
			req, err := http.NewRequestWithContext(ctx, http.MethodPut, srv.URL, body)
			require.NoError(t, err)
			_, err = memClient(t, srv, long...).Do(req)
			return err
		}, 0},
	}
}
