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
	// Zero turns the middleware's bounds off.
	assert.NotPanics(t, func() {
		timeouts.New(nil, timeouts.WithResponseHeader(0), timeouts.WithBodyIdle(0),
			timeouts.WithWriteIdle(0), timeouts.WithAttempt(0))
	})
}

// G4, T-15, T-17: NewTransport's documented settings.
func TestNewTransportSettings(t *testing.T) {
	tr := timeouts.NewTransport()
	assert.Equal(t, 2*time.Second, tr.TLSHandshakeTimeout)
	assert.Equal(t, 3*time.Second, tr.ResponseHeaderTimeout)
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

	tr = timeouts.NewTransport(timeouts.WithTLSHandshake(time.Second), timeouts.WithResponseHeader(0),
		timeouts.WithWriteIdle(5*time.Second))
	assert.Equal(t, time.Second, tr.TLSHandshakeTimeout)
	assert.Zero(t, tr.ResponseHeaderTimeout)
	assert.Equal(t, 5*time.Second, tr.HTTP2.WriteByteTimeout)
}

// The dialer: IP literals skip resolution; refused connections keep their
// class; a name that does not exist is DNS, not a timeout.
func TestDialerErrors(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	tr := timeouts.NewTransport()
	_, err = tr.DialContext(context.Background(), "tcp", addr)
	require.Error(t, err)
	assert.Equal(t, errclass.Refused, errclass.Classify(err))
	assert.True(t, errclass.Unsent(err))

	noSuch := &net.Resolver{PreferGo: true, Dial: func(context.Context, string, string) (net.Conn, error) {
		return nil, errors.New("no dns here")
	}}
	tr = timeouts.NewTransport(timeouts.WithResolver(noSuch))
	_, err = tr.DialContext(context.Background(), "tcp", "nothing.invalid:80")
	require.Error(t, err)
	var te *timeouts.Error
	assert.False(t, errors.As(err, &te), "not a timeout: %v", err)
	var dnsErr *net.DNSError
	assert.ErrorAs(t, err, &dnsErr)

	_, err = tr.DialContext(context.Background(), "tcp", "no-port")
	assert.Error(t, err)
}

// D3: every phase's error text names the phase and the bound; the error
// satisfies every check.
func TestErrorText(t *testing.T) {
	cases := []struct {
		phase errclass.Phase
		limit time.Duration
		want  string
	}{
		{errclass.PhaseDNS, time.Second, "timeouts: dns lookup did not finish within 1s"},
		{errclass.PhaseConnect, 500 * time.Millisecond, "timeouts: connect did not finish within 500ms"},
		{errclass.PhaseTLSHandshake, 2 * time.Second, "timeouts: tls handshake did not finish within 2s"},
		{errclass.PhaseWriteIdle, 30 * time.Second, "timeouts: request body not taken by the transport for 30s"},
		{errclass.PhaseResponseHeader, 3 * time.Second, "timeouts: response header not received within 3s"},
		{errclass.PhaseBodyIdle, 30 * time.Second, "timeouts: no response body byte received for 30s"},
		{errclass.PhaseAttempt, 5 * time.Second, "timeouts: attempt did not finish within 5s"},
		{errclass.PhaseTotal, 10 * time.Second, "timeouts: request did not finish in its total time within 10s"},
		{errclass.PhaseTLSHandshake, 0, "timeouts: tls handshake did not finish"},
		{"other", time.Second, "timeouts: timed out in phase other within 1s"},
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
		})
	}
}
