package rtprobe

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"testing/synctest"

	"github.com/stretchr/testify/require"

	"github.com/rtchain/chain/breaker"
	"github.com/rtchain/chain/errclass"
)

// The two scenarios that show the breaker's rule: a host failing 10 % of
// calls opens (by the 95 % success rule, although retries hid the failures),
// and a healthy host with one slow call among 120 stays closed.
func TestRuleScenarios(t *testing.T) {
	t.Parallel()
	cfg := shortConfig()
	cfg.only = map[string]bool{"10% failing host (rule)": true, "one slow call among many (rule)": true}
	var out bytes.Buffer
	code := runScenarios(context.Background(), &out, cfg, false)
	table := out.String()
	t.Log("\n" + table)
	require.Equal(t, 0, code)
	flaky := lineOf(table, "10% failing host (rule)")
	require.Contains(t, flaky, "breaker_open (20 hits)", "opened after 20 attempts, 2 of them failed")
	require.True(t, strings.HasSuffix(strings.TrimSpace(flaky), "ok"))
	slow := lineOf(table, "one slow call among many (rule)")
	require.Contains(t, slow, "200 (120 hits)")
	require.True(t, strings.HasSuffix(strings.TrimSpace(slow), "ok"))
}

// The rule scenarios' checks fail on the outcomes the old breaker gave: an
// open breaker for the healthy host, a closed one for the failing host.
func TestRuleScenarioChecksCanFail(t *testing.T) {
	t.Parallel()
	cfg := shortConfig()
	byName := map[string]scenario{}
	for _, sc := range scenarios() {
		byName[sc.name] = sc
	}
	open := &breaker.OpenError{Key: "127.0.0.1:1", RetryIn: 1}
	rejected := outcome{err: open, class: errclass.Classify(open), hits: slowAt}
	require.False(t, byName["one slow call among many (rule)"].check(cfg, outcome{}, rejected))
	served := outcome{status: http.StatusOK, hits: flakyCalls}
	require.False(t, byName["10% failing host (rule)"].check(cfg, outcome{}, served))
}

// -json writes one object per scenario, parsed back here.
func TestScenariosJSON(t *testing.T) {
	t.Parallel()
	cfg := shortConfig()
	cfg.only = map[string]bool{"dead port": true, "503 then 200 (Retry-After)": true}
	cfg.retryAfterSecs = 0
	var out bytes.Buffer
	require.Equal(t, 0, runScenarios(context.Background(), &out, cfg, true))
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	require.Len(t, lines, 2)
	got := map[string]scenarioJSON{}
	for _, l := range lines {
		var sc scenarioJSON
		require.NoError(t, json.Unmarshal([]byte(l), &sc), l)
		got[sc.Scenario] = sc
	}
	dead := got["dead port"]
	require.True(t, dead.OK)
	require.Equal(t, "refused, all attempts", dead.Expected)
	require.Equal(t, "refused", dead.Plain.Class)
	require.Equal(t, 1, dead.Plain.Attempts)
	require.Equal(t, "refused", dead.Chain.Class)
	require.Equal(t, cfg.attempts, dead.Chain.Attempts)
	require.Contains(t, dead.Chain.Error, "retry: gave up after 3 attempts")
	retried := got["503 then 200 (Retry-After)"]
	require.True(t, retried.OK)
	require.Equal(t, 503, retried.Plain.Status)
	require.Equal(t, 200, retried.Chain.Status)
	require.Equal(t, 2, retried.Chain.Hits)

	// The whole command: "rtprobe -json" is the scenarios in JSON.
	_, _, err := parseProbeFlags([]string{"-json"})
	require.NoError(t, err)
}

// The overloaded host, on an in-memory network in a synctest bubble, so
// that the figures depend on the rule and not on how busy the machine is:
// plain net/http queues at the server and times out; chain's adaptive limit
// sheds at the client and keeps the goodput. The check fails on plain's
// figures.
func TestOverloadScenario(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		cfg := defaultScenarioConfig()
		cfg.overload.mem = true
		cfg.only = map[string]bool{"overloaded host (limit)": true}
		var out bytes.Buffer
		code := runScenarios(context.Background(), &out, cfg, true)
		var sc scenarioJSON
		require.NoError(t, json.Unmarshal(out.Bytes(), &sc), out.String())
		t.Logf("plain: %s; chain: %s", sc.Plain.Result, sc.Chain.Result)
		require.Equal(t, 0, code, out.String())
		plain, chain := sc.Plain.Load, sc.Chain.Load
		require.NotNil(t, plain)
		require.NotNil(t, chain)
		sent := int(cfg.overload.rate * cfg.overload.duration.Seconds())
		require.Equal(t, sent, plain.Sent)
		require.Equal(t, sent, chain.Sent)
		require.Zero(t, plain.Shed)
		require.Zero(t, plain.Limit)
		require.Positive(t, chain.Shed)
		require.Positive(t, chain.Limit)
		require.Less(t, chain.Limit, 20, "the limit fell below its initial 20")
		require.Greater(t, plain.Timeouts, sent/4, "without a limit, requests time out")
		require.Zero(t, chain.Timeouts)
		require.Greater(t, chain.Goodput, 1.5*plain.Goodput)
		require.GreaterOrEqual(t, chain.Goodput, cfg.overload.capacity()*0.75)
		require.Less(t, chain.P99MS, plain.P99MS)
		warm := int(cfg.overload.warmRate * cfg.overload.warm.Seconds())
		require.Equal(t, plain.Sent+warm, sc.Plain.Hits, "every request of plain reached the server")
		require.Equal(t, chain.Sent+warm-chain.Shed, sc.Chain.Hits, "shed requests never reached it")
		require.False(t, overloadHandled(cfg, outcome{load: plain}, outcome{load: plain}), "plain net/http fails the check")
	})
}
