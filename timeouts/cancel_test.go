package timeouts_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rtchain/chain/timeouts"
	"github.com/rtchain/chain/transporttest"
)

// T-14: the caller's cancellation in each phase stays context.Canceled, and
// the caller's own earlier deadline stays the caller's error.
func TestCallerCancelEachPhase(t *testing.T) {
	// Our bounds are long; the caller gives up after 100ms. Dial bounds stay
	// at 1s: the transport finishes a dial in the background after a cancel.
	long := []timeouts.Option{
		timeouts.WithDNS(time.Second), timeouts.WithConnect(time.Second),
		timeouts.WithTLSHandshake(time.Second), timeouts.WithResponseHeader(5 * time.Second),
		timeouts.WithBodyIdle(5 * time.Second), timeouts.WithWriteIdle(5 * time.Second),
		timeouts.WithAttempt(5 * time.Second),
	}
	type phaseCase struct {
		name string
		// do runs one exchange with ctx and returns the error the caller saw
		do func(t *testing.T, ctx context.Context) error
		// after is when the caller gives up, 100ms when zero. The body
		// phases wait 1s, far inside our 5s bounds, so that a slow TLS
		// handshake on a loaded machine still reaches the body first.
		after time.Duration
	}
	cases := []phaseCase{
		{"dns", func(t *testing.T, ctx context.Context) error {
			c := client(t, nil, append(long, timeouts.WithResolver(hangingResolver()))...)
			_, err := get(t, ctx, c, "http://never.invalid:8080/")
			return err
		}, 0},
		{"connect", func(t *testing.T, ctx context.Context) error {
			addr := fullBacklog(t)
			_, err := get(t, ctx, client(t, nil, long...), "http://"+addr+"/")
			return err
		}, 0},
		{"tls_handshake", func(t *testing.T, ctx context.Context) error {
			srv := transporttest.NewUnstartedBlackhole()
			srv.StartTLS()
			t.Cleanup(srv.Close)
			_, err := get(t, ctx, client(t, srv, long...), srv.URL)
			return err
		}, 0},
		{"response_header", func(t *testing.T, ctx context.Context) error {
			srv := start(t, transporttest.NewUnstartedSlowHeader(5*time.Second), false)
			_, err := get(t, ctx, client(t, srv, long...), srv.URL)
			return err
		}, 0},
		{"response_header_h2", func(t *testing.T, ctx context.Context) error {
			srv := start(t, transporttest.NewUnstartedSlowHeader(5*time.Second), true)
			_, err := get(t, ctx, client(t, srv, long...), srv.URL)
			return err
		}, 0},
		{"body_idle", func(t *testing.T, ctx context.Context) error {
			srv := start(t, transporttest.NewUnstartedStall(10), false)
			resp, err := get(t, ctx, client(t, srv, long...), srv.URL)
			require.NoError(t, err)
			defer resp.Body.Close()
			_, err = io.Copy(io.Discard, resp.Body)
			return err
		}, time.Second},
		{"body_idle_h2", func(t *testing.T, ctx context.Context) error {
			srv := start(t, transporttest.NewUnstartedStall(10), true)
			resp, err := get(t, ctx, client(t, srv, long...), srv.URL)
			require.NoError(t, err)
			defer resp.Body.Close()
			_, err = io.Copy(io.Discard, resp.Body)
			return err
		}, time.Second},
		{"write_idle", func(t *testing.T, ctx context.Context) error {
			srv := start(t, transporttest.NewUnstartedNoRead(), false)
			body := newUpload(64 << 20)
			req, err := http.NewRequestWithContext(ctx, http.MethodPut, srv.URL, body)
			require.NoError(t, err)
			_, err = client(t, srv, long...).Do(req)
			assert.Eventually(t, func() bool { return body.closed.Load() >= 1 }, generous, 10*time.Millisecond)
			return err
		}, 0},
	}
	for _, tc := range cases {
		if tc.after == 0 {
			tc.after = 100 * time.Millisecond
		}
		t.Run(tc.name+"/cancel", func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			timer := time.AfterFunc(tc.after, cancel)
			defer timer.Stop()
			var err error
			within(t, func() { err = tc.do(t, ctx) })
			requireCanceled(t, err)
		})
		t.Run(tc.name+"/deadline", func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), tc.after)
			defer cancel()
			var err error
			within(t, func() { err = tc.do(t, ctx) })
			require.Error(t, err)
			assert.ErrorIs(t, err, context.DeadlineExceeded)
			var te *timeouts.Error
			assert.False(t, errors.As(err, &te), "the caller's deadline reported as ours: %v", err)
		})
	}
}
