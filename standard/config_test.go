package standard_test

import (
	"flag"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rtchain/chain/breaker"
	"github.com/rtchain/chain/errclass"
	"github.com/rtchain/chain/limit"
	"github.com/rtchain/chain/retry"
	"github.com/rtchain/chain/standard"
	"github.com/rtchain/chain/timeouts"
	"github.com/rtchain/chain/transporttest"
)

var update = flag.Bool("update", false, "rewrite the golden files of Config")

// golden compares got with the file testdata/name, or writes it with
// -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		require.NoError(t, os.WriteFile(path, []byte(got), 0o644))
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, string(want), got)
}

func TestConfigDefault(t *testing.T) {
	t.Parallel()
	s := standard.New()
	defer s.CloseIdleConnections()
	golden(t, "config_default.golden", s.Config().String())
}

// TestConfigCustom: settings of every kind, a layer removed, one replaced,
// notes on the conditions that can never fire, and the limit's keys.
func TestConfigCustom(t *testing.T) {
	t.Parallel()
	script := transporttest.NewScript(transporttest.Step{})
	s := standard.New(standard.WithBase(script),
		standard.WithTotal(20*time.Second),
		standard.WithRetry(retry.WithMaxAttempts(4), retry.WithBackoff(50*time.Millisecond, time.Second, retry.JitterEqual)),
		standard.WithLimit(limit.WithMaxInFlight(8), limit.WithMaxWait(time.Second)),
		standard.WithBreaker(breaker.WithFailureRate(0.25), breaker.WithSlowCall(5*time.Second, 0.1)),
		standard.WithTimeouts(timeouts.WithResponseHeader(time.Second), timeouts.WithAttempt(5*time.Second),
			timeouts.WithAdaptiveBodyIdle(4, time.Second, time.Minute)),
		standard.WithoutLayer(standard.LayerRequestID),
		standard.WithLayer(standard.LayerHedge, func(next http.RoundTripper) http.RoundTripper { return next }),
	)
	resp, err := s.RoundTrip(mustGet(t, "http://api.example/"))
	require.NoError(t, err)
	resp.Body.Close()
	golden(t, "config_custom.golden", s.Config().String())

	cfg := s.Config()
	require.Len(t, cfg.LimitKeys, 1)
	assert.Equal(t, standard.LimitKey{Key: "api.example", Stats: limit.Stats{Limit: 8}}, cfg.LimitKeys[0])
}

// TestDefaultHeaderGivesWay: the stack's 10 s header bound is set only
// where it can fire.
func TestDefaultHeaderGivesWay(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		opts []standard.Option
		want string
	}{
		{"default", nil, "10s"},
		{"attempt below", []standard.Option{standard.WithTimeouts(timeouts.WithAttempt(5 * time.Second))}, "off"},
		{"attempt above", []standard.Option{standard.WithTimeouts(timeouts.WithAttempt(20 * time.Second))}, "10s"},
		{"total below", []standard.Option{standard.WithTotal(10 * time.Second)}, "off"},
		{"own header under attempt", []standard.Option{standard.WithTimeouts(
			timeouts.WithResponseHeader(2*time.Second), timeouts.WithAttempt(5*time.Second))}, "2s"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := standard.New(append(tc.opts, standard.WithBase(transporttest.NewScript()))...)
			assert.Equal(t, tc.want, setting(t, s.Config(), "timeouts", "timeouts.WithResponseHeader").Value)
		})
	}
}

// setting returns the setting named option of layer in cfg.
func setting(t *testing.T, cfg standard.Config, layer, option string) standard.Setting {
	t.Helper()
	for _, l := range cfg.Layers {
		for _, st := range l.Settings {
			if l.Name == layer && st.Option == option {
				return st
			}
		}
	}
	t.Fatalf("no setting %s of layer %s", option, layer)
	return standard.Setting{}
}

// TestBoundsThatCouldNeverFire: New rejects a bound that another always
// beats, naming both.
func TestBoundsThatCouldNeverFire(t *testing.T) {
	t.Parallel()
	require.PanicsWithValue(t, "standard: timeouts.WithAttempt(15s) is above WithTotal(10s): "+
		"the total always ends the request first, so the attempt bound could never fire", func() {
		standard.New(standard.WithTotal(10*time.Second), standard.WithTimeouts(timeouts.WithAttempt(15*time.Second)))
	})
	require.PanicsWithValue(t, "standard: timeouts.WithResponseHeader(8s) is above timeouts.WithAttempt(5s): "+
		"the attempt bound always ends the wait first, so the header bound could never fire", func() {
		standard.New(standard.WithTimeouts(timeouts.WithResponseHeader(8*time.Second), timeouts.WithAttempt(5*time.Second)))
	})
	require.NotPanics(t, func() {
		standard.New(standard.WithoutLayer(standard.LayerTimeouts), standard.WithTotal(time.Second),
			standard.WithTimeouts(timeouts.WithAttempt(time.Minute)))
	}, "a layer that is not the stack's is not checked")
}

// TestConfigNotes: a condition that can never fire is reported, never
// rejected.
func TestConfigNotes(t *testing.T) {
	t.Parallel()
	s := standard.New(standard.WithBase(transporttest.NewScript()), standard.WithTotal(5*time.Second),
		standard.WithTimeouts(timeouts.WithAttempt(5*time.Second)))
	assert.Equal(t, []string{
		"timeouts.WithAttempt(5s) equals WithTotal(5s): the total starts first and always fires first, so the attempt bound never fires",
		"retry.WithRetryAfterCap(30s) is not below WithTotal(5s): a Retry-After too long to wait ends the request at its deadline first, so the cap never decides",
	}, s.Config().Notes)

	s = standard.New(standard.WithBase(transporttest.NewScript()), standard.WithTimeouts(timeouts.WithResponseHeader(time.Second)))
	assert.Equal(t, []string{"breaker.WithP99(2s) never fires: no attempt waits longer than 1.125s for its header " +
		"(timeouts.WithResponseHeader(1s)); a slower one times out and counts as a failure"}, s.Config().Notes)

	s = standard.New(standard.WithBase(transporttest.NewScript()), standard.WithTimeouts(timeouts.WithResponseHeader(1900*time.Millisecond)))
	assert.Empty(t, s.Config().Notes, "a header bound fires up to an eighth late: 2s is within reach of 1.9s")
}

// TestNilOptionSkipped: a nil Option is skipped, in New and in Update.
func TestNilOptionSkipped(t *testing.T) {
	t.Parallel()
	var s *standard.Stack
	require.NotPanics(t, func() { s = standard.New(nil, standard.WithRetry(retry.WithMaxAttempts(2)), nil) })
	assert.Equal(t, 2, s.Retry().Settings().MaxAttempts)
	require.NoError(t, s.Update(nil))
}

// TestDefaultHeaderBoundInForce: the bound Config reports is the one that
// fires, on a base that never answers (fake time).
func TestDefaultHeaderBoundInForce(t *testing.T) {
	t.Parallel()
	hang := rtFunc(func(r *http.Request) (*http.Response, error) {
		<-r.Context().Done()
		return nil, r.Context().Err()
	})
	for _, tc := range []struct {
		name  string
		opts  []standard.Option
		phase errclass.Phase
		after time.Duration
	}{
		{"default", nil, errclass.PhaseResponseHeader, standard.DefaultResponseHeader},
		{"attempt below the default", []standard.Option{standard.WithTimeouts(timeouts.WithAttempt(5 * time.Second))},
			errclass.PhaseAttempt, 5 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				s := standard.New(append(tc.opts, standard.WithBase(hang), standard.WithRetry(retry.WithMaxAttempts(1)))...)
				start := time.Now()
				_, err := s.RoundTrip(mustGet(t, "http://svc.test/"))
				assert.Equal(t, tc.phase, errclass.PhaseOf(err), "err %v", err)
				assert.GreaterOrEqual(t, time.Since(start), tc.after)
				assert.LessOrEqual(t, time.Since(start), tc.after+tc.after/8)
			})
		})
	}
}

// TestDescribe: the Config of a set of options, or the error New would
// panic with.
func TestDescribe(t *testing.T) {
	t.Parallel()
	cfg, err := standard.Describe(standard.WithTimeouts(timeouts.WithAttempt(3 * time.Second)))
	require.NoError(t, err)
	assert.Equal(t, "3s", setting(t, cfg, "timeouts", "timeouts.WithAttempt").Value)

	_, err = standard.Describe(standard.WithTotal(time.Second), standard.WithTimeouts(timeouts.WithAttempt(2*time.Second)))
	require.EqualError(t, err, "standard: timeouts.WithAttempt(2s) is above WithTotal(1s): "+
		"the total always ends the request first, so the attempt bound could never fire")

	src, _ := fileSource(t, transporttest.NewCA("test-ca"), false)
	_, err = standard.Describe(standard.WithTLS(src), standard.WithBase(transporttest.NewScript()))
	require.EqualError(t, err, "standard: WithTLS needs an *http.Transport at the bottom of the stack; WithBase gave *transporttest.Script")
}
