package timeouts_test

import (
	"context"
	"errors"
	"math"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rtchain/chain/errclass"
	"github.com/rtchain/chain/timeouts"
)

// Invalid values panic at construction with a message naming the option.
func TestOptionPanics(t *testing.T) {
	t.Parallel()
	cases := map[string]func(){
		"timeouts: WithDNS(0s): must be positive":                  func() { timeouts.WithDNS(0) },
		"timeouts: WithConnect(-1s): must be positive":             func() { timeouts.WithConnect(-time.Second) },
		"timeouts: WithTLSHandshake(0s): must be positive":         func() { timeouts.WithTLSHandshake(0) },
		"timeouts: WithResponseHeader(-1ns): must not be negative": func() { timeouts.WithResponseHeader(-1) },
		"timeouts: WithBodyIdle(-1ns): must not be negative":       func() { timeouts.WithBodyIdle(-1) },
		"timeouts: WithWriteIdle(-1ns): must not be negative":      func() { timeouts.WithWriteIdle(-1) },
		"timeouts: WithAttempt(-1ns): must not be negative":        func() { timeouts.WithAttempt(-1) },
		"timeouts: WithAdaptiveBodyIdle(0.5, 1s, 2s): factor must be a finite number of at least 1": func() {
			timeouts.WithAdaptiveBodyIdle(0.5, time.Second, 2*time.Second)
		},
		"timeouts: WithAdaptiveWriteIdle(NaN, 1s, 2s): factor must be a finite number of at least 1": func() {
			timeouts.WithAdaptiveWriteIdle(math.NaN(), time.Second, 2*time.Second)
		},
		"timeouts: WithAdaptiveBodyIdle(2, 2s, 1s): need 0 < floor <= ceiling": func() {
			timeouts.WithAdaptiveBodyIdle(2, 2*time.Second, time.Second)
		},
		"timeouts: WithAdaptiveWriteIdle(2, 0s, 1s): need 0 < floor <= ceiling": func() {
			timeouts.WithAdaptiveWriteIdle(2, 0, time.Second)
		},
	}
	for want, f := range cases {
		t.Run(want, func(t *testing.T) { assert.PanicsWithValue(t, want, f) })
	}
	// Zero turns the middleware's bounds off; a nil option is skipped.
	assert.NotPanics(t, func() {
		timeouts.New(nil, timeouts.WithResponseHeader(0), timeouts.WithBodyIdle(0),
			timeouts.WithWriteIdle(0), timeouts.WithAttempt(0), nil)
		timeouts.Total(time.Second, nil)
	})
}

// G4, T-15, T-17: NewTransport's documented settings. The TLS handshake and
// response header bounds are enforced by its connections, not by the
// Transport's fields (one enforcer per bound).
func TestNewTransportSettings(t *testing.T) {
	t.Parallel()
	tr := timeouts.NewTransport()
	assert.Zero(t, tr.TLSHandshakeTimeout)
	assert.Zero(t, tr.ResponseHeaderTimeout)
	assert.Equal(t, 55*time.Second, tr.IdleConnTimeout)
	require.NotNil(t, tr.HTTP2)
	assert.Equal(t, 30*time.Second, tr.HTTP2.SendPingTimeout)
	assert.Equal(t, 15*time.Second, tr.HTTP2.PingTimeout)
	assert.Equal(t, 30*time.Second, tr.HTTP2.WriteByteTimeout)
	assert.NotNil(t, tr.DialContext)
	assert.NotNil(t, tr.Proxy, "proxy from the environment, as http.DefaultTransport")
	assert.True(t, tr.ForceAttemptHTTP2)
	def := http.DefaultTransport.(*http.Transport)
	assert.Equal(t, def.MaxIdleConns, tr.MaxIdleConns)

	tr = timeouts.NewTransport(timeouts.WithWriteIdle(5 * time.Second))
	assert.Equal(t, 5*time.Second, tr.HTTP2.WriteByteTimeout)
	tr = timeouts.NewTransport(timeouts.WithWriteIdle(0))
	assert.Equal(t, 30*time.Second, tr.HTTP2.WriteByteTimeout, "the connection's own write bound stays")
}

// D3, item 3: every phase's error text names the phase token, says what did
// not happen and the bound, and ends with the cause; the error satisfies
// every check.
func TestErrorText(t *testing.T) {
	t.Parallel()
	cases := []struct {
		phase errclass.Phase
		limit time.Duration
		want  string
	}{
		{errclass.PhaseDNS, time.Second, "timeouts: dns: name not resolved within 1s"},
		{errclass.PhaseConnect, 500 * ms, "timeouts: connect: no connection within 500ms"},
		{errclass.PhaseTLSHandshake, 2 * time.Second, "timeouts: tls_handshake: tls handshake not done within 2s"},
		{errclass.PhaseWriteIdle, 30 * time.Second, "timeouts: write_idle: no request body byte taken for 30s"},
		{errclass.PhaseResponseHeader, 3 * time.Second, "timeouts: response_header: no response header within 3s"},
		{errclass.PhaseBodyIdle, 30 * time.Second, "timeouts: body_idle: no response body byte received for 30s"},
		{errclass.PhaseAttempt, 5 * time.Second, "timeouts: attempt: attempt not done within 5s"},
		{errclass.PhaseTotal, 10 * time.Second, "timeouts: total: request not done within 10s"},
		{errclass.PhaseTLSHandshake, 0, "timeouts: tls_handshake: tls handshake not done"},
		{"other", time.Second, "timeouts: other: timed out within 1s"},
	}
	for _, tc := range cases {
		t.Run(string(tc.phase), func(t *testing.T) {
			e := &timeouts.Error{Phase: tc.phase, Limit: tc.limit}
			assert.Equal(t, tc.want, e.Error())
			assert.True(t, e.Timeout())
			assert.True(t, e.Temporary())
			assert.Nil(t, e.Unwrap())
			assert.Equal(t, errclass.Timeout, e.Class())
			assert.Equal(t, tc.phase, e.TimeoutPhase())
			wrapped := &net.OpError{Op: "read", Err: e}
			assert.ErrorIs(t, wrapped, context.DeadlineExceeded)
			assert.ErrorIs(t, wrapped, errclass.ErrTimeout)
			assert.NotErrorIs(t, wrapped, context.Canceled)
			assert.Equal(t, errclass.Timeout, errclass.Classify(wrapped))
			assert.Equal(t, errclass.Timeout, errclass.Classify(errclass.Wrap(e)))
			assert.Same(t, e, errclass.Wrap(e), "an *Error already matches its sentinel")
		})
	}
	// The cause is named last.
	_, err := timeouts.NewTransport(timeouts.WithResolver(hangingResolver{}), timeouts.WithDNS(time.Nanosecond)).
		DialContext(context.Background(), "tcp", "x.test:80")
	var te *timeouts.Error
	require.True(t, errors.As(err, &te))
	assert.Contains(t, te.Error(), "timeouts: dns: name not resolved within 1ns: dial tcp: ")
}
