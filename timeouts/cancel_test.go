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
	}
	cases := []phaseCase{
		{"dns", func(t *testing.T, ctx context.Context) error {
			c := client(t, nil, append(long, timeouts.WithResolver(hangingResolver()))...)
			_, err := get(t, ctx, c, "http://never.invalid:8080/")
			return err
		}},
		{"connect", func(t *testing.T, ctx context.Context) error {
			addr := fullBacklog(t)
			_, err := get(t, ctx, client(t, nil, long...), "http://"+addr+"/")
			return err
		}},
		{"tls_handshake", func(t *testing.T, ctx context.Context) error {
			srv := transporttest.NewUnstartedBlackhole()
			srv.StartTLS()
			t.Cleanup(srv.Close)
			_, err := get(t, ctx, client(t, srv, long...), srv.URL)
			return err
		}},
		{"response_header", func(t *testing.T, ctx context.Context) error {
			srv := start(t, transporttest.NewUnstartedSlowHeader(5*time.Second), false)
			_, err := get(t, ctx, client(t, srv, long...), srv.URL)
			return err
		}},
		{"response_header_h2", func(t *testing.T, ctx context.Context) error {
			srv := start(t, transporttest.NewUnstartedSlowHeader(5*time.Second), true)
			_, err := get(t, ctx, client(t, srv, long...), srv.URL)
			return err
		}},
		{"body_idle", func(t *testing.T, ctx context.Context) error {
			srv := start(t, transporttest.NewUnstartedStall(10), false)
			resp, err := get(t, ctx, client(t, srv, long...), srv.URL)
			require.NoError(t, err)
			defer resp.Body.Close()
			_, err = io.Copy(io.Discard, resp.Body)
			return err
		}},
		{"body_idle_h2", func(t *testing.T, ctx context.Context) error {
			srv := start(t, transporttest.NewUnstartedStall(10), true)
			resp, err := get(t, ctx, client(t, srv, long...), srv.URL)
			require.NoError(t, err)
			defer resp.Body.Close()
			_, err = io.Copy(io.Discard, resp.Body)
			return err
		}},
		{"write_idle", func(t *testing.T, ctx context.Context) error {
			srv := start(t, transporttest.NewUnstartedNoRead(), false)
			body := newUpload(64 << 20)
			req, err := http.NewRequestWithContext(ctx, http.MethodPut, srv.URL, body)
			require.NoError(t, err)
			_, err = client(t, srv, long...).Do(req)
			assert.Eventually(t, func() bool { return body.closed.Load() >= 1 }, generous, 10*time.Millisecond)
			return err
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name+"/cancel", func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			timer := time.AfterFunc(100*time.Millisecond, cancel)
			defer timer.Stop()
			var err error
			within(t, func() { err = tc.do(t, ctx) })
			requireCanceled(t, err)
		})
		t.Run(tc.name+"/deadline", func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
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
