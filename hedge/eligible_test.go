package hedge_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rtchain/chain/errclass"
	"github.com/rtchain/chain/hedge"
)

func TestOnlyReplayableIdempotentRequests(t *testing.T) {
	body := func() io.Reader { return bytes.NewReader([]byte("payload")) }
	for _, tc := range []struct {
		name   string
		method string
		body   io.Reader
		header string
		opaque bool // Body without GetBody
		hedged bool
	}{
		{name: "GET", method: "GET", hedged: true},
		{name: "HEAD", method: "HEAD", hedged: true},
		{name: "OPTIONS", method: "OPTIONS", hedged: true},
		{name: "TRACE", method: "TRACE", hedged: true},
		{name: "PUT with a replayable body", method: "PUT", body: body(), hedged: true},
		{name: "DELETE", method: "DELETE", hedged: true},
		{name: "POST", method: "POST", body: body()},
		{name: "PATCH", method: "PATCH", body: body()},
		{name: "POST with Idempotency-Key", method: "POST", body: body(), header: "Idempotency-Key", hedged: true},
		{name: "PATCH with X-Idempotency-Key", method: "PATCH", body: body(), header: "X-Idempotency-Key", hedged: true},
		{name: "PUT with a body that cannot be replayed", method: "PUT", body: body(), opaque: true},
		{name: "GET asking for an upgrade", method: "GET", header: "Upgrade"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				next := steps(step{delay: 100 * ms}, step{delay: 5 * ms})
				rt := hedge.New(next, hedge.WithDelay(10*ms))
				req, err := http.NewRequestWithContext(t.Context(), tc.method, "http://api.example/", tc.body)
				require.NoError(t, err)
				if tc.opaque {
					req.Body, req.GetBody = io.NopCloser(req.Body), nil
				}
				if tc.header != "" {
					req.Header.Set(tc.header, "k1")
				}
				resp, _, err := roundTrip(rt, req)
				require.NoError(t, err)
				readAll(t, resp)
				calls := next.seen()
				if !tc.hedged {
					assert.Len(t, calls, 1, "never hedged")
					return
				}
				require.Len(t, calls, 2, "hedged")
				assert.Equal(t, calls[0].body, calls[1].body, "the hedge sent the whole body again")
			})
		})
	}
}

func TestDeadline(t *testing.T) {
	t.Run("too short: never", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			next := steps(step{delay: 100 * ms}, step{delay: 1 * ms})
			rt := hedge.New(next, hedge.WithDelay(10*ms))
			ctx, cancel := context.WithTimeout(t.Context(), 19*ms)
			defer cancel()
			_, took, err := roundTrip(rt, get(ctx))
			require.ErrorIs(t, err, context.DeadlineExceeded)
			assert.Equal(t, 19*ms, took)
			assert.Len(t, next.seen(), 1, "a hedge would have had less than one delay left")
		})
	})
	t.Run("room for one hedge", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			next := steps(step{delay: 100 * ms}, step{delay: 1 * ms})
			rt := hedge.New(next, hedge.WithDelay(10*ms))
			ctx, cancel := context.WithTimeout(t.Context(), 20*ms)
			defer cancel()
			resp, took, err := roundTrip(rt, get(ctx))
			require.NoError(t, err)
			assert.Equal(t, 11*ms, took)
			assert.Equal(t, "call 1", readAll(t, resp))
		})
	})
	t.Run("later hedges stop when the deadline nears", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			next := newFake(func(*call) step { return step{delay: time.Second} })
			rt := hedge.New(next, hedge.WithDelay(10*ms), hedge.WithMaxHedges(5))
			ctx, cancel := context.WithTimeout(t.Context(), 35*ms)
			defer cancel()
			_, _, err := roundTrip(rt, get(ctx))
			require.ErrorIs(t, err, context.DeadlineExceeded)
			assert.True(t, errors.Is(err, errclass.ErrTimeout), "errors match their class's sentinel")
			synctest.Wait()
			calls := next.seen()
			require.Len(t, calls, 3, "hedges at 10ms and 20ms; at 30ms only 5ms were left")
			assert.Equal(t, 20*ms, calls[2].at)
		})
	})
}
