package main

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rtchain/chain/breaker"
	"github.com/rtchain/chain/errclass"
)

// The two scenarios that show the breaker's rule: a host failing 10 % of
// calls opens (by the 95 % success rule, although retries hid the failures),
// and a healthy host with one slow call among 120 stays closed.
func TestRuleScenarios(t *testing.T) {
	cfg := shortConfig()
	cfg.only = map[string]bool{"10% failing host (rule)": true, "one slow call among many (rule)": true}
	var out bytes.Buffer
	code := runScenarios(context.Background(), &out, cfg)
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
	cfg := shortConfig()
	byName := map[string]scenario{}
	for _, sc := range scenarios() {
		byName[sc.name] = sc
	}
	open := &breaker.OpenError{Key: "127.0.0.1:1", RetryIn: 1}
	rejected := outcome{err: open, class: errclass.Classify(open), hits: slowAt}
	require.False(t, byName["one slow call among many (rule)"].check(cfg, rejected))
	served := outcome{status: http.StatusOK, hits: flakyCalls}
	require.False(t, byName["10% failing host (rule)"].check(cfg, served))
}
