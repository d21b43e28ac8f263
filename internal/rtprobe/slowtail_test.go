package rtprobe

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"
	"testing/synctest"

	"github.com/stretchr/testify/require"
)

// runTailScenario runs the slow tail alone, with cfg, on an in-memory
// network in a synctest bubble, so that the figures depend on the layers and
// not on how busy the machine is, and returns the exit code and its -json row.
func runTailScenario(t *testing.T, cfg scenarioConfig) (int, scenarioJSON) {
	t.Helper()
	cfg.tail.mem = true
	cfg.only = map[string]bool{"slow tail (hedge)": true}
	var code int
	var sc scenarioJSON
	synctest.Test(t, func(t *testing.T) {
		var out bytes.Buffer
		code = runScenarios(context.Background(), &out, cfg, true)
		require.NoError(t, json.Unmarshal(out.Bytes(), &sc), out.String())
	})
	return code, sc
}

// The slow tail: plain net/http waits for every slow response, so its P99 is
// the slow time; chain hedges the slow requests after a delay learnt from the
// host (the ceiling until it has 50 samples, then the floor) and cuts the
// P99 to about that delay, at a few extra server hits per hundred requests. The check fails on
// plain's figures, on too many hits and on a failed request.
func TestSlowTailScenario(t *testing.T) {
	t.Parallel()
	cfg := defaultScenarioConfig()
	code, sc := runTailScenario(t, cfg)
	t.Logf("plain: %s; chain: %s", sc.Plain.Result, sc.Chain.Result)
	require.Equal(t, 0, code)
	require.True(t, sc.OK)
	plain, chain := sc.Plain.Tail, sc.Chain.Tail
	require.NotNil(t, plain)
	require.NotNil(t, chain)
	sent := int(cfg.tail.rate * cfg.tail.duration.Seconds())
	slowMS, fastMS, floorMS := msf(cfg.tail.slow), msf(cfg.tail.fast), msf(cfg.tail.floor)

	require.Equal(t, sent, plain.Sent)
	require.Equal(t, sent, plain.OK)
	require.Equal(t, sent, plain.Hits, "one hit per request")
	require.Equal(t, 1.0, plain.HitsPerRequest)
	require.Zero(t, plain.Hedges)
	require.Less(t, plain.P50MS, 2*fastMS)
	require.GreaterOrEqual(t, plain.P99MS, slowMS, "the P99 of plain is a slow response")

	require.Equal(t, sent, chain.Sent)
	require.Equal(t, sent, chain.OK)
	require.Less(t, chain.P50MS, 2*fastMS, "the fast mode is not slowed")
	// The host's P90 is the fast time, so the delay is the floor: the P99 is
	// a hedge sent then, answered in the fast time.
	require.GreaterOrEqual(t, chain.P99MS, floorMS)
	require.LessOrEqual(t, chain.P99MS, floorMS+2*fastMS, "the P99 of chain is a hedge's")
	require.Less(t, 10*chain.P99MS, plain.P99MS)
	require.GreaterOrEqual(t, chain.Hedges, sent/40, "the slow requests were hedged")
	require.Positive(t, chain.HedgesWon)
	require.LessOrEqual(t, chain.HedgesWon, chain.Hedges)
	require.Greater(t, chain.Hits, sent)
	require.LessOrEqual(t, chain.Hits, sent+chain.Hedges, "a hit per request and hedge at most")
	require.LessOrEqual(t, chain.HitsPerRequest, cfg.tail.maxHits)
	require.Equal(t, chain.Hits, sc.Chain.Hits)

	require.False(t, tailCut(cfg, outcome{tail: plain}, outcome{tail: plain}), "plain net/http fails the check")
	costly := *chain
	costly.HitsPerRequest = cfg.tail.maxHits + 0.01
	require.False(t, tailCut(cfg, outcome{tail: plain}, outcome{tail: &costly}), "too many hits fail the check")
	failing := *chain
	failing.OK--
	require.False(t, tailCut(cfg, outcome{tail: plain}, outcome{tail: &failing}), "a failed request fails the check")
	tailless := *plain
	tailless.P99MS = chain.P99MS
	require.False(t, tailCut(cfg, outcome{tail: &tailless}, outcome{tail: chain}), "a plain side without the tail fails the check")
}

// With an empty budget chain sends no hedge: its P99 is plain's and the
// scenario fails (exit code 1).
func TestSlowTailScenarioFailsWithoutHedges(t *testing.T) {
	t.Parallel()
	cfg := defaultScenarioConfig()
	cfg.tail.ratio, cfg.tail.perSec = 0, 0
	code, sc := runTailScenario(t, cfg)
	t.Logf("plain: %s; chain: %s", sc.Plain.Result, sc.Chain.Result)
	require.Equal(t, 1, code)
	require.False(t, sc.OK)
	require.Zero(t, sc.Chain.Tail.Hedges)
	require.Equal(t, sc.Plain.Tail.P99MS, sc.Chain.Tail.P99MS)
}
