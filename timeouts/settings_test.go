package timeouts_test

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rtchain/chain/timeouts"
)

// The documented defaults, as SettingsOf and Transport.Settings report them.
func TestSettingsDefaults(t *testing.T) {
	t.Parallel()
	want := timeouts.Settings{
		DNS: time.Second, Connect: 500 * time.Millisecond, TLSHandshake: 2 * time.Second,
		ResponseHeader: 3 * time.Second, BodyIdle: 30 * time.Second, WriteIdle: 30 * time.Second,
	}
	assert.Equal(t, want, timeouts.SettingsOf())
	assert.Equal(t, want, timeouts.New(nil).Settings())
	assert.False(t, want.AdaptiveBodyIdle.On())
	assert.False(t, want.AdaptiveWriteIdle.On())
}

// Every option shows in the settings; a later option wins and a nil one is
// skipped; New, Middleware and SettingsOf resolve a list alike.
func TestSettingsOfOptions(t *testing.T) {
	t.Parallel()
	opts := []timeouts.Option{
		timeouts.WithDNS(2 * time.Second),
		timeouts.WithConnect(time.Second),
		timeouts.WithTLSHandshake(3 * time.Second),
		timeouts.WithResponseHeader(time.Second),
		nil,
		timeouts.WithResponseHeader(0),
		timeouts.WithBodyIdle(4 * time.Second),
		timeouts.WithWriteIdle(5 * time.Second),
		timeouts.WithAttempt(6 * time.Second),
		timeouts.WithAdaptiveBodyIdle(1.5, 100*time.Millisecond, 10*time.Second),
		timeouts.WithAdaptiveWriteIdle(3, 200*time.Millisecond, 20*time.Second),
		timeouts.WithOnTimeout(func(*http.Request, *timeouts.Error) {}),
	}
	want := timeouts.Settings{
		DNS: 2 * time.Second, Connect: time.Second, TLSHandshake: 3 * time.Second,
		ResponseHeader: 0, BodyIdle: 4 * time.Second, WriteIdle: 5 * time.Second, Attempt: 6 * time.Second,
		AdaptiveBodyIdle:  timeouts.AdaptiveBound{Factor: 1.5, Floor: 100 * time.Millisecond, Ceiling: 10 * time.Second},
		AdaptiveWriteIdle: timeouts.AdaptiveBound{Factor: 3, Floor: 200 * time.Millisecond, Ceiling: 20 * time.Second},
	}
	assert.Equal(t, want, timeouts.SettingsOf(opts...))
	assert.Equal(t, want, timeouts.New(nil, opts...).Settings())
	mw, ok := timeouts.Middleware(opts...)(nil).(*timeouts.Transport)
	require.True(t, ok)
	assert.Equal(t, want, mw.Settings())
	assert.True(t, want.AdaptiveBodyIdle.On())
}

func ExampleSettingsOf() {
	s := timeouts.SettingsOf(timeouts.WithResponseHeader(time.Second), timeouts.WithAttempt(5*time.Second))
	fmt.Println("header:", s.ResponseHeader, "attempt:", s.Attempt, "body idle:", s.BodyIdle)
	// Output: header: 1s attempt: 5s body idle: 30s
}
